//! SARIF 2.1.0 out: one run per scanner report, so GitHub code scanning or any SARIF viewer
//! shows isect's findings with their rules, locations and fingerprints. A hand-written serde
//! model of the subset isect emits (DEPS.md trap 15: serde-sarif generates code at build time).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::finding::{Finding, Rule, ScanReport, Severity};

/// The schema URI written into every log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where a report came from: its service and the stage it ran in, so GitHub keeps one
/// category per service and scanner (`runAutomationDetails.id`).
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub service: &'a str,
    pub stage: &'a str,
}

/// A whole SARIF log.
#[derive(Debug, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Value>,
}

impl Log {
    /// A log with one run per report.
    #[must_use]
    pub fn new(reports: &[(Origin<'_>, &ScanReport)]) -> Self {
        Self {
            schema: SCHEMA_URI,
            version: "2.1.0",
            runs: reports.iter().map(|(o, r)| run(o, r)).collect(),
        }
    }

    /// Several logs' runs in one log (the run-wide file).
    #[must_use]
    pub fn merge(logs: impl IntoIterator<Item = Log>) -> Self {
        Self {
            schema: SCHEMA_URI,
            version: "2.1.0",
            runs: logs.into_iter().flat_map(|l| l.runs).collect(),
        }
    }

    /// Pretty JSON, newline-terminated.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// SARIF's three levels: what blocks (error), what to look at (warning), the rest (note).
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub ranks security results by `security-severity`, a CVSS-like score.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

fn run(origin: &Origin<'_>, report: &ScanReport) -> Value {
    let mut rules: Vec<&Rule> = report.rules.iter().collect();
    // A finding whose rule the scanner did not list still needs a descriptor.
    let unlisted: Vec<Rule> = report
        .findings
        .iter()
        .filter(|f| !report.rules.iter().any(|r| r.id == f.rule_id))
        .map(|f| Rule {
            id: f.rule_id.clone(),
            description: f.rule_id.clone(),
            help: None,
            help_uri: None,
            severity: f.severity,
        })
        .collect();
    for rule in &unlisted {
        if !rules.iter().any(|r| r.id == rule.id) {
            rules.push(rule);
        }
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rules.iter().position(|r| r.id == f.rule_id)))
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": report.tool,
                "version": report.tool_version,
                "informationUri": "https://github.com/isect-build/isect",
                "rules": rules.iter().map(|r| descriptor(r)).collect::<Vec<_>>(),
            }
        },
        "automationDetails": {
            "id": format!("isect/{}/{}/{}/", origin.stage, origin.service, report.scanner),
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if !report.notes.is_empty() {
        // Notes (a missing analyser, a stale database) travel as tool notifications.
        run["invocations"] = json!([{
            "executionSuccessful": true,
            "toolExecutionNotifications": report.notes.iter().map(|n| json!({
                "level": "warning",
                "message": { "text": n },
            })).collect::<Vec<_>>(),
        }]);
    }
    run
}

fn descriptor(rule: &Rule) -> Value {
    let mut d = json!({
        "id": rule.id,
        "shortDescription": { "text": rule.description },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": {
            "security-severity": security_severity(rule.severity),
            "tags": ["security"],
        },
    });
    if let Some(help) = &rule.help {
        d["help"] = json!({ "text": help });
    }
    if let Some(uri) = &rule.help_uri {
        d["helpUri"] = json!(uri);
    }
    d
}

fn result(finding: &Finding, rule_index: Option<usize>) -> Value {
    let mut physical = json!({
        "artifactLocation": { "uri": finding.location.path, "uriBaseId": "%SRCROOT%" },
    });
    // SARIF regions start at line 1; a whole-file finding has none.
    if finding.location.line > 0 {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(finding.location.line));
        if let Some(c) = finding.location.column {
            region.insert("startColumn".into(), json!(c.max(1)));
        }
        if let Some(l) = finding.location.end_line {
            region.insert("endLine".into(), json!(l.max(finding.location.line)));
        }
        if let Some(c) = finding.location.end_column {
            region.insert("endColumn".into(), json!(c.max(1)));
        }
        physical["region"] = Value::Object(region);
    }
    let mut properties: Map<String, Value> = finding
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    properties.insert("severity".into(), json!(finding.severity.as_str()));
    let mut r = json!({
        "ruleId": finding.rule_id,
        "level": level(finding.severity),
        "message": { "text": finding.message },
        "locations": [{ "physicalLocation": physical }],
        "partialFingerprints": { "isectFingerprint/v1": finding.fingerprint },
        "properties": properties,
    });
    if let Some(i) = rule_index {
        r["ruleIndex"] = json!(i);
    }
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::scan::finding::{Location, Scanner};

    #[test]
    fn findings_become_results_with_rule_index_and_fingerprint() {
        let mut report = ScanReport::new(Scanner::Iac, "isect-iac", "1");
        report.rules.push(Rule {
            id: "tf-public-bucket".into(),
            description: "bucket readable by anyone".into(),
            help: Some("remove allUsers".into()),
            help_uri: None,
            severity: Severity::Critical,
        });
        report.findings.push(Finding {
            rule_id: "tf-public-bucket".into(),
            severity: Severity::Critical,
            message: "public".into(),
            location: Location::line("infra/main.tf", 3),
            fingerprint: "abc".into(),
            properties: Default::default(),
        });
        report.findings.push(Finding {
            rule_id: "unlisted".into(),
            severity: Severity::Low,
            message: "whole file".into(),
            location: Location::line("infra/x.tf", 0),
            fingerprint: "def".into(),
            properties: Default::default(),
        });
        let origin = Origin {
            service: "svc",
            stage: "scan",
        };
        let log: Value = serde_json::from_str(&Log::new(&[(origin, &report)]).to_json()).unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["results"][0]["ruleIndex"], 0);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(run["results"][1]["ruleIndex"], 1);
        assert!(run["results"][1]["locations"][0]["physicalLocation"]["region"].is_null());
        assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "unlisted");
    }
}
