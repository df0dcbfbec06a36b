//! Scanning: one file's bytes against a `RuleSet` (`scan_bytes`), or a folder of the
//! workspace (`scan_tree`: .gitignore honoured, binaries and huge files skipped, files in
//! parallel, the baseline applied, output sorted). Findings carry a redacted secret only.

use std::collections::BTreeMap;
use std::path::Path;

use ignore::{WalkBuilder, WalkState};

use super::config::Target;
use super::rules::{Allowlist, RuleSet};
use super::{Baseline, Date, SecretsError, TOOL};
use crate::scan::finding::fingerprint;
use crate::scan::{Finding, Location, ScanReport, Scanner};

/// Files larger than this are skipped by default (gitleaks' `--max-target-megabytes` idea).
pub const MAX_FILE_BYTES: u64 = 2 << 20;
/// A NUL byte in this prefix marks a file as binary.
const BINARY_SNIFF: usize = 8 << 10;
/// A line with this comment is not reported, as in gitleaks.
const ALLOW_SIGNATURE: &[u8] = b"gitleaks:allow";
/// Never walked: version control, dependencies, isect's own state.
const SKIP_DIRS: [&str; 3] = [".git", "node_modules", ".isect"];

/// How `scan_tree_with` walks.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Larger files are skipped (and counted in a note).
    pub max_file_bytes: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: MAX_FILE_BYTES,
        }
    }
}

/// What a tree scan read and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub files: usize,
    pub bytes: u64,
    pub skipped_binary: usize,
    pub skipped_large: usize,
    pub unreadable: usize,
    /// Findings silenced by the baseline.
    pub accepted: usize,
}

/// One match that passed entropy and allowlists; byte offsets into the file.
struct Hit {
    rule: usize,
    secret: (usize, usize),
    line: usize,
    entropy: f64,
}

/// Shannon entropy in bits per byte, as gitleaks computes it (over the secret group).
#[must_use]
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let len = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// A secret as reports show it: at most its first four characters (fewer for short
/// secrets: never more than a quarter), an ellipsis, and the fingerprint's first 8.
#[must_use]
pub fn redact(secret: &[u8], fingerprint: &str) -> String {
    let text = String::from_utf8_lossy(secret);
    let shown = (text.chars().count() / 4).min(4);
    let prefix: String = text
        .chars()
        .take(shown)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fp: String = fingerprint.chars().take(8).collect();
    format!("{prefix}\u{2026}{fp}")
}

/// The findings in one file. `path` is workspace-relative with `/` separators: path rules
/// and allowlists match it, and it goes into locations and fingerprints.
#[must_use]
pub fn scan_bytes(path: &str, bytes: &[u8], rules: &RuleSet) -> Vec<Finding> {
    if rules.allowlists.iter().any(|a| a.allows_path(path)) {
        return Vec::new();
    }
    let mut findings = Vec::new();
    let mut hits = Vec::new();
    for i in rules.candidates(bytes) {
        let rule = &rules.rules[i];
        if rule.skip_report || rule.allowlists.iter().any(|a| a.allows_path(path)) {
            continue;
        }
        if let Some(p) = &rule.path {
            if !p.is_match(path.as_bytes()) {
                continue;
            }
            if rule.regex.is_none() {
                findings.push(path_finding(path, rules, i));
                continue;
            }
        }
        detect(path, bytes, rules, i, &mut hits);
    }
    drop_generic_duplicates(&mut hits, bytes, rules);
    let lines = LineIndex::new(bytes, !hits.is_empty());
    findings.extend(
        hits.iter()
            .map(|h| hit_finding(path, bytes, rules, h, &lines)),
    );
    findings
}

fn detect(path: &str, bytes: &[u8], rules: &RuleSet, i: usize, hits: &mut Vec<Hit>) {
    let rule = &rules.rules[i];
    let Some(re) = &rule.regex else { return };
    for caps in re.captures_iter(bytes) {
        let Some(m) = caps.get(0) else { continue };
        let (ms, me) = trim_newlines(bytes, m.start(), m.end());
        if ms >= me {
            continue;
        }
        // gitleaks: the secret group if set, else the first non-empty group, else the match.
        let group = if rule.secret_group > 0 {
            caps.get(rule.secret_group)
        } else {
            caps.iter().skip(1).flatten().find(|g| !g.is_empty())
        };
        let (ss, se) = group.map_or((ms, me), |g| (g.start(), g.end()));
        let secret = &bytes[ss..se];
        if secret.is_empty() {
            continue;
        }
        let e = entropy(secret);
        if rule.entropy.is_some_and(|t| e <= t) {
            continue;
        }
        let (ls, le) = line_bounds(bytes, ms, me);
        let line = &bytes[ls..le];
        if contains(line, ALLOW_SIGNATURE) {
            continue;
        }
        let allowed = |a: &Allowlist| {
            let target = match a.target {
                Target::Secret => secret,
                Target::Match => &bytes[ms..me],
                Target::Line => line,
            };
            a.allows_finding(path, secret, target)
        };
        if rules.allowlists.iter().any(allowed) || rule.allowlists.iter().any(allowed) {
            continue;
        }
        hits.push(Hit {
            rule: i,
            secret: (ss, se),
            line: ls,
            entropy: e,
        });
    }
}

