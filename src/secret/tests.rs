//! A secret's `Debug`, its cache-key digest and the salt behind it.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;

use super::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn debug_does_not_contain_the_value() {
    let s = Secret::new("env:DB_PASSWORD", b"hunter2-p@ss".to_vec());
    let shown = format!("{s:?} {s:#?} {:?}", vec![s.clone()]);
    assert!(
        shown.contains("Secret(env:DB_PASSWORD, <redacted>)"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn key_digest_follows_the_value_and_the_salt() {
    let a = Secret::new("env:A", b"hunter2-p@ss".to_vec());
    let b = Secret::new("env:B", b"hunter2-p@sS".to_vec());
    let (salt1, salt2) = ([1u8; 32], [2u8; 32]);
    assert_eq!(a.key_digest(&salt1), a.clone().key_digest(&salt1));
    assert_ne!(
        a.key_digest(&salt1),
        b.key_digest(&salt1),
        "a changed secret reruns"
    );
    assert_ne!(
        a.key_digest(&salt1),
        a.key_digest(&salt2),
        "another workspace, another key"
    );
    // Not the plain hash either, which anyone could compute from a guess.
    assert_ne!(a.key_digest(&salt1), *blake3::hash(a.expose()).as_bytes());
}

#[test]
fn salt_is_created_once_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join(".isect/cache");
    let salt = load_or_create_salt(&cache).unwrap();
    assert_ne!(salt, [0u8; 32]);
    assert_eq!(load_or_create_salt(&cache).unwrap(), salt);
    let meta = std::fs::metadata(cache.join(SALT_FILE)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(load_or_create_salt(other.path()).unwrap(), salt);
}

#[test]
fn a_corrupt_salt_says_to_delete_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SALT_FILE), b"short").unwrap();
    let err = load_or_create_salt(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("is 5 bytes") && err.contains("delete it"),
        "{err}"
    );
}

/// What the cache keeps for a step that uses a secret (its salted digest in the key, its
/// redacted log) holds the secret in no form. The end-to-end check through a real run
/// belongs with the wiring into `cache` and `exec`; this is the module's half.
#[test]
fn a_secret_never_reaches_the_cache_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join(".isect/cache");
    let secret = Secret::new("env:DB_PASSWORD", b"p@ss/w+rd=hunter2".to_vec());
    let salt = load_or_create_salt(&cache).unwrap();
    let key = hex(&secret.key_digest(&salt));
    std::fs::write(
        cache.join("key"),
        format!("step build\nsecret env:DB_PASSWORD {key}\n"),
    )
    .unwrap();
    let redactor = Redactor::new([&secret]);
    let mut log = RedactingStream::new(&redactor);
    let mut written = log.push(b"connecting with p@ss/w+");
    written.extend(log.push(b"rd=hunter2 (cEBzc"));
    written.extend(log.push(b"y93K3JkPWh1bnRlcjI=)\n"));
    written.extend(log.finish());
    std::fs::write(cache.join("log"), &written).unwrap();
    for entry in walkdir::WalkDir::new(&cache) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !redactor.leaks(&bytes),
                "{} holds the secret",
                entry.path().display()
            );
        }
    }
    assert_eq!(written, b"connecting with *** (***)\n");
}
