//! The file-hash index: (path, size, mtime, ctime, inode) → digest, kept per workspace in
//! `.isect/index/`, so a file whose stat has not changed is never read again.
//! Racy-git rule: an entry whose mtime is too close to the moment it was recorded is not
//! trusted, since the file could change again within the clock's granularity.
//! The index is sharded by project folder (`services/auth-service`): a change in one
//! service rewrites that service's shard, not the whole monorepo's index.

use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

use super::digest::Digest;

const MAGIC: &[u8; 8] = b"ISECTIX1";
/// Entries younger than this when recorded are re-hashed next time (mtime granularity).
const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
}

impl Stat {
    /// From file metadata.
    #[must_use]
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            ino: meta.ino(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    stat: Stat,
    digest: Digest,
    /// Looked up or recorded during this run (not saved): `prune` keeps these.
    used: bool,
}

/// The index, loaded once per run and saved at its end.
#[derive(Debug, Default)]
pub struct FileIndex {
    /// The folder of shard files.
    path: PathBuf,
    /// Shard → path → entry: saving a shard touches only its own entries. Fx hashing: a
    /// no-op run looks up every file of the workspace here, and SipHash showed in profiles.
    entries: FxHashMap<String, FxHashMap<String, Entry>>,
    /// Shards changed since loading.
    dirty: BTreeSet<String>,
}

/// The shard a path belongs to: its first two folders (`services/auth-service`).
fn shard_of(rel: &str) -> &str {
    match rel.match_indices('/').nth(1) {
        Some((at, _)) => &rel[..at],
        None => rel.rsplit_once('/').map_or("", |(dir, _)| dir),
    }
}

fn shard_file(dir: &Path, shard: &str) -> PathBuf {
    dir.join(&blake3::hash(shard.as_bytes()).to_hex()[..16])
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl FileIndex {
    /// Loads the index in the folder `path`; a missing or unreadable shard is an empty one.
    #[must_use]
    pub fn load(path: &Path) -> Self {
        let files: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|dir| dir.filter_map(|f| f.ok().map(|f| f.path())).collect())
            .unwrap_or_default();
        // Shards are decoded on all cores: 500 of them on the large benchmark tree.
        let shards = crate::par::par_map(&files, |file| {
            std::fs::read(file).ok().and_then(|bytes| decode(&bytes))
        });
        let mut entries: FxHashMap<String, FxHashMap<String, Entry>> = FxHashMap::default();
        for shard in shards.into_iter().flatten() {
            let Some(first) = shard.keys().next() else {
                continue;
            };
            let name = shard_of(first).to_string();
            // A shard file holds one shard; anything else (written by hand, or by an older
            // layout) is sorted entry by entry.
            if !entries.contains_key(&name) && shard.keys().all(|rel| shard_of(rel) == name) {
                entries.insert(name, shard);
                continue;
            }
            for (rel, entry) in shard {
                entries
                    .entry(shard_of(&rel).to_string())
                    .or_default()
                    .insert(rel, entry);
            }
        }
        Self {
            path: path.to_path_buf(),
            entries,
            dirty: BTreeSet::new(),
        }
    }

    /// The digest recorded for `rel` if its stat is unchanged.
    #[must_use]
    pub fn lookup(&mut self, rel: &str, stat: &Stat) -> Option<Digest> {
        let entry = self.entries.get_mut(shard_of(rel))?.get_mut(rel)?;
        entry.used = true;
        (entry.stat == *stat).then_some(entry.digest)
    }

    /// Records a digest just computed from the file with this stat.
    pub fn record(&mut self, rel: &str, stat: Stat, digest: Digest) {
        if now_ns() - stat.mtime_ns < RACY_WINDOW_NS {
            // Too fresh to trust next time; make sure no older entry is trusted either.
            if let Some(shard) = self.entries.get_mut(shard_of(rel))
                && shard.remove(rel).is_some()
            {
                self.dirty.insert(shard_of(rel).to_string());
            }
            return;
        }
        let shard = self.entries.entry(shard_of(rel).to_string()).or_default();
        match shard.get_mut(rel) {
            Some(e) if e.stat == stat && e.digest == digest => e.used = true,
            _ => {
                shard.insert(
                    rel.to_string(),
                    Entry {
                        stat,
                        digest,
                        used: true,
                    },
                );
                self.dirty.insert(shard_of(rel).to_string());
            }
        }
    }

    /// Drops the entries not used in this run for which `keep` is false.
    pub fn retain_unused(&mut self, mut keep: impl FnMut(&str) -> bool) {
        for (name, shard) in &mut self.entries {
            let before = shard.len();
            shard.retain(|k, e| e.used || keep(k));
            if shard.len() != before {
                self.dirty.insert(name.clone());
            }
        }
    }

    /// Writes the shards that changed, each atomically.
    pub fn save(&mut self) -> std::io::Result<()> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.path)?;
        tracing::debug!(target: "isect::timing", "index shards to save: {}", self.dirty.len());
        for shard in &self.dirty {
            let file = shard_file(&self.path, shard);
            let mut entries: Vec<(&String, &Entry)> = self
                .entries
                .get(shard)
                .map(|m| m.iter().collect())
                .unwrap_or_default();
            if entries.is_empty() {
                let _ = std::fs::remove_file(&file);
                continue;
            }
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut tmp = tempfile::NamedTempFile::new_in(&self.path)?;
            {
                let mut out = BufWriter::new(tmp.as_file_mut());
                encode(&entries, &mut out)?;
                out.flush()?;
            }
            tmp.persist(&file).map_err(|e| e.error)?;
        }
        self.dirty.clear();
        Ok(())
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.values().map(FxHashMap::len).sum()
    }

    /// True when there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.values().all(FxHashMap::is_empty)
    }
}

