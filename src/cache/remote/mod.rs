//! The shared remote cache: signed action records and blake3-addressed blobs on a storage
//! engine (GCS, S3, WebDAV, Redis, a folder) through OpenDAL. Everything read back is
//! verified (signature, step key, blake3), and every failure is an `Err` the scheduler turns
//! into a warning and a miss: the remote can make a build slower, never wrong or failed.
//!
//! Remote layout: `cas/<blake3 hex>` raw blobs, `ac/<step key hex>` signed envelopes
//! (see `sign.rs`). Reads go local first (the caller), then here; `fetch` fills the local
//! store, record last, so a half-fetched entry is never visible.

mod backend;
mod settings;
mod sign;
#[cfg(test)]
mod test_servers;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use opendal::{ErrorKind, Operator};

pub use settings::{
    ENV_HMAC_KEY, ENV_READ_ONLY, ENV_SIGNING_KEY, ENV_URL, ENV_VERIFY_KEY, RemoteSettings,
};
pub use sign::{MIN_HMAC_KEY, Signing};

use super::{ActionRecord, Digest, LocalStore, StepKey};
use backend::Limits;
use sign::Envelope;

/// How many blobs move at once per entry.
const PARALLEL_BLOBS: usize = 4;

/// After this many failed calls in a row the remote is off for the rest of the run: a dead
/// server then costs two timeouts, not two per step.
const FAILURES_BEFORE_OFF: u64 = 2;

/// Why the remote cache could not be used; the scheduler shows it as a warning.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("remote cache configuration: {0}")]
    Config(String),
    #[error("remote cache: {op} {path}: {source}")]
    Backend {
        op: &'static str,
        path: String,
        // Boxed: opendal's error is large and this is the cold path.
        source: Box<opendal::Error>,
    },
    #[error("remote cache entry {key} refused: {reason}")]
    Refused { key: String, reason: String },
    /// Raised by the signature checks before the key is attached (see `Refused`).
    #[error("remote cache signature: {0}")]
    Signature(String),
    #[error("remote cache blob {digest} is corrupt (its content does not match its blake3)")]
    Corrupt { digest: String },
    #[error("remote cache record {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
    #[error("local cache: {0}")]
    Local(String),
    /// The remote failed too often in a row and is off for this run; warn once about it.
    #[error("remote cache off for this run after {0} failed calls in a row")]
    Off(u64),
}

/// What this process did with the remote, for `isect cache stats` and the run summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RemoteCounters {
    /// Entries fetched into the local store.
    pub hits: u64,
    /// Entries the remote did not have.
    pub misses: u64,
    /// Fetches or publishes that failed (each was a warning).
    pub errors: u64,
    /// Entries published.
    pub published: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    published: AtomicU64,
}

struct Inner {
    op: Operator,
    describe: String,
    read_only: bool,
    signing: Signing,
    counters: Counters,
    /// False once the server has refused a stat: then blobs are uploaded unconditionally.
    stat_works: AtomicBool,
    /// Backend failures in a row (see `FAILURES_BEFORE_OFF`).
    failures: AtomicU64,
}

/// A connection to the shared cache; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct RemoteCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteCache({})", self.describe())
    }
}

fn backend(op: &'static str, path: &str) -> impl FnOnce(opendal::Error) -> RemoteError {
    let path = path.to_string();
    move |source| RemoteError::Backend {
        op,
        path,
        source: Box::new(source),
    }
}

fn local_err(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Local(e.to_string())
}

/// Every blob an entry names, once each.
fn blobs_of(record: &ActionRecord) -> BTreeSet<Digest> {
    let mut set: BTreeSet<Digest> = record.outputs.iter().map(|o| o.digest).collect();
    set.insert(record.log);
    set
}

impl RemoteCache {
    /// Connects (lazily: nothing is sent until the first fetch or publish).
    pub fn open(settings: RemoteSettings) -> Result<Self, RemoteError> {
        Self::open_with(settings, Limits::default())
    }

