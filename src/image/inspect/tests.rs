//! Inspection end to end: hand-built OCI layouts (tar layers written here), whiteouts,
//! a real Go binary built with the installed toolchain, and the image scan against the
//! repository's OSV fixtures.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::gobuild::hex;
use super::gobuild::tests::blob;
use super::*;
use crate::scan::osv::{Database, import};
use crate::scan::{Scanner, Severity};

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/image")
        .join(name);
    std::fs::read(p).unwrap()
}

/// A tar of (path, bytes, mode) regular files.
pub(crate) fn tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let h = hex(&Sha256::digest(bytes));
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&h), bytes).unwrap();
    format!("sha256:{h}")
}

/// An OCI layout at `dir` whose one manifest has `layers` (raw blobs, lowest first);
/// returns the manifest digest.
pub(crate) fn write_layout(dir: &Path, layers: &[Vec<u8>]) -> String {
    let config = put_blob(
        dir,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let gz = l.starts_with(&[0x1f, 0x8b]);
            serde_json::json!({
                "mediaType": if gz { "application/vnd.oci.image.layer.v1.tar+gzip" } else { "application/vnd.oci.image.layer.v1.tar" },
                "digest": put_blob(dir, l),
                "size": l.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 10},
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = put_blob(dir, &bytes);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": bytes.len()}],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    digest
}

/// A fake Go executable: an ELF header, then a Go 1.19.0 build-info blob.
fn fake_go_binary() -> Vec<u8> {
    let mut f = b"\x7fELF\x02\x01\x01".to_vec();
    f.resize(4096, 0);
    f.extend_from_slice(&blob(
        "go1.19",
        "path\texample.com/svc/cmd/svc\nmod\texample.com/svc\t(devel)\t\n\
         dep\tgolang.org/x/text\tv0.3.2\th1:abc=\nbuild\tCGO_ENABLED=0\n",
    ));
    f.resize(f.len() + 512, 0);
    f
}

const SITE: &str = "usr/lib/python3/dist-packages";

/// The standard fixture image: Debian base, Python and npm packages, a Go binary, and a
/// second layer that whites out urllib3 and makes `opt/old` opaque.
pub(crate) fn fixture_layout(dir: &Path) -> String {
    let metadata = fixture("requests-2.25.0.METADATA");
    let urllib3 = b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\nLicense: MIT\n\n";
    let requests_path = format!("{SITE}/requests-2.25.0.dist-info/METADATA");
    let urllib3_path = format!("{SITE}/urllib3-1.26.4.dist-info/METADATA");
    let go = fake_go_binary();
    let lower = tar(&[
        ("etc/os-release", &fixture("os-release"), 0o644),
        ("var/lib/dpkg/status", &fixture("dpkg-status"), 0o644),
        (
            "usr/share/doc/zlib1g/copyright",
            &fixture("zlib1g.copyright"),
            0o644,
        ),
        (&requests_path, &metadata, 0o644),
        (&urllib3_path, urllib3, 0o644),
        (
            "app/node_modules/lodash/package.json",
            br#"{"name":"lodash","version":"4.17.20","license":"MIT"}"#,
            0o644,
        ),
        (
            "app/node_modules/@scope/x/package.json",
            br#"{"name":"@scope/x","version":"1.0.0"}"#,
            0o644,
        ),
        (
            "opt/old/node_modules/minimist/package.json",
            br#"{"name":"minimist","version":"1.2.5"}"#,
            0o644,
        ),
        ("usr/local/bin/svc", &go, 0o755),
        ("usr/bin/script", b"#!/bin/sh\necho hi\n", 0o755),
    ]);
    let upper = tar(&[
        (&format!("{SITE}/.wh.urllib3-1.26.4.dist-info"), b"", 0o644),
        ("opt/old/.wh..wh..opq", b"", 0o644),
        (
            "opt/old/node_modules/left-pad/package.json",
            br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#,
            0o644,
        ),
    ]);
    write_layout(dir, &[gzip(&lower), upper])
}

fn names(c: &ImageContents) -> Vec<(PackageEcosystem, &str, &str)> {
    c.packages
        .iter()
        .map(|p| (p.ecosystem, p.name.as_str(), p.version.as_str()))
        .collect()
}

#[test]
fn layers_apply_with_whiteouts_and_packages_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let digest = fixture_layout(dir.path());
    let c = inspect_layout(dir.path()).unwrap();
    assert_eq!(c.manifest_digest, digest);
    assert_eq!(c.layers.len(), 2);
    use PackageEcosystem::*;
    assert_eq!(
        names(&c),
        [
            (Go, "golang.org/x/text", "v0.3.2"),
            (Go, "stdlib", "1.19.0"),
            (PyPI, "requests", "2.25.0"),
            (Npm, "@scope/x", "1.0.0"),
            (Npm, "left-pad", "1.3.0"),
            (Npm, "lodash", "4.17.20"),
            (Debian, "base-files", "12.4+deb12u5"),
            (Debian, "libc6", "2.36-9+deb12u4"),
            (Debian, "zlib1g", "1:1.2.13.dfsg-1"),
        ]
    );
    let find = |n: &str| c.packages.iter().find(|p| p.name == n).unwrap();
    let requests = find("requests");
    assert_eq!(requests.purl, "pkg:pypi/requests@2.25.0");
    assert_eq!(requests.licenses, ["Apache-2.0"]);
    assert_eq!(
        requests.path_in_image,
        format!("{SITE}/requests-2.25.0.dist-info/METADATA")
    );
    assert_eq!(find("@scope/x").purl, "pkg:npm/%40scope/x@1.0.0");
    let zlib = find("zlib1g");
    assert_eq!(zlib.licenses, ["Zlib"]);
    assert_eq!(
        zlib.purl,
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"
    );
    assert_eq!(
        find("golang.org/x/text").purl,
        "pkg:golang/golang.org/x/text@v0.3.2"
    );
    assert_eq!(find("stdlib").path_in_image, "usr/local/bin/svc");
    let os = c.os.as_ref().unwrap();
    assert_eq!(
        os.pretty_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    assert_eq!(c.go_binaries.len(), 1);
    let bin = &c.go_binaries[0];
    assert_eq!(
        (bin.main_module.as_str(), bin.go_version.as_str()),
        ("example.com/svc", "go1.19")
    );
    assert_eq!(bin.sha256, hex(&Sha256::digest(fake_go_binary())));
    assert!(c.notes.is_empty(), "{:?}", c.notes);
}

#[test]
fn caps_tampering_and_bad_layouts_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(dir.path());
    let tight = Limits {
        max_file: 1000,
        budget: 1 << 20,
    };
    let c = inspect_layout_with(dir.path(), tight).unwrap();
    // the status file (over 1000 bytes) is skipped and said so; the Go binary too, quietly
    assert!(
        c.notes
            .iter()
            .any(|n| n.starts_with("var/lib/dpkg/status: skipped"))
    );
    assert!(c.go_binaries.is_empty());
    assert!(
        c.packages
            .iter()
            .all(|p| p.ecosystem != PackageEcosystem::Debian)
    );

    // a layer whose bytes do not match its digest
    let (_, layers) = layout::manifest(dir.path()).unwrap();
    let hexd = layers[1].strip_prefix("sha256:").unwrap();
    let blob = dir.path().join("blobs/sha256").join(hexd);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes.extend_from_slice(&[0u8; 1024]);
    std::fs::write(&blob, bytes).unwrap();
    let e = inspect_layout(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not its name"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    let e = inspect_layout(empty.path()).unwrap_err().to_string();
    assert!(e.contains("oci-layout"), "{e}");
}

#[test]
fn stdlib_versions_follow_the_go_vulndb() {
    assert_eq!(stdlib_version("go1.19.8").as_deref(), Some("1.19.8"));
    assert_eq!(stdlib_version("go1.20").as_deref(), Some("1.20.0"));
    assert_eq!(stdlib_version("go1.21rc2").as_deref(), Some("1.21.0-rc.2"));
    assert_eq!(
        stdlib_version("go1.21.3 X:boringcrypto").as_deref(),
        Some("1.21.3")
    );
    assert_eq!(stdlib_version("devel +abc"), None);
}

fn fixture_db() -> (tempfile::TempDir, Database) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    let dir = tempfile::tempdir().unwrap();
    import(&src, dir.path(), None).unwrap();
    let db = Database::open(dir.path()).unwrap();
    (dir, db)
}

#[test]
fn image_scan_matches_packages_against_osv() {
    let dir = tempfile::tempdir().unwrap();
    fixture_layout(dir.path());
    let c = inspect_layout(dir.path()).unwrap();
    let (_db_dir, db) = fixture_db();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let r = scan_image_with(&c, "image/api", &db, 100_000, now).unwrap();
    assert_eq!(r.scanner, Scanner::Image);
    let ids: Vec<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
    for id in [
        "GHSA-j8r2-6x86-q33q",
        "GHSA-35jh-r3h4-6jhm",
        "GO-2020-0015",
        "GO-2022-0969",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    // urllib3 was whited out, minimist hidden by an opaque directory
    assert!(!ids.contains(&"PYSEC-2021-108") && !ids.contains(&"GHSA-xvch-5gv4-984h"));
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "GHSA-j8r2-6x86-q33q")
        .unwrap();
    assert_eq!(
        f.location.path,
        format!("image/api/{SITE}/requests-2.25.0.dist-info/METADATA")
    );
    assert_eq!(f.location.line, 0);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.properties["fixed"], "2.31.0");
    assert!(
        f.message
            .starts_with("requests 2.25.0 (PyPI, in /usr/lib/python3")
    );
    let stdlib = r
        .findings
        .iter()
        .find(|f| f.rule_id == "GO-2022-0969")
        .unwrap();
    assert_eq!(stdlib.properties["fixed"], "1.19.1");
    assert_eq!(r.rules.len(), 4);
    // the Debian packages are matched now: libc6 2.36-9+deb12u4 (source glibc) is past
    // DSA-5514-1's bookworm fix, zlib1g is only in DSA-5218-1's bullseye entry
    assert!(
        !r.notes.iter().any(|n| n.contains("Debian package(s)")),
        "{:?}",
        r.notes
    );
    assert!(!ids.iter().any(|id| id.starts_with("DSA-")), "{ids:?}");

    // SARIF: whole-file findings carry no region, and the URI is the relative path
    let origin = crate::scan::sarif::Origin {
        service: "api",
        stage: "image",
    };
    let log: serde_json::Value =
        serde_json::from_str(&crate::scan::sarif::Log::new(&[(origin, &r)]).to_json()).unwrap();
    let loc = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert!(loc["region"].is_null());
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("image/api/")
    );
}

