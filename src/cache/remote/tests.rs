//! The remote cache against real servers (nginx WebDAV, redis-server) and a folder:
//! round trip into an empty store, tampering, unsigned and wrongly signed entries, a record
//! served under another key, read-only mode, and a stopped or hung server.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::backend::Limits;
use super::sign::Envelope;
use super::test_servers::{Server, files_under, silent_server};
use super::*;
use crate::cache::OutputEntry;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/remote");

fn hmac() -> Signing {
    Signing::Hmac(b"isect test cache key: 32+ bytes long!".to_vec())
}

fn ed25519() -> Signing {
    let vars = |name: &str| match name {
        ENV_URL => Some("file:///unused".to_string()),
        ENV_SIGNING_KEY => Some(format!("{FIXTURES}/test-signing.pem")),
        ENV_VERIFY_KEY => Some(format!("{FIXTURES}/test-verify.pem")),
        _ => None,
    };
    RemoteSettings::from_vars(vars, None, false)
        .unwrap()
        .unwrap()
        .signing
}

/// Short limits so the failure scenarios finish quickly.
fn cache(url: &str, read_only: bool, signing: Signing) -> RemoteCache {
    let settings = RemoteSettings {
        url: url.to_string(),
        read_only,
        signing,
    };
    let limits = Limits {
        timeout: Duration::from_secs(1),
        retries: 1,
    };
    RemoteCache::open_with(settings, limits).unwrap()
}

fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&dir.path().join("cache")).unwrap();
    (dir, store)
}

/// A step's result in `local`: two outputs and a log, under key blake3(`name`).
fn sample(local: &LocalStore, name: &str) -> ActionRecord {
    let output = |path: &str, bytes: &[u8]| OutputEntry {
        path: path.to_string(),
        digest: local.put_bytes(bytes).unwrap(),
        size: bytes.len() as u64,
        executable: false,
    };
    ActionRecord {
        key: Digest::of(name.as_bytes()),
        step_id: format!("svc:build:{name}"),
        outputs: vec![
            output("out/app", format!("binary of {name}").as_bytes()),
            output("out/lib.a", &vec![7u8; 300_000]),
        ],
        log: local
            .put_bytes(format!("log of {name}\n").as_bytes())
            .unwrap(),
        duration_ms: 5,
        summary: None,
    }
}

fn assert_holds(local: &LocalStore, record: &ActionRecord) {
    let got = local
        .get_record(&record.key)
        .unwrap()
        .expect("record fetched");
    assert_eq!(got.outputs, record.outputs);
    for digest in blobs_of(record) {
        assert!(
            local.get_bytes(&digest).is_some(),
            "blob {digest:?} fetched"
        );
    }
}

/// Whether the remote holds `path` (a GET: plain nginx has no PROPFIND for `exists`).
async fn remote_has(cache: &RemoteCache, path: &str) -> bool {
    match cache.operator().read(path).await {
        Ok(_) => true,
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => false,
        Err(e) => panic!("{path}: {e}"),
    }
}

async fn put_raw(cache: &RemoteCache, path: &str, bytes: Vec<u8>) {
    cache.operator().write(path, bytes).await.unwrap();
}

