//! What people and machines see. The core emits `Event`s; a `Reporter` renders them:
//! `term` (indicatif progress on a TTY), `plain` (prefixed, line-buffered logs for CI and
//! pipes), `json` (one event per line). Every run ends with a `RunSummary`.
//! Only this module (and `cli`) writes to the terminal.

pub mod ci;
mod json;
mod plain;
mod summary;
mod term;

use std::time::Duration;

use serde::Serialize;

pub use json::JsonReporter;
pub use plain::PlainReporter;
pub use summary::{RunSummary, StepResult, render_failures, render_summary};
pub use term::TermReporter;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Ran and succeeded.
    Ok,
    /// Its result came from the cache.
    Cached,
    /// Ran and failed.
    Failed,
    /// Did not run because something before it failed or the run was stopped.
    Skipped,
}

impl StepStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Cached => "cached",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// Which step logs to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputLogs {
    /// Live logs of steps that run, and the replayed logs of cached steps.
    Full,
    /// Live logs of steps that run; cached steps show one line.
    #[default]
    NewOnly,
    /// Only the logs of failed steps.
    ErrorsOnly,
    /// No step logs.
    None,
}

/// Something that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The plan is ready: `total` steps will be considered.
    RunStarted { command: String, total: usize },
    /// A step began to run (it was not cached).
    StepStarted { id: String, reason: Option<String> },
    /// A line of a running step's output.
    StepOutput { id: String, line: String },
    /// A cached step's recorded log, replayed.
    StepReplay { id: String, log: String },
    /// A step ended.
    StepFinished(StepResult),
    /// Something a person should know that is not a failure.
    Warning { message: String },
    /// The run is over.
    RunFinished(RunSummary),
}

/// Receives events. Implementations must be cheap: they are called from the scheduler.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

/// Formats a size for people: `812 B`, `4.2 MiB`.
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b >= f64::from(1 << 30) {
        format!("{:.1} GiB", b / f64::from(1 << 30))
    } else if b >= f64::from(1 << 20) {
        format!("{:.1} MiB", b / f64::from(1 << 20))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Formats a duration for people: `0.42s`, `12.3s`, `2m05s`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
