//! Signed envelopes for remote action records: HMAC-SHA256 or ed25519 over a
//! domain-separated message, so a record is only trusted when a holder of the key wrote it
//! for exactly this step key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::RemoteError;
use crate::cache::StepKey;

/// The shortest HMAC key accepted, in bytes.
pub const MIN_HMAC_KEY: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// How remote records are signed and checked.
// Made once per run, so the size of the ed25519 variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Signing {
    /// A shared secret (≥ 32 bytes): whoever can read can also write.
    Hmac(Vec<u8>),
    /// A key pair: writers hold the private key, readers (pull requests) only the public one.
    Ed25519 {
        signing: Option<SigningKey>,
        verifying: VerifyingKey,
    },
}

impl std::fmt::Debug for Signing {
    // Never print a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signing({} {})", self.alg(), self.key_id())
    }
}

/// What `ac/<key-hex>` holds on the remote.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The `ActionRecord` JSON, as a string so the signed bytes are exactly these.
    pub(crate) record: String,
    #[serde(default)]
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) key_id: String,
    #[serde(default)]
    pub(crate) sig: Option<String>,
}

fn bad(message: impl Into<String>) -> RemoteError {
    RemoteError::Signature(message.into())
}

/// The signed bytes: a version tag, the step key and the record, separated by NULs so no
/// record can be replayed under another key or read as another kind of message.
fn message(key: &StepKey, record: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(record.len() + 84);
    m.extend_from_slice(b"isect-cache-v1\0");
    m.extend_from_slice(key.to_hex().as_bytes());
    m.push(0);
    m.extend_from_slice(record);
    m
}

impl Signing {
    /// The algorithm name written in envelopes.
    #[must_use]
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Hmac(_) => "hmac-sha256",
            Self::Ed25519 { .. } => "ed25519",
        }
    }

    /// A short public name for the key: enough to tell keys apart, nothing about a secret.
    #[must_use]
    pub fn key_id(&self) -> String {
        let mut hasher = Sha256::new();
        match self {
            Self::Hmac(secret) => {
                hasher.update(b"isect-cache-hmac-key-id\0");
                hasher.update(secret);
            }
            Self::Ed25519 { verifying, .. } => hasher.update(verifying.as_bytes()),
        }
        let digest = hasher.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether this can sign (ed25519 with only a public key cannot).
    #[must_use]
    pub fn can_sign(&self) -> bool {
        !matches!(self, Self::Ed25519 { signing: None, .. })
    }

    fn mac(secret: &[u8]) -> Result<HmacSha256, RemoteError> {
        <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|e| bad(format!("hmac key: {e}")))
    }

    /// Wraps `record` (JSON bytes) for `key` in a signed envelope.
    pub(crate) fn seal(&self, key: &StepKey, record: String) -> Result<Envelope, RemoteError> {
        let msg = message(key, record.as_bytes());
        let sig = match self {
            Self::Hmac(secret) => {
                let mut mac = Self::mac(secret)?;
                mac.update(&msg);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Ed25519 {
                signing: Some(signing),
                ..
            } => signing.sign(&msg).to_bytes().to_vec(),
            Self::Ed25519 { signing: None, .. } => {
                return Err(bad(
                    "no ed25519 private key (ISECT_CACHE_SIGNING_KEY) to sign with",
                ));
            }
        };
        Ok(Envelope {
            record,
            alg: self.alg().to_string(),
            key_id: self.key_id(),
            sig: Some(B64.encode(sig)),
        })
    }

    /// Checks `envelope`'s signature for `key` and returns the record bytes it vouches for.
    pub(crate) fn open<'e>(
        &self,
        key: &StepKey,
        envelope: &'e Envelope,
    ) -> Result<&'e [u8], RemoteError> {
        let Some(sig) = envelope.sig.as_deref().filter(|s| !s.is_empty()) else {
            return Err(bad("the remote record is unsigned"));
        };
        if envelope.alg != self.alg() {
            return Err(bad(format!(
                "the remote record is signed with `{}`, expected {}",
                envelope.alg,
                self.alg()
            )));
        }
        let sig = B64
            .decode(sig)
            .map_err(|_| bad("the remote record's signature is not base64"))?;
        let msg = message(key, envelope.record.as_bytes());
        let ok = match self {
            Self::Hmac(secret) => {
                let mut mac = Self::mac(secret)?;
                mac.update(&msg);
                // Constant-time comparison.
                mac.verify_slice(&sig).is_ok()
            }
            Self::Ed25519 { verifying, .. } => ed25519_dalek::Signature::from_slice(&sig)
                .is_ok_and(|s| verifying.verify(&msg, &s).is_ok()),
        };
        if !ok {
            let by = if envelope.key_id == self.key_id() {
                String::new()
            } else {
                format!(
                    " (signed by key {}, trusted key {})",
                    envelope.key_id,
                    self.key_id()
                )
            };
            return Err(bad(format!("the remote record's signature is wrong{by}")));
        }
        Ok(envelope.record.as_bytes())
    }
}

/// Parses an HMAC key given as hex or base64; refuses keys under 32 bytes.
pub(super) fn parse_hmac_key(text: &str) -> Result<Vec<u8>, RemoteError> {
    let text = text.trim();
    let bytes = decode_hex(text)
        .or_else(|| B64.decode(text).ok())
        .or_else(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()
        })
        .ok_or_else(|| {
            RemoteError::Config("ISECT_CACHE_HMAC_KEY is neither hex nor base64".into())
        })?;
    if bytes.len() < MIN_HMAC_KEY {
        return Err(RemoteError::Config(format!(
            "ISECT_CACHE_HMAC_KEY is {} bytes; a cache key needs at least {MIN_HMAC_KEY} \
             (e.g. `openssl rand -hex 32`)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Reads an ed25519 PKCS#8 private key (PEM) from `path`.
pub(super) fn read_signing_key(path: &str) -> Result<SigningKey, RemoteError> {
    let pem = read(path, "ISECT_CACHE_SIGNING_KEY")?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        RemoteError::Config(format!(
            "ISECT_CACHE_SIGNING_KEY {path}: not an ed25519 PKCS#8 PEM key ({e})"
        ))
    })
}

/// Reads an ed25519 public key (SPKI PEM) from `path`.
pub(super) fn read_verifying_key(path: &str) -> Result<VerifyingKey, RemoteError> {
    let pem = read(path, "ISECT_CACHE_VERIFY_KEY")?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
        RemoteError::Config(format!(
            "ISECT_CACHE_VERIFY_KEY {path}: not an ed25519 public key PEM ({e})"
        ))
    })
}

fn read(path: &str, var: &str) -> Result<String, RemoteError> {
    std::fs::read_to_string(path)
        .map_err(|e| RemoteError::Config(format!("{var}: cannot read {path}: {e}")))
}
