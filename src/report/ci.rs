//! Running under a CI service: which one and which run (recorded in the run's summary),
//! and, on GitHub Actions, the job summary page and `::error` annotations on the lines that
//! declared the failed steps.

use std::fmt::Write as _;

use serde::Serialize;

use super::{RunSummary, StepStatus};

/// The CI run isect is part of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiRun {
    /// `cloud-build` or `github-actions`.
    pub provider: &'static str,
    /// The build (Cloud Build `BUILD_ID`) or workflow run (`GITHUB_RUN_ID`).
    pub run_id: String,
    /// Where a person sees it, when it can be built from the environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The project (Cloud Build) or repository (GitHub).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// The CI run described by `var` (the environment): Cloud Build sets `BUILD_ID` and
/// `PROJECT_ID` for steps that ask for them (isect's generated config does), GitHub Actions
/// sets `GITHUB_ACTIONS=true`.
#[must_use]
pub fn detect(var: impl Fn(&str) -> Option<String>) -> Option<CiRun> {
    if var("GITHUB_ACTIONS").as_deref() == Some("true") {
        let run_id = var("GITHUB_RUN_ID").unwrap_or_default();
        let repository = var("GITHUB_REPOSITORY");
        let url = match (var("GITHUB_SERVER_URL"), &repository) {
            (Some(server), Some(repo)) if !run_id.is_empty() => {
                Some(format!("{server}/{repo}/actions/runs/{run_id}"))
            }
            _ => None,
        };
        return Some(CiRun {
            provider: "github-actions",
            run_id,
            url,
            project: repository,
        });
    }
    if let Some(build) = var("BUILD_ID").filter(|b| !b.is_empty()) {
        let project = var("PROJECT_ID");
        let url = project.as_ref().map(|p| {
            format!("https://console.cloud.google.com/cloud-build/builds/{build}?project={p}")
        });
        return Some(CiRun {
            provider: "cloud-build",
            run_id: build,
            url,
            project,
        });
    }
    None
}

/// The current process's CI run.
#[must_use]
pub fn current() -> Option<CiRun> {
    detect(|name| std::env::var(name).ok())
}

/// GitHub's workflow-command escaping for a property (`file=`, `title=`) or a message.
fn escape(text: &str, property: bool) -> String {
    let mut out = text
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// One `::error file=…,line=…,title=…::message` line per failed step, at the script line
/// that declared it, so the failure shows on the pull request's diff.
#[must_use]
pub fn github_annotations(summary: &RunSummary) -> String {
    let mut out = String::new();
    for step in summary
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
    {
        let message = step.error.as_deref().unwrap_or("failed");
        let _ = writeln!(
            out,
            "::error file={},line={},col={},title={}::{}",
            escape(&step.declared_at.file, true),
            step.declared_at.line,
            step.declared_at.column,
            escape(&format!("isect: {} failed", step.id), true),
            escape(message, false)
        );
    }
    out
}

/// The run as Markdown for GitHub's job summary (`$GITHUB_STEP_SUMMARY`).
#[must_use]
pub fn github_step_summary(summary: &RunSummary) -> String {
    let mut out = format!(
        "### isect {}\n\n{} steps: {} ran, {} cached, {} failed, {} skipped\n\n",
        summary.command,
        summary.steps.len(),
        summary.ok + summary.failed,
        summary.cached,
        summary.failed,
        summary.skipped
    );
    out.push_str("| service | stage | step | status | note |\n|---|---|---|---|---|\n");
    for s in &summary.steps {
        let note = match s.status {
            StepStatus::Failed => s.error.clone().unwrap_or_default(),
            _ => s.summary.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            s.service,
            s.stage,
            s.step,
            s.status.as_str(),
            note.replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn detects_github_and_cloud_build() {
        let github = detect(|n| match n {
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_RUN_ID" => Some("42".into()),
            "GITHUB_REPOSITORY" => Some("acme/platform".into()),
            "GITHUB_SERVER_URL" => Some("https://github.com".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(github.provider, "github-actions");
        assert_eq!(
            github.url.as_deref(),
            Some("https://github.com/acme/platform/actions/runs/42")
        );
        let cloud = detect(|n| match n {
            "BUILD_ID" => Some("b-1".into()),
            "PROJECT_ID" => Some("acme".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cloud.provider, "cloud-build");
        assert_eq!(cloud.run_id, "b-1");
        assert!(detect(|_| None).is_none());
    }

    #[test]
    fn annotation_properties_are_escaped() {
        assert_eq!(escape("a:b,c%\nd", true), "a%3Ab%2Cc%25%0Ad");
        assert_eq!(escape("a:b", false), "a:b");
    }
}
