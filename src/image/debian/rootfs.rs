//! Rootfs folder chores: trimming docs to licences, measuring it, and packing it as a
//! reproducible tar (for `docker import`; OCI layers are written by `image::oci`).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{DebianError, io};

/// Keeps only `usr/share/doc/<pkg>/copyright` (the licences) under `doc`.
pub(super) fn strip_docs(doc: &Path) -> Result<(), DebianError> {
    let Ok(entries) = std::fs::read_dir(doc) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(io(doc))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_symlink() {
            // `doc/libfoo-dev -> libfoo`: the way to that package's licence.
            continue;
        }
        if !kind.is_dir() {
            std::fs::remove_file(&path).map_err(io(&path))?;
            continue;
        }
        for inner in std::fs::read_dir(&path).map_err(io(&path))? {
            let inner = inner.map_err(io(&path))?;
            let p = inner.path();
            if inner.file_name() == "copyright" {
                continue;
            }
            if inner.file_type().map_err(io(&p))?.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            } else {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        if std::fs::read_dir(&path)
            .map_err(io(&path))?
            .next()
            .is_none()
        {
            std::fs::remove_dir(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// `etc/ssl/certs/ca-certificates.crt`, which ca-certificates' maintainer script would
/// write: every certificate under `usr/share/ca-certificates`, in name order.
pub(super) fn ca_bundle(dest: &Path) -> Result<(), DebianError> {
    let certs = dest.join("usr/share/ca-certificates");
    let bundle = dest.join("etc/ssl/certs/ca-certificates.crt");
    if !certs.is_dir() || bundle.exists() {
        return Ok(());
    }
    let mut pem = String::new();
    for entry in walkdir::WalkDir::new(&certs).sort_by_file_name() {
        let entry = entry.map_err(|e| DebianError::Io {
            path: certs.display().to_string(),
            source: e.into(),
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "crt") {
            let text = std::fs::read_to_string(entry.path()).map_err(io(entry.path()))?;
            pem.push_str(text.trim_end());
            pem.push('\n');
        }
    }
    let dir = dest.join("etc/ssl/certs");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    std::fs::write(&bundle, pem).map_err(io(&bundle))
}

/// Bytes of regular files under `dir`.
pub(super) fn size(dir: &Path) -> Result<u64, DebianError> {
    let mut total = 0;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| DebianError::Io {
            path: dir.display().to_string(),
            source: e.into(),
        })?;
        if entry.file_type().is_file() {
            total += entry
                .metadata()
                .map_err(|e| DebianError::Io {
                    path: dir.display().to_string(),
                    source: e.into(),
                })?
                .len();
        }
    }
    Ok(total)
}

/// Packs the rootfs folder `dir` as a tar on `out`: entries sorted, mtimes zeroed, owners
/// and modes kept, symlinks as symlinks, hard links as copies.
pub fn rootfs_tar(dir: &Path, out: impl Write) -> Result<(), DebianError> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let walk = walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| DebianError::Io {
            path: dir.display().to_string(),
            source: e.into(),
        })?;
        let path = entry.path();
        let rel = path.strip_prefix(dir).map_err(|e| DebianError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(meta.permissions().mode() & 0o7777);
        header.set_uid(meta.uid().into());
        header.set_gid(meta.gid().into());
        header.set_mtime(0);
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(path).map_err(io(path))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, rel, target)
                .map_err(io(path))?;
        } else if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, rel, std::io::empty())
                .map_err(io(path))?;
        } else if ft.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let f = std::fs::File::open(path).map_err(io(path))?;
            tar.append_data(&mut header, rel, f).map_err(io(path))?;
        }
        // Sockets, fifos and devices have no place in a base image.
    }
    tar.into_inner().map_err(io(dir))?.flush().map_err(io(dir))
}
