//! The scan stage through the binary: gates fail the run and say why, findings never show a
//! secret, baselines silence what was accepted, scans are cached like any step, and the SARIF
//! isect writes is valid against the official 2.1.0 schema.

use std::path::Path;

use crate::common::{TestWorkspace, walk};

/// An AWS access key id made up at test time (`AKIA` + 16 base32 characters), so no
/// real-looking secret is committed.
fn fake_aws_key(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut key = String::from("AKIA");
    for _ in 0..16 {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 29;
        key.push(ALPHABET[(x % 32) as usize] as char);
    }
    key
}

/// A workspace with one service `svc` whose scan stage is `stage` (a Rhai expression).
fn scan_workspace(stage: &str) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("services/svc/README.md", "# svc\n")
        .file("pipelines/svc.rhai", &format!("#{{ scan: {stage} }}\n"));
    ws
}

fn validate_sarif(path: &Path) -> serde_json::Value {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/schemas/sarif-2.1.0.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{} is not valid SARIF 2.1.0:\n{}",
        path.display(),
        errors.join("\n")
    );
    log
}

/// Every file under the workspace (reports, cache, logs) that contains `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<String> {
    walk(root)
        .into_iter()
        .filter(|p| {
            std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn a_secret_fails_the_gate_without_ever_being_shown() {
    let ws = scan_workspace("[scan::secrets()]");
    let key = fake_aws_key(7);
    ws.file("services/svc/config.py", &format!("AWS_KEY = \"{key}\"\n"));

    let out = ws.run(["scan", "svc"]);
    out.assert_failure(1);
    let row = out.row("svc:scan:secrets");
    assert_eq!(row.status, "failed");
    out.assert_stderr_contains("services/svc/config.py:1");
    out.assert_stderr_contains("at or above the `high` gate");
    out.assert_stderr_contains(&key[..4]);
    assert!(
        !out.dump().contains(&key),
        "the secret was printed:\n{}",
        out.dump()
    );

    // The reports say where, never what.
    let sarif = validate_sarif(&ws.path(".isect/out/svc/reports/scan.sarif"));
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "services/svc/config.py"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    assert!(
        result["partialFingerprints"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
    );
    validate_sarif(&ws.path(".isect/reports/scan.sarif"));
    let leaks: Vec<String> = files_containing(ws.root(), &key)
        .into_iter()
        .filter(|p| !p.ends_with("config.py"))
        .collect();
    assert!(leaks.is_empty(), "the secret reached {leaks:?}");
}

#[test]
fn a_baseline_silences_an_accepted_finding_until_it_expires() {
    let ws = scan_workspace("[scan::secrets()]");
    ws.file(
        "services/svc/config.py",
        &format!("AWS_KEY = \"{}\"\n", fake_aws_key(11)),
    );
    let first = ws.run(["scan", "svc"]);
    first.assert_failure(1);
    let report: serde_json::Value =
        serde_json::from_str(&ws.read(".isect/out/svc/reports/scan/secrets.json")).unwrap();
    let fingerprint = report["findings"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();

    ws.file("isect.toml", "[scan.secrets]\nbaseline = \"security/baseline.toml\"\n")
        .file(
            "security/baseline.toml",
            &format!(
                "[[accepted]]\nfingerprint = \"{fingerprint}\"\nreason = \"revoked key kept as a fixture\"\nexpires = \"2999-01-01\"\n"
            ),
        );
    let accepted = ws.run(["scan", "svc"]);
    accepted.assert_success();
    assert!(
        accepted
            .row("svc:scan:secrets")
            .note
            .contains("no findings"),
        "{}",
        accepted.dump()
    );

    ws.file(
        "security/baseline.toml",
        &format!(
            "[[accepted]]\nfingerprint = \"{fingerprint}\"\nreason = \"revoked key kept as a fixture\"\nexpires = \"2001-01-01\"\n"
        ),
    );
    let expired = ws.run(["scan", "svc"]);
    expired.assert_failure(1);
    assert!(expired.dump().contains("expired"), "{}", expired.dump());
}

#[test]
fn an_unchanged_service_is_not_scanned_again_and_a_rule_change_rescans() {
    let ws = scan_workspace("[scan::secrets()]");
    ws.file("services/svc/app.py", "print('hello')\n");
    ws.run(["scan", "svc"]).assert_success();
    let again = ws.run(["scan", "svc"]);
    again.assert_success();
    assert_eq!(again.status("svc:scan:secrets"), "cached");
    // A cached scan still leaves its report and the SARIF behind.
    assert!(ws.path(".isect/out/svc/reports/scan.sarif").exists());

    ws.file(
        "isect.toml",
        "[scan.secrets]\nrules = \"security/rules.toml\"\n",
    )
    .file(
        "security/rules.toml",
        "[extend]\nuseDefault = true\n\n[[rules]]\nid = \"internal-token\"\ndescription = \"Internal service token\"\nregex = '''itok_[a-z0-9]{24}'''\nkeywords = [\"itok_\"]\n",
    );
    let custom = ws.run(["scan", "svc"]);
    custom.assert_success();
    assert_eq!(custom.status("svc:scan:secrets"), "ok", "{}", custom.dump());

    ws.file(
        "services/svc/app.py",
        "TOKEN = 'itok_q8w7e6r5t4y3u2i1o0p9a8s7'\n",
    );
    let found = ws.run(["scan", "svc"]);
    found.assert_failure(1);
    found.assert_stderr_contains("internal-token");
}

#[test]
fn a_malformed_rule_file_names_the_rule_and_field() {
    let ws = scan_workspace("[scan::secrets()]");
    ws.file("isect.toml", "[scan.secrets]\nrules = \"rules.toml\"\n")
        .file(
            "rules.toml",
            "[[rules]]\nid = \"broken-rule\"\ndescription = \"x\"\nregex = '''([a-z'''\n",
        );
    let out = ws.run(["scan", "svc"]);
    out.assert_failure(1);
    out.assert_stderr_contains("broken-rule");
    out.assert_stderr_contains("regex");
}

#[test]
fn a_scan_gate_is_set_per_step_and_by_the_workspace() {
    let ws = scan_workspace("[scan::iac(#{ fail_on: \"critical\" })]");
    ws.file(
        "services/svc/infra/main.tf",
        r#"resource "google_compute_firewall" "db" {
  name          = "allow-postgres"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["5432"]
  }
}
"#,
    );
    // Postgres open to the world is high: under a critical gate it is reported, not failed.
    let lenient = ws.run(["scan", "svc"]);
    lenient.assert_success();
    let note = lenient.row("svc:scan:iac").note;
    assert!(
        note.contains("high") && note.contains("gate: critical"),
        "{note}"
    );

    ws.file("pipelines/svc.rhai", "#{ scan: [scan::iac()] }\n");
    let strict = ws.run(["scan", "svc"]);
    strict.assert_failure(1);
    strict.assert_stderr_contains("services/svc/infra/main.tf:5");
    strict.assert_stderr_contains("tf-ingress-db-port-open");
}

#[test]
fn a_terraform_file_that_does_not_parse_fails_with_its_location() {
    let ws = scan_workspace("[scan::iac()]");
    ws.file(
        "services/svc/main.tf",
        "resource \"x\" \"y\" {\n  a = \n}\n",
    );
    let out = ws.run(["scan", "svc"]);
    out.assert_failure(1);
    out.assert_stderr_contains("services/svc/main.tf");
}

#[test]
fn static_analysis_reports_isects_own_rules_and_a_missing_analyser() {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file(
            "services/py/pyproject.toml",
            "[project]\nname = \"py\"\nversion = \"0.1.0\"\n",
        )
        .file(
            "services/py/py/client.py",
            "import requests\n\n\ndef fetch(url):\n    return requests.get(url, verify=False)\n",
        )
        .file("pipelines/py.rhai", "#{ scan: [scan::sast()] }\n");
    // bandit is not on this PATH: the summary says so, and isect's own rules still run.
    let empty = ws.outside("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let without_path = |cmd: &mut std::process::Command| {
        cmd.env("PATH", &empty);
    };
    let out = ws.run_with(["scan", "py"], without_path);
    out.assert_failure(1);
    out.assert_stderr_contains("services/py/py/client.py:5");
    out.assert_stderr_contains("tls-verify-disabled");

    ws.file(
        "services/py/py/client.py",
        "import requests\n\n\ndef fetch(url):\n    return requests.get(url, timeout=5)\n",
    );
    let clean = ws.run_with(["scan", "py"], without_path);
    clean.assert_success();
    let note = clean.row("py:scan:sast").note;
    assert!(
        note.contains("no findings")
            && note.contains("bandit")
            && note.contains("pip install bandit"),
        "the missing analyser was not reported: {note}"
    );
}

#[test]
fn licences_outside_the_allow_list_are_findings() {
    let ws = TestWorkspace::new();
    ws.file(
        "isect.toml",
        "[scan.licenses]\nallow = [\"MIT\", \"Apache-2.0\"]\ndeny = [\"AGPL-3.0-only\"]\n",
    )
    .file(
        "services/web/package.json",
        "{\"name\": \"web\", \"version\": \"1.0.0\"}\n",
    )
    .file(
        "services/web/package-lock.json",
        r#"{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "name": "web", "version": "1.0.0" },
    "node_modules/left-pad": { "version": "1.3.0", "license": "WTFPL" },
    "node_modules/lodash": { "version": "4.17.21", "license": "MIT" },
    "node_modules/evil": { "version": "2.0.0", "license": "AGPL-3.0-only" }
  }
}
"#,
    )
    .file(
        "pipelines/web.rhai",
        "#{ scan: [scan::licenses(#{ fail_on: \"high\" })] }\n",
    );
    let out = ws.run(["scan", "web"]);
    out.assert_failure(1);
    let dump = out.dump();
    assert!(dump.contains("evil"), "{dump}");
    assert!(dump.contains("left-pad"), "{dump}");
    assert!(
        !dump.contains("lodash 4.17.21"),
        "an allowed licence was reported:\n{dump}"
    );
}