/// A distroless-style Debian 12 image: one `status.d` file per package, no `Status`.
fn debian_layout(dir: &Path, os_release: &[u8]) {
    let libc6 = b"Package: libc6\nVersion: 2.36-9+deb12u1\nArchitecture: amd64\n\
                  Source: glibc\nDescription: GNU C Library: Shared libraries\n";
    let libssl3 = b"Package: libssl3\nVersion: 3.0.11-1~deb12u1\nArchitecture: amd64\n\
                    Source: openssl (3.0.11-1~deb12u1)\nDescription: SSL shared libraries\n";
    let zlib1g = b"Package: zlib1g\nVersion: 1:1.2.11.dfsg-2+deb11u1\nArchitecture: amd64\n\
                   Source: zlib\nDescription: compression library - runtime\n";
    let base = b"Package: base-files\nVersion: 12.4+deb12u1\nArchitecture: amd64\n";
    let layer = tar(&[
        ("etc/os-release", os_release, 0o644),
        ("var/lib/dpkg/status.d/libc6", libc6, 0o644),
        ("var/lib/dpkg/status.d/libssl3", libssl3, 0o644),
        ("var/lib/dpkg/status.d/zlib1g", zlib1g, 0o644),
        ("var/lib/dpkg/status.d/base-files", base, 0o644),
    ]);
    write_layout(dir, &[gzip(&layer)]);
}

