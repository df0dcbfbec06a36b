//! Tests: rootfs assembly from Debian packages (skipped without apt), and the Python
//! and Node bases run in the engine (skipped without one, unless ISECT_REQUIRE_DOCKER=1).
#![allow(clippy::unwrap_used)]

use super::*;
use crate::image::docker::test_support::{apt_or_skip, deb_cache, engine_or_skip};
use crate::image::docker::{import_rootfs, remove, run_once};

#[test]
fn deb_file_names_encode_the_epoch() {
    let p = DebPackage {
        name: "busybox-static".into(),
        version: "1:1.35.0-4".into(),
        arch: "amd64".into(),
    };
    assert_eq!(p.file_name(), "busybox-static_1%3a1.35.0-4_amd64.deb");
}

#[test]
fn apt_simulation_lines() {
    let out = "Reading package lists...\n\
               Inst gcc-12-base (12.2.0-14 Debian:12.15/oldstable [amd64])\n\
               Inst libgcc-s1 (12.2.0-14 Debian:12.15/oldstable [amd64]) []\n\
               Inst tzdata (2025b-0+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [all])\n\
               Conf tzdata (2025b-0+deb12u1 Debian:12.15/oldstable [all])\n";
    let got: Vec<_> = parse_simulation(out)
        .into_iter()
        .map(|p| format!("{}_{}_{}", p.name, p.version, p.arch))
        .collect();
    assert_eq!(
        got,
        [
            "gcc-12-base_12.2.0-14_amd64",
            "libgcc-s1_12.2.0-14_amd64",
            "tzdata_2025b-0+deb12u1_all"
        ]
    );
}

#[test]
fn the_destination_must_be_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x"), "").unwrap();
    let e = assemble_rootfs(
        &["busybox-static"],
        dir.path(),
        &dir.path().join("cache"),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, DebianError::NotEmpty(_)), "{e}");
}

