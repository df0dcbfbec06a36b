//! Tests over the real-advisory fixtures in `tests/fixtures/osv`: matching, the
//! database (import, status, corrupt and oversized zips) and `scan_dir` end to end.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::db::EcoIndex;
use super::matching::record_affects;
use super::*;
use crate::scan::Severity;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

/// The fixtures imported into a fresh database folder.
fn fixture_db() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    import(&fixtures(), dir.path(), None).unwrap();
    let db = Database::open(dir.path()).unwrap();
    (dir, db)
}

/// Advisory ids affecting `name@version`, with the fixed version each reports.
fn hits(db: &Database, eco: Ecosystem, name: &str, version: &str) -> Vec<(String, Option<String>)> {
    let index = db.index(eco).unwrap().unwrap();
    let name = eco.normalize_name(name);
    let v = Version::parse(eco, version);
    let mut out: Vec<_> = index
        .lookup(&name)
        .unwrap()
        .into_iter()
        .filter_map(|r| record_affects(&r, eco, &name, &v).map(|h| (r.id.clone(), h.fixed)))
        .collect();
    out.sort();
    out
}

fn ids(h: &[(String, Option<String>)]) -> Vec<&str> {
    h.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn real_records_match_at_their_boundaries() {
    let (_d, db) = fixture_db();
    let (go, py, npm) = (Ecosystem::Go, Ecosystem::PyPI, Ecosystem::Npm);
    // golang.org/x/text: introduced 0, fixed 0.3.3
    assert_eq!(
        hits(&db, go, "golang.org/x/text", "v0.3.2"),
        vec![("GO-2020-0015".into(), Some("0.3.3".into()))]
    );
    assert!(hits(&db, go, "golang.org/x/text", "v0.3.3").is_empty());
    assert_eq!(
        ids(&hits(
            &db,
            go,
            "golang.org/x/text",
            "v0.0.0-20190101000000-abcdefabcdef"
        )),
        ["GO-2020-0015"]
    );
    // golang.org/x/net: a pseudo-version fix (GO-2022-0969) and 0.13.0 (GO-2023-1988)
    assert_eq!(
        ids(&hits(
            &db,
            go,
            "golang.org/x/net",
            "v0.0.0-20220906000000-aaaaaaaaaaaa"
        )),
        ["GO-2022-0969", "GO-2023-1988"]
    );
    assert_eq!(
        ids(&hits(
            &db,
            go,
            "golang.org/x/net",
            "v0.0.0-20220906165146-f3363e06e74c"
        )),
        ["GO-2023-1988"]
    );
    assert_eq!(
        hits(&db, go, "golang.org/x/net", "v0.7.0"),
        vec![("GO-2023-1988".into(), Some("0.13.0".into()))]
    );
    assert!(hits(&db, go, "golang.org/x/net", "v0.13.0").is_empty());
    // golang.org/x/crypto: the fix is a pseudo-version; v0.1.0 is a later release
    assert_eq!(
        ids(&hits(
            &db,
            go,
            "golang.org/x/crypto",
            "v0.0.0-20220112180741-5e0467b6c7ce"
        )),
        ["GO-2021-0356"]
    );
    assert!(
        hits(
            &db,
            go,
            "golang.org/x/crypto",
            "v0.0.0-20220315160706-3147a52a75dd"
        )
        .is_empty()
    );
    assert!(hits(&db, go, "golang.org/x/crypto", "v0.1.0").is_empty());
    // requests: introduced 2.3.0 (inclusive), fixed 2.31.0
    assert!(hits(&db, py, "requests", "2.2.1").is_empty());
    assert_eq!(
        ids(&hits(&db, py, "requests", "2.3.0")),
        ["GHSA-j8r2-6x86-q33q"]
    );
    assert_eq!(
        hits(&db, py, "Requests", "2.30.0"),
        vec![("GHSA-j8r2-6x86-q33q".into(), Some("2.31.0".into()))]
    );
    assert_eq!(
        ids(&hits(&db, py, "requests", "2.31.0rc1")),
        ["GHSA-j8r2-6x86-q33q"]
    );
    assert!(hits(&db, py, "requests", "2.31.0").is_empty());
    // jinja2 by its PEP 503 name
    assert_eq!(
        ids(&hits(&db, py, "Jinja2", "3.1.2")),
        ["GHSA-h5c8-rqwp-cp95"]
    );
    assert!(hits(&db, py, "jinja2", "3.1.3").is_empty());
    // ecdsa: last_affected 0.18.0 is inclusive and has no fix
    assert_eq!(
        hits(&db, py, "ecdsa", "0.18.0"),
        vec![("GHSA-wj6h-64fc-37mp".into(), None)]
    );
    assert!(hits(&db, py, "ecdsa", "0.19.0").is_empty());
    // urllib3: enumerated versions only (the GIT range is ignored)
    assert_eq!(ids(&hits(&db, py, "urllib3", "1.26.4")), ["PYSEC-2021-108"]);
    assert_eq!(
        ids(&hits(&db, py, "urllib3", "1.25.10")),
        ["PYSEC-2021-108"]
    );
    assert!(hits(&db, py, "urllib3", "1.25.3").is_empty());
    assert!(hits(&db, py, "urllib3", "1.26.5").is_empty());
    // lodash: fixed 4.17.21, and the withdrawn record (fixed 4.17.22) never matches
    assert_eq!(
        hits(&db, npm, "lodash", "4.17.20"),
        vec![("GHSA-35jh-r3h4-6jhm".into(), Some("4.17.21".into()))]
    );
    assert!(hits(&db, npm, "lodash", "4.17.21").is_empty());
    // minimist: two affected entries
    assert_eq!(
        hits(&db, npm, "minimist", "0.2.3"),
        vec![("GHSA-xvch-5gv4-984h".into(), Some("0.2.4".into()))]
    );
    assert!(hits(&db, npm, "minimist", "0.2.4").is_empty());
    assert_eq!(
        hits(&db, npm, "minimist", "1.2.5"),
        vec![("GHSA-xvch-5gv4-984h".into(), Some("1.2.6".into()))]
    );
    assert!(hits(&db, npm, "minimist", "1.2.6").is_empty());
}

/// Debian advisories affecting source package `name` at `version` in `release`.
fn debian_hits(
    db: &Database,
    release: &str,
    name: &str,
    version: &str,
) -> Vec<(String, Option<String>)> {
    let eco = Ecosystem::Debian;
    let index = db.index(eco).unwrap().unwrap();
    let v = Version::parse(eco, version);
    let mut out: Vec<_> = index
        .lookup(name)
        .unwrap()
        .into_iter()
        .filter_map(|r| {
            super::matching::record_affects_in(&r, eco, Some(release), name, &v)
                .map(|h| (r.id.clone(), h.fixed))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn debian_records_match_by_source_package_and_release() {
    let (_d, db) = fixture_db();
    // DSA-5514-1: glibc, fixed per release
    assert_eq!(
        debian_hits(&db, "12", "glibc", "2.36-9+deb12u1"),
        vec![("DSA-5514-1".into(), Some("2.36-9+deb12u3".into()))]
    );
    assert!(debian_hits(&db, "12", "glibc", "2.36-9+deb12u3").is_empty());
    assert!(debian_hits(&db, "12", "glibc", "2.36-9+deb12u14").is_empty());
    assert_eq!(
        debian_hits(&db, "11", "glibc", "2.31-13+deb11u6"),
        vec![("DSA-5514-1".into(), Some("2.31-13+deb11u7".into()))]
    );
    // records are indexed by source package: the binary package is not in them
    assert!(debian_hits(&db, "12", "libc6", "2.36-9+deb12u1").is_empty());
    // DSA-5532-1: openssl, a fix with `~` below the plain revision
    assert_eq!(
        ids(&debian_hits(&db, "12", "openssl", "3.0.11-1~deb12u1")),
        ["DSA-5532-1"]
    );
    assert!(debian_hits(&db, "12", "openssl", "3.0.11-1~deb12u2").is_empty());
    assert!(debian_hits(&db, "12", "openssl", "3.0.22-1~deb12u2").is_empty());
    // DSA-5218-1 has only a Debian 11 entry: a bookworm zlib below its fix is not
    // matched, a bullseye one is (and the epoch counts)
    assert!(debian_hits(&db, "12", "zlib", "1:1.2.11.dfsg-2+deb11u1").is_empty());
    assert_eq!(
        debian_hits(&db, "11", "zlib", "1:1.2.11.dfsg-2+deb11u1"),
        vec![("DSA-5218-1".into(), Some("1:1.2.11.dfsg-2+deb11u2".into()))]
    );
    assert!(debian_hits(&db, "11", "zlib", "1:1.2.11.dfsg-2+deb11u2").is_empty());
    assert!(debian_hits(&db, "11", "zlib", "1:1.2.13.dfsg-1").is_empty());
    assert_eq!(
        ids(&debian_hits(&db, "11", "zlib", "1.2.13.dfsg-1")),
        ["DSA-5218-1"],
        "without its epoch, 1.2.13 is below 1:1.2.11"
    );
    // DSA records name their CVEs in `upstream`
    let index = db.index(Ecosystem::Debian).unwrap().unwrap();
    let glibc = index.lookup("glibc").unwrap();
    assert!(glibc[0].upstream.iter().any(|u| u == "CVE-2023-4911"));
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

fn write_db(dir: &Path, eco: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(eco).join("all.zip");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn corrupt_truncated_and_oversized_zips_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let record = std::fs::read(fixtures().join("GHSA-35jh-r3h4-6jhm.json")).unwrap();
    let good = zip_of(&[("GHSA-35jh-r3h4-6jhm.json", &record)]);

    write_db(dir.path(), "npm", b"this is not a zip file at all");
    let e = EcoIndex::load(
        Ecosystem::Npm,
        &dir.path().join("npm/all.zip"),
        Limits::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DepsError::CorruptDb { .. }), "{msg}");
    assert!(
        msg.contains("npm/all.zip") && msg.contains("isect vulndb import"),
        "{msg}"
    );

    let path = write_db(dir.path(), "npm", &good[..good.len() / 2]);
    let e = EcoIndex::load(Ecosystem::Npm, &path, Limits::default()).unwrap_err();
    assert!(matches!(e, DepsError::CorruptDb { .. }), "{e}");

    write_db(dir.path(), "npm", &good);
    let small = Limits {
        entry: 100,
        total: 1 << 20,
    };
    let e = EcoIndex::load(Ecosystem::Npm, &path, small).unwrap_err();
    assert!(matches!(e, DepsError::EntryTooLarge { .. }), "{e}");
    assert!(e.to_string().contains("GHSA-35jh-r3h4-6jhm.json"), "{e}");
    let two = zip_of(&[("a.json", &record), ("b.json", &record)]);
    write_db(dir.path(), "npm", &two);
    let e = EcoIndex::load(
        Ecosystem::Npm,
        &path,
        Limits {
            entry: 1 << 20,
            total: record.len() as u64 + 10,
        },
    )
    .unwrap_err();
    assert!(matches!(e, DepsError::DbTooLarge { .. }), "{e}");

    let bad = zip_of(&[("x.json", b"{\"summary\": \"no id\"}")]);
    write_db(dir.path(), "npm", &bad);
    let e = EcoIndex::load(Ecosystem::Npm, &path, Limits::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("`x.json` is not a valid OSV record: no `id`"),
        "{e}"
    );
}

#[test]
fn import_and_status_round_trip() {
    let (dir, _db) = fixture_db();
    let newest_day = SystemTime::UNIX_EPOCH + Duration::from_secs(19_754 * 86_400); // 2024-02-01
    let st = status(dir.path(), newest_day, 30).unwrap();
    let got: Vec<(&str, usize, usize, Option<&str>, bool)> = st
        .ecosystems
        .iter()
        .map(|e| {
            (
                e.ecosystem.as_str(),
                e.records,
                e.withdrawn,
                e.newest_modified.as_deref(),
                e.stale,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Debian", 3, 0, Some("2023-10-26T00:00:00Z"), true),
            ("Go", 4, 0, Some("2023-08-09T15:00:00Z"), true),
            ("PyPI", 4, 0, Some("2024-01-23T19:00:00Z"), false),
            ("npm", 3, 1, Some("2024-02-01T00:00:00Z"), false),
        ]
    );
    assert!(st.ecosystems.iter().all(|e| e.zip_bytes > 0));
    assert_eq!(st.warnings.len(), 2);
    assert!(
        st.warnings[0].contains("Debian database") && st.warnings[1].contains("Go database"),
        "{:?}",
        st.warnings
    );
    // Debian's records are release-qualified (`Debian:11`, `Debian:12`) but share one
    // folder, as in osv-scanner's offline layout
    assert!(dir.path().join("Debian/all.zip").is_file());
    assert!(!dir.path().join("Debian:12").exists() && !dir.path().join("Debian:11").exists());

    // an osv-scanner layout folder, and one ecosystem's all.zip with the ecosystem inferred
    let copy = tempfile::tempdir().unwrap();
    let s = import(dir.path(), copy.path(), None).unwrap();
    assert_eq!(
        s.ecosystems,
        vec![
            ("Debian".into(), 3),
            ("Go".into(), 4),
            ("PyPI".into(), 4),
            ("npm".into(), 3)
        ]
    );
    // one release's zip, named by its release-qualified ecosystem
    let debian = tempfile::tempdir().unwrap();
    let s = import(
        &dir.path().join("Debian/all.zip"),
        debian.path(),
        Some("Debian:12"),
    )
    .unwrap();
    assert_eq!(s.ecosystems, vec![("Debian".into(), 3)]);
    let st = status(debian.path(), newest_day, 7).unwrap();
    assert_eq!(st.ecosystems[0].ecosystem, "Debian");
    assert_eq!(st.ecosystems[0].records, 3);
    let single = tempfile::tempdir().unwrap();
    let s = import(&dir.path().join("PyPI/all.zip"), single.path(), None).unwrap();
    assert_eq!(s.ecosystems, vec![("PyPI".into(), 4)]);

    // a bad record fails the whole import and leaves the old database as it was
    let before = std::fs::read(copy.path().join("npm/all.zip")).unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("GHSA-35jh-r3h4-6jhm.json"),
        src.path().join("a.json"),
    )
    .unwrap();
    std::fs::write(
        src.path().join("b.json"),
        "{\"id\": \"X-1\", \"affected\": [",
    )
    .unwrap();
    let e = import(src.path(), copy.path(), None).unwrap_err();
    assert!(e.to_string().contains("b.json"), "{e}");
    assert_eq!(
        std::fs::read(copy.path().join("npm/all.zip")).unwrap(),
        before
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(
        status(empty.path(), newest_day, 7).unwrap().warnings[0].contains("isect vulndb import")
    );
}

#[test]
fn scan_dir_end_to_end() {
    let (_d, db) = fixture_db();
    let ws = tempfile::tempdir().unwrap();
    let svc = ws.path().join("services/app");
    std::fs::create_dir_all(&svc).unwrap();
    std::fs::write(
        svc.join("go.mod"),
        "module example.com/app\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/net v0.7.0\n\tgolang.org/x/text v0.3.8\n\texample.com/lib v0.0.0\n)\n\nreplace example.com/lib => ../lib\n",
    )
    .unwrap();
    std::fs::write(
        svc.join("requirements.txt"),
        "-e ../../libs/common\nrequests==2.30.0\nflask>=2\necdsa==0.19.0\n",
    )
    .unwrap();
    std::fs::write(
        svc.join("package-lock.json"),
        "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"\": {\"name\": \"app\"},\n    \"node_modules/lodash\": {\n      \"version\": \"4.17.20\"\n    },\n    \"node_modules/a/node_modules/minimist\": {\n      \"version\": \"1.2.5\"\n    }\n  }\n}\n",
    )
    .unwrap();
    let report = scan_dir(ws.path(), "services/app", &db).unwrap();
    let got: Vec<(&str, String, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.location.to_string(), f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "GO-2023-1988",
                "services/app/go.mod:6".into(),
                Severity::Medium
            ),
            (
                "GHSA-j8r2-6x86-q33q",
                "services/app/requirements.txt:2".into(),
                Severity::Medium
            ),
            (
                "GHSA-35jh-r3h4-6jhm",
                "services/app/package-lock.json:5".into(),
                Severity::High
            ),
            (
                "GHSA-xvch-5gv4-984h",
                "services/app/package-lock.json:8".into(),
                Severity::Critical
            ),
        ]
    );
    let net = &report.findings[0];
    assert_eq!(
        net.message,
        "golang.org/x/net v0.7.0 is affected by GO-2023-1988 (CVE-2023-3978); fixed in v0.13.0"
    );
    assert_eq!(
        net.properties["aliases"],
        serde_json::json!(["CVE-2023-3978", "GHSA-2wrh-6pvc-2jm9"])
    );
    let req = &report.findings[1];
    assert_eq!(req.properties["cvss_score"], serde_json::json!(6.1));
    assert_eq!(req.properties["fixed"], serde_json::json!("2.31.0"));
    assert_eq!(report.rules.len(), 4);
    assert!(report.rules.iter().all(|r| {
        r.help_uri
            .as_deref()
            .is_some_and(|u| u.starts_with("https://osv.dev/vulnerability/"))
    }));
    assert!(
        report.notes.iter().any(|n| n.contains("flask")),
        "{:?}",
        report.notes
    );
    // fingerprints are stable and distinct
    let again = scan_dir(ws.path(), "services/app", &db).unwrap();
    assert_eq!(report.findings, again.findings);

    // no lockfile; an ecosystem without a database; a malformed lockfile
    std::fs::create_dir_all(ws.path().join("services/empty")).unwrap();
    let r = scan_dir(ws.path(), "services/empty", &db).unwrap();
    assert!(r.findings.is_empty() && r.notes[0].starts_with("no lockfile in services/empty"));
    let only_go = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(only_go.path().join("Go")).unwrap();
    std::fs::copy(
        db.zip_path(Ecosystem::Go),
        only_go.path().join("Go/all.zip"),
    )
    .unwrap();
    let r = scan_dir(
        ws.path(),
        "services/app",
        &Database::open(only_go.path()).unwrap(),
    )
    .unwrap();
    assert_eq!(r.findings.len(), 1);
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("no PyPI database in")
                && n.ends_with("run `isect vulndb import`"))
    );
    assert!(r.notes.iter().any(|n| n.starts_with("no npm database in")));
    std::fs::write(svc.join("requirements.txt"), "requests==2.30.0\n!!bad\n").unwrap();
    let e = scan_dir(ws.path(), "services/app", &db).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("services/app/requirements.txt:2:"),
        "{e}"
    );
}

