//! One reproducible image layer: files, folders and symlinks from disk or memory, written
//! as a sorted tar (uid/gid 0, no user names, one fixed mtime, normalised modes) and
//! gzip'd with a fixed header and level into a layout's `blobs/sha256/`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use super::{HashingWriter, OciError, Result, blob_path};

/// gzip's "unknown" OS byte, as Go's compress/gzip writes it: the host never leaks in.
const GZIP_OS_UNKNOWN: u8 = 255;

/// What one path in the layer is.
#[derive(Debug, Clone)]
enum Entry {
    File { src: PathBuf, mode: u32 },
    Bytes { data: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink { target: String },
}

/// Collects a layer's contents, then writes it reproducibly with [`LayerBuilder::write`].
///
/// Paths are image paths (`/app/server`); parents are added as 0755 folders when not
/// given. Adding a path twice keeps the last one, like a later `COPY`.
#[derive(Debug, Clone)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    mtime: u64,
    level: u32,
    created_by: Option<String>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
            mtime: 0,
            // BestSpeed, as ko and crane (go-containerregistry) use: ~6x faster than
            // level 6 on a Go binary for a blob ~9% larger.
            level: 1,
            created_by: None,
        }
    }
}

/// A layer written into a layout: its blob's digest and size, and the uncompressed tar's
/// digest (`diff_id`, which goes into the config's rootfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    /// `sha256:<hex>` of the gzip'd blob.
    pub digest: String,
    /// Size of the gzip'd blob in bytes.
    pub size: u64,
    /// The history line for this layer, if one was set.
    pub created_by: Option<String>,
}

impl LayerBuilder {
    /// An empty layer with mtime 0 and gzip level 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry's mtime, in seconds since the epoch (pass `SOURCE_DATE_EPOCH` here).
    pub fn mtime(mut self, epoch: u64) -> Self {
        self.mtime = epoch;
        self
    }

    /// The gzip level (0–9); part of the inputs, since it changes the blob's digest.
    pub fn compression_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// The image history's `created_by` for this layer, e.g. `COPY server /server`.
    pub fn created_by(mut self, line: impl Into<String>) -> Self {
        self.created_by = Some(line.into());
        self
    }

    /// Adds a regular file from disk at `dest`; mode 0755 if any executable bit is set,
    /// else 0644. Symlinks at `src` are followed.
    pub fn add_file(&mut self, src: impl AsRef<Path>, dest: &str) -> Result<&mut Self> {
        let src = src.as_ref();
        let meta = std::fs::metadata(src).map_err(|source| OciError::Read {
            path: src.to_path_buf(),
            source,
        })?;
        if !meta.is_file() {
            return Err(OciError::Unsupported {
                path: src.to_path_buf(),
                reason: "not a regular file",
            });
        }
        let mode = file_mode(meta.permissions().mode());
        let src = src.to_path_buf();
        self.entries
            .insert(image_path(dest, false)?, Entry::File { src, mode });
        Ok(self)
    }

    /// Adds a file with the given contents and mode (e.g. `/etc/passwd`, 0o644).
    pub fn add_bytes(
        &mut self,
        dest: &str,
        data: impl Into<Vec<u8>>,
        mode: u32,
    ) -> Result<&mut Self> {
        let entry = Entry::Bytes {
            data: data.into(),
            mode: mode & 0o7777,
        };
        self.entries.insert(image_path(dest, false)?, entry);
        Ok(self)
    }

    /// Adds an empty folder (mode 0755).
    pub fn add_dir(&mut self, dest: &str) -> Result<&mut Self> {
        self.entries
            .insert(image_path(dest, false)?, Entry::Dir { mode: 0o755 });
        Ok(self)
    }

    /// Adds a symlink at `dest` pointing to `target` (stored as given, relative or absolute).
    pub fn add_symlink(&mut self, dest: &str, target: &str) -> Result<&mut Self> {
        let target = target.to_owned();
        self.entries
            .insert(image_path(dest, false)?, Entry::Symlink { target });
        Ok(self)
    }

    /// Adds a whole tree from disk under `dest` (`/` for a root filesystem): symlinks stay
    /// symlinks, hardlinks become regular files, sockets, FIFOs and devices are skipped.
    /// Folders get 0755 (keeping the sticky bit, for `/tmp`), files 0755 or 0644.
    pub fn add_tree(&mut self, src: impl AsRef<Path>, dest: &str) -> Result<&mut Self> {
        let src = src.as_ref();
        let prefix = image_path(dest, true)?;
        for item in walkdir::WalkDir::new(src).follow_links(false) {
            let item = item.map_err(|e| OciError::Read {
                path: e.path().unwrap_or(src).to_path_buf(),
                source: e.into(),
            })?;
            let rel = item.path().strip_prefix(src).unwrap_or(item.path());
            let mut path = prefix.clone();
            for part in rel.iter() {
                let part = part.to_str().ok_or_else(|| OciError::Unsupported {
                    path: item.path().to_path_buf(),
                    reason: "the file name is not UTF-8",
                })?;
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(part);
            }
            if path.is_empty() {
                continue; // the root of the image itself
            }
            let meta = item.metadata().map_err(|e| OciError::Read {
                path: item.path().to_path_buf(),
                source: e.into(),
            })?;
            let kind = meta.file_type();
            let mode = meta.permissions().mode();
            let entry = if kind.is_dir() {
                Entry::Dir {
                    mode: 0o755 | (mode & 0o1000),
                }
            } else if kind.is_symlink() {
                let target = std::fs::read_link(item.path()).map_err(|source| OciError::Read {
                    path: item.path().to_path_buf(),
                    source,
                })?;
                let target = target.to_str().ok_or_else(|| OciError::Unsupported {
                    path: item.path().to_path_buf(),
                    reason: "the symlink's target is not UTF-8",
                })?;
                Entry::Symlink {
                    target: target.to_owned(),
                }
            } else if kind.is_file() {
                Entry::File {
                    src: item.path().to_path_buf(),
                    mode: file_mode(mode),
                }
            } else {
                continue; // sockets, FIFOs and devices have no place in an image
            };
            self.entries.insert(path, entry);
        }
        Ok(self)
    }

