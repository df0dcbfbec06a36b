//! Tests of SPDX expressions, the policy and each source (fixtures in
//! tests/fixtures/licenses).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use super::spdx::{self, Term};
use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn deny_gpl() -> LicensePolicy {
    LicensePolicy {
        deny: vec!["GPL-3.0-only".into(), "AGPL-3.0-only".into()],
        ..LicensePolicy::default()
    }
}

fn allow_permissive() -> LicensePolicy {
    LicensePolicy {
        allow: ["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC"]
            .map(String::from)
            .to_vec(),
        deny: vec!["GPL-3.0-only".into()],
        unknown: None,
    }
}

fn verdict(expr: &str, policy: &LicensePolicy) -> Verdict {
    let extra: Vec<String> = policy.allow.iter().chain(&policy.deny).cloned().collect();
    let pkg = sources::Package {
        ecosystem: "npm",
        name: "p".into(),
        version: "1".into(),
        declared: Some(expr.into()),
        dnf: spdx::interpret(expr, &extra),
        path: String::new(),
        line: 0,
    };
    judge(&pkg, policy)
}

fn summary(report: &ScanReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| format!("{} {} {}", f.rule_id, f.severity, f.message))
        .collect()
}

#[test]
fn spdx_expressions_parse() {
    let dnf = spdx::parse("(MIT AND BSD-3-Clause) OR Apache-2.0", &[]).unwrap();
    assert_eq!(dnf.len(), 2);
    assert_eq!(dnf[0].len(), 2);
    let with = spdx::parse("GPL-2.0-only WITH Classpath-exception-2.0", &[]).unwrap();
    assert_eq!(with, vec![vec![Term::Known(vec!["GPL-2.0-only".into()])]]);
    let plus = spdx::parse("GPL-2.0+", &[]).unwrap();
    assert_eq!(
        plus,
        vec![vec![Term::Known(vec!["GPL-2.0-or-later".into()])]]
    );
    assert_eq!(
        spdx::parse("MIT AND (Apache-2.0 OR BSD-2-Clause)", &[])
            .unwrap()
            .len(),
        2
    );
    assert!(spdx::parse("MIT OR", &[]).is_none());
    assert!(spdx::parse("(MIT", &[]).is_none());
    assert!(spdx::parse("Apache License 2.0", &[]).is_none());
}

#[test]
fn common_names_are_normalised() {
    let known = |s: &str| match spdx::term(s, &[]) {
        Term::Known(ids) => ids,
        Term::Unknown(u) => panic!("{u} unknown"),
    };
    assert_eq!(known("Apache 2.0"), ["Apache-2.0"]);
    assert_eq!(known("Apache License 2.0"), ["Apache-2.0"]);
    assert_eq!(known("MIT License"), ["MIT"]);
    assert_eq!(known("The MIT License (MIT)"), ["MIT"]);
    assert_eq!(known("GPLv3"), ["GPL-3.0-only", "GPL-3.0-or-later"]);
    assert_eq!(known("BSD"), ["BSD-2-Clause", "BSD-3-Clause"]);
    assert_eq!(known("LGPL").len(), 4);
    assert_eq!(known("gpl-3.0"), ["GPL-3.0-only"]);
    assert!(matches!(spdx::term("Proprietary", &[]), Term::Unknown(_)));
    assert!(matches!(
        spdx::term("SEE LICENSE IN LICENSE.md", &[]),
        Term::Unknown(_)
    ));
}

#[test]
fn policy_judges_expressions() {
    let deny = deny_gpl();
    assert_eq!(verdict("MIT", &deny), Verdict::Allowed);
    assert_eq!(verdict("GPL-3.0-only", &deny), Verdict::Denied);
    // A denied id denies its or-later variant too.
    assert_eq!(verdict("GPL-3.0-or-later", &deny), Verdict::Denied);
    assert_eq!(verdict("MIT OR GPL-3.0-only", &deny), Verdict::Allowed);
    assert_eq!(verdict("MIT AND GPL-3.0-only", &deny), Verdict::Denied);
    assert_eq!(
        verdict("GPL-3.0-only OR AGPL-3.0-only", &deny),
        Verdict::Denied
    );
    assert_eq!(verdict("Proprietary", &deny), Verdict::Unknown);
    let allow = allow_permissive();
    assert_eq!(verdict("(MIT AND BSD-3-Clause)", &allow), Verdict::Allowed);
    assert_eq!(verdict("MPL-2.0", &allow), Verdict::NotAllowed);
    assert_eq!(verdict("MPL-2.0 OR Apache-2.0", &allow), Verdict::Allowed);
    assert_eq!(verdict("MIT AND MPL-2.0", &allow), Verdict::NotAllowed);
    // "BSD" is 2- or 3-clause: both allowed, so allowed.
    assert_eq!(verdict("BSD", &allow), Verdict::Allowed);
    assert_eq!(verdict("LGPL", &allow), Verdict::NotAllowed);
    // An id isect does not know is known once the policy names it.
    let custom = LicensePolicy {
        allow: vec!["LicenseRef-Acme".into()],
        ..LicensePolicy::default()
    };
    assert_eq!(verdict("LicenseRef-Acme", &custom), Verdict::Allowed);
}

#[test]
fn policy_reads_from_toml() {
    let p: LicensePolicy =
        toml::from_str("allow = [\"MIT\"]\ndeny = [\"GPL-3.0-only\"]\nunknown = \"low\"\n")
            .unwrap();
    assert_eq!(p.unknown, Some(Severity::Low));
    assert!(toml::from_str::<LicensePolicy>("alow = []").is_err());
}

