//! References, and resolving them from variables, files and a recorded fake `gcloud`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsString;

use super::*;

fn gcp(project: Option<&str>, secret: &str, version: &str) -> SecretRef {
    SecretRef::Gcp {
        project: project.map(str::to_owned),
        secret: secret.to_owned(),
        version: version.to_owned(),
    }
}

fn vars(pairs: &[(&str, &str)]) -> Resolver {
    Resolver {
        path: None,
        vars: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
                .collect(),
        ),
    }
}

/// The recorded fake's folder first on PATH, only for the `gcloud` child.
fn with_fake_gcloud(pairs: &[(&str, &str)]) -> Resolver {
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcloud");
    let mut path = fake.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    Resolver {
        path: Some(path),
        ..vars(pairs)
    }
}

#[test]
fn parses_every_form() {
    let ok = |t: &str| SecretRef::parse(t).unwrap();
    assert_eq!(ok("DB_PASSWORD"), SecretRef::Env("DB_PASSWORD".into()));
    assert_eq!(ok("env:_TOKEN2"), SecretRef::Env("_TOKEN2".into()));
    assert_eq!(
        ok("file:secrets/db.txt"),
        SecretRef::File("secrets/db.txt".into())
    );
    assert_eq!(
        ok("file:/run/secrets/db"),
        SecretRef::File("/run/secrets/db".into())
    );
    assert_eq!(ok("gcp:db-password"), gcp(None, "db-password", "latest"));
    assert_eq!(
        ok("gcp:projects/acme-prod/secrets/db-password/versions/3"),
        gcp(Some("acme-prod"), "db-password", "3")
    );
    assert_eq!(
        ok("gcp:projects/acme-prod/secrets/db"),
        gcp(Some("acme-prod"), "db", "latest")
    );
    for text in [
        "DB_PASSWORD",
        "file:a/b",
        "gcp:db",
        "gcp:projects/p/secrets/s/versions/2",
    ] {
        let display = ok(text).to_string();
        assert_eq!(ok(&display), ok(text), "{text} → {display}");
    }
}

#[test]
fn rejects_malformed_references_and_names_the_forms() {
    for text in [
        "",
        "env:",
        "1PASSWORD",
        "MY-VAR",
        "file:",
        "gcp:",
        "gcp:a/b",
        "gcp:--project=evil",
        "gcp:projects/p/secrets/s/versions/-1",
        "gcp:projects/p q/secrets/s",
    ] {
        let err = SecretRef::parse(text).unwrap_err().to_string();
        assert!(
            err.contains(&format!("`{text}`")) && err.contains("gcp:SECRET"),
            "{err}"
        );
    }
}

#[test]
fn env_secret_from_variables() {
    let r = vars(&[("DB_PASSWORD", "p@ss/w+rd="), ("EMPTY", "")]);
    let root = Path::new("/nowhere");
    let s = r
        .resolve(&SecretRef::parse("DB_PASSWORD").unwrap(), root)
        .unwrap();
    assert_eq!(
        (s.name(), s.expose()),
        ("env:DB_PASSWORD", b"p@ss/w+rd=".as_slice())
    );
    let unset = r
        .resolve(&SecretRef::Env("NOPE".into()), root)
        .unwrap_err()
        .to_string();
    assert!(
        unset.contains("env:NOPE") && unset.contains("`NOPE` is not set"),
        "{unset}"
    );
    let empty = r
        .resolve(&SecretRef::Env("EMPTY".into()), root)
        .unwrap_err()
        .to_string();
    assert!(
        empty.contains("env:EMPTY") && empty.contains("empty"),
        "{empty}"
    );
}

#[test]
fn env_secret_from_the_process_by_default() {
    // PATH is always set for tests; its value is a stand-in for a secret here.
    let s = resolve(&SecretRef::Env("PATH".into()), Path::new("/")).unwrap();
    assert_eq!(
        s.expose(),
        std::env::var_os("PATH").unwrap().into_vec().as_slice()
    );
}

