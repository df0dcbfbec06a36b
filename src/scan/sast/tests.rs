//! Tests of the SAST parsers (on real go vet and bandit output) and the native rules (a
//! true and a false positive for each).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::native::scan_snippet;
use super::*;

const GO_VET: &str = include_str!("testdata/go_vet.txt");
const BANDIT: &str = include_str!("testdata/bandit.json");

#[test]
fn go_vet_json_is_parsed_with_relative_paths() {
    let findings = parse_go_vet_json(GO_VET, "gv", Path::new("/tmp"));
    let got: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {} {}", f.rule_id, f.severity, f.location))
        .collect();
    assert_eq!(
        got,
        [
            "go-vet/copylocks medium gv/main.go:10:10",
            "go-vet/printf medium gv/main.go:13:2",
            "go-vet/copylocks medium gv/main.go:15:4",
            "go-vet/unreachable low gv/main.go:17:2",
            "go-vet/printf medium gv/sub/s.go:5:12",
        ]
    );
    assert_eq!(
        findings[4].message,
        "fmt.Printf format %s reads arg #1, but call has 0 args"
    );
    let rules = rules_for(&findings);
    assert_eq!(rules.len(), 3);
    assert!(go_vet_errors(GO_VET).is_empty());
}

#[test]
fn go_vet_type_errors_and_noise() {
    let out = "go: downloading example.com/x v1.0.0\n# example.com/b\nvet: ./main.go:3:15: x declared and not used\n{\"example.com/b\": {\"printf\": {\"error\": \"analysis skipped\"}}}\n";
    assert!(parse_go_vet_json(out, "b", Path::new("/w")).is_empty());
    assert_eq!(
        go_vet_errors(out),
        [
            "./main.go:3:15: x declared and not used",
            "example.com/b (printf): analysis skipped"
        ]
    );
    assert_eq!(go_vet_args(), ["vet", "-json", "./..."]);
}

#[test]
fn bandit_json_is_parsed() {
    let findings = parse_bandit_json(BANDIT, Path::new("/tmp/bd"), "app").unwrap();
    let got: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {} {}", f.rule_id, f.severity, f.location))
        .collect();
    assert_eq!(
        got,
        [
            "bandit/B404 low app/main.py:1:1",
            "bandit/B602 high app/main.py:7:5",
            "bandit/B501 high app/main.py:11:12",
            "bandit/B324 high app/main.py:15:12",
            "bandit/B105 low app/main.py:18:12",
        ]
    );
    let rules = rules_for(&findings);
    assert_eq!(
        rules[1].description,
        "subprocess_popen_with_shell_equals_true"
    );
    assert!(rules[1].help_uri.as_deref().unwrap().contains("b602"));
    // Relative names (bandit run in the service folder with target ".").
    let rel = BANDIT.replace("/tmp/bd/app/", "./");
    let findings = parse_bandit_json(&rel, Path::new("/w"), "svc/api").unwrap();
    assert_eq!(findings[0].location.path, "svc/api/main.py");
    assert!(parse_bandit_json("", Path::new("/w"), "x").is_err());
}

#[test]
fn bandit_low_confidence_is_one_level_lower() {
    assert_eq!(bandit_severity("HIGH", "LOW"), Severity::Medium);
    assert_eq!(bandit_severity("LOW", "LOW"), Severity::Info);
    assert_eq!(bandit_severity("MEDIUM", "HIGH"), Severity::Medium);
    let args = bandit_args(".", "/tmp/out.json");
    assert!(args.contains(&"-x".to_string()) && args.iter().any(|a| a.contains("*/tests/*")));
}

#[test]
fn missing_analyser_is_a_note() {
    let note = missing_analyser_note("bandit", "pip install bandit");
    assert!(note.contains("bandit is not installed") && note.contains("pip install bandit"));
}

