//! The functions pipeline scripts call, one file per domain. Thin: each parses its
//! typed options, builds a `StepKind` with `lang`, and records a `DeclaredStep` with
//! its call site into the evaluation context. Nothing here runs a process.

pub mod context;
pub mod core;
pub mod golang;
pub mod image;
pub mod node;
mod options;
pub mod python;
pub mod scan;

pub use context::{DeclaredStep, ScriptError, ServiceInfo, StageSpec, StepHandle};
pub use options::parse_duration;

/// Every script-facing function, as `namespace::name` (or `name` for globals), for "did you mean".
pub const FUNCTIONS: &[&str] = &[
    "sh",
    "exec",
    "step",
    "stage",
    "check_options",
    "secret",
    "golang::pipeline",
    "golang::build",
    "golang::test",
    "golang::vet",
    "python::pipeline",
    "python::check",
    "python::test",
    "node::pipeline",
    "node::install",
    "node::build",
    "node::test",
    "node::run",
    "scan::all",
    "scan::secrets",
    "scan::deps",
    "scan::sast",
    "scan::licenses",
    "scan::iac",
    "image::from_files",
    "image::dockerfile",
    "image::debian",
    "image::scan",
    "image::push",
];
