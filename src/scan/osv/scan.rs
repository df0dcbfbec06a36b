//! `scan_dir`: one service's lockfiles against the offline database, one finding per
//! (pinned package, advisory) at the lockfile line, one rule per advisory found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::cvss::rate;
use super::lockfile::{self, Lockfile};
use super::matching::record_affects;
use super::record::Record;
use super::version::Version;
use super::vulndb::{STALE_AFTER_DAYS, is_stale, stale_warning};
use super::{Database, DepsError, Ecosystem, Package};
use crate::scan::finding::fingerprint;
use crate::scan::{Finding, Location, Rule, ScanReport, Scanner};

/// The tool name findings carry.
pub const TOOL: &str = "isect-osv";

/// Scan the service folder `dir` (workspace-relative, under `root`): every lockfile
/// directly in it is parsed and its packages matched against `db`. A lockfile that does
/// not parse is an error naming the file and line; a missing database for an ecosystem,
/// unpinned requirements and no lockfile at all are notes.
pub fn scan_dir(root: &Path, dir: &str, db: &Database) -> Result<ScanReport, DepsError> {
    scan_dir_with(root, dir, db, STALE_AFTER_DAYS, SystemTime::now())
}

/// `scan_dir` with the staleness threshold (a note when the newest record of a used
/// ecosystem is older than `max_age_days` before `now`).
pub fn scan_dir_with(
    root: &Path,
    dir: &str,
    db: &Database,
    max_age_days: u64,
    now: SystemTime,
) -> Result<ScanReport, DepsError> {
    let mut report = ScanReport::new(Scanner::Deps, TOOL, env!("CARGO_PKG_VERSION"));
    let dir = dir.trim_end_matches('/');
    let mut locks: Vec<Lockfile> = Vec::new();
    for (name, _) in lockfile::NAMES {
        let rel = if dir.is_empty() || dir == "." {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        if root.join(&rel).is_file() {
            locks.push(lockfile::parse(root, &rel)?);
        }
    }
    if locks.is_empty() {
        let names: Vec<&str> = lockfile::NAMES.iter().map(|(n, _)| *n).collect();
        report.notes.push(format!(
            "no lockfile in {dir} (looked for {})",
            names.join(", ")
        ));
        return Ok(report);
    }
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    let mut noted: BTreeSet<Ecosystem> = BTreeSet::new();
    for lock in &locks {
        report.notes.extend(lock.notes.iter().cloned());
        if lock.packages.is_empty() {
            continue;
        }
        let Some(index) = db.index(lock.ecosystem)? else {
            if noted.insert(lock.ecosystem) {
                report.notes.push(format!(
                    "no {} database in {}: run `isect vulndb import`",
                    lock.ecosystem,
                    db.dir().display()
                ));
            }
            continue;
        };
        if noted.insert(lock.ecosystem)
            && is_stale(index.newest_modified.as_deref(), now, max_age_days)
        {
            report.notes.push(stale_warning(
                lock.ecosystem.as_str(),
                index.newest_modified.as_deref(),
                db.dir(),
            ));
        }
        for pkg in &lock.packages {
            let name = pkg.ecosystem.normalize_name(&pkg.name);
            let version = Version::parse(pkg.ecosystem, &pkg.version);
            for record in index.lookup(&name)? {
                let Some(hit) = record_affects(&record, pkg.ecosystem, &name, &version) else {
                    continue;
                };
                let finding = finding(pkg, &record, hit.fixed.as_deref());
                rules
                    .entry(record.id.clone())
                    .or_insert_with(|| rule(&record, finding.severity));
                report.findings.push(finding);
            }
        }
    }
    report.rules = rules.into_values().collect();
    Ok(report)
}

/// The CVE ids an advisory names: its aliases and, for Debian's DSA/DLA records, its
/// `upstream` list.
pub(crate) fn cves(record: &Record) -> Vec<&str> {
    let mut cves: Vec<&str> = Vec::new();
    for id in record.aliases.iter().chain(&record.upstream) {
        if id.starts_with("CVE-") && !cves.contains(&id.as_str()) {
            cves.push(id);
        }
    }
    cves
}

/// `<subject> is affected by <id> (<CVEs>); fixed in <version>`: every finding's message.
pub(crate) fn advisory_message(subject: &str, record: &Record, fixed: Option<&str>) -> String {
    let mut message = format!("{subject} is affected by {}", record.id);
    let cve = cves(record);
    if !cve.is_empty() {
        message.push_str(&format!(" ({})", cve.join(", ")));
    }
    match fixed {
        Some(f) => message.push_str(&format!("; fixed in {f}")),
        None => message.push_str("; no fixed version yet"),
    }
    message
}

/// What every finding about an advisory carries: aliases, the fixed version, CVSS, summary.
pub(crate) fn advisory_properties(record: &Record, fixed: Option<&str>) -> BTreeMap<String, Value> {
    let rated = rate(record);
    let mut properties = BTreeMap::new();
    properties.insert("aliases".to_string(), json!(record.aliases));
    properties.insert("fixed".to_string(), fixed.map_or(Value::Null, Value::from));
    if let (Some(score), Some(vector)) = (rated.score, &rated.vector) {
        properties.insert("cvss_score".to_string(), json!(score));
        properties.insert("cvss_vector".to_string(), json!(vector));
    }
    if let Some(s) = &record.summary {
        properties.insert("summary".to_string(), json!(s));
    }
    properties
}

/// How the fixed version is written for the ecosystem's users (`go get m@v1.2.3`).
fn display_fixed(eco: Ecosystem, fixed: &str) -> String {
    if eco == Ecosystem::Go && !fixed.starts_with('v') {
        format!("v{fixed}")
    } else {
        fixed.to_string()
    }
}

fn finding(pkg: &Package, record: &Record, fixed: Option<&str>) -> Finding {
    let rated = rate(record);
    let fixed = fixed.map(|f| display_fixed(pkg.ecosystem, f));
    let message = advisory_message(
        &format!("{} {}", pkg.name, pkg.version),
        record,
        fixed.as_deref(),
    );
    let mut properties = advisory_properties(record, fixed.as_deref());
    properties.insert("package".to_string(), json!(pkg.name));
    properties.insert("version".to_string(), json!(pkg.version));
    properties.insert("ecosystem".to_string(), json!(pkg.ecosystem.as_str()));
    Finding {
        rule_id: record.id.clone(),
        severity: rated.severity,
        message,
        location: Location::line(pkg.file.clone(), pkg.line),
        fingerprint: fingerprint(&[
            "deps",
            &pkg.file,
            pkg.ecosystem.as_str(),
            &pkg.name,
            &pkg.version,
            &record.id,
        ]),
        properties,
    }
}

/// The rule of an advisory: its summary (or id and CVEs), a fix, and its osv.dev page.
pub(crate) fn advisory_rule(record: &Record, severity: crate::scan::Severity, help: &str) -> Rule {
    let cve = cves(record);
    let description = match (&record.summary, cve.is_empty()) {
        (Some(s), _) if !s.trim().is_empty() => s.trim().to_string(),
        (_, false) => format!("{} ({})", record.id, cve.join(", ")),
        _ => record.id.clone(),
    };
    Rule {
        id: record.id.clone(),
        description,
        help: Some(help.to_string()),
        help_uri: Some(format!("https://osv.dev/vulnerability/{}", record.id)),
        severity,
    }
}

fn rule(record: &Record, severity: crate::scan::Severity) -> Rule {
    advisory_rule(
        record,
        severity,
        "Upgrade the package to a fixed version (or one outside the affected ranges).",
    )
}
