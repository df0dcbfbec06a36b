//! Secrets for steps: where a `secret("NAME")` comes from, the value it holds, and how
//! it stays out of cache keys, the cache and every log, event and report.
//!
//! - [`SecretRef`] names a secret (`env:`, `file:` or `gcp:`) and [`resolve`] reads it.
//! - [`Secret`] holds the value: no `Display`, a `Debug` without the value, zeroed on drop,
//!   and [`Secret::key_digest`] for cache keys (salted with [`load_or_create_salt`]).
//! - [`Redactor`] and [`RedactingStream`] replace the value and its encodings with `***`.
//!
//! Resolving is blocking (a file read, or a `gcloud` child): call it off the async runtime.
//!
//! What was tested where: `gcp:` secrets are tested only against a fake `gcloud`
//! (`tests/fixtures/gcloud/gcloud`) that checks the exact command line and answers with
//! a payload and with gcloud-style `PERMISSION_DENIED` and `NOT_FOUND` errors written from
//! gcloud's documentation. Nothing here has run against a real Google Cloud project: the
//! real error texts, authentication, and gcloud's handling of non-UTF-8 payloads (its
//! documentation warns that stdout may corrupt binary secrets) are untested.

mod patterns;
mod redact;
mod salt;
mod source;

use std::fmt;
use std::path::PathBuf;

pub use redact::{REDACTED, RedactingStream, Redactor};
pub use salt::{SALT_FILE, load_or_create_salt};
pub use source::{Resolver, SecretRef, resolve};

/// Why a secret could not be named, read or salted. Messages name the secret reference
/// and the fix; they never contain a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The reference text does not parse.
    #[error(
        "invalid secret reference `{text}`: {reason} (expected `env:NAME`, `NAME`, `file:PATH`, \
         `gcp:SECRET` or `gcp:projects/P/secrets/S/versions/V`)"
    )]
    BadRef {
        /// The reference as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `env:` secret whose variable is not set.
    #[error(
        "secret `{name}`: environment variable `{var}` is not set; export it before running isect"
    )]
    EnvUnset {
        /// The secret reference.
        name: String,
        /// The variable.
        var: String,
    },
    /// A secret that resolved to nothing: it cannot be redacted, and is almost always a mistake.
    #[error("secret `{name}` is empty; set it to the real value")]
    Empty {
        /// The secret reference.
        name: String,
    },
    /// A `file:` secret that cannot be read.
    #[error(
        "secret `{name}`: cannot read `{}`: {source}; create the file or fix the path \
         (relative paths are from the workspace root)",
        path.display()
    )]
    File {
        /// The secret reference.
        name: String,
        /// The file, made absolute.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// A `gcp:SECRET` reference without a project in the environment.
    #[error(
        "secret `{name}`: no Google Cloud project; set CLOUDSDK_CORE_PROJECT or \
         GOOGLE_CLOUD_PROJECT, or write `gcp:projects/PROJECT/secrets/SECRET/versions/VERSION`"
    )]
    NoProject {
        /// The secret reference.
        name: String,
    },
    /// `gcloud` is not on PATH.
    #[error(
        "secret `{name}`: `gcloud` is not on PATH; install the Google Cloud CLI \
         (https://cloud.google.com/sdk/docs/install) and authenticate with `gcloud auth login`"
    )]
    GcloudMissing {
        /// The secret reference.
        name: String,
    },
    /// `gcloud` could not be started for another reason.
    #[error("secret `{name}`: cannot run `gcloud`: {source}")]
    GcloudSpawn {
        /// The secret reference.
        name: String,
        /// The spawn error.
        source: std::io::Error,
    },
    /// `gcloud secrets versions access` failed; `stderr` is its own explanation.
    #[error("secret `{name}`: `gcloud secrets versions access` failed ({status}): {stderr}{hint}")]
    GcloudFailed {
        /// The secret reference.
        name: String,
        /// The exit status, as printed.
        status: String,
        /// gcloud's standard error, trimmed.
        stderr: String,
        /// A fix for well-known failures (starts with `; `), or empty.
        hint: String,
    },
    /// The salt file cannot be read or written.
    #[error("secret salt `{}`: {source}; check the cache directory's permissions", path.display())]
    Salt {
        /// The salt file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The salt file exists but is not 32 bytes.
    #[error(
        "secret salt `{}` is {len} bytes, not 32; delete it (steps that use secrets will rerun once)",
        path.display()
    )]
    SaltCorrupt {
        /// The salt file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
}

/// A secret's value with the reference it came from. It has no `Display`, its `Debug`
/// prints `Secret(NAME, <redacted>)`, and its bytes are zeroed when it is dropped.
#[derive(Clone)]
pub struct Secret {
    name: String,
    value: Vec<u8>,
}

impl Secret {
    /// A secret named `name` (the reference as written) holding `value`.
    #[must_use]
    pub fn new(name: impl Into<String>, value: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }

    /// The reference the secret was resolved from, e.g. `env:DB_PASSWORD`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, for handing to a step (its environment or a file); never for logging.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.value
    }

    /// The value as text, when it is UTF-8 (environment variables of a step usually are).
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    /// The secret's part of a step's cache key: a keyed BLAKE3 hash of the value under
    /// the workspace's salt (see [`load_or_create_salt`]).
    ///
    /// Keyed, not plain: a plain hash in a cache key lets anyone who can read the cache
    /// test guesses offline, and most secrets (passwords, short tokens) are guessable.
    /// With a random 32-byte key that never leaves the local cache directory, the digest
    /// is a MAC: it changes when the secret changes (so the step reruns) and says nothing
    /// about the value without the salt. BLAKE3's keyed mode is a PRF like HMAC-SHA256,
    /// already a dependency, and needs no HMAC construction.
    #[must_use]
    pub fn key_digest(&self, salt: &[u8; 32]) -> [u8; 32] {
        *blake3::keyed_hash(salt, &self.value).as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, <redacted>)", self.name)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Volatile writes: plain stores to memory about to be freed may be optimized away.
        // Copies made before (reallocation, a child's environment) are out of reach.
        for byte in &mut self.value {
            // SAFETY: `byte` is a valid, aligned, exclusive reference into the vector.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
