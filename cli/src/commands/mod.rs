pub mod forward;
pub mod plugins;
pub mod score;
