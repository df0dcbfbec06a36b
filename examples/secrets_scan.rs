//! Throughput of the secrets scanner: scans a folder with the built-in rules and prints one
//! JSON line `{files, bytes, findings, seconds, mb_per_s}` (bench/scan_secrets.py reads it).
//!
//! ```sh
//! cargo run --release --example secrets_scan -- <folder> [--list]
//! ```
//!
//! `--list` also prints each finding (redacted) and the notes; `--rules FILE` scans with a
//! gitleaks-format rule file instead of the built-in rules.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use isect::scan::secrets::{Date, RuleSet, ScanOptions, scan_tree_with};

fn main() -> anyhow::Result<()> {
    let folder = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: secrets_scan <folder>"))?;
    let list = std::env::args().any(|a| a == "--list");
    let root: PathBuf = std::fs::canonicalize(&folder)?;
    let args: Vec<String> = std::env::args().collect();
    let custom = match args.iter().position(|a| a == "--rules") {
        Some(i) => {
            let path = args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("--rules needs a file"))?;
            Some(RuleSet::load(std::path::Path::new(path))?)
        }
        None => None,
    };
    let rules = custom.as_ref().unwrap_or_else(|| RuleSet::builtin());
    let start = Instant::now();
    let (report, stats) = scan_tree_with(
        &root,
        "",
        rules,
        None,
        Date::today(),
        &ScanOptions::default(),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let mb = stats.bytes as f64 / 1e6;
    let line = serde_json::json!({
        "files": stats.files,
        "bytes": stats.bytes,
        "findings": report.findings.len(),
        "seconds": (seconds * 1e4).round() / 1e4,
        "mb_per_s": (mb / seconds * 10.0).round() / 10.0,
    });
    let mut out = std::io::stdout().lock();
    if list {
        for f in &report.findings {
            writeln!(
                out,
                "{} [{}] {}: {}",
                f.location, f.severity, f.rule_id, f.message
            )?;
        }
        for n in &report.notes {
            writeln!(out, "note: {n}")?;
        }
    }
    writeln!(out, "{line}")?;
    Ok(())
}
