//! The OCI distribution API client: references, auth (anonymous, basic, bearer tokens),
//! blobs and manifests by digest, pushing an OCI layout, and cosign-style attachments.
//! Everything pulled is checked against its sha256.

mod attach;
mod auth;
mod error;
mod layout;
mod reference;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
mod transport;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

pub use attach::{AttachmentKind, AttachmentLayer, attachment_tag};
pub use auth::{Credentials, PASSWORD_ENV, USER_ENV};
pub use error::RegistryError;
pub use layout::PushReport;
pub use reference::{DOCKER_HUB, Reference, is_local_registry, validate_digest};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest (schema 2) media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Blobs above this size go up in PATCH chunks of this size, not in one PUT.
pub const DEFAULT_CHUNK_SIZE: usize = 16 * 1024 * 1024;

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let sum = Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in sum.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A manifest as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Its media type (from `Content-Type`, else its `mediaType` field).
    pub media_type: String,
    /// The exact bytes, which the digest is computed over.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

#[derive(Default)]
struct AuthState {
    /// The registry asked for basic auth once: send it on every request from now on.
    basic: bool,
    /// Bearer tokens by scope (`repository:<repo>:pull,push`).
    tokens: HashMap<String, String>,
}

/// An async client for one registry host.
pub struct RegistryClient {
    http: reqwest::Client,
    registry: String,
    base: String,
    credentials: Credentials,
    auth: Mutex<AuthState>,
    chunk_size: usize,
}

impl RegistryClient {
    /// A client for `registry` (`host[:port]`): plain HTTP for loopback hosts or when
    /// `insecure`, HTTPS otherwise; credentials from [`Credentials::discover`].
    pub fn new(registry: &str, insecure: bool) -> Result<Self, RegistryError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("isect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Protocol {
                registry: registry.to_string(),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        let scheme = if insecure || is_local_registry(registry) {
            "http"
        } else {
            "https"
        };
        Ok(RegistryClient {
            http,
            registry: registry.to_string(),
            base: format!("{scheme}://{registry}"),
            credentials: Credentials::discover(registry),
            auth: Mutex::new(AuthState::default()),
            chunk_size: DEFAULT_CHUNK_SIZE,
        })
    }

    /// A client for the registry of `reference`.
    pub fn for_reference(reference: &Reference, insecure: bool) -> Result<Self, RegistryError> {
        Self::new(&reference.registry, insecure)
    }

