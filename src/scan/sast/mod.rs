//! Static analysis: command lines for the ecosystems' analysers (`go vet -json`, bandit)
//! and parsers of what they print, plus isect's own rules (`native`) for what those miss.
//! Processes are run by the step runner (`exec::scan`), which calls these parsers.

mod native;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::finding::{Finding, Location, Rule, Severity, fingerprint};

pub use native::{native_rules, native_scan};

/// Why a SAST scan or an analyser's report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SastError {
    /// bandit's JSON report is missing or malformed.
    #[error(
        "bandit's JSON report does not parse ({source}); run `bandit -r . -f json` by hand \
         to see what it printed"
    )]
    BanditJson {
        #[source]
        source: serde_json::Error,
    },
    /// A file could not be read.
    #[error("{path}: cannot read it: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The folder walk failed.
    #[error("{path}: cannot list the service's files: {message}")]
    Walk { path: String, message: String },
}

/// The summary's note for an analyser that is not installed: never skipped silently.
#[must_use]
pub fn missing_analyser_note(tool: &str, install_hint: &str) -> String {
    format!("{tool} is not installed, so its checks did not run (install it: `{install_hint}`)")
}

/// SARIF rule descriptors for the rules that external analysers' findings name (their
/// rule sets are theirs: only the rules seen are listed). Severity: the highest seen.
#[must_use]
pub fn rules_for(findings: &[Finding]) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for f in findings {
        if let Some(rule) = rules.iter_mut().find(|r| r.id == f.rule_id) {
            rule.severity = rule.severity.max(f.severity);
            continue;
        }
        let prop = |key: &str| {
            f.properties
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        rules.push(Rule {
            id: f.rule_id.clone(),
            description: prop("rule_name").unwrap_or_else(|| f.rule_id.clone()),
            help: None,
            help_uri: prop("more_info"),
            severity: f.severity,
        });
    }
    rules
}

// ---- go vet ----------------------------------------------------------------------------

/// Arguments of `go vet -json ./...`, run in the module's folder. It prints its JSON on
/// stderr, one object per package between `# pkg` lines, and exits 0 even with findings.
#[must_use]
pub fn go_vet_args() -> Vec<String> {
    ["vet", "-json", "./..."]
        .iter()
        .map(|s| (*s).to_string())
        .collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VetEntry {
    Diagnostics(Vec<VetDiagnostic>),
    Failure { error: String },
}

#[derive(Deserialize)]
struct VetDiagnostic {
    posn: String,
    message: String,
}

/// Severity per analyser. None of vet's checks is a vulnerability by itself, so nothing is
/// above Medium: Medium for real bugs (wrong format verbs, copied locks, leaked contexts,
/// racy atomics, nil derefs), Low for dead code and style-like checks.
fn vet_severity(analyzer: &str) -> Severity {
    match analyzer {
        "unreachable" | "composites" | "structtag" | "stdmethods" | "tests" | "buildtag"
        | "directive" | "unusedresult" | "framepointer" | "asmdecl" => Severity::Low,
        _ => Severity::Medium,
    }
}

/// The JSON objects of `go vet -json`'s output (skipping `# pkg`, `vet: ...` lines and
/// anything else a toolchain prints).
fn vet_objects(output: &str) -> Vec<BTreeMap<String, BTreeMap<String, VetEntry>>> {
    let mut objects = Vec::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if let Some(buf) = current.as_mut() {
            buf.push_str(line);
            buf.push('\n');
            if line == "}" {
                if let Ok(obj) = serde_json::from_str(buf) {
                    objects.push(obj);
                }
                current = None;
            }
        } else if line == "{" {
            current = Some("{\n".to_string());
        } else if line.starts_with('{')
            && let Ok(obj) = serde_json::from_str(line)
        {
            objects.push(obj);
        }
    }
    objects
}

/// `go vet -json` output → findings (rule `go-vet/<analyzer>`), with paths relative to
/// `root`; `module_dir` (workspace-relative) resolves relative positions.
#[must_use]
pub fn parse_go_vet_json(output: &str, module_dir: &str, root: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    for object in vet_objects(output) {
        for (pkg, analyzers) in object {
            for (analyzer, entry) in analyzers {
                let VetEntry::Diagnostics(diags) = entry else {
                    continue;
                };
                for d in diags {
                    let (file, line, column) = split_posn(&d.posn);
                    let path = workspace_rel(root, module_dir, file);
                    let rule_id = format!("go-vet/{analyzer}");
                    let mut properties = BTreeMap::new();
                    properties.insert("package".into(), pkg.clone().into());
                    properties.insert(
                        "rule_name".into(),
                        format!("go vet's {analyzer} analyser").into(),
                    );
                    findings.push(Finding {
                        fingerprint: fingerprint(&[&rule_id, &path, &d.message]),
                        rule_id,
                        severity: vet_severity(&analyzer),
                        message: d.message,
                        location: Location {
                            column,
                            ..Location::line(path, line)
                        },
                        properties,
                    });
                }
            }
        }
    }
    // go vet prints packages in build order: sort for stable reports.
    findings.sort_by(|a, b| {
        (&a.location.path, a.location.line, a.location.column).cmp(&(
            &b.location.path,
            b.location.line,
            b.location.column,
        ))
    });
    findings
}