/// gitleaks' `filter`: a generic finding gives way to a specific one on the same line
/// whose secret contains it.
fn drop_generic_duplicates(hits: &mut Vec<Hit>, bytes: &[u8], rules: &RuleSet) {
    let generic = |h: &Hit| rules.rules[h.rule].id.contains("generic");
    let secret = |h: &Hit| &bytes[h.secret.0..h.secret.1];
    let drop: Vec<bool> = hits
        .iter()
        .map(|h| {
            generic(h)
                && hits
                    .iter()
                    .any(|o| !generic(o) && o.line == h.line && contains(secret(o), secret(h)))
        })
        .collect();
    let mut keep = drop.iter().map(|d| !d);
    hits.retain(|_| keep.next().unwrap_or(true));
}

fn path_finding(path: &str, rules: &RuleSet, i: usize) -> Finding {
    let rule = &rules.rules[i];
    Finding {
        rule_id: rule.id.clone(),
        severity: rule.severity,
        message: format!("{}: {path}", rule.description),
        location: Location::line(path, 0),
        fingerprint: fingerprint(&[&rule.id, path, ""]),
        properties: tags(&rule.tags),
    }
}

fn hit_finding(path: &str, bytes: &[u8], rules: &RuleSet, h: &Hit, lines: &LineIndex) -> Finding {
    let rule = &rules.rules[h.rule];
    let secret = &bytes[h.secret.0..h.secret.1];
    let fp = fingerprint(&[&rule.id, path, &String::from_utf8_lossy(secret)]);
    let (line, column) = lines.position(h.secret.0);
    let (end_line, end_column) = lines.position(h.secret.1);
    let mut properties = tags(&rule.tags);
    let rounded = (h.entropy * 100.0).round() / 100.0;
    properties.insert("entropy".to_string(), serde_json::json!(rounded));
    Finding {
        rule_id: rule.id.clone(),
        severity: rule.severity,
        message: format!("{} {}", rule.description, redact(secret, &fp)),
        location: Location {
            path: path.to_string(),
            line,
            column: Some(column),
            end_line: Some(end_line),
            end_column: Some(end_column),
        },
        fingerprint: fp,
        properties,
    }
}

fn tags(tags: &[String]) -> BTreeMap<String, serde_json::Value> {
    let mut p = BTreeMap::new();
    if !tags.is_empty() {
        p.insert("tags".to_string(), serde_json::json!(tags));
    }
    p
}

/// Newline offsets, built only when a file has findings.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(bytes: &[u8], needed: bool) -> Self {
        if !needed {
            return Self(Vec::new());
        }
        Self(
            bytes
                .iter()
                .enumerate()
                .filter_map(|(i, b)| (*b == b'\n').then_some(i))
                .collect(),
        )
    }

    /// 1-based line and byte column of `offset`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let before = self.0.partition_point(|&nl| nl < offset);
        let line_start = if before == 0 {
            0
        } else {
            self.0[before - 1] + 1
        };
        (before + 1, offset - line_start + 1)
    }
}

fn trim_newlines(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && bytes[start] == b'\n' {
        start += 1;
    }
    while end > start && bytes[end - 1] == b'\n' {
        end -= 1;
    }
    (start, end)
}

