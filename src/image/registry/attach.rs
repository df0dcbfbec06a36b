//! Cosign's tag scheme for things attached to an image: the signature at tag
//! `sha256-<hex>.sig`, the SBOM at `.sbom`, attestations at `.att`, each an OCI manifest
//! whose layers are the payloads (registry 2.8 has no OCI 1.1 referrers API).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{OCI_MANIFEST, RegistryClient, RegistryError, sha256_digest, validate_digest};

/// What is attached to an image, and so which tag suffix it lives under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// Cosign simple-signing signatures (`.sig`).
    Signature,
    /// A software bill of materials (`.sbom`).
    Sbom,
    /// DSSE-wrapped in-toto attestations (`.att`).
    Attestation,
}

impl AttachmentKind {
    /// The tag suffix cosign uses for this kind.
    pub fn suffix(self) -> &'static str {
        match self {
            AttachmentKind::Signature => "sig",
            AttachmentKind::Sbom => "sbom",
            AttachmentKind::Attestation => "att",
        }
    }
}

/// The tag holding `kind` for the image `digest`: `sha256:ab…` → `sha256-ab….sig`.
pub fn attachment_tag(digest: &str, kind: AttachmentKind) -> Result<String, RegistryError> {
    validate_digest(digest).map_err(|reason| RegistryError::BadReference {
        reference: digest.to_string(),
        reason,
    })?;
    Ok(format!(
        "{}.{}",
        digest.replacen(':', "-", 1),
        kind.suffix()
    ))
}

/// One payload of an attachment manifest, with its layer annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentLayer {
    /// The layer media type, e.g. `application/vnd.dev.cosign.simplesigning.v1+json`.
    pub media_type: String,
    /// The payload bytes.
    pub data: Vec<u8>,
    /// Layer annotations, e.g. `dev.cosignproject.cosign/signature`.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Desc {
    media_type: String,
    size: u64,
    digest: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest {
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    config: Desc,
    layers: Vec<Desc>,
}

impl RegistryClient {
    /// Attaches `layers` to image `subject_digest` in `repo` under cosign's tag. Signatures
    /// and attestations are appended to what is there (several keys may sign), skipping
    /// identical layers; an SBOM replaces the previous one. Returns the manifest digest.
    pub async fn attach(
        &self,
        repo: &str,
        subject_digest: &str,
        kind: AttachmentKind,
        layers: Vec<AttachmentLayer>,
    ) -> Result<String, RegistryError> {
        let tag = attachment_tag(subject_digest, kind)?;
        let mut descs = Vec::new();
        if kind != AttachmentKind::Sbom {
            match self.get_manifest(repo, &tag).await {
                Ok(m) => descs = parse_manifest(self, &m.bytes)?.layers,
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        for layer in layers {
            let digest = sha256_digest(&layer.data);
            let desc = Desc {
                media_type: layer.media_type,
                size: layer.data.len() as u64,
                digest: digest.clone(),
                annotations: layer.annotations,
            };
            if descs.contains(&desc) {
                continue;
            }
            if !self.has_blob(repo, &digest).await? {
                self.push_blob(repo, &digest, &layer.data).await?;
            }
            descs.push(desc);
        }
        // Cosign's config: an empty image config whose rootfs lists the layers.
        let config = serde_json::json!({
            "architecture": "",
            "config": {},
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": descs.iter().map(|d| d.digest.clone()).collect::<Vec<_>>()},
        });
        let config = serde_json::to_vec(&config).map_err(|e| self.protocol(e.to_string()))?;
        let config_digest = sha256_digest(&config);
        if !self.has_blob(repo, &config_digest).await? {
            self.push_blob(repo, &config_digest, &config).await?;
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST.to_string(),
            config: Desc {
                media_type: "application/vnd.oci.image.config.v1+json".into(),
                size: config.len() as u64,
                digest: config_digest,
                annotations: BTreeMap::new(),
            },
            layers: descs,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| self.protocol(e.to_string()))?;
        self.put_manifest(repo, &tag, OCI_MANIFEST, &bytes).await
    }

    /// The layers attached to `subject_digest` as `kind`, each blob fetched and checked;
    /// empty when nothing is attached.
    pub async fn attachments(
        &self,
        repo: &str,
        subject_digest: &str,
        kind: AttachmentKind,
    ) -> Result<Vec<AttachmentLayer>, RegistryError> {
        let tag = attachment_tag(subject_digest, kind)?;
        let manifest = match self.get_manifest(repo, &tag).await {
            Ok(m) => m,
            Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for desc in parse_manifest(self, &manifest.bytes)?.layers {
            let data = self.get_blob(repo, &desc.digest).await?;
            out.push(AttachmentLayer {
                media_type: desc.media_type,
                data,
                annotations: desc.annotations,
            });
        }
        Ok(out)
    }

    /// Attaches a CycloneDX JSON SBOM to image `subject_digest` (tag `sha256-<hex>.sbom`).
    pub async fn attach_sbom(
        &self,
        repo: &str,
        subject_digest: &str,
        sbom_json: &[u8],
    ) -> Result<String, RegistryError> {
        let layer = AttachmentLayer {
            media_type: "application/vnd.cyclonedx+json".into(),
            data: sbom_json.to_vec(),
            annotations: BTreeMap::new(),
        };
        self.attach(repo, subject_digest, AttachmentKind::Sbom, vec![layer])
            .await
    }
}

fn parse_manifest(client: &RegistryClient, bytes: &[u8]) -> Result<ImageManifest, RegistryError> {
    serde_json::from_slice(bytes)
        .map_err(|e| client.protocol(format!("an attachment manifest does not parse: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_tag_names() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let hex = "ab".repeat(32);
        assert_eq!(
            attachment_tag(&d, AttachmentKind::Signature).ok(),
            Some(format!("sha256-{hex}.sig"))
        );
        assert_eq!(
            attachment_tag(&d, AttachmentKind::Sbom).ok(),
            Some(format!("sha256-{hex}.sbom"))
        );
        assert_eq!(
            attachment_tag(&d, AttachmentKind::Attestation).ok(),
            Some(format!("sha256-{hex}.att"))
        );
        assert!(attachment_tag("latest", AttachmentKind::Signature).is_err());
    }
}
