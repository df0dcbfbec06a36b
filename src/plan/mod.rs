//! The plan: every step a command will consider, with its kind, inputs, outputs,
//! the script line that declared it, and the edges between steps. Built from what
//! the engine recorded; checked for cycles; read by `cache` and `exec`.

mod graph;
mod step;

pub use graph::{Plan, PlanError, StageRef};
pub use step::{
    BackgroundProcess, Command, DeclaredAt, ImageRuntime, ImageSource, ScanCheck, Step, StepKind,
    StepOptions, Toolchain,
};
