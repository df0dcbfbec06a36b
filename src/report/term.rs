//! Progress on a terminal: a line per running step with its elapsed time, and an overall
//! bar. The only module that touches indicatif.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, OutputLogs, Reporter, StepStatus, human_duration};

/// indicatif progress bars on stderr.
pub struct TermReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<HashMap<String, ProgressBar>>,
    logs: OutputLogs,
    color: bool,
}

impl TermReporter {
    #[must_use]
    pub fn new(logs: OutputLogs, color: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(12));
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} steps {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        overall.set_prefix("isect");
        Self {
            multi,
            overall,
            running: Mutex::new(HashMap::new()),
            logs,
            color,
        }
    }

    fn paint(&self, text: &str, style: console::Style) -> String {
        if self.color {
            style.apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }
}

impl Reporter for TermReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::RunStarted { total, .. } => self.overall.set_length(*total as u64),
            Event::StepStarted { id, .. } => {
                let bar = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg} {elapsed:>4}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(id.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut running) = self.running.lock() {
                    running.insert(id.clone(), bar);
                }
            }
            Event::StepOutput { id, line } => {
                if self.logs == OutputLogs::Full {
                    let _ = self.multi.println(format!("{id} | {line}"));
                }
            }
            Event::StepReplay { .. } => {}
            Event::StepFinished(result) => {
                if let Some(bar) = self
                    .running
                    .lock()
                    .ok()
                    .and_then(|mut r| r.remove(&result.id))
                {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                self.overall.inc(1);
                let time = human_duration(Duration::from_millis(result.duration_ms));
                let line = match result.status {
                    StepStatus::Ok => Some(format!(
                        "{} {} {time}",
                        self.paint("✓", console::Style::new().green()),
                        result.id
                    )),
                    StepStatus::Failed => Some(format!(
                        "{} {} {time}",
                        self.paint("✗", console::Style::new().red()),
                        result.id
                    )),
                    StepStatus::Cached | StepStatus::Skipped => None,
                };
                if let Some(line) = line {
                    let _ = self.multi.println(line);
                }
            }
            Event::Warning { message } => {
                let _ = self.multi.println(format!(
                    "{} {message}",
                    self.paint("warning:", console::Style::new().yellow())
                ));
            }
            Event::RunFinished(_) => {
                self.overall.finish_and_clear();
                let _ = self.multi.clear();
            }
        }
    }
}