#[test]
fn licence_texts_are_classified() {
    let mit = std::fs::read_to_string(
        fixtures().join("licenses/go/vendor/github.com/acme/mitlib/LICENSE"),
    )
    .unwrap();
    assert_eq!(spdx::classify_text(&mit).unwrap(), ["MIT"]);
    let bsd3 = "Redistribution and use in source and binary forms, with or without modification, are permitted. Neither the name of Google Inc. nor the names";
    assert_eq!(spdx::classify_text(bsd3).unwrap(), ["BSD-3-Clause"]);
    let apache = "Apache License\n Version 2.0, January 2004\n http://www.apache.org/licenses/";
    assert_eq!(spdx::classify_text(apache).unwrap(), ["Apache-2.0"]);
    let lgpl = "GNU LESSER GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007";
    assert_eq!(
        spdx::classify_text(lgpl).unwrap(),
        ["LGPL-3.0-only", "LGPL-3.0-or-later"]
    );
    assert!(spdx::classify_text("All rights reserved.").is_none());
}

#[test]
fn package_lock_licences() {
    let report = scan(&fixtures(), "licenses/node", &deny_gpl(), &[]).unwrap();
    assert_eq!(
        summary(&report),
        [
            "license-denied high copyleft-lib 2.0.0: GPL-3.0-only is denied by isect.toml [scan.licenses]",
            "license-unknown medium no-licence 0.0.1: declares no licence",
        ]
    );
    let f = &report.findings[0];
    assert_eq!(f.location.to_string(), "licenses/node/package-lock.json:17");
    assert_eq!(f.properties["package"], "copyleft-lib");
    assert_eq!(f.properties["license"], "GPL-3.0-only");
    assert!(report.notes.iter().any(|n| n.contains("1 dev-only")));
    let allow = scan(&fixtures(), "licenses/node", &allow_permissive(), &[]).unwrap();
    let ids: Vec<&str> = allow.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        ids,
        ["license-denied", "license-not-allowed", "license-unknown"]
    );
}

#[test]
fn python_declared_dependencies_in_site_packages() {
    let site = [fixtures().join("licenses/site-packages")];
    let report = scan(&fixtures(), "licenses/py", &allow_permissive(), &site).unwrap();
    let mut got = summary(&report);
    got.sort();
    assert_eq!(
        got,
        [
            "license-denied high gplpkg 1.0: GNU General Public License v3 (GPLv3) is denied by isect.toml [scan.licenses]",
            "license-unknown medium mystery 0.1: licence \"Proprietary, see the vendor's terms\" is not an SPDX identifier isect can judge",
        ]
    );
    // requests (Apache 2.0), urllib3 (its dependency, MIT) and dual-pkg (Apache OR BSD)
    // pass; the editable `common` is first-party.
    let loc = &report
        .findings
        .iter()
        .find(|f| f.message.starts_with("mystery"))
        .unwrap()
        .location;
    assert_eq!(loc.to_string(), "licenses/py/requirements.txt:5");
    // Without the deny list, GPL is merely outside the allow list.
    let allow_only = LicensePolicy {
        deny: Vec::new(),
        ..allow_permissive()
    };
    let report = scan(&fixtures(), "licenses/py", &allow_only, &site).unwrap();
    assert!(
        summary(&report)
            .iter()
            .any(|s| s.starts_with("license-not-allowed medium gplpkg 1.0"))
    );
}

#[test]
fn python_virtualenv_is_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("svc/.venv/lib/python3.12/site-packages");
    std::fs::create_dir_all(&site).unwrap();
    for name in [
        "gplpkg-1.0.dist-info",
        "common-0.1.dist-info",
        "urllib3-2.0.7.dist-info",
    ] {
        let from = fixtures().join("licenses/site-packages").join(name);
        std::fs::create_dir_all(site.join(name)).unwrap();
        for file in std::fs::read_dir(&from).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, site.join(name).join(file.file_name().unwrap())).unwrap();
        }
    }
    let report = scan(tmp.path(), "svc", &deny_gpl(), &[]).unwrap();
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(f.rule_id, "license-denied");
    assert_eq!(
        f.location.to_string(),
        "svc/.venv/lib/python3.12/site-packages/gplpkg-1.0.dist-info/METADATA:4"
    );
}

#[test]
fn vendored_go_modules() {
    let report = scan(&fixtures(), "licenses/go", &deny_gpl(), &[]).unwrap();
    let got: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{} {} {}", f.rule_id, f.location, f.message))
        .collect();
    assert_eq!(
        got,
        [
            "license-denied licenses/go/vendor/modules.txt:4 github.com/acme/gpllib v0.3.1: GPL-3.0-only or GPL-3.0-or-later (COPYING) is denied by isect.toml [scan.licenses]",
            "license-unknown licenses/go/vendor/modules.txt:7 github.com/acme/nolic v0.0.1: declares no licence",
        ]
    );
}

#[test]
fn unvendored_go_modules_are_a_note() {
    let report = scan(&fixtures(), "licenses/go-unvendored", &deny_gpl(), &[]).unwrap();
    assert!(report.findings.is_empty());
    assert_eq!(report.notes.len(), 1);
    assert!(
        report.notes[0].contains("2 Go modules are not vendored"),
        "{}",
        report.notes[0]
    );
    assert!(report.notes[0].contains("github.com/google/uuid, golang.org/x/sys"));
}

#[test]
fn broken_lockfile_is_an_error_with_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("web")).unwrap();
    std::fs::write(
        tmp.path().join("web/package-lock.json"),
        "{\n  \"packages\": {\n    oops\n}",
    )
    .unwrap();
    let err = scan(tmp.path(), "web", &deny_gpl(), &[]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("web/package-lock.json:3: does not parse"),
        "{err}"
    );
}