/// What `go vet` could not analyse (type errors, an analyser that failed), for notes.
#[must_use]
pub fn go_vet_errors(output: &str) -> Vec<String> {
    let mut errors: Vec<String> = output
        .lines()
        .filter_map(|l| l.strip_prefix("vet: "))
        .map(str::to_string)
        .collect();
    for object in vet_objects(output) {
        for (pkg, analyzers) in object {
            for (analyzer, entry) in analyzers {
                if let VetEntry::Failure { error } = entry {
                    errors.push(format!("{pkg} ({analyzer}): {error}"));
                }
            }
        }
    }
    errors
}

/// `/a/b.go:12:5` → (`/a/b.go`, 12, Some(5)).
fn split_posn(posn: &str) -> (&str, usize, Option<usize>) {
    let mut parts = posn.rsplitn(3, ':');
    let last = parts.next().unwrap_or_default();
    let mid = parts.next();
    let rest = parts.next();
    match (rest, mid.and_then(|m| m.parse().ok()), last.parse().ok()) {
        (Some(file), Some(line), Some(col)) => (file, line, Some(col)),
        _ => match (mid, last.parse().ok()) {
            (Some(_), Some(line)) => (posn.rsplit_once(':').map_or(posn, |p| p.0), line, None),
            _ => (posn, 0, None),
        },
    }
}

/// An analyser's path (absolute, or relative to `root/dir`) as a workspace-relative path.
fn workspace_rel(root: &Path, dir: &str, file: &str) -> String {
    let p = Path::new(file);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(dir).join(p)
    };
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let rel = clean.strip_prefix(root).map_or(clean.as_path(), |r| r);
    rel.to_string_lossy().replace('\\', "/")
}

// ---- bandit ----------------------------------------------------------------------------

/// What bandit skips by default: tests (assert is how pytest checks, B101) and
/// environments.
pub const BANDIT_EXCLUDES: &str = "*/tests/*,*/test/*,*/test_*.py,*/*_test.py,*/conftest.py,\
*/.venv/*,*/venv/*,*/node_modules/*,*/site-packages/*";

/// Arguments of `bandit -r <target> -f json -o <json_out>`, run in the service's folder.
/// It exits 1 when it reports issues.
#[must_use]
pub fn bandit_args(target: &str, json_out: &str) -> Vec<String> {
    [
        "-r",
        target,
        "-f",
        "json",
        "-o",
        json_out,
        "-q",
        "-x",
        BANDIT_EXCLUDES,
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

#[derive(Deserialize)]
struct BanditReport {
    #[serde(default)]
    results: Vec<BanditResult>,
}

#[derive(Deserialize)]
struct BanditResult {
    test_id: String,
    #[serde(default)]
    test_name: String,
    issue_severity: String,
    #[serde(default)]
    issue_confidence: String,
    issue_text: String,
    filename: String,
    line_number: usize,
    #[serde(default)]
    col_offset: Option<usize>,
    #[serde(default)]
    more_info: Option<String>,
    #[serde(default)]
    issue_cwe: Option<serde_json::Value>,
}

/// bandit's severity, one level lower when bandit itself has LOW confidence (its
/// low-confidence results are mostly noise: a gate should not fail on them at full weight).
fn bandit_severity(severity: &str, confidence: &str) -> Severity {
    let base = match severity.to_ascii_uppercase().as_str() {
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Info,
    };
    if confidence.eq_ignore_ascii_case("LOW") {
        match base {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Info => Severity::Info,
        }
    } else {
        base
    }
}

/// bandit's JSON report → findings (rule `bandit/<test_id>`); its file names are relative
/// to `root/dir` (where it ran) or absolute.
///
/// # Errors
/// The report does not parse (bandit crashed or wrote nothing).
pub fn parse_bandit_json(text: &str, root: &Path, dir: &str) -> Result<Vec<Finding>, SastError> {
    let report: BanditReport =
        serde_json::from_str(text).map_err(|source| SastError::BanditJson { source })?;
    Ok(report
        .results
        .into_iter()
        .map(|r| {
            let path = workspace_rel(root, dir, &r.filename);
            let rule_id = format!("bandit/{}", r.test_id);
            let mut properties = BTreeMap::new();
            properties.insert("rule_name".into(), r.test_name.clone().into());
            properties.insert("confidence".into(), r.issue_confidence.clone().into());
            if let Some(url) = &r.more_info {
                properties.insert("more_info".into(), url.clone().into());
            }
            if let Some(cwe) = r.issue_cwe.as_ref().and_then(|c| c.get("id")) {
                properties.insert("cwe".into(), cwe.clone());
            }
            Finding {
                fingerprint: fingerprint(&[&rule_id, &path, &r.issue_text]),
                severity: bandit_severity(&r.issue_severity, &r.issue_confidence),
                message: r.issue_text,
                location: Location {
                    // bandit's col_offset is 0-based.
                    column: r.col_offset.map(|c| c + 1),
                    ..Location::line(path, r.line_number)
                },
                rule_id,
                properties,
            }
        })
        .collect())
}

/// Files bandit could not analyse (syntax errors), for notes.
#[must_use]
pub fn bandit_errors(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    value
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let get = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                    format!(
                        "bandit could not analyse {}: {}",
                        get("filename"),
                        get("reason")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
