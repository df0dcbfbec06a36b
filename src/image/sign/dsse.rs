//! DSSE envelopes (Dead Simple Signing Envelope v1): the pre-authentication encoding and
//! signing/verifying an in-toto statement inside one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::keys::{PublicKey, SigningKey};

/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// PAE(type, body) = `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in
/// ASCII decimal bytes: what is actually signed, so a payload cannot pose as another type.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload's media type.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The payload, standard base64.
    pub payload: String,
    /// One or more signatures over `pae(payload_type, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The signer's key id (isect: `sha256:` of the SPKI DER; may be empty).
    #[serde(default)]
    pub keyid: String,
    /// The signature, standard base64.
    pub sig: String,
}

/// Why an envelope does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeCheck {
    /// No signature verifies, and at least one claims to be from this key (or names none).
    BadSignature,
    /// No signature verifies, and every one names another key.
    WrongKey,
    /// The envelope does not decode.
    Malformed(String),
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `key`.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        Envelope {
            payload_type: payload_type.to_string(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: key.public_key().key_id(),
                sig: STANDARD.encode(key.sign(&pae(payload_type, payload))),
            }],
        }
    }

    /// The payload bytes when some signature verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>, EnvelopeCheck> {
        let payload = STANDARD
            .decode(&self.payload)
            .map_err(|e| EnvelopeCheck::Malformed(format!("payload is not base64: {e}")))?;
        let message = pae(&self.payload_type, &payload);
        let key_id = key.key_id();
        let mut ours = false;
        for s in &self.signatures {
            ours |= s.keyid.is_empty() || s.keyid == key_id;
            if let Ok(sig) = STANDARD.decode(&s.sig)
                && key.verify(&message, &sig)
            {
                return Ok(payload);
            }
        }
        Err(if ours || self.signatures.is_empty() {
            EnvelopeCheck::BadSignature
        } else {
            EnvelopeCheck::WrongKey
        })
    }
}
