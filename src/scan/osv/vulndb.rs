//! `isect vulndb import` and `isect vulndb status`: fill a database folder in
//! osv-scanner's offline layout from a zip, another such folder or loose JSON records
//! (every record validated first, each zip written atomically), and report what it holds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::DepsError;
use super::db::{EcoIndex, Limits, parse_record, read_entries};
use super::record::Record;

/// What `import` wrote: record count per ecosystem folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub ecosystems: Vec<(String, usize)>,
}

/// Import `src` into the database folder `dest`. `src` is one ecosystem's `all.zip`
/// (`ecosystem` names it, else the records must agree on one), a folder already laid out
/// as `<Ecosystem>/all.zip`, or a folder of `*.json` OSV records (grouped by
/// `affected[].package.ecosystem` without its release: `Debian:12` goes to `Debian`). Nothing is written unless every record is valid,
/// and each zip replaces the old one by rename, so a failed import leaves the old
/// database intact.
pub fn import(
    src: &Path,
    dest: &Path,
    ecosystem: Option<&str>,
) -> Result<ImportSummary, DepsError> {
    let limits = Limits::default();
    // folders are named without a release, as osv-scanner names them (`Debian:12` →
    // `Debian`), so that every release's records share one zip
    let ecosystem = ecosystem.map(|e| e.split(':').next().unwrap_or(e));
    // ecosystem folder → zip bytes to write, or a validated zip to copy
    let mut plan: Vec<(String, Source, usize)> = Vec::new();
    if src.is_file() {
        let (count, ecos) = validate_zip(src, limits)?;
        let eco = match (ecosystem, ecos.as_slice()) {
            (Some(e), _) => e.to_string(),
            (None, [one]) => one.clone(),
            (None, []) => {
                return Err(DepsError::Import(format!(
                    "{}: no records name an ecosystem: pass --ecosystem",
                    src.display()
                )));
            }
            (None, many) => {
                return Err(DepsError::Import(format!(
                    "{}: records name several ecosystems ({}): pass --ecosystem",
                    src.display(),
                    many.join(", ")
                )));
            }
        };
        plan.push((eco, Source::Copy(src.to_path_buf()), count));
    } else if src.is_dir() {
        let mut zips = Vec::new();
        let mut records: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(src)
            .map_err(|e| DepsError::io(src, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let zip = path.join("all.zip");
            if path.is_dir() && zip.is_file() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                zips.push((name, zip));
            } else if path.is_file() && path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).map_err(|e| DepsError::io(&path, e))?;
                if bytes.len() as u64 > limits.entry {
                    return Err(DepsError::EntryTooLarge {
                        path: path.clone(),
                        entry: String::new(),
                        cap: limits.entry,
                    });
                }
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let record = parse_record(&path, &file_name, &bytes)?;
                let entry = format!("{}.json", record.id);
                let ecos = match ecosystem {
                    Some(e) => vec![e.to_string()],
                    None => record.ecosystems(),
                };
                for eco in ecos {
                    records
                        .entry(eco)
                        .or_default()
                        .push((entry.clone(), bytes.clone()));
                }
            }
        }
        for (eco, zip) in zips {
            let (count, _) = validate_zip(&zip, limits)?;
            plan.push((eco, Source::Copy(zip), count));
        }
        for (eco, recs) in records {
            let count = recs.len();
            plan.push((eco, Source::Build(recs), count));
        }
        if plan.is_empty() {
            return Err(DepsError::Import(format!(
                "{}: found neither <Ecosystem>/all.zip folders nor *.json OSV records",
                src.display()
            )));
        }
    } else {
        return Err(DepsError::io(
            src,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let mut summary = ImportSummary {
        ecosystems: Vec::new(),
    };
    for (eco, source, count) in plan {
        if eco.is_empty() || eco.contains(['/', '\\']) || eco.starts_with('.') {
            return Err(DepsError::Import(format!(
                "`{eco}` is not an ecosystem folder name"
            )));
        }
        let dir = dest.join(&eco);
        std::fs::create_dir_all(&dir).map_err(|e| DepsError::io(&dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| DepsError::io(&dir, e))?;
        match source {
            Source::Copy(from) => {
                let mut f = std::fs::File::open(&from).map_err(|e| DepsError::io(&from, e))?;
                std::io::copy(&mut f, tmp.as_file_mut())
                    .map_err(|e| DepsError::io(tmp.path(), e))?;
            }
            Source::Build(recs) => {
                write_zip(tmp.as_file_mut(), &recs).map_err(|e| DepsError::io(tmp.path(), e))?
            }
        }
        let target = dir.join("all.zip");
        tmp.as_file()
            .sync_all()
            .map_err(|e| DepsError::io(tmp.path(), e))?;
        // A database is shared (CI builders, other users): readable by all, as a download is.
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(&target)
            .map_err(|e| DepsError::io(&target, e.error))?;
        // build the name index now, so that the first scan does not pay for it
        if let Some(known) = super::Ecosystem::from_osv(&eco) {
            EcoIndex::load(known, &target, limits)?;
        }
        summary.ecosystems.push((eco, count));
    }
    Ok(summary)
}

enum Source {
    Copy(PathBuf),
    Build(Vec<(String, Vec<u8>)>),
}

/// Parse every record of a zip; its record count and the ecosystems they name.
fn validate_zip(path: &Path, limits: Limits) -> Result<(usize, Vec<String>), DepsError> {
    let mut count = 0;
    let mut ecos: Vec<String> = Vec::new();
    read_entries(path, limits, |name, bytes| {
        let record = parse_record(path, name, bytes)?;
        count += 1;
        for e in record.ecosystems() {
            if !ecos.contains(&e) {
                ecos.push(e);
            }
        }
        Ok(())
    })?;
    ecos.sort();
    Ok((count, ecos))
}

fn write_zip(file: &mut std::fs::File, records: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut seen = std::collections::HashSet::new();
    for (name, bytes) in records {
        // two files with one id: the later one wins in osv-scanner too; keep the first
        if !seen.insert(name.as_str()) {
            continue;
        }
        zip.start_file(name.as_str(), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

/// One ecosystem folder of a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemStatus {
    pub ecosystem: String,
    pub records: usize,
    pub withdrawn: usize,
    /// The newest `modified` of any record (RFC 3339).
    pub newest_modified: Option<String>,
    pub zip_bytes: u64,
    /// The newest record is older than the staleness threshold.
    pub stale: bool,
}

/// What `isect vulndb status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbStatus {
    pub dir: PathBuf,
    pub ecosystems: Vec<EcosystemStatus>,
    /// One line per problem: a stale ecosystem, an empty database.
    pub warnings: Vec<String>,
}

/// The default staleness threshold of `status` and of scan notes, in days.
pub const STALE_AFTER_DAYS: u64 = 7;

/// Read every `<dir>/<Ecosystem>/all.zip` and report counts, newest `modified` and
/// staleness (newest record older than `stale_after_days` before `now`).
pub fn status(dir: &Path, now: SystemTime, stale_after_days: u64) -> Result<DbStatus, DepsError> {
    let mut out = DbStatus {
        dir: dir.to_path_buf(),
        ecosystems: Vec::new(),
        warnings: Vec::new(),
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DepsError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("all.zip").is_file())
        .collect();
    folders.sort();
    for folder in folders {
        let zip = folder.join("all.zip");
        let ecosystem = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut st = EcosystemStatus {
            ecosystem,
            records: 0,
            withdrawn: 0,
            newest_modified: None,
            zip_bytes: std::fs::metadata(&zip)
                .map_err(|e| DepsError::io(&zip, e))?
                .len(),
            stale: false,
        };
        read_entries(&zip, Limits::default(), |name, bytes| {
            let r: Record = parse_record(&zip, name, bytes)?;
            st.records += 1;
            st.withdrawn += usize::from(r.withdrawn.is_some());
            if st.newest_modified.as_deref() < Some(r.modified.as_str()) {
                st.newest_modified = Some(r.modified);
            }
            Ok(())
        })?;
        st.stale = is_stale(st.newest_modified.as_deref(), now, stale_after_days);
        if st.stale {
            out.warnings.push(stale_warning(
                &st.ecosystem,
                st.newest_modified.as_deref(),
                dir,
            ));
        }
        out.ecosystems.push(st);
    }
    if out.ecosystems.is_empty() {
        out.warnings.push(format!(
            "{}: no <Ecosystem>/all.zip: run `isect vulndb import`",
            dir.display()
        ));
    }
    Ok(out)
}

/// The warning for a stale ecosystem.
#[must_use]
pub fn stale_warning(eco: &str, newest: Option<&str>, dir: &Path) -> String {
    format!(
        "the {eco} database in {} is stale (newest record modified {}): run `isect vulndb import` with a fresh download",
        dir.display(),
        newest.unwrap_or("never")
    )
}

/// Whether the newest `modified` is more than `days` before `now`; an unreadable date
/// counts as stale.
#[must_use]
pub fn is_stale(newest: Option<&str>, now: SystemTime, days: u64) -> bool {
    let Some(day) = newest.and_then(unix_day) else {
        return true;
    };
    let today = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    i64::try_from(today).unwrap_or(i64::MAX) - day > i64::try_from(days).unwrap_or(i64::MAX)
}

/// Days since 1970-01-01 of an RFC 3339 date (`2023-06-12T18:45:41Z`), by the civil
/// calendar algorithm (H. Hinnant's `days_from_civil`).
fn unix_day(s: &str) -> Option<i64> {
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: i64 = s.get(5..7)?.parse().ok()?;
    let d: i64 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_staleness() {
        assert_eq!(unix_day("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_day("2000-03-01T00:00:00Z"), Some(11_017));
        assert_eq!(unix_day("2023-06-12T18:45:41Z"), Some(19_520));
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(19_530 * 86_400);
        assert!(is_stale(Some("2023-06-12T18:45:41Z"), now, 7));
        assert!(!is_stale(Some("2023-06-12T18:45:41Z"), now, 10));
        assert!(is_stale(None, now, 7));
    }
}