fn encode(entries: &[(&String, &Entry)], out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&(entries.len() as u64).to_le_bytes())?;
    for (key, e) in entries {
        let bytes = key.as_bytes();
        out.write_all(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes())?;
        out.write_all(bytes)?;
        out.write_all(&e.stat.size.to_le_bytes())?;
        out.write_all(&e.stat.mtime_ns.to_le_bytes())?;
        out.write_all(&e.stat.ctime_ns.to_le_bytes())?;
        out.write_all(&e.stat.ino.to_le_bytes())?;
        out.write_all(&e.digest.0)?;
    }
    Ok(())
}

fn decode(bytes: &[u8]) -> Option<FxHashMap<String, Entry>> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(8)? != MAGIC {
        return None;
    }
    let count = usize::try_from(reader.u64()?).ok()?;
    let mut entries =
        FxHashMap::with_capacity_and_hasher(count.min(1 << 22), rustc_hash::FxBuildHasher);
    for _ in 0..count {
        let len = usize::try_from(reader.u32()?).ok()?;
        let key = std::str::from_utf8(reader.take(len)?).ok()?.to_string();
        let stat = Stat {
            size: reader.u64()?,
            mtime_ns: reader.i64()?,
            ctime_ns: reader.i64()?,
            ino: reader.u64()?,
        };
        let digest = Digest(reader.take(32)?.try_into().ok()?);
        entries.insert(
            key,
            Entry {
                stat,
                digest,
                used: false,
            },
        );
    }
    Some(entries)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_changed_stat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        let mut index = FileIndex::load(&path);
        let stat = Stat {
            size: 3,
            mtime_ns: 1_000,
            ctime_ns: 1_000,
            ino: 7,
        };
        index.record("a/b.go", stat, Digest::of(b"abc"));
        index.save().expect("save");
        let mut loaded = FileIndex::load(&path);
        assert_eq!(loaded.lookup("a/b.go", &stat), Some(Digest::of(b"abc")));
        assert_eq!(loaded.lookup("a/b.go", &Stat { size: 4, ..stat }), None);
    }

    #[test]
    fn fresh_files_are_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut index = FileIndex::load(&dir.path().join("index"));
        let stat = Stat {
            size: 1,
            mtime_ns: now_ns(),
            ctime_ns: now_ns(),
            ino: 1,
        };
        index.record("x", stat, Digest::of(b"x"));
        assert_eq!(index.lookup("x", &stat), None);
    }

    #[test]
    fn truncated_shard_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        std::fs::create_dir_all(&path).expect("mkdir");
        std::fs::write(path.join("0123456789abcdef"), b"ISECTIX1\x05\x00").expect("write");
        assert!(FileIndex::load(&path).is_empty());
    }

    #[test]
    fn saving_rewrites_only_changed_shards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        let mut index = FileIndex::load(&path);
        let stat = Stat {
            size: 3,
            mtime_ns: 1_000,
            ctime_ns: 1_000,
            ino: 7,
        };
        index.record("services/a/x.go", stat, Digest::of(b"a"));
        index.record("services/b/y.go", stat, Digest::of(b"b"));
        index.save().expect("save");
        let b_shard = shard_file(&path, "services/b");
        let before = std::fs::metadata(&b_shard)
            .expect("b shard")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        index.record(
            "services/a/x.go",
            Stat { size: 4, ..stat },
            Digest::of(b"a2"),
        );
        index.save().expect("save");
        assert_eq!(
            std::fs::metadata(&b_shard)
                .expect("b shard")
                .modified()
                .expect("mtime"),
            before
        );
        let mut loaded = FileIndex::load(&path);
        assert_eq!(
            loaded.lookup("services/a/x.go", &Stat { size: 4, ..stat }),
            Some(Digest::of(b"a2"))
        );
        assert_eq!(
            loaded.lookup("services/b/y.go", &stat),
            Some(Digest::of(b"b"))
        );
        assert_eq!(shard_of("services/a/src/x.go"), "services/a");
        assert_eq!(shard_of("isect.toml"), "");
        assert_eq!(shard_of("libs/x.go"), "libs");
    }

    #[test]
    fn a_file_holding_several_shards_is_sorted_into_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index");
        std::fs::create_dir_all(&path).expect("mkdir");
        let entry = |text: &[u8]| Entry {
            stat: Stat {
                size: 3,
                mtime_ns: 1_000,
                ctime_ns: 1_000,
                ino: 7,
            },
            digest: Digest::of(text),
            used: false,
        };
        let (a, b) = (entry(b"a"), entry(b"b"));
        let (a_rel, b_rel) = ("services/a/x.go".to_string(), "services/b/y.go".to_string());
        let mut bytes = Vec::new();
        encode(&[(&a_rel, &a), (&b_rel, &b)], &mut bytes).expect("encode");
        std::fs::write(path.join("0123456789abcdef"), bytes).expect("write");
        let mut loaded = FileIndex::load(&path);
        assert_eq!(loaded.lookup(&a_rel, &a.stat), Some(a.digest));
        assert_eq!(loaded.lookup(&b_rel, &b.stat), Some(b.digest));
        assert_eq!(loaded.entries.len(), 2, "one map per shard");
    }
}
