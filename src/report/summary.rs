//! `RunSummary`: the versioned result of a run, from which the end-of-run table, the JSON
//! summary and failure diagnostics are rendered.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{StepStatus, human_duration};
use crate::diagnostic::{Diagnostic, Location};
use crate::plan::DeclaredAt;

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub id: String,
    pub service: String,
    pub stage: String,
    pub step: String,
    pub status: StepStatus,
    pub duration_ms: u64,
    /// Why it ran (its first rerun reason), when it ran.
    pub reason: Option<String>,
    /// A line of results, e.g. `coverage 84.2% (min 80%)`.
    pub summary: Option<String>,
    pub declared_at: DeclaredAt,
    /// Last lines of its log, when it failed.
    pub log_tail: Vec<String>,
    /// What went wrong, when it failed.
    pub error: Option<String>,
    pub key: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Format version of this structure.
    pub version: u32,
    pub command: String,
    pub steps: Vec<StepResult>,
    pub duration_ms: u64,
    pub ok: usize,
    pub cached: usize,
    pub failed: usize,
    pub skipped: usize,
    /// The CI run this run was part of (Cloud Build, GitHub Actions), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<super::ci::CiRun>,
}

impl RunSummary {
    /// Builds the summary and its counts.
    #[must_use]
    /// Steps are grouped by service, each service's steps in the order they were planned.
    pub fn new(command: String, mut steps: Vec<StepResult>, duration_ms: u64) -> Self {
        steps.sort_by(|a, b| a.service.cmp(&b.service));
        let count = |s: StepStatus| steps.iter().filter(|r| r.status == s).count();
        Self {
            version: 1,
            command,
            ok: count(StepStatus::Ok),
            cached: count(StepStatus::Cached),
            failed: count(StepStatus::Failed),
            skipped: count(StepStatus::Skipped),
            steps,
            duration_ms,
            ci: super::ci::current(),
        }
    }

    /// True when nothing failed or was skipped.
    #[must_use]
    pub fn success(&self) -> bool {
        self.failed == 0 && self.skipped == 0
    }
}

/// The end-of-run table (for stdout).
#[must_use]
pub fn render_summary(summary: &RunSummary) -> String {
    let mut out = String::new();
    let width =
        |f: &dyn Fn(&super::StepResult) -> usize| summary.steps.iter().map(f).max().unwrap_or(0);
    let w_service = width(&|s| s.service.len()).max(7);
    let w_stage = width(&|s| s.stage.len()).max(5);
    let w_step = width(&|s| s.step.len()).max(4);
    let _ = writeln!(
        out,
        "{:<w_service$}  {:<w_stage$}  {:<w_step$}  {:<7}  {:>8}  note",
        "service", "stage", "step", "status", "time"
    );
    for s in &summary.steps {
        let time = if s.status == StepStatus::Skipped {
            "-".into()
        } else {
            human_duration(std::time::Duration::from_millis(s.duration_ms))
        };
        let note = match s.status {
            StepStatus::Cached => [s.reason.clone(), s.summary.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            StepStatus::Ok => [s.reason.clone(), s.summary.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            StepStatus::Failed => s.error.clone().unwrap_or_default(),
            StepStatus::Skipped => s.reason.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "{:<w_service$}  {:<w_stage$}  {:<w_step$}  {:<7}  {:>8}  {}",
            s.service,
            s.stage,
            s.step,
            s.status.as_str(),
            time,
            note
        );
    }
    let _ = writeln!(
        out,
        "\n{} steps: {} ran, {} cached, {} failed, {} skipped in {}",
        summary.steps.len(),
        summary.ok,
        summary.cached,
        summary.failed,
        summary.skipped,
        human_duration(std::time::Duration::from_millis(summary.duration_ms))
    );
    out
}

/// A diagnostic for each failed step, with its script line (read from `root`) and its log
/// tail (for stderr).
#[must_use]
pub fn render_failures(summary: &RunSummary, root: &Path, color: bool) -> String {
    summary
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .map(|s| failure_diagnostic(s, root).render_styled(color) + "\n")
        .collect()
}

/// A failed step as a diagnostic: the script line that declared it, the log tail.
#[must_use]
pub(super) fn failure_diagnostic(step: &StepResult, root: &Path) -> Diagnostic {
    let at = &step.declared_at;
    let mut location = Location::new(&at.file, at.line, at.column);
    if let Ok(text) = std::fs::read_to_string(root.join(&at.file)) {
        location = location.with_text(Arc::from(text));
    } else if let Some(name) = at
        .file
        .strip_prefix("stdlib/")
        .and_then(|f| f.strip_suffix(".rhai"))
        && let Some((_, text)) = crate::engine::STDLIB.iter().find(|(n, _)| *n == name)
    {
        location = location.with_text(Arc::from(*text));
    }
    let mut d = Diagnostic::error(
        "step::failed",
        format!(
            "step {} failed: {}",
            step.id,
            step.error.as_deref().unwrap_or("failed")
        ),
    )
    .at(location)
    .label("declared here");
    if let Some(template) = &at.template {
        d = d.note(format!("the step comes from the template, at {template}"));
    }
    if !step.log_tail.is_empty() {
        d = d.note(format!(
            "last lines of its log:\n{}",
            step.log_tail.join("\n")
        ));
    }
    d.help(format!(
        "rerun it alone with `isect run {} {}`",
        step.service, step.stage
    ))
}
