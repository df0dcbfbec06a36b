//! Plain, prefixed, line-buffered logs on stderr: for CI (Cloud Build, GitHub Actions),
//! pipes and `--no-progress`. Every line says which step it belongs to.

use std::io::Write;

use super::{Event, OutputLogs, Reporter, StepStatus, human_duration};

/// Writes one line per event to stderr.
pub struct PlainReporter {
    logs: OutputLogs,
}

impl PlainReporter {
    #[must_use]
    pub fn new(logs: OutputLogs) -> Self {
        Self { logs }
    }

    fn line(text: &str) {
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        let _ = writeln!(lock, "{text}");
    }
}

impl Reporter for PlainReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::RunStarted { command, total } => {
                Self::line(&format!("isect {command}: {total} step(s)"))
            }
            Event::StepStarted { id, reason } => {
                let why = reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                Self::line(&format!("> {id} running{why}"));
            }
            Event::StepOutput { id, line } => {
                if matches!(self.logs, OutputLogs::Full | OutputLogs::NewOnly) {
                    Self::line(&format!("{id} | {line}"));
                }
            }
            Event::StepReplay { id, log } => {
                if self.logs == OutputLogs::Full {
                    for line in log.lines() {
                        Self::line(&format!("{id} | {line}"));
                    }
                }
            }
            Event::StepFinished(result) => {
                let time = human_duration(std::time::Duration::from_millis(result.duration_ms));
                let extra = result
                    .summary
                    .as_deref()
                    .map(|s| format!(" [{s}]"))
                    .unwrap_or_default();
                match result.status {
                    StepStatus::Ok => Self::line(&format!("+ {} ok in {time}{extra}", result.id)),
                    StepStatus::Cached => Self::line(&format!("= {} cached{extra}", result.id)),
                    StepStatus::Failed => {
                        if self.logs == OutputLogs::ErrorsOnly {
                            for line in &result.log_tail {
                                Self::line(&format!("{} | {line}", result.id));
                            }
                        }
                        Self::line(&format!(
                            "x {} FAILED in {time}: {}",
                            result.id,
                            result.error.as_deref().unwrap_or("")
                        ));
                    }
                    StepStatus::Skipped => {
                        Self::line(&format!(
                            "- {} skipped ({})",
                            result.id,
                            result.reason.as_deref().unwrap_or("")
                        ));
                    }
                }
            }
            Event::Warning { message } => Self::line(&format!("warning: {message}")),
            Event::RunFinished(_) => {}
        }
    }
}
