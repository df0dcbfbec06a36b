//! What every scanner returns: rules, findings with a severity and a location, and notes
//! (an analyser that is missing, a database that is stale) for the summary.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`, so a gate is
/// `finding.severity >= fail_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Info,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// From a CVSS v3/v4 base score, with FIRST's qualitative bands.
    #[must_use]
    pub fn from_cvss_score(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Self::Critical,
            s if s >= 7.0 => Self::High,
            s if s >= 4.0 => Self::Medium,
            s if s > 0.0 => Self::Low,
            _ => Self::Info,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "none" | "note" => Ok(Self::Info),
            "low" => Ok(Self::Low),
            "medium" | "moderate" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(format!(
                "`{s}` is not a severity: use critical, high, medium, low or info"
            )),
        }
    }
}

/// Which scanner produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scanner {
    Secrets,
    Deps,
    Sast,
    Licenses,
    Iac,
    /// The packages inside a container image, against the OSV database.
    Image,
}

impl Scanner {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secrets => "secrets",
            Self::Deps => "deps",
            Self::Sast => "sast",
            Self::Licenses => "licenses",
            Self::Iac => "iac",
            Self::Image => "image",
        }
    }
}

impl fmt::Display for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule a scanner checks, as SARIF's `reportingDescriptor` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id (`aws-access-token`, `GO-2023-1234`, `B602`, `tf-public-bucket`).
    pub id: String,
    /// One line: what the rule finds.
    pub description: String,
    /// How to fix or why it matters, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    pub severity: Severity,
}

/// Where a finding is: a workspace-relative file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    /// 1-based; 0 when the finding is about the whole file.
    pub line: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<usize>,
}

impl Location {
    #[must_use]
    pub fn line(path: impl Into<String>, line: usize) -> Self {
        Self {
            path: path.into(),
            line,
            column: None,
            end_line: None,
            end_column: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => f.write_str(&self.path),
            (l, Some(c)) => write!(f, "{}:{l}:{c}", self.path),
            (l, None) => write!(f, "{}:{l}", self.path),
        }
    }
}

/// One finding. `message` never contains a secret in clear (see `secrets::redact`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// Stable across runs and unrelated edits: what baselines and SARIF's
    /// `partialFingerprints` use.
    pub fingerprint: String,
    /// Scanner-specific facts (advisory aliases, fixed version, package, licence),
    /// written to SARIF as `properties`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, serde_json::Value>,
}

/// What one scanner found in one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub scanner: Scanner,
    /// The tool that did the work (`isect-secrets`, `go vet`, `bandit`), with its version.
    pub tool: String,
    pub tool_version: String,
    /// Every rule that was checked (not only those with findings).
    pub rules: Vec<Rule>,
    pub findings: Vec<Finding>,
    /// What the summary must show besides findings: a missing analyser, a stale database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ScanReport {
    #[must_use]
    pub fn new(scanner: Scanner, tool: impl Into<String>, tool_version: impl Into<String>) -> Self {
        Self {
            scanner,
            tool: tool.into(),
            tool_version: tool_version.into(),
            rules: Vec::new(),
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Finding counts per severity, most severe first, zeros left out.
    #[must_use]
    pub fn counts(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    self.findings.iter().filter(|f| f.severity == *s).count(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Findings at or above the gate.
    pub fn over_gate(&self, fail_on: Severity) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.severity >= fail_on)
    }
}

/// A fingerprint: blake3 over the parts, hex, first 16 bytes (as gitleaks' and SARIF's
/// fingerprints are short stable strings, not full hashes).
#[must_use]
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for part in parts {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!("MODERATE".parse::<Severity>(), Ok(Severity::Medium));
        assert!("severe".parse::<Severity>().is_err());
        assert_eq!(Severity::from_cvss_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(7.0), Severity::High);
        assert_eq!(Severity::from_cvss_score(3.9), Severity::Low);
    }
}
