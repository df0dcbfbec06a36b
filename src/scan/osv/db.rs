//! The offline database: bounded reading of `<dir>/<Ecosystem>/all.zip` (caps on each
//! entry's and the total uncompressed size, read with `take()` rather than trusting the
//! headers) and a per-ecosystem index of records by package name, built once per
//! process for each (zip path, mtime, size) and shared by every service's scan.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::record::{PackageRef, Record};
use super::{DepsError, Ecosystem};

/// Size caps for reading a database zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest uncompressed entry (one OSV record); real records are a few KB.
    pub entry: u64,
    /// Largest uncompressed total of one zip.
    pub total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            entry: 8 << 20,
            total: 2 << 30,
        }
    }
}

/// Read every `*.json` entry of `path`, bounded by `limits`, handing each entry's name
/// and bytes to `each`. A zip that cannot be read is `CorruptDb`.
pub fn read_entries(
    path: &Path,
    limits: Limits,
    mut each: impl FnMut(&str, &[u8]) -> Result<(), DepsError>,
) -> Result<(), DepsError> {
    let file = File::open(path).map_err(|e| DepsError::io(path, e))?;
    let corrupt = |reason: String| DepsError::CorruptDb {
        path: path.to_path_buf(),
        reason,
    };
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(e.to_string()))?;
    let mut total: u64 = 0;
    let mut buf = Vec::with_capacity(16 << 10);
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| corrupt(e.to_string()))?;
        let name = entry.name().to_string();
        if entry.is_dir() || !name.ends_with(".json") {
            continue;
        }
        buf.clear();
        read_bounded(path, entry, &name, limits, &mut buf)?;
        total += buf.len() as u64;
        if total > limits.total {
            return Err(DepsError::DbTooLarge {
                path: path.to_path_buf(),
                cap: limits.total,
            });
        }
        each(&name, &buf)?;
    }
    Ok(())
}

/// Read one entry into `buf`, refusing more than `limits.entry` bytes. The header's size
/// is checked first but not trusted: reading stops one byte past the cap.
fn read_bounded<R: Read>(
    path: &Path,
    entry: zip::read::ZipFile<'_, R>,
    name: &str,
    limits: Limits,
    buf: &mut Vec<u8>,
) -> Result<(), DepsError> {
    let too_large = || DepsError::EntryTooLarge {
        path: path.to_path_buf(),
        entry: name.to_string(),
        cap: limits.entry,
    };
    if entry.size() > limits.entry {
        return Err(too_large());
    }
    entry
        .take(limits.entry + 1)
        .read_to_end(buf)
        .map_err(|e| DepsError::CorruptDb {
            path: path.to_path_buf(),
            reason: format!("{name}: {e}"),
        })?;
    if buf.len() as u64 > limits.entry {
        return Err(too_large());
    }
    Ok(())
}

/// Parse one entry as a record, or say which entry of which zip is bad.
pub fn parse_record(path: &Path, entry: &str, bytes: &[u8]) -> Result<Record, DepsError> {
    let bad = |reason: String| DepsError::BadRecord {
        path: path.to_path_buf(),
        entry: entry.to_string(),
        reason,
    };
    let record: Record = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if record.id.is_empty() {
        return Err(bad("no `id`".into()));
    }
    if record.modified.is_empty() {
        return Err(bad("no `modified`".into()));
    }
    Ok(record)
}

/// What the index pass reads of each record: everything else is skipped unparsed.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    id: String,
    #[serde(default)]
    modified: String,
    #[serde(default)]
    withdrawn: Option<IgnoredAny>,
    #[serde(default)]
    affected: Vec<HeadAffected>,
}

#[derive(Deserialize)]
struct HeadAffected {
    #[serde(default)]
    package: Option<PackageRef>,
}

/// The on-disk form of an index, next to the zip (`all.zip.isect-index`), so that a new
/// process inflates only the records of the packages it looks up.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    format: u32,
    /// blake3 over every entry's name, CRC-32 and sizes: the zip's content, without
    /// reading it.
    digest: String,
    total: usize,
    withdrawn: usize,
    newest_modified: Option<String>,
    /// Normalised package name → zip entry numbers (withdrawn records left out).
    names: HashMap<String, Vec<u32>>,
}

const SIDECAR_FORMAT: u32 = 1;