#[test]
fn file_secret_relative_absolute_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/db"), b"p@ss\n").unwrap();
    std::fs::write(dir.path().join("crlf"), b"p@ss\r\n").unwrap();
    std::fs::write(dir.path().join("two"), b"line1\nline2\n\n").unwrap();
    std::fs::write(dir.path().join("bin"), b"\x00\xff\xfe").unwrap();
    let r = Resolver::default();
    let read = |text: &str| r.resolve(&SecretRef::parse(text).unwrap(), dir.path());
    assert_eq!(read("file:secrets/db").unwrap().expose(), b"p@ss");
    assert_eq!(read("file:crlf").unwrap().expose(), b"p@ss");
    assert_eq!(read("file:two").unwrap().expose(), b"line1\nline2\n");
    assert_eq!(read("file:bin").unwrap().expose(), b"\x00\xff\xfe");
    let abs = format!("file:{}", dir.path().join("secrets/db").display());
    assert_eq!(read(&abs).unwrap().expose(), b"p@ss");
    let err = read("file:missing.txt").unwrap_err().to_string();
    assert!(
        err.contains("file:missing.txt") && err.contains("create the file"),
        "{err}"
    );
    assert!(
        err.contains(&dir.path().join("missing.txt").display().to_string()),
        "{err}"
    );
}

#[test]
fn gcloud_latest_version_with_project_from_the_environment() {
    for var in ["CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"] {
        let r = with_fake_gcloud(&[(var, "acme-prod")]);
        let s = r
            .resolve(
                &SecretRef::parse("gcp:db-password").unwrap(),
                Path::new("/"),
            )
            .unwrap();
        // Exactly the recorded payload: no newline added or trimmed.
        assert_eq!(s.expose(), b"hunter2-p@ss/w+rd=", "{var}");
        assert_eq!(s.name(), "gcp:db-password");
    }
}

#[test]
fn gcloud_full_name_with_a_version() {
    let r = with_fake_gcloud(&[]);
    let name = SecretRef::parse("gcp:projects/acme-prod/secrets/db-password/versions/3").unwrap();
    assert_eq!(
        r.resolve(&name, Path::new("/")).unwrap().expose(),
        b"older-p@ss/w+rd="
    );
}

#[test]
fn gcloud_permission_denied_names_the_role() {
    let r = with_fake_gcloud(&[("CLOUDSDK_CORE_PROJECT", "acme-prod")]);
    let err = r
        .resolve(&SecretRef::parse("gcp:api-token").unwrap(), Path::new("/"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SecretError::GcloudFailed { .. }), "{msg}");
    assert!(msg.starts_with("secret `gcp:api-token`"), "{msg}");
    assert!(
        msg.contains("PERMISSION_DENIED: Permission 'secretmanager.versions.access'"),
        "{msg}"
    );
    assert!(msg.contains("roles/secretmanager.secretAccessor"), "{msg}");
}

#[test]
fn gcloud_not_found_and_unexpected_arguments_fail_with_stderr() {
    let r = with_fake_gcloud(&[("CLOUDSDK_CORE_PROJECT", "acme-prod")]);
    let msg = r
        .resolve(
            &SecretRef::parse("gcp:no-such-secret").unwrap(),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("NOT_FOUND") && msg.contains("gcloud secrets list"),
        "{msg}"
    );
    let other = with_fake_gcloud(&[("CLOUDSDK_CORE_PROJECT", "other")]);
    let msg = other
        .resolve(
            &SecretRef::parse("gcp:db-password").unwrap(),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unexpected arguments") && msg.contains("--project=other"),
        "{msg}"
    );
}

#[test]
fn gcloud_missing_from_path_says_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let r = Resolver {
        path: Some(empty.path().as_os_str().to_owned()),
        vars: Some(BTreeMap::from([(
            "GOOGLE_CLOUD_PROJECT".to_owned(),
            "acme-prod".into(),
        )])),
    };
    let err = r
        .resolve(
            &SecretRef::parse("gcp:db-password").unwrap(),
            Path::new("/"),
        )
        .unwrap_err();
    assert!(matches!(err, SecretError::GcloudMissing { .. }));
    assert!(
        err.to_string().contains("install the Google Cloud CLI"),
        "{err}"
    );
}

#[test]
fn gcloud_without_a_project_is_an_error_before_running_anything() {
    let err = vars(&[])
        .resolve(
            &SecretRef::parse("gcp:db-password").unwrap(),
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CLOUDSDK_CORE_PROJECT") && err.contains("gcp:projects/"),
        "{err}"
    );
}

#[test]
fn resolver_debug_shows_variable_names_only() {
    let shown = format!("{:?}", vars(&[("DB_PASSWORD", "hunter2")]));
    assert!(
        shown.contains("DB_PASSWORD") && !shown.contains("hunter2"),
        "{shown}"
    );
}
