pub mod augment;
pub mod eval;
pub mod forward;
pub mod pairs;
pub mod plugins;
pub mod predict;
pub mod run;
pub mod score;