fn rules_in(name: &str, text: &str) -> Vec<String> {
    scan_snippet(name, text)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn tls_verify_disabled() {
    assert_eq!(
        rules_in("a.go", "cfg := &tls.Config{InsecureSkipVerify: true}"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in("a.py", "r = requests.get(url, verify=False)"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in("a.py", "ctx = ssl._create_unverified_context()"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in("a.ts", "new https.Agent({ rejectUnauthorized: false })"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in(".env", "NODE_TLS_REJECT_UNAUTHORIZED=0"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in("Dockerfile", "ENV NODE_TLS_REJECT_UNAUTHORIZED 0"),
        ["tls-verify-disabled"]
    );
    assert_eq!(
        rules_in("prom.yml", "tls_config:\n  insecure_skip_verify: true"),
        ["tls-verify-disabled"]
    );
    for (name, text) in [
        ("a.go", "cfg := &tls.Config{InsecureSkipVerify: false}"),
        ("a.go", "// InsecureSkipVerify: true is never allowed"),
        ("a.py", "r = requests.get(url, verify=True)"),
        ("a.py", "def fetch(url, verify=False):"),
        ("a.py", "# requests.get(url, verify=False)"),
        (
            "a.py",
            "r = requests.get(url, verify=False)  # isect:ignore local test server",
        ),
        ("a.ts", "new https.Agent({ rejectUnauthorized: true })"),
        (".env", "NODE_TLS_REJECT_UNAUTHORIZED=1"),
    ] {
        assert!(rules_in(name, text).is_empty(), "{name}: {text}");
    }
}

#[test]
fn shell_exec_from_input() {
    let tp = [
        (
            "a.go",
            "cmd := exec.Command(\"sh\", \"-c\", \"git log \"+ref)",
        ),
        (
            "a.go",
            "cmd := exec.CommandContext(ctx, \"/bin/bash\", \"-c\",\n\tuserCmd)",
        ),
        ("a.py", "subprocess.run(f\"convert {name}\", shell=True)"),
        (
            "a.py",
            "subprocess.check_output(\n    \"ls \" + path,\n    shell=True,\n)",
        ),
        ("a.py", "os.system(\"rm -rf %s\" % folder)"),
        (
            "a.js",
            "const { exec } = require('child_process');\nexec(`git clone ${url}`);",
        ),
        (
            "a.ts",
            "import cp from 'node:child_process';\ncp.execSync('ls ' + dir);",
        ),
    ];
    for (name, text) in tp {
        assert_eq!(
            rules_in(name, text),
            ["shell-exec-from-input"],
            "{name}: {text}"
        );
    }
    let fp = [
        ("a.go", "cmd := exec.Command(\"sh\", \"-c\", \"ls -la\")"),
        ("a.go", "cmd := exec.Command(\"git\", \"log\", ref)"),
        ("a.py", "subprocess.run([\"ls\", path])"),
        ("a.py", "subprocess.run(\"ls -la\", shell=True)"),
        ("a.py", "subprocess.run(cmd, shell=False)"),
        ("a.py", "os.system(\"make clean\")"),
        ("a.js", "const m = /a(b)/.exec(input);"),
        (
            "a.js",
            "const { exec } = require('child_process');\nexec('ls -la', cb);",
        ),
    ];
    for (name, text) in fp {
        assert!(rules_in(name, text).is_empty(), "{name}: {text}");
    }
}

#[test]
fn bind_all_interfaces_in_production_configs() {
    assert_eq!(
        scan_snippet(
            "config/production.yaml",
            "server:\n  host: 0.0.0.0\n  port: 8080\n"
        ),
        [("bind-all-interfaces-production".to_string(), 2)]
    );
    assert_eq!(
        rules_in("deploy/prod/app.toml", "bind_address = \"0.0.0.0:9000\""),
        ["bind-all-interfaces-production"]
    );
    assert_eq!(
        rules_in("values-prod.json", "{\n  \"listenAddr\": \"0.0.0.0\",\n}"),
        ["bind-all-interfaces-production"]
    );
    for (name, text) in [
        ("config/production.yaml", "server:\n  host: 127.0.0.1\n"),
        ("config/development.yaml", "server:\n  host: 0.0.0.0\n"),
        ("config/production.yaml", "# host: 0.0.0.0\n"),
        ("config/production.yaml", "allowed_cidr: 0.0.0.0/0\n"),
        ("config/product.yaml", "host: 0.0.0.0\n"),
        ("main.go", "http.ListenAndServe(\"0.0.0.0:8080\", nil)"),
    ] {
        assert!(rules_in(name, text).is_empty(), "{name}: {text}");
    }
}

#[test]
fn weak_hash_for_password() {
    assert_eq!(
        rules_in(
            "a.py",
            "digest = hashlib.md5(password.encode()).hexdigest()"
        ),
        ["weak-hash-for-password"]
    );
    assert_eq!(
        rules_in("a.go", "sum := sha1.Sum([]byte(user.Password))"),
        ["weak-hash-for-password"]
    );
    assert!(rules_in("a.py", "etag = hashlib.md5(body).hexdigest()").is_empty());
    assert!(rules_in("a.py", "hashed = bcrypt.hashpw(password, bcrypt.gensalt())").is_empty());
}

#[test]
fn jwt_none_alg() {
    assert_eq!(
        rules_in(
            "a.py",
            "jwt.decode(tok, key, algorithms=[\"HS256\", \"none\"])"
        ),
        ["jwt-none-alg"]
    );
    assert_eq!(
        rules_in(
            "a.py",
            "jwt.decode(tok, options={\"verify_signature\": False})"
        ),
        ["jwt-none-alg"]
    );
    assert_eq!(
        rules_in("a.js", "jwt.verify(t, k, { algorithms: ['none'] })"),
        ["jwt-none-alg"]
    );
    assert_eq!(
        rules_in(
            "a.go",
            "tok, _ := p.Parse(s, func(*jwt.Token) (any, error) { return jwt.UnsafeAllowNoneSignatureType, nil })"
        ),
        ["jwt-none-alg"]
    );
    assert!(rules_in("a.py", "jwt.decode(tok, key, algorithms=[\"RS256\"])").is_empty());
    assert!(rules_in("a.js", "jwt.verify(t, k, { algorithms: ['ES256'] })").is_empty());
}

#[test]
fn native_scan_walks_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = tmp.path().join("svc");
    std::fs::create_dir_all(svc.join("node_modules/x")).unwrap();
    std::fs::create_dir_all(svc.join("app")).unwrap();
    std::fs::write(
        svc.join("node_modules/x/i.js"),
        "a({ rejectUnauthorized: false })",
    )
    .unwrap();
    std::fs::write(
        svc.join("app/c.py"),
        "import requests\nrequests.post(u, verify=False)\n",
    )
    .unwrap();
    std::fs::write(svc.join(".gitignore"), "ignored.py\n").unwrap();
    std::fs::write(svc.join("ignored.py"), "requests.post(u, verify=False)\n").unwrap();
    let report = native_scan(tmp.path(), "svc").unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].location.to_string(), "svc/app/c.py:2");
    assert_eq!(report.rules.len(), 5);
    assert!(report.rules.iter().all(|r| r.help.is_some()));
}