/// The full line(s) a match spans, without the newline.
fn line_bounds(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let ls = bytes[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let le = bytes[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| end + i);
    (ls, le)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

enum Outcome {
    Scanned { bytes: u64, findings: Vec<Finding> },
    Large(String),
    Binary,
    Unreadable(String),
}

/// Scans `dir` (workspace-relative; `""` or `"."` for the whole workspace) under `root`
/// with the default options. See `scan_tree_with`.
pub fn scan_tree(
    root: &Path,
    dir: &str,
    rules: &RuleSet,
    baseline: Option<&Baseline>,
    today: Date,
) -> Result<ScanReport, SecretsError> {
    scan_tree_with(root, dir, rules, baseline, today, &ScanOptions::default()).map(|(r, _)| r)
}

/// Scans `dir` under the workspace `root`: honours .gitignore (also without a `.git`),
/// skips `.git`, `node_modules` and `.isect`, binaries and files over the size limit,
/// scans files in parallel, drops findings the baseline accepts (an expired entry no longer
/// does, and a note says so). Findings are sorted by path, line, column and rule.
pub fn scan_tree_with(
    root: &Path,
    dir: &str,
    rules: &RuleSet,
    baseline: Option<&Baseline>,
    today: Date,
    options: &ScanOptions,
) -> Result<(ScanReport, ScanStats), SecretsError> {
    let start = match dir.trim_matches('/') {
        "" | "." => root.to_path_buf(),
        d => root.join(d),
    };
    if !start.is_dir() {
        return Err(SecretsError::Walk {
            path: start,
            message: "not a folder (the folder is relative to the workspace root)".to_string(),
        });
    }
    let mut report = ScanReport::new(Scanner::Secrets, TOOL, env!("CARGO_PKG_VERSION"));
    report.rules = rules.rules();
    let mut stats = ScanStats::default();
    let outcomes = walk_and_scan(root, &start, rules, options);
    let mut findings = Vec::new();
    let mut large = Vec::new();
    let mut unreadable = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Scanned { bytes, findings: f } => {
                stats.files += 1;
                stats.bytes += bytes;
                findings.extend(f);
            }
            Outcome::Large(path) => large.push(path),
            Outcome::Binary => stats.skipped_binary += 1,
            Outcome::Unreadable(note) => unreadable.push(note),
        }
    }
    // Files arrive in walk order, which varies between runs: sort what is listed.
    unreadable.sort();
    large.sort();
    stats.unreadable = unreadable.len();
    report.notes.extend(unreadable);
    stats.skipped_large = large.len();
    if stats.skipped_binary > 0 {
        report.notes.push(format!(
            "secrets: skipped {} binary file(s)",
            stats.skipped_binary
        ));
    }
    if !large.is_empty() {
        let shown: Vec<_> = large.iter().take(3).map(String::as_str).collect();
        let more = if large.len() > 3 { ", …" } else { "" };
        report.notes.push(format!(
            "secrets: skipped {} file(s) larger than {} KiB ({}{more})",
            large.len(),
            options.max_file_bytes / 1024,
            shown.join(", ")
        ));
    }
    for f in findings {
        match baseline.and_then(|b| b.get(&f.fingerprint)) {
            Some(entry) if entry.expires.is_some_and(|d| d < today) => {
                report.notes.push(format!(
                    "secrets: baseline entry {} (\"{}\") expired on {}: {} at {} is reported again",
                    entry.fingerprint,
                    entry.reason,
                    entry.expires.map_or_else(String::new, |d| d.to_string()),
                    f.rule_id,
                    f.location
                ));
                report.findings.push(f);
            }
            Some(_) => stats.accepted += 1,
            None => report.findings.push(f),
        }
    }
    if stats.accepted > 0 {
        report.notes.push(format!(
            "secrets: {} finding(s) accepted by the baseline",
            stats.accepted
        ));
    }
    report.findings.sort_by(|a, b| {
        (
            &a.location.path,
            a.location.line,
            a.location.column,
            &a.rule_id,
        )
            .cmp(&(
                &b.location.path,
                b.location.line,
                b.location.column,
                &b.rule_id,
            ))
    });
    Ok((report, stats))
}

/// Walks `start` on all cores, scanning each file as the walk finds it.
fn walk_and_scan(
    root: &Path,
    start: &Path,
    rules: &RuleSet,
    options: &ScanOptions,
) -> Vec<Outcome> {
    let (tx, rx) = std::sync::mpsc::channel();
    WalkBuilder::new(start)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(true)
        .follow_links(false)
        .threads(crate::cores())
        .filter_entry(|e| {
            !(e.file_type().is_some_and(|t| t.is_dir())
                && SKIP_DIRS.iter().any(|d| e.file_name() == *d))
        })
        .build_parallel()
        .run(|| {
            let tx = tx.clone();
            Box::new(move |entry| {
                let outcome = match entry {
                    Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                        scan_file(root, e.path(), rules, options)
                    }
                    Ok(_) => return WalkState::Continue,
                    Err(err) => Outcome::Unreadable(format!("secrets: could not walk: {err}")),
                };
                // The receiver outlives the walk, so a send cannot fail.
                let _ = tx.send(outcome);
                WalkState::Continue
            })
        });
    drop(tx);
    rx.into_iter().collect()
}

fn scan_file(root: &Path, path: &Path, rules: &RuleSet, options: &ScanOptions) -> Outcome {
    let rel = relative(root, path);
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return Outcome::Unreadable(format!("secrets: cannot read {rel}: {e}")),
    };
    if len > options.max_file_bytes {
        return Outcome::Large(rel);
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Outcome::Unreadable(format!("secrets: cannot read {rel}: {e}")),
    };
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return Outcome::Binary;
    }
    Outcome::Scanned {
        bytes: bytes.len() as u64,
        findings: scan_bytes(&rel, &bytes, rules),
    }
}

/// Workspace-relative, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
