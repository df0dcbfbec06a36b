//! An OCI image layout's layers applied in order, keeping only the files that say what
//! the image contains: `index.json` → manifest → layer blobs (gzip'd or plain tar, each
//! checked against its digest), whiteouts (`.wh.<name>`, `.wh..wh..opq`) honoured, and
//! each interesting file captured in memory (never extracted to disk).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::gobuild::{self, BuildInfo, Elf, hex};
use super::{InspectError, Limits};

/// A file kept from the layers.
#[derive(Debug, Clone)]
pub(crate) enum Captured {
    Text(Vec<u8>),
    Go { sha256: String, build: BuildInfo },
}

/// The merged view: image path (no leading `/`) → what was kept of it.
pub(crate) type View = BTreeMap<String, Captured>;

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// Enough of `copyright` for its header paragraph and first `License:`.
const COPYRIGHT_CAP: u64 = 64 << 10;

fn layout_err(path: &Path, reason: impl Into<String>) -> InspectError {
    InspectError::Layout {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// `blobs/<alg>/<hex>` for a digest, refusing anything that is not `sha256:<64 hex>`.
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, InspectError> {
    match digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(dir.join("blobs/sha256").join(h))
        }
        _ => Err(layout_err(
            dir,
            format!("`{digest}` is not a sha256 digest"),
        )),
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, InspectError> {
    let bytes = std::fs::read(path).map_err(|e| InspectError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| layout_err(path, e.to_string()))
}

/// The image manifest's digest and its layers' digests, in order. An index (or a
/// nested one) resolves to its `linux/amd64` manifest, else its first.
pub(crate) fn manifest(dir: &Path) -> Result<(String, Vec<String>), InspectError> {
    let marker = dir.join("oci-layout");
    let v = read_json(&marker)?;
    if v.get("imageLayoutVersion")
        .and_then(|v| v.as_str())
        .is_none()
    {
        return Err(layout_err(&marker, "no `imageLayoutVersion`"));
    }
    let mut index_path = dir.join("index.json");
    let mut index = read_json(&index_path)?;
    for _ in 0..4 {
        let list = index
            .get("manifests")
            .and_then(|m| m.as_array())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| layout_err(&index_path, "no `manifests`"))?;
        let pick = list
            .iter()
            .find(|d| {
                let p = d.get("platform");
                p.and_then(|p| p.get("os")).and_then(|v| v.as_str()) == Some("linux")
                    && p.and_then(|p| p.get("architecture"))
                        .and_then(|v| v.as_str())
                        == Some("amd64")
            })
            .unwrap_or(&list[0]);
        let digest = pick
            .get("digest")
            .and_then(|d| d.as_str())
            .ok_or_else(|| layout_err(&index_path, "a manifest descriptor has no `digest`"))?
            .to_string();
        let path = blob_path(dir, &digest)?;
        let doc = read_json(&path)?;
        let media = doc
            .get("mediaType")
            .or_else(|| pick.get("mediaType"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        if INDEX_TYPES.contains(&media) || doc.get("manifests").is_some() {
            index = doc;
            index_path = path;
            continue;
        }
        let layers = doc
            .get("layers")
            .and_then(|l| l.as_array())
            .ok_or_else(|| layout_err(&path, "the manifest has no `layers`"))?
            .iter()
            .map(|l| {
                l.get("digest")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
                    .ok_or_else(|| layout_err(&path, "a layer has no `digest`"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((digest, layers));
    }
    Err(layout_err(&index_path, "indexes nested too deeply"))
}

/// What to keep of a path, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Text,
    Copyright,
    /// An executable regular file: read only if it is ELF.
    Exec,
}

fn want(path: &str, executable: bool) -> Option<Want> {
    let parts: Vec<&str> = path.split('/').collect();
    let n = parts.len();
    // parent(0) is the file's directory, parent(1) that one's parent
    let parent = |k: usize| if n > k + 1 { parts[n - 2 - k] } else { "" };
    let text = match path {
        "etc/os-release" | "usr/lib/os-release" | "var/lib/dpkg/status" => true,
        _ if path.starts_with("var/lib/dpkg/status.d/") => {
            n == 5 && !parts[4].contains('.') // `<pkg>.md5sums` and the like
        }
        _ if parts[n - 1] == "METADATA" => {
            parent(0).ends_with(".dist-info")
                && matches!(parent(1), "site-packages" | "dist-packages")
        }
        _ if parts[n - 1] == "package.json" => {
            parent(1) == "node_modules"
                || (parent(1).starts_with('@') && parent(2) == "node_modules")
        }
        _ => false,
    };
    if text {
        Some(Want::Text)
    } else if n == 5 && path.starts_with("usr/share/doc/") && parts[4] == "copyright" {
        Some(Want::Copyright)
    } else if executable {
        Some(Want::Exec)
    } else {
        None
    }
}

/// `./a/b`, `/a/b` → `a/b`; `None` for paths that climb out.
fn clean(path: &Path) -> Option<String> {
    let s = path.to_string_lossy();
    let parts: Vec<&str> = s
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return None;
    }
    Some(parts.join("/"))
}

/// Removes every key equal to `path` or under `path/` (all keys for `""`).
fn remove_tree(view: &mut View, path: &str) {
    if path.is_empty() {
        view.clear();
        return;
    }
    view.remove(path);
    let prefix = format!("{path}/");
    // keys under `prefix` are contiguous in the map's order
    let under: Vec<String> = view
        .range(prefix.clone()..)
        .map(|(k, _)| k)
        .take_while(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    for k in under {
        view.remove(&k);
    }
}

/// A reader that hashes everything read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The view after a chain of layers, kept for the rest of the process.
struct Applied {
    chain: Vec<String>,
    limits: Limits,
    view: View,
    budget: u64,
    notes: Vec<String>,
}

/// Images built on one base share its layers, and each image is inspected twice (SBOM,
/// image scan): with the base's chain remembered, its layers (20 MB of gzip for the Python
/// base) are parsed once per run instead of twice per service. Keyed by digests, that is by
/// content; each blob is still checked against its digest every time.
static APPLIED: std::sync::Mutex<Vec<Applied>> = std::sync::Mutex::new(Vec::new());
/// Chains remembered at most; the oldest goes first.
const APPLIED_MAX: usize = 16;

/// Apply `layers` (digests, lowest first) from the layout at `dir`, starting from the
/// longest chain of them already applied in this process.
pub(crate) fn apply(
    dir: &Path,
    layers: &[String],
    limits: Limits,
    notes: &mut Vec<String>,
) -> Result<View, InspectError> {
    let own_notes = notes.len();
    let (mut view, mut budget, done) = APPLIED
        .lock()
        .ok()
        .and_then(|memo| {
            memo.iter()
                .filter(|a| a.limits == limits && layers.starts_with(&a.chain))
                .max_by_key(|a| a.chain.len())
                .map(|a| {
                    notes.extend(a.notes.iter().cloned());
                    (a.view.clone(), a.budget, a.chain.len())
                })
        })
        .unwrap_or_else(|| (View::new(), limits.budget, 0));
    // Remembered layers are not parsed again, but their blobs here are still checked.
    for digest in &layers[..done] {
        let path = blob_path(dir, digest)?;
        let mut hashing = Hashing {
            inner: File::open(&path).map_err(|e| InspectError::io(&path, e))?,
            hasher: Sha256::new(),
        };
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| InspectError::io(&path, e))?;
        check_digest(&path, digest, hashing.hasher)?;
    }
    for digest in &layers[done..] {
        let path = blob_path(dir, digest)?;
        let file = File::open(&path).map_err(|e| InspectError::io(&path, e))?;
        let mut hashing = Hashing {
            inner: file,
            hasher: Sha256::new(),
        };
        let mut buffered = BufReader::new(&mut hashing);
        let head = buffered
            .fill_buf()
            .map_err(|e| InspectError::io(&path, e))?;
        let reader: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::GzDecoder::new(buffered))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(InspectError::Unsupported {
                path,
                reason: "zstd-compressed layers are not supported yet; build with gzip".into(),
            });
        } else {
            Box::new(buffered)
        };
        let added = apply_layer(reader, &path, &mut view, &mut budget, limits, notes)?;
        // hash what the tar reader left unread (padding, the gzip trailer)
        io::copy(&mut hashing, &mut io::sink()).map_err(|e| InspectError::io(&path, e))?;
        check_digest(&path, digest, hashing.hasher)?;
        view.extend(added);
    }
    if done < layers.len()
        && let Ok(mut memo) = APPLIED.lock()
    {
        if memo.len() >= APPLIED_MAX {
            memo.remove(0);
        }
        memo.push(Applied {
            chain: layers.to_vec(),
            limits,
            view: view.clone(),
            budget,
            notes: notes[own_notes..].to_vec(),
        });
    }
    Ok(view)
}

fn check_digest(path: &Path, digest: &str, hasher: Sha256) -> Result<(), InspectError> {
    let actual = format!("sha256:{}", hex(&hasher.finalize()));
    if actual == digest {
        Ok(())
    } else {
        Err(layout_err(
            path,
            format!("the blob's content is {actual}, not its name {digest}"),
        ))
    }
}

/// One layer's tar: whiteouts and replaced paths removed from `lower` at once, new
/// captures returned, to be laid over it once the layer is done.
fn apply_layer(
    reader: impl Read,
    path: &Path,
    lower: &mut View,
    budget: &mut u64,
    limits: Limits,
    notes: &mut Vec<String>,
) -> Result<View, InspectError> {
    let io_err = |e: io::Error| InspectError::io(path, e);
    let mut added = View::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let Some(name) = clean(&entry.path().map_err(io_err)?) else {
            continue;
        };
        let (parent, base) = name.rsplit_once('/').unwrap_or(("", &name));
        if base == ".wh..wh..opq" {
            remove_tree(lower, parent);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = if parent.is_empty() {
                hidden.to_string()
            } else {
                format!("{parent}/{hidden}")
            };
            remove_tree(lower, &target);
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue; // directories merge with the layers below
        }
        remove_tree(lower, &name);
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let executable = entry.header().mode().map_err(io_err)? & 0o111 != 0;
        let Some(want) = want(&name, executable) else {
            continue;
        };
        let size = entry.size();
        if size > limits.max_file {
            if want != Want::Exec {
                notes.push(format!(
                    "{name}: skipped, larger than {} bytes",
                    limits.max_file
                ));
            }
            continue;
        }
        if size > *budget {
            notes.push(format!(
                "{name}: skipped, the image inspection read budget ({} bytes) is spent",
                limits.budget
            ));
            continue;
        }
        match want {
            Want::Text | Want::Copyright => {
                let cap = if want == Want::Copyright {
                    COPYRIGHT_CAP
                } else {
                    limits.max_file
                };
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(cap)
                    .read_to_end(&mut bytes)
                    .map_err(io_err)?;
                *budget = budget.saturating_sub(bytes.len() as u64);
                added.insert(name, Captured::Text(bytes));
            }
            Want::Exec => {
                let (elf, read) = gobuild::scan_elf(&mut entry, limits.max_file).map_err(io_err)?;
                *budget = budget.saturating_sub(read);
                match elf {
                    Elf::Elf {
                        sha256,
                        build: Some(build),
                        ..
                    } => {
                        added.insert(name, Captured::Go { sha256, build });
                    }
                    Elf::Elf { old_go: true, .. } => notes.push(format!(
                        "{name}: a Go binary built before Go 1.18; its modules are not read"
                    )),
                    _ => {}
                }
            }
        }
    }
    Ok(added)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wanted_paths() {
        let w = |p| want(p, false);
        assert_eq!(w("var/lib/dpkg/status"), Some(Want::Text));
        assert_eq!(w("var/lib/dpkg/status.d/libc6"), Some(Want::Text));
        assert_eq!(w("var/lib/dpkg/status.d/libc6.md5sums"), None);
        assert_eq!(
            w("usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA"),
            Some(Want::Text)
        );
        assert_eq!(
            w("app/.venv/lib/python3.12/site-packages/x.dist-info/RECORD"),
            None
        );
        assert_eq!(
            w("app/node_modules/@types/node/package.json"),
            Some(Want::Text)
        );
        assert_eq!(
            w("app/node_modules/a/node_modules/b/package.json"),
            Some(Want::Text)
        );
        assert_eq!(w("app/node_modules/a/lib/package.json"), None);
        assert_eq!(w("app/package.json"), None);
        assert_eq!(w("usr/share/doc/libc6/copyright"), Some(Want::Copyright));
        assert_eq!(want("usr/bin/app", true), Some(Want::Exec));
        assert_eq!(clean(Path::new("./etc/../x")), None);
        assert_eq!(
            clean(Path::new("./etc//os-release")).unwrap(),
            "etc/os-release"
        );
    }
}
