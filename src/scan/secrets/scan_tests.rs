//! Scanning behaviour: allowlists of every kind, locations and fingerprints, redaction,
//! the baseline, and the tree walk (.gitignore, binaries, huge files).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::default_tests::Gen;
use super::{Baseline, Date, RuleSet, ScanOptions, redact, scan_bytes, scan_tree, scan_tree_with};

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn set(text: &str) -> RuleSet {
    RuleSet::from_toml(text, "test.toml").unwrap()
}

fn count(rules: &RuleSet, path: &str, text: &str) -> usize {
    scan_bytes(path, text.as_bytes(), rules).len()
}

const TOK_RULE: &str = "[[rules]]\nid = \"tok\"\ndescription = \"Test token\"\n\
                        regex = '''tok_([a-z0-9]{16})'''\nkeywords = [\"TOK_\"]\n";

#[test]
fn rule_allowlists_by_path_secret_match_line_and_stopword() {
    let rules = set(&format!(
        "{TOK_RULE}\
         [[rules.allowlists]]\npaths = ['''^fixtures/''']\n\
         [[rules.allowlists]]\nregexes = ['''^0000''', '''^tok_''']\n\
         [[rules.allowlists]]\nregexTarget = \"match\"\nregexes = ['''^tok_dead''']\n\
         [[rules.allowlists]]\nregexTarget = \"line\"\nregexes = ['''# nosecret''']\n\
         [[rules.allowlists]]\nstopwords = [\"BEEF\"]\n"
    ));
    assert_eq!(count(&rules, "src/a.txt", "x = tok_a1b2c3d4e5f6a7b8"), 1);
    assert_eq!(
        count(&rules, "fixtures/a.txt", "x = tok_a1b2c3d4e5f6a7b8"),
        0
    );
    // The default target is the secret (the group), which never starts with `tok_`.
    assert_eq!(count(&rules, "src/a.txt", "x = tok_0000c3d4e5f6a7b8"), 0);
    assert_eq!(count(&rules, "src/a.txt", "x = tok_deadc3d4e5f6a7b8"), 0);
    assert_eq!(
        count(&rules, "src/a.txt", "x = tok_a1b2c3d4e5f6a7b8 # nosecret"),
        0
    );
    assert_eq!(
        count(&rules, "src/a.txt", "x = tok_a1b2c3d4e5f6a7b8\n# nosecret"),
        1
    );
    assert_eq!(count(&rules, "src/a.txt", "x = tok_a1b2beefe5f6a7b8"), 0);
    assert_eq!(
        count(
            &rules,
            "src/a.txt",
            "x = tok_a1b2c3d4e5f6a7b8 // gitleaks:allow"
        ),
        0
    );
}

#[test]
fn and_condition_needs_every_check() {
    let rules = set(&format!(
        "{TOK_RULE}[[rules.allowlists]]\ncondition = \"AND\"\npaths = ['''\\.md$''']\n\
         regexes = ['''^1111''']\n\
         [[rules.allowlists]]\ncondition = \"and\"\npaths = ['''^docs/''']\ncommits = [\"abc123\"]\n"
    ));
    assert_eq!(count(&rules, "README.md", "tok_1111c3d4e5f6a7b8"), 0);
    assert_eq!(count(&rules, "README.txt", "tok_1111c3d4e5f6a7b8"), 1);
    assert_eq!(count(&rules, "README.md", "tok_2222c3d4e5f6a7b8"), 1);
    // A directory scan has no commit, so an AND allowlist with commits never applies.
    assert_eq!(count(&rules, "docs/a.txt", "tok_2222c3d4e5f6a7b8"), 1);
}

