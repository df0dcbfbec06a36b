//! Image signatures the way cosign stores them (a simple-signing payload signed by digest,
//! at tag `sha256-<hex>.sig`) and signed SLSA v1 provenance (a DSSE envelope at `.att`),
//! with ed25519 or ECDSA P-256 keys from the workspace configuration; and their checks.

mod dsse;
mod keys;
mod payload;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::image::registry::{
    AttachmentKind, AttachmentLayer, Reference, RegistryClient, RegistryError, attachment_tag,
};
pub use dsse::{Envelope, EnvelopeCheck, EnvelopeSignature, IN_TOTO_PAYLOAD_TYPE, pae};
pub use keys::{KeyKind, PublicKey, SIGNING_KEY_CONFIG, SigningKey, generate_keypair};
pub use payload::{
    BUILD_TYPE, COSIGN_SIGNATURE_TYPE, DSSE_MEDIA_TYPE, KEY_ID_ANNOTATION, Provenance,
    ProvenanceInput, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SLSA_PREDICATE_TYPE,
    STATEMENT_TYPE, SimpleSigning, parse_simple_signing, provenance_statement,
    simple_signing_payload, statement_covers,
};

/// An error while signing.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key file cannot be read.
    #[error(
        "cannot read the signing key {} ({detail}); set `[image] signing_key` in isect.toml \
         to a PEM private key file, or create one with `isect image keygen`",
        path.display()
    )]
    MissingKey {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// The key file is not a usable key.
    #[error(
        "the signing key {} is not usable ({detail}); `[image] signing_key` wants an ed25519 \
         or ECDSA P-256 PEM key, as `isect image keygen` writes",
        path.display()
    )]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Encoding a key or document failed.
    #[error("{0}")]
    Encode(String),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Why an image does not verify; deploys refuse it.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Nothing at the signature tag.
    #[error(
        "{image} ({digest}) is unsigned: nothing at tag {tag}; sign it with `isect image sign`"
    )]
    Unsigned {
        /// The image as asked for.
        image: String,
        /// Its current digest.
        digest: String,
        /// The cosign tag looked at.
        tag: String,
    },
    /// A signature claims this key but does not verify: tampered or corrupt.
    #[error("{image}: bad signature ({detail})")]
    BadSignature {
        /// The image as asked for.
        image: String,
        /// What failed.
        detail: String,
    },
    /// A valid signature is over another image digest (or the tag moved).
    #[error("{image}: digest mismatch: the signature is for {signed}, but the image is {actual}")]
    DigestMismatch {
        /// The image as asked for.
        image: String,
        /// The digest that was signed (or pinned).
        signed: String,
        /// The digest the registry now serves.
        actual: String,
    },
    /// Signatures exist, but all by other keys.
    #[error("{image}: signed, but not by the key {key_id}")]
    WrongKey {
        /// The image as asked for.
        image: String,
        /// The key id that was expected.
        key_id: String,
    },
    /// The image is signed but has no valid SLSA provenance attestation.
    #[error("{image}: no SLSA provenance attestation at tag {tag}")]
    NoProvenance {
        /// The image as asked for.
        image: String,
        /// The cosign tag looked at.
        tag: String,
    },
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What [`sign_image`] attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignReport {
    /// The signed image digest.
    pub digest: String,
    /// The key id (`sha256:` of its SPKI DER).
    pub key_id: String,
    /// The signature tag (`sha256-<hex>.sig`) and its manifest digest.
    pub signature: (String, String),
    /// The attestation tag (`sha256-<hex>.att`) and its manifest digest.
    pub attestation: (String, String),
}

/// What [`verify_image`] established.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The verified image digest.
    pub digest: String,
    /// The key that signed it.
    pub key_id: String,
    /// The signed `docker-reference`.
    pub docker_reference: String,
    /// The verified SLSA provenance statement.
    pub provenance: serde_json::Value,
}

