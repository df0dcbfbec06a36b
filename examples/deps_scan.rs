//! Dependency matching over a whole platform, timed: what `bench/scan_deps.py` runs.
//!
//! ```sh
//! cargo run --release --example deps_scan -- <db> <workspace> services/a services/b …
//! cargo run --release --example deps_scan -- import <src> <db>
//! ```
//!
//! The scan prints one JSON line: `packages` (pinned, in all lockfiles), `records` (in
//! the database's ecosystems that were loaded), `findings`, `seconds` (the whole scan,
//! database loading included, as one scan process pays it), `load_seconds` (building the
//! indexes) and `warm_seconds` (the same scan again, indexes already in memory).

use std::path::Path;
use std::time::Instant;

use isect::scan::osv::{self, Database, Ecosystem};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("import") {
        let [_, src, dest] = args.as_slice() else {
            anyhow::bail!("usage: deps_scan import <src> <db>");
        };
        let start = Instant::now();
        let summary = osv::import(Path::new(src), Path::new(dest), None)?;
        let records: usize = summary.ecosystems.iter().map(|(_, n)| n).sum();
        let line = serde_json::json!({
            "imported": records,
            "ecosystems": summary.ecosystems.iter().map(|(e, _)| e).collect::<Vec<_>>(),
            "seconds": start.elapsed().as_secs_f64(),
        });
        std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes())?;
        return Ok(());
    }
    let [db_dir, workspace, dirs @ ..] = args.as_slice() else {
        anyhow::bail!("usage: deps_scan <db> <workspace> <service dir>…");
    };
    let root = Path::new(workspace);

    let start = Instant::now();
    let db = Database::open(Path::new(db_dir))?;
    let mut findings = 0;
    for dir in dirs {
        findings += osv::scan_dir(root, dir, &db)?.findings.len();
    }
    let seconds = start.elapsed().as_secs_f64();

    // the indexes are cached now: time loading them on its own from a fresh copy is
    // not possible in-process, so report the warm pass and derive the load share
    let warm = Instant::now();
    for dir in dirs {
        osv::scan_dir(root, dir, &db)?;
    }
    let warm_seconds = warm.elapsed().as_secs_f64();

    let mut packages = 0;
    for dir in dirs {
        for (name, _) in osv::lockfile::NAMES {
            let rel = format!("{}/{name}", dir.trim_end_matches('/'));
            if root.join(&rel).is_file() {
                packages += osv::lockfile::parse(root, &rel)?.packages.len();
            }
        }
    }
    let mut records = 0;
    for eco in Ecosystem::ALL {
        if let Some(index) = db.index(eco)? {
            records += index.total;
        }
    }
    let line = serde_json::json!({
        "packages": packages,
        "records": records,
        "findings": findings,
        "seconds": seconds,
        "load_seconds": (seconds - warm_seconds).max(0.0),
        "warm_seconds": warm_seconds,
    });
    std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes())?;
    Ok(())
}
