pub mod forward;
pub mod plugins;