#[test]
fn image_scan_matches_debian_packages_by_source_and_release() {
    let dir = tempfile::tempdir().unwrap();
    debian_layout(dir.path(), &fixture("os-release"));
    let c = inspect_layout(dir.path()).unwrap();
    let (_db_dir, db) = fixture_db();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let r = scan_image_with(&c, "image/base", &db, 100_000, now).unwrap();
    let mut got: Vec<(&str, &str, &str)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str(),
                f.properties["package"].as_str().unwrap(),
                f.properties["fixed"].as_str().unwrap(),
            )
        })
        .collect();
    got.sort();
    // zlib1g's version is below DSA-5218-1's fix, but that fix is for Debian 11
    assert_eq!(
        got,
        [
            ("DSA-5514-1", "libc6", "2.36-9+deb12u3"),
            ("DSA-5532-1", "libssl3", "3.0.11-1~deb12u2"),
        ]
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "DSA-5514-1")
        .unwrap();
    assert_eq!(f.location.path, "image/base/var/lib/dpkg/status.d/libc6");
    assert_eq!(f.properties["ecosystem"], "Debian");
    assert_eq!(f.properties["source_package"], "glibc");
    assert_eq!(f.severity, Severity::Medium); // a DSA carries no CVSS vector
    assert!(
        f.message.starts_with(
            "libc6 2.36-9+deb12u1 (Debian source package glibc, in /var/lib/dpkg/status.d/libc6) \
             is affected by DSA-5514-1 (CVE-2023-4527, CVE-2023-4806, CVE-2023-4911)"
        ),
        "{}",
        f.message
    );
    assert!(
        !r.notes.iter().any(|n| n.contains("Debian package(s)")),
        "{:?}",
        r.notes
    );
    assert!(r.rules.iter().any(|rule| rule.id == "DSA-5532-1"));

    // the same packages on Debian 11: only bullseye's entries apply
    let dir = tempfile::tempdir().unwrap();
    debian_layout(dir.path(), b"ID=debian\nVERSION_ID=\"11\"\n");
    let c = inspect_layout(dir.path()).unwrap();
    let r = scan_image_with(&c, "image/base", &db, 100_000, now).unwrap();
    let mut ids: Vec<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["DSA-5218-1"]);

    // an unknown release (testing has no VERSION_ID) is listed, not guessed
    let dir = tempfile::tempdir().unwrap();
    debian_layout(
        dir.path(),
        b"ID=debian\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n",
    );
    let c = inspect_layout(dir.path()).unwrap();
    let r = scan_image_with(&c, "image/base", &db, 100_000, now).unwrap();
    assert!(r.findings.is_empty());
    assert!(
        r.notes.iter().any(
            |n| n.starts_with("4 Debian package(s) listed but not matched")
                && n.contains("release is unknown")
        ),
        "{:?}",
        r.notes
    );
}