/// Every scenario that needs a live server, on `url` (fresh, empty).
async fn scenarios(url: &str, signing: Signing, files: Option<&std::path::Path>) {
    let writer = cache(url, false, signing.clone());
    let (_a, first) = store();

    // Read-only publishes nothing.
    let record = sample(&first, "read-only");
    let reader = cache(url, true, signing.clone());
    assert!(reader.describe().ends_with("(read-only)"));
    reader.publish(&record, &first).await.unwrap();
    for digest in blobs_of(&record) {
        let path = format!("cas/{}", digest.to_hex());
        assert!(!remote_has(&writer, &path).await, "{path}");
    }
    let ac = format!("ac/{}", record.key.to_hex());
    assert!(!remote_has(&writer, &ac).await);
    if let Some(dir) = files {
        assert!(files_under(dir).is_empty(), "{:?}", files_under(dir));
    }

    // One workspace fills the cache; a second, empty one gets every entry back, verified.
    let record = sample(&first, "roundtrip");
    writer.publish(&record, &first).await.unwrap();
    writer.publish(&record, &first).await.unwrap(); // again: blobs are skipped or rewritten
    let (_b, second) = store();
    assert!(reader.fetch(&record.key, &second).await.unwrap());
    assert_holds(&second, &record);
    assert!(
        !reader
            .fetch(&Digest::of(b"never built"), &second)
            .await
            .unwrap()
    );
    if let Some(dir) = files {
        let names = files_under(dir);
        assert!(
            names.contains(&format!("ac/{}", record.key.to_hex())),
            "{names:?}"
        );
        assert_eq!(names.len(), 4, "{names:?}"); // 3 blobs + 1 record
    }
    let counters = reader.counters();
    assert_eq!((counters.hits, counters.misses), (1, 1));

    // A tampered blob is detected, nothing is half-written, and a rebuild repairs it.
    let target = format!("cas/{}", record.outputs[0].digest.to_hex());
    put_raw(&writer, &target, b"binary of evil!!!!!!".to_vec()).await;
    let (_c, third) = store();
    let err = writer.fetch(&record.key, &third).await.unwrap_err();
    assert!(matches!(err, RemoteError::Corrupt { .. }), "{err}");
    assert!(third.get_record(&record.key).unwrap().is_none());
    writer.publish(&record, &first).await.unwrap(); // the rebuilt step publishes again
    assert!(writer.fetch(&record.key, &third).await.unwrap());
    assert_holds(&third, &record);

    // Unsigned, wrongly signed and wrong-key entries are refused.
    let victim = sample(&first, "victim");
    writer.publish(&victim, &first).await.unwrap();
    let ac = format!("ac/{}", victim.key.to_hex());
    let json = serde_json::to_string(&victim).unwrap();
    let unsigned = serde_json::json!({ "record": json }).to_string();
    let other = match &signing {
        Signing::Hmac(_) => Signing::Hmac(vec![9; 32]),
        Signing::Ed25519 { .. } => {
            let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
            Signing::Ed25519 {
                verifying: key.verifying_key(),
                signing: Some(key),
            }
        }
    };
    let forged = other.seal(&victim.key, json.clone()).unwrap();
    let served_elsewhere = signing.seal(&record.key, serde_json::to_string(&record).unwrap());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unsigned", unsigned.into_bytes()),
        ("wrong key", serde_json::to_vec(&forged).unwrap()),
        (
            "another step's entry",
            serde_json::to_vec(&served_elsewhere.unwrap()).unwrap(),
        ),
        ("garbage", b"{not json".to_vec()),
        (
            "signed for this key, record of another",
            serde_json::to_vec(
                &signing
                    .seal(&victim.key, serde_json::to_string(&record).unwrap())
                    .unwrap(),
            )
            .unwrap(),
        ),
    ];
    for (what, bytes) in cases {
        put_raw(&writer, &ac, bytes).await;
        let (_d, fresh) = store();
        let err = reader.fetch(&victim.key, &fresh).await.unwrap_err();
        eprintln!("{what}: {err}");
        assert!(
            matches!(
                err,
                RemoteError::Refused { .. } | RemoteError::Malformed { .. }
            ),
            "{what}: {err}"
        );
        assert!(fresh.get_record(&victim.key).unwrap().is_none(), "{what}");
    }
    // A genuine envelope for key A copied to key B fails the signature (the key is signed).
    let a = writer
        .operator()
        .read(&format!("ac/{}", record.key.to_hex()))
        .await;
    put_raw(&writer, &ac, a.unwrap().to_vec()).await;
    let (_e, fresh) = store();
    let err = reader.fetch(&victim.key, &fresh).await.unwrap_err();
    assert!(matches!(err, RemoteError::Refused { .. }), "{err}");
}

