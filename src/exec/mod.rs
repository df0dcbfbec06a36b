//! Execution: keys first (`prepare`), then the scheduler runs what is not cached, each
//! step's action (`actions`) running its processes (`runner`) in their own process groups.
//! Must not evaluate scripts (that is `engine`) or print (that is `report`).

mod actions;
mod background;
pub(crate) mod image;
mod prepare;
mod runner;
pub(crate) mod scan;
mod scheduler;
pub(crate) mod vault;

pub use prepare::{Prepared, prepare, rerun_reasons, walk_roots};
pub use runner::{ProcessEnd, ProcessSpec, run_process};
pub use scan::write_sarif;
pub use scheduler::{RunContext, RunSettings, deadline, run};
pub use vault::MARKER_PREFIX as SECRET_MARKER;
