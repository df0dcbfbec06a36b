//! `RemoteSettings`: where the shared cache is and how entries are signed, from isect.toml's
//! `[cache]` table and the environment (the environment wins).

use super::RemoteError;
use super::sign::{Signing, parse_hmac_key, read_signing_key, read_verifying_key};

/// The URL of the shared cache.
pub const ENV_URL: &str = "ISECT_REMOTE_CACHE";
/// `1`/`true`: read the shared cache, never write it (pull requests).
pub const ENV_READ_ONLY: &str = "ISECT_CACHE_READONLY";
/// A shared HMAC-SHA256 secret, hex or base64, at least 32 bytes.
pub const ENV_HMAC_KEY: &str = "ISECT_CACHE_HMAC_KEY";
/// Path of an ed25519 PKCS#8 PEM private key (writers).
pub const ENV_SIGNING_KEY: &str = "ISECT_CACHE_SIGNING_KEY";
/// Path of the matching ed25519 public key PEM (enough for readers).
pub const ENV_VERIFY_KEY: &str = "ISECT_CACHE_VERIFY_KEY";

/// Where the shared cache is and how its entries are signed.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// `gs://bucket/prefix`, `s3://bucket/prefix`, `webdav+http://host:port/path`,
    /// `webdav+https://…`, `redis://host:port/db` or `file:///abs/path`.
    pub url: String,
    /// Read but never write.
    pub read_only: bool,
    pub signing: Signing,
}

impl RemoteSettings {
    /// From the environment (`ISECT_REMOTE_CACHE`, `ISECT_CACHE_READONLY`,
    /// `ISECT_CACHE_HMAC_KEY` or `ISECT_CACHE_SIGNING_KEY`/`ISECT_CACHE_VERIFY_KEY`) over
    /// isect.toml's `[cache] remote` and `read_only`. `None` when no URL is set; an error
    /// when a URL is set without any key, because an unsigned shared cache is a
    /// supply-chain hole.
    pub fn from_env(
        config_url: Option<&str>,
        config_read_only: bool,
    ) -> Result<Option<Self>, RemoteError> {
        Self::from_vars(
            |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()),
            config_url,
            config_read_only,
        )
    }

    pub(crate) fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        config_url: Option<&str>,
        config_read_only: bool,
    ) -> Result<Option<Self>, RemoteError> {
        let Some(url) = var(ENV_URL).or_else(|| {
            config_url
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(String::from)
        }) else {
            return Ok(None);
        };
        let read_only = match var(ENV_READ_ONLY) {
            Some(v) => parse_bool(&v)?,
            None => config_read_only,
        };
        let signing = match (var(ENV_HMAC_KEY), var(ENV_SIGNING_KEY), var(ENV_VERIFY_KEY)) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(RemoteError::Config(format!(
                    "set either {ENV_HMAC_KEY} or {ENV_SIGNING_KEY}/{ENV_VERIFY_KEY}, not both"
                )));
            }
            (Some(hmac), None, None) => Signing::Hmac(parse_hmac_key(&hmac)?),
            (None, Some(private), public) => {
                let signing = read_signing_key(&private)?;
                let verifying = signing.verifying_key();
                if let Some(public) = public
                    && read_verifying_key(&public)? != verifying
                {
                    return Err(RemoteError::Config(format!(
                        "{ENV_VERIFY_KEY} is not the public half of {ENV_SIGNING_KEY}"
                    )));
                }
                Signing::Ed25519 {
                    signing: Some(signing),
                    verifying,
                }
            }
            (None, None, Some(public)) => Signing::Ed25519 {
                signing: None,
                verifying: read_verifying_key(&public)?,
            },
            (None, None, None) => {
                return Err(RemoteError::Config(format!(
                    "a shared cache must be signed: set {ENV_HMAC_KEY} or \
                     {ENV_SIGNING_KEY}/{ENV_VERIFY_KEY}"
                )));
            }
        };
        Ok(Some(Self {
            url,
            read_only,
            signing,
        }))
    }
}

fn parse_bool(text: &str) -> Result<bool, RemoteError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(RemoteError::Config(format!(
            "{ENV_READ_ONLY}=`{other}`: use 1/true or 0/false"
        ))),
    }
}