/// Signs `image` (its digest, resolved from the tag when not pinned) with `key` and
/// attaches the signed SLSA provenance statement.
pub async fn sign_image(
    client: &RegistryClient,
    image: &Reference,
    key: &SigningKey,
    provenance: &Provenance,
) -> Result<SignReport, SignError> {
    let repo = &image.repository;
    let digest = match &image.digest {
        Some(d) => d.clone(),
        None => client.get_manifest(repo, image.reference()).await?.digest,
    };
    let key_id = key.public_key().key_id();
    let annotations = |extra: (&str, String)| {
        BTreeMap::from([
            (extra.0.to_string(), extra.1),
            (KEY_ID_ANNOTATION.to_string(), key_id.clone()),
        ])
    };
    let payload = simple_signing_payload(&image.name(), &digest, &BTreeMap::new());
    let sig = STANDARD.encode(key.sign(&payload));
    let layer = AttachmentLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
        data: payload,
        annotations: annotations((SIGNATURE_ANNOTATION, sig)),
    };
    let sig_manifest = client
        .attach(repo, &digest, AttachmentKind::Signature, vec![layer])
        .await?;

    let statement = provenance_statement(&image.name(), &digest, provenance);
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_string().as_bytes(), key);
    let data = serde_json::to_vec(&envelope).map_err(|e| SignError::Encode(e.to_string()))?;
    let mut att_annotations = annotations(("predicateType", SLSA_PREDICATE_TYPE.to_string()));
    // Cosign marks attestation layers with an empty signature annotation: the signature is
    // inside the envelope.
    att_annotations.insert(SIGNATURE_ANNOTATION.into(), String::new());
    let layer = AttachmentLayer {
        media_type: DSSE_MEDIA_TYPE.into(),
        data,
        annotations: att_annotations,
    };
    let att_manifest = client
        .attach(repo, &digest, AttachmentKind::Attestation, vec![layer])
        .await?;
    Ok(SignReport {
        signature: (
            attachment_tag(&digest, AttachmentKind::Signature)?,
            sig_manifest,
        ),
        attestation: (
            attachment_tag(&digest, AttachmentKind::Attestation)?,
            att_manifest,
        ),
        digest,
        key_id,
    })
}