    /// The image paths added so far (without implicit parents), sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Writes the uncompressed tar: entries sorted by path, parents first.
    pub fn write_tar<W: Write>(&self, out: W) -> Result<W> {
        let entries = self.with_parents()?;
        let mut tar = tar::Builder::new(out);
        let write_err = |source| OciError::Write {
            path: PathBuf::from("<layer tar>"),
            source,
        };
        for (path, entry) in entries {
            let mut header = Header::new_gnu();
            header.set_mtime(self.mtime);
            header.set_uid(0);
            header.set_gid(0);
            header.set_size(0);
            match entry {
                Entry::Dir { mode } => {
                    header.set_entry_type(EntryType::Directory);
                    header.set_mode(*mode);
                    tar.append_data(&mut header, format!("{path}/"), io::empty())
                        .map_err(write_err)?;
                }
                Entry::Bytes { data, mode } => {
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    tar.append_data(&mut header, path, data.as_slice())
                        .map_err(write_err)?;
                }
                Entry::File { src, mode } => {
                    let read_err = |source| OciError::Read {
                        path: src.clone(),
                        source,
                    };
                    let file = File::open(src).map_err(read_err)?;
                    let len = file.metadata().map_err(read_err)?.len();
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(len);
                    // take(): a file growing while we read cannot overrun its header's size.
                    tar.append_data(&mut header, path, file.take(len))
                        .map_err(write_err)?;
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(EntryType::Symlink);
                    header.set_mode(0o777);
                    tar.append_link(&mut header, path, target)
                        .map_err(write_err)?;
                }
            }
        }
        tar.into_inner().map_err(write_err)
    }

    /// Writes the gzip'd layer as `blobs/sha256/<hex>` under the layout folder `layout`.
    pub fn write(&self, layout: &Path) -> Result<Layer> {
        let blobs = layout.join("blobs").join("sha256");
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OciError::Write { path, source }
        };
        std::fs::create_dir_all(&blobs).map_err(werr(&blobs))?;
        let tmp = tempfile::NamedTempFile::new_in(&blobs).map_err(werr(&blobs))?;
        let file = BufWriter::with_capacity(1 << 20, tmp.as_file());
        let gz = GzBuilder::new()
            .mtime(0)
            .operating_system(GZIP_OS_UNKNOWN)
            .write(HashingWriter::new(file), Compression::new(self.level));
        let tar = self.write_tar(HashingWriter::new(gz))?;
        let (gz, diff_id, _) = tar.finish();
        let blob = gz.finish().map_err(werr(tmp.path()))?;
        let (mut file, digest, size) = blob.finish();
        file.flush().map_err(werr(tmp.path()))?;
        drop(file);
        let dest = blob_path(layout, &digest);
        // Blobs are content, readable by all like any other file: tempfile creates 0600.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(werr(tmp.path()))?;
        tmp.persist(&dest).map_err(|e| OciError::Write {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(Layer {
            diff_id,
            digest,
            size,
            created_by: self.created_by.clone(),
        })
    }

    /// The entries plus every missing parent folder, sorted so parents come first.
    fn with_parents(&self) -> Result<BTreeMap<&str, &Entry>> {
        const PARENT: Entry = Entry::Dir { mode: 0o755 };
        let mut all: BTreeMap<&str, &Entry> = BTreeMap::new();
        for (path, entry) in &self.entries {
            all.insert(path, entry);
            for (i, _) in path.match_indices('/') {
                let parent = &path[..i];
                match self.entries.get(parent) {
                    Some(Entry::Dir { .. }) => {}
                    Some(_) => {
                        return Err(OciError::ImagePath {
                            path: format!("/{path}"),
                            reason: "a parent of this path is a file or symlink in the same layer",
                        });
                    }
                    None => {
                        all.entry(parent).or_insert(&PARENT);
                    }
                }
            }
        }
        Ok(all)
    }
}

/// 0755 when any executable bit is set, else 0644.
fn file_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 { 0o755 } else { 0o644 }
}

/// `/app//./server` → `app/server`; `..` is refused, and `/` only where `root_ok`.
fn image_path(dest: &str, root_ok: bool) -> Result<String> {
    let bad = |reason| OciError::ImagePath {
        path: dest.to_owned(),
        reason,
    };
    let mut parts = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad("`..` is not allowed")),
            p if p.contains('\0') => return Err(bad("it contains a NUL byte")),
            p => parts.push(p),
        }
    }
    if parts.is_empty() && !root_ok {
        return Err(bad("it names the root folder"));
    }
    Ok(parts.join("/"))
}