/// A real Go binary: built here with the installed toolchain (skipped without one).
#[test]
#[allow(clippy::print_stdout)]
fn real_go_binary_build_info() {
    let Ok(out) = std::process::Command::new("go").arg("version").output() else {
        println!("skipped: `go` is not installed");
        return;
    };
    let version = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let src: PathBuf = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("go.mod"),
        "module example.com/isectdemo\n\ngo 1.18\n",
    )
    .unwrap();
    std::fs::write(
        src.join("main.go"),
        "package main\n\nfunc main() { println(\"hi\") }\n",
    )
    .unwrap();
    let status = std::process::Command::new("go")
        .args(["build", "-o", "app", "."])
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .status()
        .unwrap();
    assert!(status.success());
    let binary = std::fs::read(src.join("app")).unwrap();
    let layout = dir.path().join("layout");
    write_layout(
        &layout,
        &[gzip(&tar(&[("usr/local/bin/app", &binary, 0o755)]))],
    );
    let c = inspect_layout(&layout).unwrap();
    assert_eq!(c.go_binaries.len(), 1, "{:?}", c.notes);
    let bin = &c.go_binaries[0];
    assert_eq!(bin.main_module, "example.com/isectdemo");
    assert_eq!(bin.go_version, version);
    assert_eq!(bin.main_version.as_deref(), Some("(devel)"));
    assert_eq!(bin.sha256, hex(&Sha256::digest(&binary)));
    let stdlib = c.packages.iter().find(|p| p.name == "stdlib").unwrap();
    assert_eq!(stdlib.version, stdlib_version(&version).unwrap());
}

#[test]
fn a_remembered_base_chain_is_reused_unchanged_and_still_checked() {
    let meta = |name: &str| format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n");
    let (a_path, b_path) = (
        format!("{SITE}/memo_a-1.0.dist-info/METADATA"),
        format!("{SITE}/memo_b-1.0.dist-info/METADATA"),
    );
    let base = gzip(&tar(&[
        (&a_path, meta("memo_a").as_bytes(), 0o644),
        (&b_path, meta("memo_b").as_bytes(), 0o644),
    ]));
    let app = tar(&[(&format!("{SITE}/.wh.memo_b-1.0.dist-info"), b"", 0o644)]);
    let (base_dir, app_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_layout(base_dir.path(), std::slice::from_ref(&base));
    write_layout(app_dir.path(), &[base, app]);
    let pypi = |dir: &Path| {
        let c = inspect_layout(dir).unwrap();
        c.packages
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
    };

    assert_eq!(pypi(base_dir.path()), ["memo_a", "memo_b"]);
    // The app image starts from the base's remembered view and whites one package out...
    assert_eq!(pypi(app_dir.path()), ["memo_a"]);
    // ...without changing what is remembered of the base.
    assert_eq!(pypi(base_dir.path()), ["memo_a", "memo_b"]);

    // A remembered layer is not parsed again, but its blob is still checked.
    let (_, layers) = layout::manifest(app_dir.path()).unwrap();
    let blob = app_dir
        .path()
        .join("blobs/sha256")
        .join(layers[0].strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes.push(0);
    std::fs::write(&blob, bytes).unwrap();
    let e = inspect_layout(app_dir.path()).unwrap_err().to_string();
    assert!(e.contains("not its name"), "{e}");
}