#[test]
fn global_allowlists_apply_to_every_rule() {
    let rules = set(&format!(
        "{TOK_RULE}[[rules]]\nid = \"other\"\nregex = '''oth_[a-z]{{8}}'''\n\
         [[allowlists]]\nregexes = ['''^9999''']\n[[allowlists]]\npaths = ['''^vendor/''']\n\
         [[allowlists]]\nstopwords = [\"zzzz\"]\n[[allowlists]]\nregexTarget = \"line\"\nregexes = ['''EXAMPLE''']\n"
    ));
    assert_eq!(count(&rules, "a", "tok_9999c3d4e5f6a7b8 oth_abcdefgh"), 1);
    assert_eq!(
        count(&rules, "vendor/a", "tok_a1b2c3d4e5f6a7b8 oth_abcdefgh"),
        0
    );
    assert_eq!(count(&rules, "a", "oth_abzzzzgh"), 0);
    assert_eq!(count(&rules, "a", "EXAMPLE: oth_abcdefgh"), 0);
}

#[test]
fn entropy_threshold_and_path_restricted_rules() {
    let rules = set(
        "[[rules]]\nid = \"e\"\nregex = '''key_([a-z]{12})'''\nentropy = 3.0\n\
                     [[rules]]\nid = \"tf\"\nregex = '''pw = \"([a-z]+)\"'''\npath = '''\\.tf$'''\n",
    );
    assert_eq!(count(&rules, "a", "key_aaaaaaaaaaaa"), 0);
    assert_eq!(count(&rules, "a", "key_qwertyuiopas"), 1);
    assert_eq!(count(&rules, "main.tf", "pw = \"hunter\""), 1);
    assert_eq!(count(&rules, "main.py", "pw = \"hunter\""), 0);
}

#[test]
fn location_is_the_secret_start_and_fingerprint_ignores_lines() {
    let rules = set(TOK_RULE);
    let text = "first\n  x = tok_a1b2c3d4e5f6a7b8\n";
    let f = &scan_bytes("svc/a.env", text.as_bytes(), &rules)[0];
    assert_eq!((f.location.line, f.location.column), (2, Some(11)));
    assert_eq!(
        (f.location.end_line, f.location.end_column),
        (Some(2), Some(27))
    );
    assert_eq!(f.location.path, "svc/a.env");
    let moved = format!("\n\n\n// moved\n{text}");
    let g = &scan_bytes("svc/a.env", moved.as_bytes(), &rules)[0];
    assert_eq!(f.fingerprint, g.fingerprint);
    assert_eq!(g.location.line, 6);
    let h = &scan_bytes("svc/b.env", text.as_bytes(), &rules)[0];
    assert_ne!(
        f.fingerprint, h.fingerprint,
        "the path is part of the fingerprint"
    );
}