#[test]
fn an_unknown_package_says_so() {
    if !apt_or_skip("unknown_package") {
        return;
    }
    let e = resolve(&["isect-no-such-package"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("Unable to locate package isect-no-such-package"),
        "{e}"
    );
}

#[test]
fn a_tiny_rootfs_with_status_entries_users_and_licences() {
    if !apt_or_skip("tiny_rootfs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("rootfs");
    let mut lines = Vec::new();
    let report =
        assemble_rootfs(&["busybox-static"], &dest, &deb_cache(), |l| lines.push(l)).unwrap();
    assert_eq!(report.packages.len(), 1, "{report:?}");
    let pkg = &report.packages[0];
    assert_eq!(pkg.name, "busybox-static");
    assert!(deb_cache().join(pkg.file_name()).is_file());
    assert!(dest.join("bin/busybox").is_file());
    assert!(report.size > 500_000, "{report:?}");

    let status =
        std::fs::read_to_string(dest.join("var/lib/dpkg/status.d/busybox-static")).unwrap();
    assert!(
        status.starts_with("Package: busybox-static\nStatus: install ok installed\n"),
        "{status}"
    );
    assert!(
        status.contains(&format!("Version: {}\n", pkg.version)),
        "{status}"
    );
    assert!(
        dest.join("var/lib/dpkg/status.d/busybox-static.md5sums")
            .is_file()
    );

    let passwd = std::fs::read_to_string(dest.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert!(
        std::fs::read_to_string(dest.join("etc/group"))
            .unwrap()
            .contains("nonroot:x:65532:")
    );
    assert!(
        std::fs::read_to_string(dest.join("etc/os-release"))
            .unwrap()
            .contains("ID=")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dest.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );

    // docs go, licences stay
    let doc = dest.join("usr/share/doc/busybox-static");
    let left: Vec<_> = std::fs::read_dir(&doc)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["copyright"]);
    assert!(!dest.join("usr/share/man").exists());

    // a rerun downloads nothing
    let again = assemble_rootfs(
        &["busybox-static"],
        &tmp.path().join("again"),
        &deb_cache(),
        |_| {},
    )
    .unwrap();
    assert_eq!((again.downloaded, again.size), (0, report.size));

    // the tar is reproducible and keeps modes and symlinks
    let (mut a, mut b) = (Vec::new(), Vec::new());
    rootfs_tar(&dest, &mut a).unwrap();
    rootfs_tar(&tmp.path().join("again"), &mut b).unwrap();
    assert_eq!(a, b);
    let tmp_entry = tar::Archive::new(a.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().as_os_str() == "tmp")
        .map(|e| e.header().mode().unwrap());
    assert_eq!(tmp_entry, Some(0o1777));
}

/// The Python base the sample platform's services run on: the interpreter and its
/// standard library, enough for a stdlib HTTP server.
/// dpkg (through readline-common) and debconf (through ca-certificates) are left out:
/// nothing runs maintainer scripts in a distroless image.
const PYTHON_BASE: &[&str] = &[
    "python3.11-minimal",
    "libpython3.11-stdlib",
    "ca-certificates",
    "!dpkg",
    "!debconf",
];

#[tokio::test]
async fn a_python_base_runs_python_in_the_engine() {
    let Some(docker) = engine_or_skip("python_base").await else {
        return;
    };
    if !apt_or_skip("python_base") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("rootfs");
    let report = assemble_rootfs(PYTHON_BASE, &dest, &deb_cache(), |_| {}).unwrap();
    assert!(dest.join("var/lib/dpkg/status.d/libc6").is_file());
    let names: Vec<&str> = report.packages.iter().map(|p| p.name.as_str()).collect();
    for left_out in ["dpkg", "tar", "debconf", "libselinux1"] {
        assert!(!names.contains(&left_out), "{left_out} in {names:?}");
    }
    let bundle = std::fs::read_to_string(dest.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 100);
    let mut tar = Vec::new();
    rootfs_tar(&dest, &mut tar).unwrap();
    let id = import_rootfs(
        &docker,
        tar,
        "isect-test/python-base:latest",
        &["ENV PATH=/usr/local/bin:/usr/bin:/bin"],
    )
    .await
    .unwrap();
    let script =
        "import json, http.server, ssl; ssl.create_default_context(); print(json.dumps(42))";
    let (code, out) = run_once(&docker, &id, &["python3.11", "-c", script])
        .await
        .unwrap();
    assert_eq!(
        (code, out.as_str()),
        (0, "42\n"),
        "rootfs of {} bytes",
        report.size
    );
    let (code, out) = run_once(
        &docker,
        &id,
        &["python3.11", "-c", "import os; print(os.getuid())"],
    )
    .await
    .unwrap();
    assert_eq!((code, out.trim()), (0, "0"));
    remove(&docker, &id).await.unwrap();
}

/// The Node base: Debian 12's nodejs (v18) and the libraries it links.
const NODE_BASE: &[&str] = &["nodejs", "ca-certificates", "!debconf"];

#[tokio::test]
async fn a_node_base_runs_node_in_the_engine() {
    let Some(docker) = engine_or_skip("node_base").await else {
        return;
    };
    if !apt_or_skip("node_base") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("rootfs");
    let report = assemble_rootfs(NODE_BASE, &dest, &deb_cache(), |_| {}).unwrap();
    let mut tar = Vec::new();
    rootfs_tar(&dest, &mut tar).unwrap();
    let id = import_rootfs(
        &docker,
        tar,
        "isect-test/node-base:latest",
        &["ENV PATH=/usr/local/bin:/usr/bin:/bin"],
    )
    .await
    .unwrap();
    let script = "require('http'); console.log(process.versions.node.split('.')[0])";
    let (code, out) = run_once(&docker, &id, &["node", "-e", script])
        .await
        .unwrap();
    assert_eq!(
        (code, out.as_str()),
        (0, "18\n"),
        "rootfs of {} bytes",
        report.size
    );
    remove(&docker, &id).await.unwrap();
}