/// One ecosystem's records, indexed by normalised package name. Records are inflated
/// and parsed on first lookup and kept.
#[derive(Debug)]
pub struct EcoIndex {
    path: PathBuf,
    limits: Limits,
    by_name: HashMap<String, Vec<u32>>,
    /// Every record in the zip, withdrawn ones included.
    pub total: usize,
    pub withdrawn: usize,
    /// The largest `modified` (RFC 3339 strings in UTC order as text).
    pub newest_modified: Option<String>,
    archive: Mutex<Option<Archive>>,
    loaded: Mutex<HashMap<u32, Arc<Record>>>,
}

type Archive = zip::ZipArchive<BufReader<File>>;

fn open_archive(path: &Path) -> Result<Archive, DepsError> {
    let file = File::open(path).map_err(|e| DepsError::io(path, e))?;
    zip::ZipArchive::new(BufReader::new(file)).map_err(|e| DepsError::CorruptDb {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The zip's content digest from its central directory alone.
fn digest(archive: &mut Archive, path: &Path) -> Result<String, DepsError> {
    let mut h = blake3::Hasher::new();
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(|e| DepsError::CorruptDb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        h.update(f.name().as_bytes());
        h.update(&f.crc32().to_le_bytes());
        h.update(&f.size().to_le_bytes());
        h.update(&f.compressed_size().to_le_bytes());
    }
    Ok(h.finalize().to_hex().to_string())
}

impl EcoIndex {
    /// The index of `eco`'s zip at `path`: from its sidecar when that matches the zip,
    /// else by reading every record (in parallel), then saving the sidecar (best
    /// effort: a read-only database folder just keeps the index in memory).
    pub fn load(eco: Ecosystem, path: &Path, limits: Limits) -> Result<Self, DepsError> {
        let mut archive = open_archive(path)?;
        let digest = digest(&mut archive, path)?;
        let sidecar_path = sidecar_path(path);
        let side = std::fs::read(&sidecar_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
            .filter(|s| s.format == SIDECAR_FORMAT && s.digest == digest);
        let side = match side {
            Some(s) => s,
            None => {
                let s = build_sidecar(eco, path, limits, archive.len(), digest)?;
                let _ = save_sidecar(&sidecar_path, &s); // a cache: failing to write it is fine
                s
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            limits,
            by_name: side.names,
            total: side.total,
            withdrawn: side.withdrawn,
            newest_modified: side.newest_modified,
            archive: Mutex::new(Some(archive)),
            loaded: Mutex::default(),
        })
    }

    /// The (not withdrawn) records that name `name` (normalised) among their affected
    /// packages, inflated from the zip on first use.
    pub fn lookup(&self, name: &str) -> Result<Vec<Arc<Record>>, DepsError> {
        let Some(entries) = self.by_name.get(name) else {
            return Ok(Vec::new());
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::with_capacity(entries.len());
        for &i in entries {
            if let Some(r) = loaded.get(&i) {
                out.push(Arc::clone(r));
                continue;
            }
            let record = Arc::new(self.read_record(i)?);
            loaded.insert(i, Arc::clone(&record));
            out.push(record);
        }
        Ok(out)
    }

    fn read_record(&self, i: u32) -> Result<Record, DepsError> {
        let mut guard = self.archive.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(open_archive(&self.path)?);
        }
        let Some(archive) = guard.as_mut() else {
            return Err(DepsError::io(
                &self.path,
                std::io::Error::other("zip not open"),
            ));
        };
        let entry = archive
            .by_index(i as usize)
            .map_err(|e| DepsError::CorruptDb {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        let name = entry.name().to_string();
        let mut buf = Vec::new();
        read_bounded(&self.path, entry, &name, self.limits, &mut buf)?;
        parse_record(&self.path, &name, &buf)
    }
}

/// Where `zip`'s index is kept.
#[must_use]
pub fn sidecar_path(zip: &Path) -> PathBuf {
    let mut s = zip.as_os_str().to_os_string();
    s.push(".isect-index");
    PathBuf::from(s)
}

fn save_sidecar(path: &Path, side: &Sidecar) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(std::io::BufWriter::new(tmp.as_file_mut()), side)
        .map_err(std::io::Error::other)?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read every entry's head, `threads` ranges of entries at once (inflating is most of
/// the cost of a cold index).
fn build_sidecar(
    eco: Ecosystem,
    path: &Path,
    limits: Limits,
    len: usize,
    digest: String,
) -> Result<Sidecar, DepsError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8);
    let chunk = len.div_ceil(threads).max(1);
    let total_bytes = AtomicU64::new(0);
    let parts: Vec<Result<Vec<(u32, Head)>, DepsError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..len)
            .step_by(chunk)
            .map(|start| {
                let total_bytes = &total_bytes;
                s.spawn(move || heads(path, limits, start..(start + chunk).min(len), total_bytes))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DepsError::io(
                        path,
                        std::io::Error::other("index thread panicked"),
                    ))
                })
            })
            .collect()
    });
    let mut side = Sidecar {
        format: SIDECAR_FORMAT,
        digest,
        ..Sidecar::default()
    };
    for part in parts {
        for (i, head) in part? {
            side.total += 1;
            if side.newest_modified.as_deref() < Some(head.modified.as_str()) {
                side.newest_modified = Some(head.modified.clone());
            }
            if head.withdrawn.is_some() {
                side.withdrawn += 1;
                continue;
            }
            let mut names: Vec<String> = head
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref())
                .filter(|p| Ecosystem::from_osv(&p.ecosystem) == Some(eco))
                .map(|p| eco.normalize_name(&p.name).into_owned())
                .collect();
            names.sort();
            names.dedup();
            for n in names {
                side.names.entry(n).or_default().push(i);
            }
        }
    }
    Ok(side)
}

