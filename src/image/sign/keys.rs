//! Signing keys: ed25519 or ECDSA P-256, read from PEM (PKCS#8, SEC1, SPKI) and made
//! fresh for `isect image keygen`.

use std::io::Read as _;
use std::path::Path;

use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};

use super::SignError;
use crate::image::registry::sha256_digest;

/// The workspace configuration key naming the private key file.
pub const SIGNING_KEY_CONFIG: &str = "[image] signing_key";

/// Which signature algorithm a key uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256, DER signatures (cosign's default).
    EcdsaP256,
}

impl std::str::FromStr for KeyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(KeyKind::Ed25519),
            "ecdsa" | "p256" | "p-256" | "ecdsa-p256" => Ok(KeyKind::EcdsaP256),
            _ => Err(format!(
                "unknown key kind `{s}`: expected ed25519 or ecdsa-p256"
            )),
        }
    }
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A private key that signs images and provenance.
pub struct SigningKey(Secret);

/// A public key that verifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An ECDSA P-256 key.
    EcdsaP256(p256::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for SigningKey {
    // The secret stays out of logs; the key id is enough to tell keys apart.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey({:?}, {})",
            self.kind(),
            self.public_key().key_id()
        )
    }
}

impl SigningKey {
    /// Parses a PEM private key: PKCS#8 `PRIVATE KEY` (ed25519 or P-256) or SEC1
    /// `EC PRIVATE KEY` (P-256).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            return p256::SecretKey::from_sec1_pem(pem)
                .map(|k| SigningKey(Secret::P256(k.into())))
                .map_err(|e| format!("not a P-256 SEC1 key: {e}"));
        }
        if pem.contains("ENCRYPTED") {
            return Err(
                "encrypted keys (including cosign's own format) are not supported; \
                        use an unencrypted PKCS#8 key"
                    .into(),
            );
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey(Secret::Ed25519(k)));
        }
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(|k| SigningKey(Secret::P256(k)))
            .map_err(|e| format!("not an ed25519 or P-256 PKCS#8 private key: {e}"))
    }

    /// Reads the key at `path`; errors name the file and the `[image] signing_key` setting.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        load_pem(path, Self::from_pem)
    }

    /// The key's algorithm.
    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            Secret::Ed25519(_) => KeyKind::Ed25519,
            Secret::P256(_) => KeyKind::EcdsaP256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match &self.0 {
            Secret::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            Secret::P256(k) => PublicKey::EcdsaP256(*k.verifying_key()),
        }
    }

    /// Signs `message`: raw 64 bytes for ed25519, ASN.1 DER over SHA-256 for P-256 (as
    /// cosign does).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.0 {
            Secret::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(message).to_bytes().to_vec()
            }
            Secret::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, SignError> {
        let pem = match &self.0 {
            Secret::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
            Secret::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
        };
        pem.map(|p| p.to_string())
            .map_err(|e| SignError::Encode(format!("cannot encode the private key: {e}")))
    }
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), ed25519 or P-256.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            return Ok(PublicKey::Ed25519(k));
        }
        p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map(PublicKey::EcdsaP256)
            .map_err(|e| format!("not an ed25519 or P-256 public key: {e}"))
    }

    /// Reads the public key at `path`.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        load_pem(path, Self::from_pem)
    }

    /// The key as SPKI PEM.
    pub fn to_pem(&self) -> Result<String, SignError> {
        match self {
            PublicKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::EcdsaP256(k) => k.to_public_key_pem(LineEnding::LF),
        }
        .map_err(|e| SignError::Encode(format!("cannot encode the public key: {e}")))
    }

    /// `sha256:<hex>` of the SPKI DER: names the key in annotations and DSSE `keyid`.
    pub fn key_id(&self) -> String {
        let der = match self {
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::EcdsaP256(k) => k.to_public_key_der(),
        };
        // Encoding a valid in-memory key cannot fail; an empty id would just match nothing.
        der.map(|d| sha256_digest(d.as_bytes())).unwrap_or_default()
    }

    /// True when `signature` is this key's signature over `message`. P-256 signatures are
    /// DER (cosign) or fixed 64-byte r||s.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
            PublicKey::EcdsaP256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                p256::ecdsa::Signature::from_der(signature)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                    .is_ok_and(|s| k.verify(message, &s).is_ok())
            }
        }
    }
}

/// A new key pair as `(private PKCS#8 PEM, public SPKI PEM)`; the seed comes from the
/// operating system's `/dev/urandom`.
pub fn generate_keypair(kind: KeyKind) -> Result<(String, String), SignError> {
    let key = loop {
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| SignError::Encode(format!("cannot read /dev/urandom: {e}")))?;
        match kind {
            KeyKind::Ed25519 => {
                break SigningKey(Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                    &seed,
                )));
            }
            // A seed of zero or at least the group order is rejected: draw again.
            KeyKind::EcdsaP256 => {
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&seed) {
                    break SigningKey(Secret::P256(k));
                }
            }
        }
    };
    Ok((key.to_pem()?, key.public_key().to_pem()?))
}

/// Reads the PEM file at `path` and parses it; errors name the file.
fn load_pem<K>(path: &Path, parse: impl Fn(&str) -> Result<K, String>) -> Result<K, SignError> {
    let text = std::fs::read_to_string(path).map_err(|e| SignError::MissingKey {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    parse(&text).map_err(|detail| SignError::BadKey {
        path: path.to_path_buf(),
        detail,
    })
}
