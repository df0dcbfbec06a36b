//! isect: a build and delivery system for polyglot monorepos.
//!
//! Data flows one way: `workspace` (what exists) → `engine` (scripts declare steps)
//! → `plan` (the step graph) → `cache` (skip what is done) → `exec` (run the rest)
//! → `report` (what people and machines see). Library code never prints.

pub mod cache;
pub mod ci;
pub mod cli;
pub mod diagnostic;
pub mod engine;
pub mod env_vars;
pub mod error;
pub mod exec;
pub mod image;
pub mod lang;
pub mod par;
pub mod plan;
pub mod report;
pub mod scan;
pub mod secret;
pub mod stdlib;
pub mod workspace;

pub use cli::run;

/// Seconds from `90`, `90s`, `5m` or `1h` (shared by scripts and the CLI).
#[must_use]
pub fn stdlib_duration(text: &str) -> Option<u64> {
    stdlib::parse_duration(text)
}
pub use error::{Error, ExitStatus};

/// The number of cores isect uses for its own parallel work (walking, hashing, evaluating),
/// looked up once: `available_parallelism` reads cgroup files on every call.
#[must_use]
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
}