fn heads(
    path: &Path,
    limits: Limits,
    range: std::ops::Range<usize>,
    total: &AtomicU64,
) -> Result<Vec<(u32, Head)>, DepsError> {
    let mut archive = open_archive(path)?;
    let mut out = Vec::with_capacity(range.len());
    let mut buf = Vec::with_capacity(16 << 10);
    for i in range {
        let entry = archive.by_index(i).map_err(|e| DepsError::CorruptDb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let name = entry.name().to_string();
        if entry.is_dir() || !name.ends_with(".json") {
            continue;
        }
        buf.clear();
        read_bounded(path, entry, &name, limits, &mut buf)?;
        let before = total.fetch_add(buf.len() as u64, Ordering::Relaxed);
        if before + buf.len() as u64 > limits.total {
            return Err(DepsError::DbTooLarge {
                path: path.to_path_buf(),
                cap: limits.total,
            });
        }
        let bad = |reason: String| DepsError::BadRecord {
            path: path.to_path_buf(),
            entry: name.clone(),
            reason,
        };
        let head: Head = serde_json::from_slice(&buf).map_err(|e| bad(e.to_string()))?;
        if head.id.is_empty() {
            return Err(bad("no `id`".into()));
        }
        if head.modified.is_empty() {
            return Err(bad("no `modified`".into()));
        }
        out.push((u32::try_from(i).unwrap_or(u32::MAX), head));
    }
    Ok(out)
}

type CacheKey = (PathBuf, Option<SystemTime>, u64, Limits);
type Cache = Mutex<HashMap<PathBuf, (CacheKey, Arc<EcoIndex>)>>;

/// Indexes already built in this process, keyed by zip path and checked against its
/// mtime and size, so scanning many services reads each zip once.
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// An offline OSV database folder. Opening is cheap; each ecosystem's zip is read on
/// first use and its index kept for the rest of the process.
#[derive(Debug, Clone)]
pub struct Database {
    dir: PathBuf,
    limits: Limits,
}

impl Database {
    /// Open the database folder `dir` (it must exist; ecosystems without a zip simply
    /// have no records).
    pub fn open(dir: &Path) -> Result<Self, DepsError> {
        Self::open_with_limits(dir, Limits::default())
    }

    /// `open` with other size caps.
    pub fn open_with_limits(dir: &Path, limits: Limits) -> Result<Self, DepsError> {
        let meta = std::fs::metadata(dir).map_err(|e| DepsError::io(dir, e))?;
        if !meta.is_dir() {
            return Err(DepsError::io(
                dir,
                std::io::Error::other(
                    "not a folder: an OSV database is a folder of <Ecosystem>/all.zip",
                ),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            limits,
        })
    }

    /// The database folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `eco`'s zip is (or would be).
    #[must_use]
    pub fn zip_path(&self, eco: Ecosystem) -> PathBuf {
        self.dir.join(eco.as_str()).join("all.zip")
    }

    /// `eco`'s index, or `None` when the database has no zip for it.
    pub fn index(&self, eco: Ecosystem) -> Result<Option<Arc<EcoIndex>>, DepsError> {
        let path = self.zip_path(eco);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DepsError::io(&path, e)),
        };
        let key: CacheKey = (path.clone(), meta.modified().ok(), meta.len(), self.limits);
        // held while loading, so that services scanned in parallel wait for one load
        // rather than each reading the zip
        let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((k, index)) = cache.get(&path)
            && *k == key
        {
            return Ok(Some(Arc::clone(index)));
        }
        let index = Arc::new(EcoIndex::load(eco, &path, self.limits)?);
        cache.insert(path, (key, Arc::clone(&index)));
        Ok(Some(index))
    }
}
