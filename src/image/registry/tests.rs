//! The client against Debian's real `docker-registry`, and the auth flows against a tiny
//! fake registry with a token endpoint.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::testutil::{TestRegistry, free_port, write_layout};
use super::*;

#[tokio::test]
async fn real_registry_round_trip() {
    let Some(reg) = TestRegistry::start(false) else {
        return;
    };
    let client = RegistryClient::new(&reg.addr, false).unwrap();
    client.ping().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let digest = write_layout(dir.path(), b"hello layer");
    let tags = vec!["auth-service".to_string(), "abc123".to_string()];

    let first = client
        .push_layout(dir.path(), "platform/auth-service", &tags)
        .await
        .unwrap();
    assert_eq!(first.digest, digest);
    assert_eq!((first.blobs_uploaded, first.blobs_skipped), (2, 0));
    assert!(!first.already_present);
    assert_eq!(first.tags_set, tags);

    // The same content again: the manifest HEAD short-cuts everything.
    let again = client
        .push_layout(dir.path(), "platform/auth-service", &tags)
        .await
        .unwrap();
    assert!(again.already_present);
    assert_eq!((again.blobs_uploaded, again.blobs_skipped), (0, 0));
    assert!(again.tags_set.is_empty());

    let m = client
        .get_manifest("platform/auth-service", "abc123")
        .await
        .unwrap();
    assert_eq!(
        (m.digest.as_str(), m.media_type.as_str()),
        (digest.as_str(), OCI_MANIFEST)
    );
    let layer_digest = sha256_digest(b"hello layer");
    assert_eq!(
        client
            .get_blob("platform/auth-service", &layer_digest)
            .await
            .unwrap(),
        b"hello layer"
    );
    assert!(
        client
            .has_blob("platform/auth-service", &layer_digest)
            .await
            .unwrap()
    );
    assert!(
        !client
            .has_manifest("platform/auth-service", "nope")
            .await
            .unwrap()
    );

    // A new layout sharing nothing but... nothing: the other repo mounts the layer.
    assert!(
        client
            .mount_blob("platform/other", &layer_digest, "platform/auth-service")
            .await
            .unwrap()
    );
    assert!(
        client
            .has_blob("platform/other", &layer_digest)
            .await
            .unwrap()
    );

    // Chunked upload: a blob larger than the chunk size goes up in PATCHes.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let big_digest = sha256_digest(&big);
    let chunked = RegistryClient::new(&reg.addr, false)
        .unwrap()
        .with_chunk_size(16 * 1024);
    chunked
        .push_blob("platform/big", &big_digest, &big)
        .await
        .unwrap();
    assert_eq!(
        chunked.get_blob("platform/big", &big_digest).await.unwrap(),
        big
    );

    // The SBOM rides along under the cosign tag.
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#;
    client
        .attach_sbom("platform/auth-service", &digest, sbom)
        .await
        .unwrap();
    let got = client
        .attachments("platform/auth-service", &digest, AttachmentKind::Sbom)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].media_type, "application/vnd.cyclonedx+json");
    assert_eq!(got[0].data, sbom);
    let sbom_tag = attachment_tag(&digest, AttachmentKind::Sbom).unwrap();
    assert!(
        client
            .has_manifest("platform/auth-service", &sbom_tag)
            .await
            .unwrap()
    );
    assert!(
        client
            .attachments("platform/auth-service", &digest, AttachmentKind::Signature)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn refused_pushes_carry_the_registry_message() {
    let Some(reg) = TestRegistry::start(false) else {
        return;
    };
    let client = RegistryClient::new(&reg.addr, false).unwrap();
    // A manifest naming blobs the registry does not have.
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), b"x");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let d = index["manifests"][0]["digest"].as_str().unwrap();
    let bytes = std::fs::read(dir.path().join("blobs/sha256").join(&d[7..])).unwrap();
    let err = client
        .put_manifest("team/app", "v1", OCI_MANIFEST, &bytes)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::Refused { status: 400, .. }),
        "{msg}"
    );
    assert!(msg.contains("MANIFEST_BLOB_UNKNOWN"), "{msg}");
    assert!(msg.contains(&reg.addr), "{msg}");

    // A read-only registry refuses the upload itself.
    let Some(ro) = TestRegistry::start(true) else {
        return;
    };
    let ro_client = RegistryClient::new(&ro.addr, false).unwrap();
    let err = ro_client
        .push_layout(dir.path(), "team/app", &["v1".into()])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::Refused { status: 405, .. }),
        "{msg}"
    );
    assert!(msg.contains("read-only") && msg.contains(&ro.addr), "{msg}");
}