/// The server dies: fetch and publish fail fast with an error (a warning and a miss).
async fn stopped(mut server: Server) {
    let writer = cache(&server.url, false, hmac());
    let (_a, local) = store();
    let record = sample(&local, "before the crash");
    writer.publish(&record, &local).await.unwrap();
    server.stop();
    let started = Instant::now();
    let (_b, fresh) = store();
    let err = writer.fetch(&record.key, &fresh).await.unwrap_err();
    eprintln!("stopped: {err}");
    assert!(
        writer
            .publish(&sample(&local, "after"), &local)
            .await
            .is_err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(fresh.get_record(&record.key).unwrap().is_none());
    assert_eq!(writer.counters().errors, 2);
    // Two failures in a row turn the remote off: no more waiting on it this run.
    let quick = Instant::now();
    let off = writer.fetch(&record.key, &fresh).await.unwrap_err();
    assert!(matches!(off, RemoteError::Off(2)), "{off}");
    assert!(quick.elapsed() < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_backend_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    scenarios(&url, hmac(), Some(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_scenarios_with_ed25519() {
    let Some(server) = Server::nginx() else {
        return;
    };
    scenarios(&server.url, ed25519(), server.data.as_deref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_scenarios() {
    let Some(server) = Server::redis() else {
        return;
    };
    scenarios(&server.url, hmac(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_server_stopped_is_an_error_not_a_hang() {
    let Some(server) = Server::nginx() else {
        return;
    };
    stopped(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server_stopped_is_an_error_not_a_hang() {
    let Some(server) = Server::redis() else {
        return;
    };
    stopped(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_times_out() {
    let (port, _thread) = silent_server();
    let remote = cache(&format!("webdav+http://127.0.0.1:{port}/c"), false, hmac());
    let (_a, local) = store();
    let started = Instant::now();
    let err = remote.fetch(&Digest::of(b"k"), &local).await.unwrap_err();
    eprintln!("hung: {err} after {:?}", started.elapsed());
    // 1 s per try, 2 tries, plus backoff.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn settings_from_env_and_config() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    };
    let none = RemoteSettings::from_vars(env(&[]), None, false).unwrap();
    assert!(none.is_none());
    let err = RemoteSettings::from_vars(env(&[]), Some("redis://h/0"), false).unwrap_err();
    assert!(
        err.to_string().contains("a shared cache must be signed"),
        "{err}"
    );
    const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let vars: &'static [(&str, &str)] = &[
        (ENV_URL, "file:///from-env"),
        (ENV_READ_ONLY, "0"),
        (ENV_HMAC_KEY, HEX),
    ];
    let s = RemoteSettings::from_vars(env(vars), Some("redis://h/0"), true)
        .unwrap()
        .unwrap();
    assert_eq!((s.url.as_str(), s.read_only), ("file:///from-env", false));
    assert!(matches!(s.signing, Signing::Hmac(ref k) if k.len() == 32));
    let short = RemoteSettings::from_vars(env(&[(ENV_HMAC_KEY, "abcd")]), Some("file:///x"), false);
    assert!(short.unwrap_err().to_string().contains("at least 32"));
    const BASE64: &str = "ISECTISECTISECTISECTISECTISECTISECTISECTISE=";
    let s = RemoteSettings::from_vars(env(&[(ENV_HMAC_KEY, BASE64)]), Some("file:///x"), true);
    assert!(s.unwrap().unwrap().read_only);
    // A verifying key alone reads only.
    let vars = move |name: &str| match name {
        ENV_VERIFY_KEY => Some(format!("{FIXTURES}/test-verify.pem")),
        _ => None,
    };
    let s = RemoteSettings::from_vars(vars, Some("file:///tmp/x"), false)
        .unwrap()
        .unwrap();
    assert!(!s.signing.can_sign());
    let remote = RemoteCache::open(s).unwrap();
    assert!(remote.read_only());
    assert_eq!(remote.describe(), "folder /tmp/x (read-only)");
}

#[test]
fn envelopes_bind_record_and_key() {
    for signing in [hmac(), ed25519()] {
        let key = Digest::of(b"a");
        let envelope = signing.seal(&key, "{\"x\":1}".to_string()).unwrap();
        assert_eq!(signing.open(&key, &envelope).unwrap(), b"{\"x\":1}");
        assert!(signing.open(&Digest::of(b"b"), &envelope).is_err());
        let edited = Envelope {
            record: "{\"x\":2}".to_string(),
            ..envelope
        };
        assert!(signing.open(&key, &edited).is_err());
        assert!(!format!("{signing:?}").contains("isect test cache key"));
    }
    let public_only = match ed25519() {
        Signing::Ed25519 { verifying, .. } => Signing::Ed25519 {
            signing: None,
            verifying,
        },
        Signing::Hmac(_) => unreachable!(),
    };
    assert!(public_only.seal(&Digest::of(b"a"), String::new()).is_err());
}