#[test]
fn sidecar_index_is_trusted_only_for_its_zip() {
    let (dir, _db) = fixture_db();
    let zip = dir.path().join("npm/all.zip");
    let side = db::sidecar_path(&zip);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    assert_eq!(v["total"], 3);
    // a sidecar with the zip's digest is trusted (an emptied one finds nothing)
    v["names"] = serde_json::json!({});
    std::fs::write(&side, v.to_string()).unwrap();
    let index = EcoIndex::load(Ecosystem::Npm, &zip, Limits::default()).unwrap();
    assert!(index.lookup("lodash").unwrap().is_empty());
    // one for other content is rebuilt from the zip and rewritten
    v["digest"] = serde_json::json!("another zip");
    std::fs::write(&side, v.to_string()).unwrap();
    let index = EcoIndex::load(Ecosystem::Npm, &zip, Limits::default()).unwrap();
    assert_eq!(index.lookup("lodash").unwrap().len(), 1);
    assert_eq!((index.total, index.withdrawn), (3, 1));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    assert_ne!(v["digest"], "another zip");
}

#[test]
fn stale_database_is_a_note() {
    let (_d, db) = fixture_db();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("requirements.txt"), "requests==2.31.0\n").unwrap();
    let day = |d: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(d * 86_400);
    let fresh = scan_dir_with(ws.path(), "", &db, 30, day(19_754)).unwrap();
    assert!(
        fresh.notes.is_empty() && fresh.findings.is_empty(),
        "{:?}",
        fresh.notes
    );
    let stale = scan_dir_with(ws.path(), ".", &db, 7, day(20_000)).unwrap();
    assert_eq!(stale.notes.len(), 1);
    assert!(
        stale.notes[0].contains("PyPI database") && stale.notes[0].contains("2024-01-23"),
        "{:?}",
        stale.notes
    );
}