    /// Uses these credentials instead of the discovered ones.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the size above which blobs are uploaded in chunks (at least 1 byte).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// The registry host this client talks to.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `GET /v2/`: checks the registry is up and speaks the distribution API.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self.send(Method::GET, &url, None, &[], None).await?;
        self.check(resp, "the API check GET /v2/").await.map(drop)
    }

    /// The digest `reference` (tag or digest) resolves to in `repo`, or `None` when absent.
    pub async fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let accept = [(ACCEPT.as_str(), manifest_accept())];
        let resp = self
            .send(Method::HEAD, &url, Some(repo), &accept, None)
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self
            .check(resp, &format!("HEAD of manifest {repo}:{reference}"))
            .await?;
        let header = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Without the header, a digest reference is its own answer; a tag needs a GET.
        match header {
            Some(d) => Ok(Some(d)),
            None if reference.starts_with("sha256:") => Ok(Some(reference.to_string())),
            None => Ok(Some(self.get_manifest(repo, reference).await?.digest)),
        }
    }

    /// True when `repo` has a manifest at `reference` (a digest or a tag).
    pub async fn has_manifest(&self, repo: &str, reference: &str) -> Result<bool, RegistryError> {
        Ok(self.manifest_digest(repo, reference).await?.is_some())
    }

    /// True when `repo` has the blob `digest`.
    pub async fn has_blob(&self, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let resp = self.send(Method::HEAD, &url, Some(repo), &[], None).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        self.check(resp, &format!("HEAD of blob {digest} in {repo}"))
            .await
            .map(|_| true)
    }

    /// Uploads `data` as blob `digest` (checked first): one POST and PUT, or PATCH chunks
    /// when larger than the chunk size.
    pub async fn push_blob(
        &self,
        repo: &str,
        digest: &str,
        data: &[u8],
    ) -> Result<(), RegistryError> {
        let actual = sha256_digest(data);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob to push to {repo}"),
                expected: digest.to_string(),
                actual,
            });
        }
        let what = format!("upload of blob {digest} to {repo}");
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let resp = self.send(Method::POST, &url, Some(repo), &[], None).await?;
        let mut location = self.location(self.check(resp, &what).await?)?;
        if data.len() > self.chunk_size {
            let mut start = 0;
            for chunk in data.chunks(self.chunk_size) {
                let range = format!("{}-{}", start, start + chunk.len() - 1);
                let headers = [
                    (
                        CONTENT_TYPE.as_str(),
                        "application/octet-stream".to_string(),
                    ),
                    ("content-range", range),
                ];
                let resp = self
                    .send(
                        Method::PATCH,
                        location.as_str(),
                        Some(repo),
                        &headers,
                        Some(chunk),
                    )
                    .await?;
                location = self.location(self.check(resp, &what).await?)?;
                start += chunk.len();
            }
        }
        location.query_pairs_mut().append_pair("digest", digest);
        let body: &[u8] = if data.len() > self.chunk_size {
            &[]
        } else {
            data
        };
        let headers = [(
            CONTENT_TYPE.as_str(),
            "application/octet-stream".to_string(),
        )];
        let resp = self
            .send(
                Method::PUT,
                location.as_str(),
                Some(repo),
                &headers,
                Some(body),
            )
            .await?;
        self.check(resp, &what).await.map(drop)
    }

    /// Asks the registry to link blob `digest` from repository `from` into `repo` without
    /// uploading it; false when it declined (the caller then uploads).
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &str,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from);
        let resp = self
            .send(Method::POST, url.as_str(), Some(repo), &[], None)
            .await?;
        let resp = self
            .check(
                resp,
                &format!("mount of blob {digest} from {from} into {repo}"),
            )
            .await?;
        Ok(resp.status() == StatusCode::CREATED)
    }

    /// Stores a manifest under `reference` (a tag or its digest); returns its digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(bytes);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest to push to {repo}"),
                expected: reference.to_string(),
                actual: digest,
            });
        }
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let headers = [(CONTENT_TYPE.as_str(), media_type.to_string())];
        let resp = self
            .send(Method::PUT, &url, Some(repo), &headers, Some(bytes))
            .await?;
        let resp = self
            .check(resp, &format!("push of manifest {repo}:{reference}"))
            .await?;
        if let Some(said) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && said != digest
        {
            return Err(RegistryError::DigestMismatch {
                what: format!("manifest pushed to {repo}:{reference}"),
                expected: digest,
                actual: said.to_string(),
            });
        }
        Ok(digest)
    }

    /// Fetches the manifest at `reference` (tag or digest), checking its digest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let accept = [(ACCEPT.as_str(), manifest_accept())];
        let what = format!("manifest {repo}:{reference}");
        let resp = self
            .send(Method::GET, &url, Some(repo), &accept, None)
            .await?;
        let resp = self.check(resp, &what).await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let announced = header("docker-content-digest");
        let content_type = header(CONTENT_TYPE.as_str());
        let bytes = self.body(resp).await?;
        let digest = sha256_digest(&bytes);
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_string())
        } else {
            announced
        };
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                what,
                expected,
                actual: digest,
            });
        }
        let media_type = content_type
            .filter(|t| t.starts_with("application/vnd."))
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        Ok(Manifest {
            media_type,
            bytes,
            digest,
        })
    }

    /// Fetches blob `digest`, checking that its content hashes to it.
    pub async fn get_blob(&self, repo: &str, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let what = format!("blob {digest} in {repo}");
        let resp = self.send(Method::GET, &url, Some(repo), &[], None).await?;
        let bytes = self.body(self.check(resp, &what).await?).await?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                what,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}

fn manifest_accept() -> String {
    [
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
    ]
    .join(", ")
}