#[test]
fn redaction_shows_four_chars_an_ellipsis_and_the_fingerprint() {
    let mut g = Gen::new(3);
    let key = format!(
        "{}{}",
        "AKIA",
        g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let f = &scan_bytes(
        "a.py",
        format!("k = '{key}'").as_bytes(),
        RuleSet::builtin(),
    )[0];
    assert_eq!(
        f.message,
        format!("AWS access key ID AKIA\u{2026}{}", &f.fingerprint[..8])
    );
    assert_eq!(
        f.properties["entropy"].as_f64().map(|e| e > 3.0),
        Some(true)
    );
    // Short secrets show at most a quarter of their characters.
    assert_eq!(
        redact(b"hunter2!", "0123456789abcdef"),
        "hu\u{2026}01234567"
    );
    assert_eq!(redact(b"abc", "ff"), "\u{2026}ff");
}

#[test]
fn a_report_never_contains_a_secret_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gen::new(5);
    let secrets = [
        format!("{}{}", "ghp_", g.pick(ALNUM, 36)),
        format!(
            "{}{}",
            "AKIA",
            g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        g.pick(ALNUM, 28),
        format!("{}{}", "glpat-", g.pick(LOWER, 20)),
    ];
    let text = format!(
        "token = \"{}\"\nid = {}\npassword: \"{}\"\nGL={}\n",
        secrets[0], secrets[1], secrets[2], secrets[3]
    );
    std::fs::write(dir.path().join("config.yml"), text).unwrap();
    let report = scan_tree(dir.path(), "", RuleSet::builtin(), None, Date::today()).unwrap();
    assert_eq!(report.findings.len(), 4, "{:#?}", report.findings);
    let debug = format!("{report:?}");
    let json = serde_json::to_string(&report).unwrap();
    for s in &secrets {
        assert!(
            !debug.contains(s.as_str()) && !json.contains(s.as_str()),
            "leaked {s}"
        );
        assert!(!debug.contains(&s[..12]), "leaked a prefix of {s}");
    }
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

#[test]
fn tree_walk_honours_gitignore_and_skips_binaries_and_huge_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let tok = |n: u64| format!("tok_{}", Gen::new(n).pick(LOWER, 16));
    write(root, ".gitignore", b"*.log\n/services/auth/dist/\n");
    write(root, "services/auth/src/a.py", tok(1).as_bytes());
    write(root, "services/auth/.env", tok(2).as_bytes());
    write(root, "services/auth/debug.log", tok(3).as_bytes());
    write(root, "services/auth/dist/bundle.js", tok(4).as_bytes());
    write(root, "services/auth/node_modules/x/i.js", tok(5).as_bytes());
    write(root, "services/auth/.git/config", tok(6).as_bytes());
    write(
        root,
        "services/auth/img.bin",
        &[b"tok_".as_slice(), &[0u8; 4], tok(7).as_bytes()].concat(),
    );
    write(
        root,
        "services/auth/big.txt",
        format!("{}{}", "x".repeat(300), tok(8)).as_bytes(),
    );
    write(root, "services/other/b.py", tok(9).as_bytes());
    let rules = set(TOK_RULE);
    let opts = ScanOptions {
        max_file_bytes: 200,
    };
    let (report, stats) =
        scan_tree_with(root, "services/auth", &rules, None, Date::today(), &opts).unwrap();
    let paths: Vec<_> = report
        .findings
        .iter()
        .map(|f| f.location.path.as_str())
        .collect();
    assert_eq!(paths, ["services/auth/.env", "services/auth/src/a.py"]);
    assert_eq!(
        (stats.files, stats.skipped_binary, stats.skipped_large),
        (2, 1, 1)
    );
    assert!(
        report.notes.iter().any(|n| n.contains("1 binary file")),
        "{:?}",
        report.notes
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("larger than") && n.contains("big.txt"))
    );
    assert_eq!(report.rules.len(), 1);
    // The default limit is 2 MiB.
    write(root, "services/auth/huge.txt", &vec![b'a'; (2 << 20) + 1]);
    let report = scan_tree(root, "services/auth", &rules, None, Date::today()).unwrap();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("larger than 2048 KiB") && n.contains("huge.txt"))
    );
    assert!(scan_tree(root, "services/missing", &rules, None, Date::today()).is_err());
}

#[test]
fn baseline_silences_accepted_findings_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", b"tok_a1b2c3d4e5f6a7b8\n");
    write(root, "b.txt", b"tok_b1b2c3d4e5f6a7b8\n");
    write(root, "c.txt", b"tok_c1b2c3d4e5f6a7b8\n");
    let rules = set(TOK_RULE);
    let today = Date::new(2026, 6, 1).unwrap();
    let all = scan_tree(root, ".", &rules, None, today).unwrap().findings;
    assert_eq!(all.len(), 3);
    let text = format!(
        "[[accepted]]\nfingerprint = \"{}\"\nreason = \"test fixture\"\nexpires = \"2026-06-01\"\n\
         [[accepted]]\nfingerprint = \"{}\"\nreason = \"revoked in March\"\nexpires = 2026-05-31\n\
         [[accepted]]\nfingerprint = \"{}\"\nreason = \"documentation\"\n",
        all[0].fingerprint, all[1].fingerprint, all[2].fingerprint
    );
    let baseline = Baseline::parse(&text, "baseline.toml").unwrap();
    let (report, stats) = scan_tree_with(
        root,
        "",
        &rules,
        Some(&baseline),
        today,
        &ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.accepted, 2);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].location.path, "b.txt");
    let note = report.notes.iter().find(|n| n.contains("expired")).unwrap();
    assert!(
        note.contains("revoked in March") && note.contains("2026-05-31") && note.contains("b.txt")
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("2 finding(s) accepted"))
    );
}
