//! Turns a remote cache URL (`gs://`, `s3://`, `webdav+http(s)://`, `redis://`, `file://`)
//! into an OpenDAL operator with every call bounded by a timeout and retried a little.

use std::time::Duration;

use opendal::Operator;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::services;
use reqwest::Url;

use super::RemoteError;

/// How long one remote call may take, and how often a failed one is tried again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) retries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retries: 2,
        }
    }
}

/// The operator plus a description for people (no credentials in it).
pub(crate) struct Backend {
    pub(crate) op: Operator,
    pub(crate) describe: String,
}

fn config(message: impl Into<String>) -> RemoteError {
    RemoteError::Config(message.into())
}

/// A root folder for OpenDAL: `/prefix/`, or `/` for none.
fn root_of(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        format!("/{trimmed}/")
    }
}

/// Builds the operator for `url`.
pub(crate) fn open(url: &str, limits: Limits) -> Result<Backend, RemoteError> {
    // Registers nothing we rely on, but installs the reqwest transport the HTTP services
    // use; idempotent, and we build without the `ctor` that would do it before `main`.
    opendal::install_default();
    let parsed = Url::parse(url).map_err(|e| config(format!("remote cache URL `{url}`: {e}")))?;
    let host = parsed.host_str().unwrap_or_default();
    let root = root_of(parsed.path());
    let build_err = |e: opendal::Error| config(format!("remote cache `{url}`: {e}"));
    let (op, describe) = match parsed.scheme() {
        "gs" | "gcs" => {
            require_host(url, host)?;
            let builder = services::Gcs::default().bucket(host).root(&root);
            (
                Operator::new(builder).map_err(build_err)?,
                format!("gcs gs://{host}{root}"),
            )
        }
        "s3" => {
            require_host(url, host)?;
            let builder = services::S3::default().bucket(host).root(&root);
            (
                Operator::new(builder).map_err(build_err)?,
                format!("s3 s3://{host}{root}"),
            )
        }
        "webdav+http" | "webdav+https" => {
            require_host(url, host)?;
            let scheme = parsed.scheme().trim_start_matches("webdav+");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let endpoint = format!("{scheme}://{host}{port}");
            // No MKCOL before each PUT: it needs PROPFIND, which plain nginx lacks. The
            // server must create parent collections on PUT (nginx `create_full_put_path`)
            // or already have `ac/` and `cas/`.
            let mut builder = services::Webdav::default()
                .endpoint(&endpoint)
                .root(&root)
                .disable_create_dir(true);
            if !parsed.username().is_empty() {
                builder = builder.username(parsed.username());
            }
            if let Some(password) = parsed.password() {
                builder = builder.password(password);
            }
            let shown = format!("webdav {endpoint}{}", root.trim_end_matches('/'));
            (Operator::new(builder).map_err(build_err)?, shown)
        }
        "redis" | "rediss" => {
            require_host(url, host)?;
            let port = parsed.port().unwrap_or(6379);
            let db: i64 = match parsed.path().trim_matches('/') {
                "" => 0,
                n => n
                    .parse()
                    .map_err(|_| config(format!("`{url}`: the path must be a db number")))?,
            };
            let tcp = if parsed.scheme() == "rediss" {
                "rediss"
            } else {
                "tcp"
            };
            let mut builder = services::Redis::default()
                .endpoint(&format!("{tcp}://{host}:{port}"))
                .db(db)
                .root("/isect/");
            if !parsed.username().is_empty() {
                builder = builder.username(parsed.username());
            }
            if let Some(password) = parsed.password() {
                builder = builder.password(password);
            }
            let shown = format!("redis {}://{host}:{port}/{db}", parsed.scheme());
            (Operator::new(builder).map_err(build_err)?, shown)
        }
        "file" => {
            if parsed.path().len() <= 1 {
                return Err(config(format!("`{url}`: a file:// cache needs a folder")));
            }
            let folder = parsed
                .to_file_path()
                .map_err(|()| config(format!("`{url}`: not an absolute local path")))?;
            let folder = folder.display().to_string();
            let builder = services::Fs::default().root(&folder);
            (
                Operator::new(builder).map_err(build_err)?,
                format!("folder {folder}"),
            )
        }
        other => {
            return Err(config(format!(
                "remote cache `{url}`: unknown scheme `{other}` (use gs://, s3://, \
                 webdav+http://, webdav+https://, redis:// or file://)"
            )));
        }
    };
    let op = op
        .layer(
            TimeoutLayer::new()
                .with_timeout(limits.timeout)
                .with_io_timeout(limits.timeout),
        )
        .layer(
            RetryLayer::new()
                .with_max_times(limits.retries)
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(1))
                .with_jitter(),
        );
    Ok(Backend { op, describe })
}

fn require_host(url: &str, host: &str) -> Result<(), RemoteError> {
    if host.is_empty() {
        return Err(config(format!(
            "remote cache `{url}` names no bucket or host"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_services() {
        let limits = Limits::default();
        let dav = open("webdav+http://127.0.0.1:8089/cache", limits).expect("webdav");
        assert_eq!(dav.describe, "webdav http://127.0.0.1:8089/cache");
        let redis = open("redis://127.0.0.1:6389/2", limits).expect("redis");
        assert_eq!(redis.describe, "redis redis://127.0.0.1:6389/2");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        assert!(
            open(&url, limits)
                .expect("fs")
                .describe
                .starts_with("folder /")
        );
        assert!(open("ftp://x/y", limits).is_err());
        assert!(open("redis://127.0.0.1/notanumber", limits).is_err());
        assert!(open("not a url", limits).is_err());
    }
}
