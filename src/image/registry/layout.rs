//! Pushing an OCI image layout folder (`oci-layout`, `index.json`, `blobs/sha256/<hex>`):
//! blobs the registry lacks, then manifests by digest, then tags.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::{
    DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, RegistryClient, RegistryError, sha256_digest,
};

/// What [`RegistryClient::push_layout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The digest of the pushed top manifest (the image's content digest).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Blobs sent to the registry.
    pub blobs_uploaded: usize,
    /// Blobs the registry already had.
    pub blobs_skipped: usize,
    /// The registry already had the manifest, so no blob was looked at.
    pub already_present: bool,
    /// Tags that were set or moved to this digest (tags already there are left alone).
    pub tags_set: Vec<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// A manifest to put, in the order children before parents.
struct Planned {
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
}

impl RegistryClient {
    /// Pushes the first image in `layout_dir`'s `index.json` to `repo` and tags it with
    /// each of `tags`. When the registry already has that manifest digest, nothing but
    /// missing tags is sent and the report says `already_present`.
    pub async fn push_layout(
        &self,
        layout_dir: &Path,
        repo: &str,
        tags: &[String],
    ) -> Result<PushReport, RegistryError> {
        let index_path = layout_dir.join("index.json");
        let index_bytes = std::fs::read(&index_path).map_err(|e| RegistryError::Layout {
            path: index_path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let index: ManifestDoc =
            serde_json::from_slice(&index_bytes).map_err(|e| RegistryError::Layout {
                path: index_path.clone(),
                message: format!("not an OCI index: {e}"),
            })?;
        let top = index
            .manifests
            .first()
            .ok_or_else(|| RegistryError::Layout {
                path: index_path.clone(),
                message: "lists no manifest".into(),
            })?;
        let top_bytes = read_blob(layout_dir, &top.digest)?;
        let top_type = manifest_media_type(top, &top_bytes);

        let already_present = self.has_manifest(repo, &top.digest).await?;
        let (mut uploaded, mut skipped) = (0, 0);
        if !already_present {
            let mut blobs = Vec::new();
            let mut manifests = Vec::new();
            plan(layout_dir, top, &mut blobs, &mut manifests, 0)?;
            let mut seen = BTreeSet::new();
            for digest in blobs {
                if !seen.insert(digest.clone()) {
                    continue;
                }
                if self.has_blob(repo, &digest).await? {
                    skipped += 1;
                } else {
                    let data = read_blob(layout_dir, &digest)?;
                    self.push_blob(repo, &digest, &data).await?;
                    uploaded += 1;
                }
            }
            for m in &manifests {
                self.put_manifest(repo, &m.digest, &m.media_type, &m.bytes)
                    .await?;
            }
        }
        let mut tags_set = Vec::new();
        for tag in tags {
            let current = self.manifest_digest(repo, tag).await?;
            if current.as_deref() != Some(top.digest.as_str()) {
                self.put_manifest(repo, tag, &top_type, &top_bytes).await?;
                tags_set.push(tag.clone());
            }
        }
        Ok(PushReport {
            digest: top.digest.clone(),
            media_type: top_type,
            blobs_uploaded: uploaded,
            blobs_skipped: skipped,
            already_present,
            tags_set,
        })
    }
}

/// Collects the blobs under `desc` and its manifests, children first (the registry refuses
/// a manifest whose blobs or child manifests it does not have yet).
fn plan(
    dir: &Path,
    desc: &Descriptor,
    blobs: &mut Vec<String>,
    manifests: &mut Vec<Planned>,
    depth: usize,
) -> Result<(), RegistryError> {
    if depth > 4 {
        return Err(RegistryError::Layout {
            path: dir.to_path_buf(),
            message: "indexes nest too deeply".into(),
        });
    }
    let bytes = read_blob(dir, &desc.digest)?;
    let doc: ManifestDoc = serde_json::from_slice(&bytes).map_err(|e| RegistryError::Layout {
        path: blob_path(dir, &desc.digest),
        message: format!("not a manifest: {e}"),
    })?;
    let media_type = manifest_media_type(desc, &bytes);
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        for child in &doc.manifests {
            plan(dir, child, blobs, manifests, depth + 1)?;
        }
    } else {
        blobs.extend(doc.config.iter().map(|c| c.digest.clone()));
        blobs.extend(doc.layers.iter().map(|l| l.digest.clone()));
    }
    manifests.push(Planned {
        digest: desc.digest.clone(),
        media_type,
        bytes,
    });
    Ok(())
}

fn manifest_media_type(desc: &Descriptor, bytes: &[u8]) -> String {
    if !desc.media_type.is_empty() {
        return desc.media_type.clone();
    }
    serde_json::from_slice::<ManifestDoc>(bytes)
        .ok()
        .and_then(|d| d.media_type)
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

fn blob_path(dir: &Path, digest: &str) -> std::path::PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    dir.join("blobs").join(alg).join(hex)
}

/// Reads a blob of the layout and checks it hashes to its name.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>, RegistryError> {
    let path = blob_path(dir, digest);
    super::validate_digest(digest).map_err(|message| RegistryError::Layout {
        path: path.clone(),
        message,
    })?;
    let data = std::fs::read(&path).map_err(|e| RegistryError::Layout {
        path: path.clone(),
        message: format!("cannot read blob: {e}"),
    })?;
    let actual = sha256_digest(&data);
    if actual != digest {
        return Err(RegistryError::DigestMismatch {
            what: format!("layout blob {}", path.display()),
            expected: digest.to_string(),
            actual,
        });
    }
    Ok(data)
}