    pub(crate) fn open_with(settings: RemoteSettings, limits: Limits) -> Result<Self, RemoteError> {
        let backend = backend::open(&settings.url, limits)?;
        // A verifying key alone cannot sign: such a cache can only be read.
        let read_only = settings.read_only || !settings.signing.can_sign();
        Ok(Self {
            inner: Arc::new(Inner {
                op: backend.op,
                describe: backend.describe,
                read_only,
                signing: settings.signing,
                counters: Counters::default(),
                stat_works: AtomicBool::new(true),
                failures: AtomicU64::new(0),
            }),
        })
    }

    /// Whether this cache only reads (pull requests, or no private key).
    #[must_use]
    pub fn read_only(&self) -> bool {
        self.inner.read_only
    }

    /// For people: `webdav http://127.0.0.1:8080/cache (read-only)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut text = self.inner.describe.clone();
        if self.inner.read_only {
            text.push_str(" (read-only)");
        }
        text
    }

    /// Hits, misses, errors and publishes so far in this process.
    #[must_use]
    pub fn counters(&self) -> RemoteCounters {
        let c = &self.inner.counters;
        RemoteCounters {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
        }
    }

    #[cfg(test)]
    pub(crate) fn operator(&self) -> &Operator {
        &self.inner.op
    }

    /// On a local miss: fetches the signed record for `key`, checks its signature and key,
    /// fetches and verifies every blob it names into `local`, then writes the record.
    /// `Ok(true)`: `local` now holds the entry; `Ok(false)`: the remote has none; `Err`: a
    /// remote error, a corrupt blob or a bad signature (a warning and a miss).
    pub async fn fetch(&self, key: &StepKey, local: &LocalStore) -> Result<bool, RemoteError> {
        self.check_on()?;
        let result = self.fetch_entry(key, local).await;
        self.note(&result);
        let c = &self.inner.counters;
        match &result {
            Ok(true) => c.hits.fetch_add(1, Ordering::Relaxed),
            Ok(false) => c.misses.fetch_add(1, Ordering::Relaxed),
            Err(_) => c.errors.fetch_add(1, Ordering::Relaxed),
        };
        result
    }

    fn check_on(&self) -> Result<(), RemoteError> {
        let failures = self.inner.failures.load(Ordering::Relaxed);
        if failures >= FAILURES_BEFORE_OFF {
            return Err(RemoteError::Off(failures));
        }
        Ok(())
    }

    /// Counts transport failures in a row; bad entries say nothing about the server.
    fn note<T>(&self, result: &Result<T, RemoteError>) {
        match result {
            Err(RemoteError::Backend { .. }) => {
                self.inner.failures.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
            Ok(_) => self.inner.failures.store(0, Ordering::Relaxed),
        }
    }

    async fn fetch_entry(&self, key: &StepKey, local: &LocalStore) -> Result<bool, RemoteError> {
        let path = format!("ac/{}", key.to_hex());
        let bytes = match self.inner.op.read(&path).await {
            Ok(buffer) => buffer.to_vec(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(backend("read", &path)(e)),
        };
        let record = self.open_envelope(key, &bytes)?;
        stream::iter(blobs_of(&record))
            .map(|digest| self.download_blob(digest, local))
            .buffer_unordered(PARALLEL_BLOBS)
            .try_collect::<()>()
            .await?;
        // Last, so the entry is visible only once every blob is in place.
        local.put_record(&record).map_err(local_err)?;
        Ok(true)
    }

    /// Parses and checks an envelope: signed by our key, for `key`, a well-formed record.
    fn open_envelope(&self, key: &StepKey, bytes: &[u8]) -> Result<ActionRecord, RemoteError> {
        let malformed = |reason: String| RemoteError::Malformed {
            key: key.short(),
            reason,
        };
        let refused = |e: RemoteError| match e {
            RemoteError::Signature(reason) => RemoteError::Refused {
                key: key.short(),
                reason,
            },
            other => other,
        };
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("envelope: {e}")))?;
        let record_bytes = self.inner.signing.open(key, &envelope).map_err(refused)?;
        let record: ActionRecord =
            serde_json::from_slice(record_bytes).map_err(|e| malformed(format!("record: {e}")))?;
        if record.key != *key {
            return Err(RemoteError::Refused {
                key: key.short(),
                reason: format!(
                    "the record is for another step key ({})",
                    record.key.short()
                ),
            });
        }
        Ok(record)
    }

    /// Streams `cas/<hex>` into a temporary file while hashing it, and stores it locally
    /// only when its blake3 matches.
    async fn download_blob(&self, digest: Digest, local: &LocalStore) -> Result<(), RemoteError> {
        if local.get_bytes(&digest).is_some() {
            return Ok(());
        }
        let path = format!("cas/{}", digest.to_hex());
        let op = &self.inner.op;
        let reader = op.reader(&path).await.map_err(backend("read", &path))?;
        let mut chunks = reader
            .into_stream(..)
            .await
            .map_err(backend("read", &path))?;
        let mut tmp = tempfile::NamedTempFile::new_in(local.dir()).map_err(local_err)?;
        let mut hasher = blake3::Hasher::new();
        while let Some(buffer) = chunks.next().await {
            for chunk in buffer.map_err(backend("read", &path))? {
                hasher.update(&chunk);
                tmp.write_all(&chunk).map_err(local_err)?;
            }
        }
        if Digest(*hasher.finalize().as_bytes()) != digest {
            // Content-addressed, so a mismatch is certainly wrong: a writer removes it so the
            // next publish of this blob replaces it instead of skipping it.
            if !self.inner.read_only {
                let _ = op.delete(&path).await;
            }
            return Err(RemoteError::Corrupt {
                digest: digest.short(),
            });
        }
        tmp.flush().map_err(local_err)?;
        local.put_file(tmp.path(), &digest).map_err(local_err)
    }

    /// After a step succeeded and was stored locally: uploads its blobs (skipping those the
    /// remote already has at the right size), then the signed record, last. A no-op when
    /// read-only. `Err` is a warning, never a failed build.
    pub async fn publish(
        &self,
        record: &ActionRecord,
        local: &LocalStore,
    ) -> Result<(), RemoteError> {
        if self.inner.read_only {
            return Ok(());
        }
        self.check_on()?;
        let result = self.publish_entry(record, local).await;
        self.note(&result);
        let c = &self.inner.counters;
        match &result {
            Ok(()) => c.published.fetch_add(1, Ordering::Relaxed),
            Err(_) => c.errors.fetch_add(1, Ordering::Relaxed),
        };
        result
    }

    async fn publish_entry(
        &self,
        record: &ActionRecord,
        local: &LocalStore,
    ) -> Result<(), RemoteError> {
        stream::iter(blobs_of(record))
            .map(|digest| self.upload_blob(digest, local))
            .buffer_unordered(PARALLEL_BLOBS)
            .try_collect::<()>()
            .await?;
        let json = serde_json::to_string(record).map_err(local_err)?;
        let envelope = self.inner.signing.seal(&record.key, json)?;
        let bytes = serde_json::to_vec(&envelope).map_err(local_err)?;
        let path = format!("ac/{}", record.key.to_hex());
        self.inner
            .op
            .write(&path, bytes)
            .await
            .map_err(backend("write", &path))?;
        Ok(())
    }

    async fn upload_blob(&self, digest: Digest, local: &LocalStore) -> Result<(), RemoteError> {
        let bytes = local.get_bytes(&digest).ok_or_else(|| {
            RemoteError::Local(format!("blob {} is missing or corrupt", digest.short()))
        })?;
        let path = format!("cas/{}", digest.to_hex());
        let op = &self.inner.op;
        if self.inner.stat_works.load(Ordering::Relaxed) {
            match op.stat(&path).await {
                Ok(meta) if meta.content_length() == bytes.len() as u64 => return Ok(()),
                Ok(_) => {} // a truncated or foreign blob: replace it
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) if e.is_temporary() => return Err(backend("stat", &path)(e)),
                // No PROPFIND (plain nginx WebDAV): uploading again is only bandwidth.
                Err(_) => self.inner.stat_works.store(false, Ordering::Relaxed),
            }
        }
        op.write(&path, bytes)
            .await
            .map_err(backend("write", &path))?;
        Ok(())
    }
}
