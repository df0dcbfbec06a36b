//! A scan step: run one scanner over the service's folders (external analysers as
//! processes, isect's own scanners on a blocking thread), write its report, log every
//! finding, and apply the gate. The report is a declared output, so the run's SARIF can be
//! assembled from cached scans too (`write_sarif`).

use std::path::{Path, PathBuf};

use super::actions::{Action, Outcome};
use super::runner::ProcessEnd;
use crate::plan::{ScanCheck, Step, StepKind};
use crate::scan::{self, ScanReport, Scanner, Severity, sarif};

/// Findings shown in the step's error line before "and N more".
const ERROR_FINDINGS: usize = 3;

impl Action<'_> {
    /// Runs the scanner, then the gate.
    pub(super) async fn scan(
        mut self,
        check: &ScanCheck,
        dirs: &[String],
        fail_on: Severity,
    ) -> Outcome {
        let scanner = check.scanner();
        let report = match check {
            ScanCheck::Sast { language } => self.sast(language.as_deref(), dirs).await,
            _ => {
                let root = self.root().to_path_buf();
                let check = check.clone();
                let dirs = dirs.to_vec();
                tokio::task::spawn_blocking(move || native_scan(&root, &check, &dirs))
                    .await
                    .unwrap_or_else(|e| Err(format!("the {scanner} scanner crashed: {e}")))
            }
        };
        let report = match report {
            Ok(report) => report,
            Err(error) => return self.fail(error, None),
        };
        let out = self
            .root()
            .join(scan::report_path(&self.step().out_dir, scanner));
        if let Err(e) = write_report(&out, &report) {
            return self.fail(format!("cannot write {}: {e}", out.display()), None);
        }
        for note in &report.notes {
            self.emit(format!("note: {note}"));
        }
        for finding in &report.findings {
            self.emit(format!(
                "{:>8}  {}  {}: {}",
                finding.severity.as_str().to_uppercase(),
                finding.location,
                finding.rule_id,
                finding.message
            ));
        }
        let summary = summary_line(&report, fail_on);
        let over: Vec<_> = report.over_gate(fail_on).collect();
        if over.is_empty() {
            return self.succeed(Some(summary));
        }
        let mut shown: Vec<String> = over
            .iter()
            .take(ERROR_FINDINGS)
            .map(|f| format!("{} {} at {}", f.severity, f.rule_id, f.location))
            .collect();
        if over.len() > ERROR_FINDINGS {
            shown.push(format!("and {} more", over.len() - ERROR_FINDINGS));
        }
        self.fail(
            format!(
                "{} finding{} at or above the `{fail_on}` gate: {}",
                over.len(),
                if over.len() == 1 { "" } else { "s" },
                shown.join("; ")
            ),
            Some(summary),
        )
    }

    /// The language's analyser as a process, then isect's own rules.
    async fn sast(
        &mut self,
        language: Option<&str>,
        dirs: &[String],
    ) -> Result<ScanReport, String> {
        let root = self.root().to_path_buf();
        let mut reports = Vec::new();
        let service_dir = dirs.first().cloned().unwrap_or_default();
        match language {
            Some("golang") => reports.push(self.go_vet(&root, &service_dir).await?),
            Some("python") => reports.push(self.bandit(&root, &service_dir).await?),
            _ => {}
        }
        let native_dirs = dirs.to_vec();
        let native = tokio::task::spawn_blocking(move || {
            native_dirs
                .iter()
                .map(|d| scan::sast::native_scan(&root, d).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap_or_else(|e| Err(format!("the sast scanner crashed: {e}")))?;
        reports.extend(native);
        Ok(merge(Scanner::Sast, reports))
    }

    async fn go_vet(&mut self, root: &Path, dir: &str) -> Result<ScanReport, String> {
        let mut output = Vec::new();
        let end = self
            .run("go", scan::sast::go_vet_args(), dir, |line| {
                output.push(line.to_string());
                None
            })
            .await;
        // go vet exits 1 when it reports; anything else (or no JSON) is a failure to run.
        if matches!(end, ProcessEnd::Cancelled | ProcessEnd::TimedOut(_)) {
            return Err(end.describe("go vet"));
        }
        let text = output.join("\n");
        let findings = scan::sast::parse_go_vet_json(&text, dir, root);
        if !end.success() && findings.is_empty() {
            for line in &output {
                self.emit(line.clone());
            }
            return Err(format!("{}: see the log", end.describe("go vet")));
        }
        let mut report = ScanReport::new(Scanner::Sast, "go vet", "");
        report.rules = scan::sast::rules_for(&findings);
        report.findings = findings;
        // Type errors and analysers that failed: what vet could not check is said, not hidden.
        report.notes = scan::sast::go_vet_errors(&text);
        Ok(report)
    }

    async fn bandit(&mut self, root: &Path, dir: &str) -> Result<ScanReport, String> {
        if crate::lang::toolchain::which("bandit").is_none() {
            let mut report = ScanReport::new(Scanner::Sast, "bandit", "");
            report.notes.push(scan::sast::missing_analyser_note(
                "bandit",
                "pip install bandit",
            ));
            return Ok(report);
        }
        let json = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        let json_path = json.path().display().to_string();
        let end = self
            .run(
                "bandit",
                scan::sast::bandit_args(".", &json_path),
                dir,
                |l| Some(l.to_string()),
            )
            .await;
        // bandit exits 1 when it finds issues.
        if matches!(end, ProcessEnd::Cancelled | ProcessEnd::TimedOut(_)) {
            return Err(end.describe("bandit"));
        }
        let text = std::fs::read_to_string(json.path()).unwrap_or_default();
        let findings = scan::sast::parse_bandit_json(&text, root, dir)
            .map_err(|e| format!("{}: {e}", end.describe("bandit")))?;
        let mut report = ScanReport::new(Scanner::Sast, "bandit", "");
        report.rules = scan::sast::rules_for(&findings);
        report.findings = findings;
        report.notes = scan::sast::bandit_errors(&text);
        Ok(report)
    }
}

/// The scanners isect implements itself, over every folder.
fn native_scan(root: &Path, check: &ScanCheck, dirs: &[String]) -> Result<ScanReport, String> {
    let scanner = check.scanner();
    let reports = match check {
        ScanCheck::Secrets { rules, baseline } => {
            let custom = rules
                .as_ref()
                .map(|path| {
                    scan::secrets::RuleSet::load(&root.join(path)).map_err(|e| e.to_string())
                })
                .transpose()?;
            let rules = custom
                .as_ref()
                .unwrap_or_else(|| scan::secrets::RuleSet::builtin());
            let baseline = baseline
                .as_ref()
                .map(|p| scan::secrets::Baseline::load(&root.join(p)).map_err(|e| e.to_string()))
                .transpose()?;
            let today = scan::secrets::Date::today();
            dirs.iter()
                .map(|d| {
                    scan::secrets::scan_tree(root, d, rules, baseline.as_ref(), today)
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        ScanCheck::Deps {
            vulndb,
            max_age_days,
        } => {
            let dir = resolve(root, vulndb);
            if !dir.is_dir() {
                return Err(format!(
                    "no vulnerability database at {vulndb} (`[scan] vulndb` in isect.toml): \
                     import one with `isect vulndb import <all.zip or folder>`"
                ));
            }
            let db = scan::osv::Database::open(&dir).map_err(|e| e.to_string())?;
            let now = std::time::SystemTime::now();
            let mut reports = dirs
                .iter()
                .map(|d| {
                    scan::osv::scan_dir_with(root, d, &db, u64::from(*max_age_days), now)
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            // A library without a lockfile of its own is normal; the service's is not.
            for report in reports.iter_mut().skip(1) {
                report.notes.retain(|n| !n.starts_with("no lockfile"));
            }
            reports
        }
        ScanCheck::Licenses { allow, deny } => {
            let policy = scan::licenses::LicensePolicy {
                allow: allow.clone(),
                deny: deny.clone(),
                ..Default::default()
            };
            let site = scan::licenses::python_site_packages();
            dirs.iter()
                .map(|d| scan::licenses::scan(root, d, &policy, &site).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?
        }
        ScanCheck::Iac => dirs
            .iter()
            .map(|d| scan::iac::scan(root, d).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?,
        ScanCheck::Image {
            layout,
            vulndb,
            max_age_days,
        } => {
            let db_dir = resolve(root, vulndb);
            if !db_dir.is_dir() {
                return Err(format!(
                    "no vulnerability database at {vulndb} (`[scan] vulndb` in isect.toml): \
                     import one with `isect vulndb import <all.zip or folder>`"
                ));
            }
            let db = scan::osv::Database::open(&db_dir).map_err(|e| e.to_string())?;
            let contents = crate::image::inspect::inspect_layout(&root.join(layout))
                .map_err(|e| format!("cannot read the image in {layout}: {e}"))?;
            let label = layout
                .trim_end_matches("/image/oci")
                .trim_start_matches(".isect/out/");
            let report = crate::image::inspect::scan_image_with(
                &contents,
                &format!("image/{label}"),
                &db,
                u64::from(*max_age_days),
                std::time::SystemTime::now(),
            )
            .map_err(|e| e.to_string())?;
            vec![report]
        }
        ScanCheck::Sast { .. } => unreachable!("sast runs processes"),
    };
    Ok(merge(scanner, reports))
}

/// A workspace-relative or absolute folder.
#[must_use]
pub(crate) fn resolve(root: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

/// Several folders' (or tools') reports as one: rules by id, findings in order.
fn merge(scanner: Scanner, reports: Vec<ScanReport>) -> ScanReport {
    let mut merged = ScanReport::new(scanner, "", "");
    let mut tools: Vec<String> = Vec::new();
    for report in reports {
        if !report.tool.is_empty() && !tools.contains(&report.tool) {
            tools.push(report.tool.clone());
            if merged.tool_version.is_empty() {
                merged.tool_version = report.tool_version.clone();
            }
        }
        for rule in report.rules {
            if !merged.rules.iter().any(|r| r.id == rule.id) {
                merged.rules.push(rule);
            }
        }
        merged.findings.extend(report.findings);
        for note in report.notes {
            if !merged.notes.contains(&note) {
                merged.notes.push(note);
            }
        }
    }
    merged.tool = if tools.is_empty() {
        format!("isect-{scanner}")
    } else {
        tools.join(" + ")
    };
    if merged.tool_version.is_empty() {
        merged.tool_version = env!("CARGO_PKG_VERSION").to_string();
    }
    merged
}

fn write_report(path: &Path, report: &ScanReport) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    crate::cache::write_memo(path, &json)
}

/// `2 high, 1 medium (gate: high)`, or `no findings`, plus notes.
fn summary_line(report: &ScanReport, fail_on: Severity) -> String {
    let counts = report.counts();
    let mut line = if counts.is_empty() {
        "no findings".to_string()
    } else {
        counts
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    line.push_str(&format!(" (gate: {fail_on})"));
    for note in &report.notes {
        line.push_str(&format!("; {note}"));
    }
    line
}

/// Writes one SARIF file per service and stage (`<out>/reports/<stage>.sarif`) and one for
/// the whole run (`.isect/reports/<stage>.sarif`), from the reports the run's scan steps
/// left (ran or cached). Returns the run-wide file, when any scan step was planned.
pub fn write_sarif(root: &Path, steps: &[&Step]) -> std::io::Result<Option<PathBuf>> {
    let mut by_service: std::collections::BTreeMap<(&str, &str, &str), Vec<ScanReport>> =
        std::collections::BTreeMap::new();
    for step in steps {
        let StepKind::Scan { check, .. } = &step.kind else {
            continue;
        };
        let path = root.join(scan::report_path(&step.out_dir, check.scanner()));
        // A step that did not run (an upstream failed) left no report.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Ok(report) = serde_json::from_slice::<ScanReport>(&bytes) {
            by_service
                .entry((
                    step.service.as_str(),
                    step.stage.as_str(),
                    step.out_dir.as_str(),
                ))
                .or_default()
                .push(report);
        }
    }
    if by_service.is_empty() {
        return Ok(None);
    }
    let mut logs = Vec::new();
    let mut stage_name = "scan";
    for ((service, stage, out_dir), reports) in &by_service {
        stage_name = stage;
        let origin = |_: &ScanReport| sarif::Origin { service, stage };
        let entries: Vec<_> = reports.iter().map(|r| (origin(r), r)).collect();
        let log = sarif::Log::new(&entries);
        let out = root
            .join(out_dir)
            .join("reports")
            .join(format!("{stage}.sarif"));
        crate::cache::write_memo(&out, log.to_json().as_bytes())?;
        logs.push(log);
    }
    let merged = sarif::Log::merge(logs);
    let out = root
        .join(".isect/reports")
        .join(format!("{stage_name}.sarif"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::cache::write_memo(&out, merged.to_json().as_bytes())?;
    Ok(Some(out))
}
