//! What can go wrong talking to a registry, each with a message a user can act on.

use std::path::PathBuf;

/// An error from the registry client.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The image reference does not parse.
    #[error("invalid image reference `{reference}`: {reason}")]
    BadReference {
        /// The text given.
        reference: String,
        /// Why it is rejected.
        reason: String,
    },
    /// Nothing answers at the registry's address.
    #[error(
        "cannot reach the registry at {registry} ({detail}); start one (e.g. `docker-registry` \
         from Debian's docker-registry package, or `docker run -p 5000:5000 registry:2`) or fix \
         `[image] registry` in isect.toml"
    )]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The transport error.
        detail: String,
    },
    /// 401/403: missing or rejected credentials.
    #[error(
        "the registry {registry} refused access to {what} ({status}{message}); set \
         ISECT_REGISTRY_USER and ISECT_REGISTRY_PASSWORD or run `docker login {registry}`"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What was being done, e.g. `push of platform/auth manifest`.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's own error message, prefixed with `: `, or empty.
        message: String,
    },
    /// Any other 4xx/5xx, with the registry's `errors[].code: message` text.
    #[error("the registry {registry} refused {what} ({status}): {message}")]
    Refused {
        /// The registry host.
        registry: String,
        /// What was being done.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error codes and messages.
        message: String,
    },
    /// A manifest or blob does not exist.
    #[error("{what} not found in the registry {registry}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
    },
    /// Content does not hash to the digest it was asked for or announced with.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// An OCI image layout on disk is missing a file or malformed.
    #[error("OCI layout {}: {message}", path.display())]
    Layout {
        /// The file or folder at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The registry answered something that does not follow the distribution API.
    #[error("the registry {registry} answered unexpectedly: {message}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What was unexpected.
        message: String,
    },
}

/// Renders a registry error body `{"errors":[{"code","message"}]}` as `CODE: message; …`,
/// falling back to the raw text (cut short) for registries that answer otherwise.
pub(crate) fn error_body_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body)
        && !b.errors.is_empty()
    {
        return b
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no error details".to_string()
    } else {
        text.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_registry_error_json() {
        let body = br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"}]}"#;
        assert_eq!(
            error_body_message(body),
            "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"
        );
        assert_eq!(error_body_message(b"  oops \n"), "oops");
        assert_eq!(error_body_message(b""), "no error details");
    }
}
