//! The subset of an OSV record (ossf/osv-schema 1.x) that matching, severity and the
//! database status need; every other field is skipped by serde.

use serde::{Deserialize, Serialize};

/// One OSV vulnerability record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The upstream ids a downstream advisory covers: Debian's DSA/DLA records name
    /// their CVEs here rather than in `aliases`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<DatabaseSpecific>,
}

/// `severity[]`: a scoring system and its vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub score: String,
}

/// `database_specific`: only GitHub's qualitative `severity` is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSpecific {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

/// One `affected[]` entry: a package and the versions of it that are affected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<PackageRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageRef {
    #[serde(default)]
    pub ecosystem: String,
    #[serde(default)]
    pub name: String,
}

/// `affected[].ranges[]`: `SEMVER`, `ECOSYSTEM` or `GIT` (the last is ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One event; the schema allows exactly one of these keys per object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Record {
    /// The ecosystems the record names, with any `:release` suffix cut (`Debian:11` →
    /// `Debian`), as osv-scanner's offline folders are named.
    #[must_use]
    pub fn ecosystems(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in &self.affected {
            if let Some(p) = &a.package {
                let base = p
                    .ecosystem
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if !base.is_empty() && !out.contains(&base) {
                    out.push(base);
                }
            }
        }
        out
    }
}