#[tokio::test]
async fn stopped_registry_is_a_connection_error() {
    let addr = format!("127.0.0.1:{}", free_port());
    let client = RegistryClient::new(&addr, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), b"x");
    let err = client
        .push_layout(dir.path(), "team/app", &[])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{msg}");
    assert!(
        msg.contains(&addr) && msg.contains("[image] registry"),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[test]
fn scheme_follows_locality_and_insecure() {
    assert_eq!(
        RegistryClient::new("127.0.0.1:5000", false).unwrap().base,
        "http://127.0.0.1:5000"
    );
    assert_eq!(
        RegistryClient::new("localhost", false).unwrap().base,
        "http://localhost"
    );
    assert_eq!(
        RegistryClient::new("ghcr.io", false).unwrap().base,
        "https://ghcr.io"
    );
    assert_eq!(
        RegistryClient::new("reg.lan:5000", true).unwrap().base,
        "http://reg.lan:5000"
    );
}

#[test]
fn pushing_wrong_bytes_is_caught_before_sending() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = RegistryClient::new("127.0.0.1:1", false).unwrap();
    let err = rt
        .block_on(client.push_blob("a/b", &sha256_digest(b"one"), b"two"))
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
}

type Handler = dyn Fn(&str, &str, &HashMap<String, String>) -> (u16, Vec<(String, String)>, Vec<u8>)
    + Send
    + Sync;

/// A one-request-per-connection HTTP server for auth flows; bodies are not read.
async fn fake_server(handler: Arc<Handler>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let mut lines = head.lines();
                let mut first = lines.next().unwrap().split(' ');
                let (method, path) = (first.next().unwrap(), first.next().unwrap());
                let headers: HashMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let (status, extra, body) = handler(method, path, &headers);
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in extra {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                sock.write_all(resp.as_bytes()).await.unwrap();
                if method != "HEAD" {
                    sock.write_all(&body).await.unwrap();
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn bearer_token_flow_fetches_and_reuses_a_token() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let addr_cell = Arc::new(std::sync::OnceLock::<String>::new());
    let digest = sha256_digest(b"m");
    let (t, a, d) = (tokens.clone(), addr_cell.clone(), digest.clone());
    let addr = fake_server(Arc::new(move |method, path, headers| {
        if path.starts_with("/token?") {
            t.fetch_add(1, Ordering::SeqCst);
            let basic = format!(
                "Basic {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ci:pw")
            );
            assert_eq!(headers.get("authorization"), Some(&basic));
            assert!(path.contains("service=fake"), "{path}");
            assert!(
                path.contains("scope=repository%3Ateam%2Fapp%3Apull"),
                "{path}"
            );
            return (200, vec![], br#"{"token":"tok123"}"#.to_vec());
        }
        if headers.get("authorization").map(String::as_str) != Some("Bearer tok123") {
            let challenge = format!(
                r#"Bearer realm="http://{}/token",service="fake",scope="repository:team/app:pull""#,
                a.get().unwrap()
            );
            return (
                401,
                vec![("WWW-Authenticate".into(), challenge)],
                b"{}".to_vec(),
            );
        }
        assert_eq!((method, path), ("HEAD", "/v2/team/app/manifests/v1"));
        (
            200,
            vec![("Docker-Content-Digest".into(), d.clone())],
            vec![],
        )
    }))
    .await;
    addr_cell.set(addr.clone()).unwrap();
    let client = RegistryClient::new(&addr, false)
        .unwrap()
        .with_credentials(Credentials::Basic {
            user: "ci".into(),
            password: "pw".into(),
        });
    assert_eq!(
        client.manifest_digest("team/app", "v1").await.unwrap(),
        Some(digest.clone())
    );
    assert_eq!(
        client.manifest_digest("team/app", "v1").await.unwrap(),
        Some(digest)
    );
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        1,
        "the token is cached per scope"
    );
}

#[tokio::test]
async fn basic_auth_and_clear_401_and_pulled_blob_check() {
    let good = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "u:p")
    );
    let wrong_blob = sha256_digest(b"expected");
    let addr = fake_server(Arc::new(move |_, path, headers| {
        if headers.get("authorization") != Some(&good) {
            let body =
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            return (
                401,
                vec![("WWW-Authenticate".into(), r#"Basic realm="r""#.into())],
                body.to_vec(),
            );
        }
        assert!(path.starts_with("/v2/team/app/blobs/"), "{path}");
        (200, vec![], b"tampered".to_vec())
    }))
    .await;
    let anon = RegistryClient::new(&addr, false)
        .unwrap()
        .with_credentials(Credentials::Anonymous);
    let err = anon.get_blob("team/app", &wrong_blob).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, RegistryError::Unauthorized { status: 401, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("ISECT_REGISTRY_USER") && msg.contains("authentication required"),
        "{msg}"
    );

    let authed = RegistryClient::new(&addr, false)
        .unwrap()
        .with_credentials(Credentials::Basic {
            user: "u".into(),
            password: "p".into(),
        });
    let err = authed.get_blob("team/app", &wrong_blob).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&wrong_blob), "{err}");
}
