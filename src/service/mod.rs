//! The service: the one entrance the HTTP layer and the CLI use to reach models. It holds the
//! served models by name (`registry`: select a model by name, language or default; parse; reload;
//! summaries for info and health) as `models` configures them.

pub mod folder;
pub mod models;
pub mod registry;
pub mod training;
pub mod watch;

pub use models::{LoadSettings, ModelSpec, ModelsConfig};
pub use registry::*;
