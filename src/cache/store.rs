//! The local content store: blobs by blake3 digest (`cas/`), action records by step key
//! (`ac/`), manifests by key (`manifests/`). Every write goes to a temporary file first and
//! is renamed into place, so a reader never sees half a file and several isect processes
//! can share one cache. Whatever is read back is verified; a mismatch is a miss.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::digest::{Digest, hash_file};
use super::key::{Manifest, StepKey};

/// One output file of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    /// Workspace-relative path.
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    pub executable: bool,
}

/// What a successful step left: its outputs and its log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionRecord {
    pub key: StepKey,
    pub step_id: String,
    pub outputs: Vec<OutputEntry>,
    pub log: Digest,
    pub duration_ms: u64,
    /// A line for the summary (`coverage 84.2%`), if the step had one.
    #[serde(default)]
    pub summary: Option<String>,
}

/// Why outputs could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("stored content of {path} is missing or corrupt (blob {digest})")]
    Corrupt { path: String, digest: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Sizes and counts, for `isect cache stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CacheStats {
    pub dir: String,
    pub records: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub manifests: u64,
    pub runs: u64,
    pub hits: u64,
    pub misses: u64,
    /// Of the hits, those fetched from the shared cache.
    pub remote_hits: u64,
    /// Shared-cache lookups that found nothing.
    pub remote_misses: u64,
    /// Shared-cache reads or writes that failed (each was a warning).
    pub remote_errors: u64,
    /// Entries written to the shared cache.
    pub remote_published: u64,
}

/// The cache folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

fn shard(dir: &Path, kind: &str, hex: &str, ext: &str) -> PathBuf {
    dir.join(kind).join(&hex[..2]).join(format!("{hex}{ext}"))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file. No fsync: everything the cache reads back is verified
/// (records parse and match their key, blobs match their digest), so a write lost in a
/// crash is a miss, never a wrong result, and a build does not wait for the disk.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl LocalStore {
    /// Opens (and creates) the cache folder.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        shard(&self.dir, "cas", &digest.to_hex(), "")
    }

    fn record_path(&self, key: &StepKey) -> PathBuf {
        shard(&self.dir, "ac", &key.to_hex(), ".json")
    }

    fn manifest_path(&self, key: &StepKey) -> PathBuf {
        shard(&self.dir, "manifests", &key.to_hex(), ".json")
    }

    /// Stores bytes, returning their digest.
    pub fn put_bytes(&self, bytes: &[u8]) -> std::io::Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Stores a file's content (already hashed as `digest`).
    pub fn put_file(&self, source: &Path, digest: &Digest) -> std::io::Result<()> {
        let path = self.blob_path(digest);
        if path.exists() {
            return Ok(());
        }
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)?;
        let tmp = tempfile::NamedTempFile::new_in(parent)?;
        std::fs::copy(source, tmp.path())?;
        // The file may have changed since it was hashed; only store what matches.
        if hash_file(tmp.path())? != *digest {
            return Err(std::io::Error::other(format!(
                "{} changed while it was being stored",
                source.display()
            )));
        }
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Reads a blob and checks it against its digest; `None` when missing or corrupt.
    #[must_use]
    pub fn get_bytes(&self, digest: &Digest) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.blob_path(digest)).ok()?;
        (Digest::of(&bytes) == *digest).then_some(bytes)
    }

    /// The action record for `key`: `Ok(None)` when there is none, `Err` with a reason when
    /// one exists but cannot be read (truncated, corrupt): the caller warns and reruns.
    pub fn get_record(&self, key: &StepKey) -> Result<Option<ActionRecord>, String> {
        let path = self.record_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        match serde_json::from_slice::<ActionRecord>(&bytes) {
            Ok(record) if record.key == *key => Ok(Some(record)),
            Ok(_) => Err(format!("{} belongs to another key", path.display())),
            Err(e) => Err(format!("{} is corrupt ({e})", path.display())),
        }
    }

    /// Marks a record as used now, for least-recently-used garbage collection.
    pub fn touch_record(&self, key: &StepKey) {
        if let Ok(file) = std::fs::File::options()
            .append(true)
            .open(self.record_path(key))
        {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Removes a record (after it proved corrupt).
    pub fn remove_record(&self, key: &StepKey) {
        let _ = std::fs::remove_file(self.record_path(key));
    }

    /// Removes a blob (after it proved corrupt).
    pub fn remove_blob(&self, digest: &Digest) {
        let _ = std::fs::remove_file(self.blob_path(digest));
    }

    /// Writes the record, last: only a record whose blobs are all stored is ever visible.
    pub fn put_record(&self, record: &ActionRecord) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        write_atomic(&self.record_path(&record.key), &bytes)
    }

    /// Saves a manifest under its key.
    pub fn put_manifest(&self, manifest: &Manifest) -> std::io::Result<()> {
        let path = self.manifest_path(&manifest.key());
        if path.exists() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(manifest).map_err(std::io::Error::other)?;
        write_atomic(&path, &bytes)
    }

    /// The manifest saved under `key`.
    #[must_use]
    pub fn get_manifest(&self, key: &StepKey) -> Option<Manifest> {
        let bytes = std::fs::read(self.manifest_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Restores `entry` into the workspace at `root`, verifying the blob while copying.
    pub fn restore(&self, root: &Path, entry: &OutputEntry) -> Result<(), RestoreError> {
        let corrupt = || RestoreError::Corrupt {
            path: entry.path.clone(),
            digest: entry.digest.short(),
        };
        let blob = self.blob_path(&entry.digest);
        let target = root.join(&entry.path);
        let io = |source| RestoreError::Io {
            path: entry.path.clone(),
            source,
        };
        let parent = target.parent().unwrap_or(root);
        std::fs::create_dir_all(parent).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io)?;
        let mut input = std::fs::File::open(&blob).map_err(|_| corrupt())?;
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = input.read(&mut buffer).map_err(|_| corrupt())?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            tmp.write_all(&buffer[..n]).map_err(io)?;
        }
        if Digest(*hasher.finalize().as_bytes()) != entry.digest {
            self.remove_blob(&entry.digest);
            return Err(corrupt());
        }
        if entry.executable {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o755))
                .map_err(io)?;
        }
        tmp.persist(&target).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Appends one run's hit and miss counts to the statistics log.
    pub fn record_run(&self, hits: u64, misses: u64) {
        let line = format!("{{\"hits\":{hits},\"misses\":{misses}}}\n");
        if let Ok(mut file) = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("runs.jsonl"))
        {
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// Appends what this run did with the shared cache to the run log.
    pub fn record_remote(&self, counters: super::RemoteCounters) {
        let line = format!(
            "{{\"remote_hits\":{},\"remote_misses\":{},\"remote_errors\":{},\"remote_published\":{}}}\n",
            counters.hits, counters.misses, counters.errors, counters.published
        );
        if let Ok(mut file) = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("runs.jsonl"))
        {
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// Counts and sizes.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            dir: self.dir.display().to_string(),
            ..CacheStats::default()
        };
        stats.records = count_files(&self.dir.join("ac")).0;
        let (blobs, bytes) = count_files(&self.dir.join("cas"));
        stats.blobs = blobs;
        stats.blob_bytes = bytes;
        stats.manifests = count_files(&self.dir.join("manifests")).0;
        if let Ok(text) = std::fs::read_to_string(self.dir.join("runs.jsonl")) {
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                    if v.get("hits").is_some() {
                        stats.runs += 1;
                    }
                    stats.hits += v["hits"].as_u64().unwrap_or(0);
                    stats.misses += v["misses"].as_u64().unwrap_or(0);
                    stats.remote_hits += v["remote_hits"].as_u64().unwrap_or(0);
                    stats.remote_misses += v["remote_misses"].as_u64().unwrap_or(0);
                    stats.remote_errors += v["remote_errors"].as_u64().unwrap_or(0);
                    stats.remote_published += v["remote_published"].as_u64().unwrap_or(0);
                }
            }
        }
        stats
    }

    /// Deletes least-recently-used records until the blobs they keep fit in `max_bytes`,
    /// then every blob and manifest no record refers to. Returns (records, blobs) removed.
    pub fn gc(&self, max_bytes: u64) -> std::io::Result<(u64, u64)> {
        let mut records: Vec<(SystemTime, PathBuf, ActionRecord)> = Vec::new();
        for entry in walkdir::WalkDir::new(self.dir.join("ac"))
            .into_iter()
            .filter_map(Result::ok)
        {
            if !entry.file_type().is_file() {
                continue;
            }
            let modified = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            match std::fs::read(entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<ActionRecord>(&b).ok())
            {
                Some(record) => records.push((modified, entry.path().to_path_buf(), record)),
                None => {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.0)); // newest first
        let mut kept_bytes = 0u64;
        let mut live = std::collections::HashSet::new();
        let mut removed_records = 0;
        let mut live_keys = std::collections::HashSet::new();
        for (_, path, record) in &records {
            let size: u64 = record.outputs.iter().map(|o| o.size).sum();
            if kept_bytes + size > max_bytes && kept_bytes > 0 || size > max_bytes {
                std::fs::remove_file(path)?;
                removed_records += 1;
                continue;
            }
            kept_bytes += size;
            live_keys.insert(record.key.to_hex());
            live.insert(record.log.to_hex());
            for o in &record.outputs {
                live.insert(o.digest.to_hex());
            }
        }
        let mut removed_blobs = 0;
        for entry in walkdir::WalkDir::new(self.dir.join("cas"))
            .into_iter()
            .filter_map(Result::ok)
        {
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_file() && !live.contains(name.as_ref()) {
                std::fs::remove_file(entry.path())?;
                removed_blobs += 1;
            }
        }
        for entry in walkdir::WalkDir::new(self.dir.join("manifests"))
            .into_iter()
            .filter_map(Result::ok)
        {
            let name = entry.file_name().to_string_lossy();
            let key = name.trim_end_matches(".json");
            if entry.file_type().is_file() && !live_keys.contains(key) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok((removed_records, removed_blobs))
    }

    /// Removes everything.
    pub fn clean(&self) -> std::io::Result<()> {
        for sub in [
            "ac",
            "cas",
            "manifests",
            "golist",
            "locks",
            "toolchains.json",
            "runs.jsonl",
        ] {
            let path = self.dir.join(sub);
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else if path.exists() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// A lock file for `key`, held while the step runs so two processes do not run it twice.
    #[must_use]
    pub fn lock_path(&self, key: &StepKey) -> PathBuf {
        self.dir
            .join("locks")
            .join(format!("{}.lock", key.to_hex()))
    }

    /// A memo file under `golist/` or similar.
    #[must_use]
    pub fn memo_path(&self, kind: &str, name: &str) -> PathBuf {
        self.dir.join(kind).join(name)
    }
}

fn count_files(dir: &Path) -> (u64, u64) {
    let mut count = 0;
    let mut bytes = 0;
    for entry in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            count += 1;
            bytes += entry.metadata().map_or(0, |m| m.len());
        }
    }
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_blob_is_detected_on_restore() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(&dir.path().join("cache")).expect("open");
        let digest = store.put_bytes(b"binary").expect("put");
        let entry = OutputEntry {
            path: "out/bin".into(),
            digest,
            size: 6,
            executable: true,
        };
        store.restore(dir.path(), &entry).expect("restore");
        assert_eq!(
            std::fs::read(dir.path().join("out/bin")).expect("read"),
            b"binary"
        );
        std::fs::write(store.blob_path(&digest), b"binarY").expect("corrupt");
        assert!(matches!(
            store.restore(dir.path(), &entry),
            Err(RestoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn truncated_record_is_an_error_not_a_hit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        let key = Digest::of(b"k");
        let record = ActionRecord {
            key,
            step_id: "a:b:c".into(),
            outputs: vec![],
            log: Digest::of(b""),
            duration_ms: 1,
            summary: None,
        };
        store.put_record(&record).expect("put");
        assert!(store.get_record(&key).expect("readable").is_some());
        let path = store.record_path(&key);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
        assert!(store.get_record(&key).is_err());
    }
}