fn package_lock(minimist: &str, lodash: &str) -> String {
    format!(
        r#"{{
  "name": "web",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {{
    "": {{ "name": "web", "version": "1.0.0" }},
    "node_modules/lodash": {{ "version": "{lodash}", "license": "MIT" }},
    "node_modules/minimist": {{ "version": "{minimist}", "license": "MIT" }}
  }}
}}
"#
    )
}

#[test]
fn vulnerable_dependencies_name_the_advisory_the_fix_and_the_lockfile_line() {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "[scan]\nvulndb = \"security/osv\"\n")
        .file(
            "services/web/package.json",
            "{\"name\": \"web\", \"version\": \"1.0.0\"}\n",
        )
        .file(
            "services/web/package-lock.json",
            &package_lock("1.2.5", "4.17.20"),
        )
        .file("pipelines/web.rhai", "#{ scan: [scan::deps()] }\n");

    // No database yet: the step says how to get one.
    let missing = ws.run(["scan", "web"]);
    missing.assert_failure(1);
    missing.assert_stderr_contains("isect vulndb import");

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    ws.run(["vulndb", "import", fixtures.to_str().unwrap()])
        .assert_success()
        .assert_stdout_contains("npm");
    ws.run(["vulndb", "status"])
        .assert_success()
        .assert_stdout_contains("npm")
        .assert_stdout_contains("stale");

    let vulnerable = ws.run(["scan", "web"]);
    vulnerable.assert_failure(1);
    let dump = vulnerable.dump();
    // minimist 1.2.5: CVSS 9.8, fixed in 1.2.6; the line of its lockfile entry.
    assert!(dump.contains("GHSA-xvch-5gv4-984h"), "{dump}");
    assert!(dump.contains("CVE-2021-44906"), "{dump}");
    assert!(dump.contains("1.2.6"), "{dump}");
    assert!(dump.contains("services/web/package-lock.json:9"), "{dump}");
    assert!(dump.contains("GHSA-35jh-r3h4-6jhm"), "{dump}");
    assert!(
        vulnerable.row("web:scan:deps").note.contains("critical"),
        "{dump}"
    );

    ws.file(
        "services/web/package-lock.json",
        &package_lock("1.2.6", "4.17.21"),
    );
    ws.run(["scan", "web"]).assert_success();

    // A database cut short is an error that says to import it again, never "no findings".
    let zip = ws.path("security/osv/npm/all.zip");
    let bytes = std::fs::read(&zip).unwrap();
    std::fs::write(&zip, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = ws.run(["scan", "web"]);
    corrupt.assert_failure(1);
    corrupt.assert_stderr_contains("all.zip");
    corrupt.assert_stderr_contains("import");
}
