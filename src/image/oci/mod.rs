//! Container images written by isect itself, without a daemon and byte-for-byte
//! reproducible: layers from files on disk (`layer`), OCI image layouts built on scratch or
//! on a base layout and read back (`layout`), and the `docker load` archive (`archive`).
//!
//! Reproducibility comes from fixed inputs only: entries sorted by path, uid/gid 0, no
//! user names, one fixed mtime, a fixed gzip header and level, and JSON with sorted keys.

mod archive;
mod layer;
mod layout;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

pub(crate) use super::rfc3339;

pub use archive::write_docker_archive;
pub use layer::{Layer, LayerBuilder};
pub use layout::{BuiltImage, ImageSpec, LayoutImage, LayoutLayer, build, read_layout};

/// What went wrong while writing or reading an image, naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source} (check that it exists and is readable)")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source} (check the folder's permissions and free space)")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A destination path inside the image is not usable.
    #[error(
        "invalid path `{path}` in the image: {reason} (use an absolute path such as /app/server, without `..`)"
    )]
    ImagePath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A source file has a type that cannot go into a layer.
    #[error("{path}: {reason} (add regular files, folders or symlinks only)")]
    Unsupported {
        /// The source file.
        path: PathBuf,
        /// What kind of file it is.
        reason: &'static str,
    },
    /// A folder is not a usable OCI image layout.
    #[error(
        "{path} is not a usable OCI image layout: {reason} (expected oci-layout, index.json and blobs/sha256/<hex>, as `isect` or `skopeo copy … oci:DIR` write them)"
    )]
    Layout {
        /// The file in the layout that is wrong.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON document of the image could not be parsed or written.
    #[error("{path}: invalid image JSON: {source} (rebuild the image or the base layout)")]
    Json {
        /// The document.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The image configuration could not be assembled.
    #[error("invalid image configuration: {0} (check the ImageSpec's fields)")]
    Spec(#[from] oci_spec::OciSpecError),
}

/// This module's result type.
pub type Result<T, E = OciError> = std::result::Result<T, E>;

/// `sha256:<hex>` of some bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lowercase hex of a hash output.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Serialises `value` as compact JSON with every object's keys sorted, so documents built
/// from oci-spec's HashMaps (labels, annotations, exposed ports) hash the same every time.
pub(crate) fn canonical_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<Vec<u8>> {
    let json = |source| OciError::Json {
        path: path.to_path_buf(),
        source,
    };
    let value = sort_keys(serde_json::to_value(value).map_err(json)?);
    serde_json::to_vec(&value).map_err(json)
}

fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            // Re-inserted in order: sorted whether or not serde_json's preserve_order is on.
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Writes `bytes` as `blobs/sha256/<hex>` under a layout folder; returns the digest.
pub(crate) fn write_blob(layout: &Path, bytes: &[u8]) -> Result<String> {
    let digest = sha256_digest(bytes);
    let path = blob_path(layout, &digest);
    write_file(&path, bytes)?;
    Ok(digest)
}

/// The path of a blob `sha256:<hex>` in a layout folder.
pub(crate) fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    layout.join("blobs").join(algo).join(hex)
}

/// Writes a whole file, creating its parent folders.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| OciError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(err)
}

/// A writer that hashes what passes through it and counts the bytes.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The inner writer, `sha256:<hex>` of everything written, and its length.
    pub(crate) fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex(&self.hasher.finalize()));
        (self.inner, digest, self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