/// Checks that `image` as the registry serves it now is signed by `key` and carries
/// provenance signed by `key` about that same digest. A reference with both a tag and a
/// digest also requires the tag to still point at that digest.
pub async fn verify_image(
    client: &RegistryClient,
    image: &Reference,
    key: &PublicKey,
) -> Result<Verified, VerifyError> {
    let repo = &image.repository;
    let shown = image.to_string();
    let actual = match (&image.tag, &image.digest) {
        (Some(tag), pinned) => {
            let now = client.get_manifest(repo, tag).await?.digest;
            if let Some(p) = pinned.as_ref().filter(|p| **p != now) {
                return Err(VerifyError::DigestMismatch {
                    image: shown,
                    signed: p.clone(),
                    actual: now,
                });
            }
            now
        }
        (None, _) => client.get_manifest(repo, image.reference()).await?.digest,
    };
    let key_id = key.key_id();

    // The signature: any layer by this key over a payload naming this digest will do.
    let tag = attachment_tag(&actual, AttachmentKind::Signature)?;
    let layers: Vec<_> = client
        .attachments(repo, &actual, AttachmentKind::Signature)
        .await?
        .into_iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .collect();
    if layers.is_empty() {
        return Err(VerifyError::Unsigned {
            image: shown,
            digest: actual,
            tag,
        });
    }
    let mut failure = None;
    let mut signed = None;
    for layer in &layers {
        let valid = layer
            .annotations
            .get(SIGNATURE_ANNOTATION)
            .and_then(|s| STANDARD.decode(s).ok())
            .is_some_and(|s| key.verify(&layer.data, &s));
        if !valid {
            let other_key = layer
                .annotations
                .get(KEY_ID_ANNOTATION)
                .is_some_and(|k| *k != key_id);
            keep_worst(
                &mut failure,
                if other_key {
                    wrong_key(&shown, &key_id)
                } else {
                    bad_signature(
                        &shown,
                        "the signature does not match the payload under this key",
                    )
                },
            );
            continue;
        }
        match parse_simple_signing(&layer.data) {
            Ok(p) if p.digest == actual => {
                signed = Some(p);
                break;
            }
            Ok(p) => keep_worst(
                &mut failure,
                VerifyError::DigestMismatch {
                    image: shown.clone(),
                    signed: p.digest,
                    actual: actual.clone(),
                },
            ),
            Err(detail) => keep_worst(&mut failure, bad_signature(&shown, &detail)),
        }
    }
    let Some(signed) = signed else {
        return Err(failure.unwrap_or(VerifyError::Unsigned {
            image: shown,
            digest: actual,
            tag,
        }));
    };

    // The provenance: a DSSE envelope by this key whose statement's subject is this digest.
    let att_tag = attachment_tag(&actual, AttachmentKind::Attestation)?;
    let mut failure = None;
    for layer in client
        .attachments(repo, &actual, AttachmentKind::Attestation)
        .await?
        .into_iter()
        .filter(|l| l.media_type == DSSE_MEDIA_TYPE)
    {
        let envelope: Envelope = match serde_json::from_slice(&layer.data) {
            Ok(e) => e,
            Err(e) => {
                let detail = format!("the attestation is not a DSSE envelope: {e}");
                keep_worst(&mut failure, bad_signature(&shown, &detail));
                continue;
            }
        };
        let statement = match envelope.verify(key) {
            Ok(p) if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE => {
                serde_json::from_slice::<serde_json::Value>(&p).unwrap_or_default()
            }
            Ok(_) => continue,
            Err(check) => {
                let e = match check {
                    EnvelopeCheck::WrongKey => wrong_key(&shown, &key_id),
                    EnvelopeCheck::BadSignature => bad_signature(
                        &shown,
                        "the provenance attestation's signature does not verify",
                    ),
                    EnvelopeCheck::Malformed(detail) => bad_signature(&shown, &detail),
                };
                keep_worst(&mut failure, e);
                continue;
            }
        };
        if statement_covers(&statement, &actual) {
            return Ok(Verified {
                digest: actual,
                key_id,
                docker_reference: signed.docker_reference,
                provenance: statement,
            });
        }
        let subject = statement["subject"][0]["digest"]["sha256"]
            .as_str()
            .unwrap_or("none");
        let e = VerifyError::DigestMismatch {
            image: shown.clone(),
            signed: format!("sha256:{subject}"),
            actual: actual.clone(),
        };
        keep_worst(&mut failure, e);
    }
    Err(failure.unwrap_or(VerifyError::NoProvenance {
        image: shown,
        tag: att_tag,
    }))
}

fn wrong_key(image: &str, key_id: &str) -> VerifyError {
    VerifyError::WrongKey {
        image: image.to_string(),
        key_id: key_id.to_string(),
    }
}

fn bad_signature(image: &str, detail: &str) -> VerifyError {
    VerifyError::BadSignature {
        image: image.to_string(),
        detail: detail.to_string(),
    }
}

/// Of several failing layers, reports the most telling: a valid signature over another
/// digest, then a signature claiming this key that fails, then one by another key.
fn keep_worst(slot: &mut Option<VerifyError>, e: VerifyError) {
    let rank = |e: &VerifyError| match e {
        VerifyError::DigestMismatch { .. } => 3,
        VerifyError::BadSignature { .. } => 2,
        VerifyError::WrongKey { .. } => 1,
        _ => 0,
    };
    if slot.as_ref().is_none_or(|old| rank(&e) > rank(old)) {
        *slot = Some(e);
    }
}
