//! The rule set's tests: config errors that name the rule and field, regex errors,
//! `[extend]`, both allowlist forms, the keyword prefilter.

#![allow(clippy::unwrap_used)]

use super::rules::RuleSet;
use crate::scan::Severity;

fn err(text: &str) -> String {
    RuleSet::from_toml(text, "rules.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn builtin_compiles_with_30_rules() {
    let set = RuleSet::builtin();
    assert_eq!(set.rules.len(), 30);
    let ids: Vec<_> = set.rules().into_iter().map(|r| r.id).collect();
    assert!(ids.contains(&"aws-access-token".to_string()));
    let private = set.rules.iter().find(|r| r.id == "private-key").unwrap();
    assert_eq!(private.severity, Severity::Critical);
    let gh = set.rules.iter().find(|r| r.id == "github-pat").unwrap();
    assert_eq!(gh.severity, Severity::High);
}

#[test]
fn malformed_rule_names_rule_and_field() {
    let e = err("[[rules]]\nid = \"my-token\"\nregex = 'x'\nentropy = \"high\"\n");
    assert!(e.contains("rules.toml") && e.contains("`my-token`") && e.contains("`entropy`"));
    assert!(e.contains("expected a number, found string"), "{e}");

    let e = err("[[rules]]\nid = \"t\"\nregex = 'x'\nkeywords = \"abc\"\n");
    assert!(
        e.contains("`t`") && e.contains("`keywords`") && e.contains("list"),
        "{e}"
    );

    let e = err("[[rules]]\nid = \"t\"\nregexx = 'x'\n");
    assert!(e.contains("`regexx`") && e.contains("unknown field"), "{e}");

    let e = err("[[rules]]\ndescription = \"no id\"\nregex = 'x'\n");
    assert!(e.contains("rule #1 (no id)") && e.contains("`id`"), "{e}");

    let e = err("[[rules]]\nid = \"t\"\nregex = '(a)'\nsecretGroup = 2\n");
    assert!(
        e.contains("`secretGroup`") && e.contains("1 capture group"),
        "{e}"
    );

    let e = err("[[rules]]\nid = \"t\"\n");
    assert!(
        e.contains("`t`") && e.contains("regex and path are empty"),
        "{e}"
    );

    let e = err("[[rules]]\nid = \"t\"\nregex = 'x'\nseverity = \"severe\"\n");
    assert!(
        e.contains("`severity`") && e.contains("critical, high"),
        "{e}"
    );

    let e = err(
        "[[rules]]\nid = \"t\"\nregex = 'x'\n[[rules.allowlists]]\nregexTarget = \"all\"\nregexes = ['a']\n",
    );
    assert!(
        e.contains("allowlist #1") && e.contains("`regexTarget`"),
        "{e}"
    );

    let e = err("[[rules]]\nid = \"t\"\nregex = 'x'\n[[rules]]\nid = \"t\"\nregex = 'y'\n");
    assert!(e.contains("declared twice"), "{e}");

    let e = err("[[rules]\nid = 1");
    assert!(e.contains("rules.toml is not valid TOML"), "{e}");
}

#[test]
fn invalid_regex_names_rule_field_and_pattern() {
    let e = err("[[rules]]\nid = \"look\"\nregex = '''foo(?=bar)'''\n");
    assert!(
        e.contains("`look`") && e.contains("`regex`") && e.contains("foo(?=bar)"),
        "{e}"
    );
    assert!(e.contains("lookarounds"), "{e}");

    let e = err("[allowlist]\npaths = ['ok', '(unclosed']\n");
    assert!(
        e.contains("global allowlist") && e.contains("`paths`"),
        "{e}"
    );
    assert!(e.contains("`(unclosed`"), "{e}");

    let e = err("[[rules]]\nid = \"big\"\nregex = '''\\w{1000}{1000}'''\n");
    assert!(e.contains("`big`") && e.contains("size limit"), "{e}");
}

#[test]
fn extend_default_merges_by_id_and_disables() {
    let text = r#"
        [extend]
        useDefault = true
        disabledRules = ["jwt"]
        [[rules]]
        id = "github-pat"
        severity = "critical"
        [[rules.allowlists]]
        paths = ['''fixtures/''']
        [[rules]]
        id = "acme-token"
        regex = '''acme_[a-z0-9]{20}'''
        keywords = ["acme_"]
    "#;
    let set = RuleSet::from_toml(text, "x.toml").unwrap();
    assert_eq!(set.rules.len(), 30); // 30 - jwt + acme
    assert!(!set.rules.iter().any(|r| r.id == "jwt"));
    let gh = set.rules.iter().find(|r| r.id == "github-pat").unwrap();
    assert_eq!(gh.severity, Severity::Critical);
    assert!(gh.regex.is_some(), "the built-in regex is kept");
    assert_eq!(gh.allowlists.len(), 2);
    assert_eq!(set.rules.last().unwrap().id, "acme-token");
    assert_eq!(set.allowlists.len(), 1, "the built-in global allowlist");
}

#[test]
fn extend_path_is_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        "[[rules]]\nid = \"base\"\nregex = 'b[0-9]+'\n",
    )
    .unwrap();
    let top = dir.path().join("top.toml");
    std::fs::write(
        &top,
        "[extend]\npath = \"base.toml\"\n[[rules]]\nid = \"top\"\nregex = 't'\n",
    )
    .unwrap();
    let set = RuleSet::load(&top).unwrap();
    let ids: Vec<_> = set.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["base", "top"]);
    let e = err("[extend]\nuseDefault = true\npath = \"x.toml\"\n");
    assert!(e.contains("[extend]") && e.contains("`path`"), "{e}");
}

#[test]
fn old_and_new_allowlist_forms_and_target_rules() {
    let text = r#"
        [[rules]]
        id = "a"
        regex = 'a+'
        [rules.allowlist]
        regexes = ['aaa']
        [[allowlists]]
        targetRules = ["a"]
        stopwords = ["zz"]
    "#;
    let set = RuleSet::from_toml(text, "x.toml").unwrap();
    assert_eq!(set.rules[0].allowlists.len(), 2);
    assert!(set.allowlists.is_empty());
    let e = err(
        "[[rules]]\nid = \"a\"\nregex = 'a'\n[[allowlists]]\ntargetRules = [\"b\"]\nstopwords = [\"x\"]\n",
    );
    assert!(e.contains("targetRules") && e.contains("`b`"), "{e}");
    let e = err("[allowlist]\nstopwords = ['x']\n[[allowlists]]\nstopwords = ['y']\n");
    assert!(e.contains("cannot both be used"), "{e}");
    let e =
        err("[[rules]]\nid = \"a\"\nregex = 'a'\n[[rules.allowlists]]\ndescription = \"empty\"\n");
    assert!(e.contains("at least one of"), "{e}");
}

#[test]
fn prefilter_is_case_insensitive_and_keywordless_rules_always_run() {
    let text = "[[rules]]\nid = \"k\"\nregex = 'x'\nkeywords = [\"Foo\"]\n\
                [[rules]]\nid = \"always\"\nregex = 'y'\n";
    let set = RuleSet::from_toml(text, "x.toml").unwrap();
    assert_eq!(set.candidates(b"nothing here"), [1]);
    assert_eq!(set.candidates(b"a FOO b"), [0, 1]);
}

#[test]
fn rule_set_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<RuleSet>();
}
