//! The compiled rule set: every regex built once (bytes, Unicode classes off, bounded
//! size), one aho-corasick automaton over all keywords, and allowlists with gitleaks'
//! semantics (OR: any check; AND: every check that is set).

use std::path::Path;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

use super::SecretsError;
use super::config::{self, RawAllowlist, RawConfig, RawRule, Target};
use crate::scan::{Rule, Severity};

/// Compiled size bound per regex: big enough for gitleaks' generic rule, small enough that
/// a pathological user regex fails with a clear error instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

const HELP: &str = "Remove the secret from the file and rotate it (it may already be in the \
                    history); load it from the environment or a secret store. A false positive \
                    or an accepted test fixture goes in the baseline with a reason.";

/// A compiled set of secret rules. Build it once (`builtin`, `from_toml`, `load`) and share
/// it: it is `Send + Sync`.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) title: Option<String>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) allowlists: Vec<Allowlist>,
    /// Over every rule keyword, ASCII case-insensitive (gitleaks lowercases both sides).
    prefilter: Option<AhoCorasick>,
    /// Pattern index of `prefilter` → the rules that keyword enables.
    keyword_rules: Vec<Vec<usize>>,
    /// Rules without keywords run on every file.
    always: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) regex: Option<Regex>,
    pub(crate) secret_group: usize,
    pub(crate) entropy: Option<f64>,
    pub(crate) path: Option<Regex>,
    pub(crate) tags: Vec<String>,
    pub(crate) allowlists: Vec<Allowlist>,
    pub(crate) severity: Severity,
    pub(crate) skip_report: bool,
}

#[derive(Debug)]
pub(crate) struct Allowlist {
    and: bool,
    has_commits: bool,
    paths: Option<Regex>,
    regexes: Option<Regex>,
    pub(crate) target: Target,
    stopwords: Option<AhoCorasick>,
}

static BUILTIN: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::from_toml(config::DEFAULT_TOML, config::DEFAULT_ORIGIN)
        .unwrap_or_else(|e| panic!("the built-in secret rules must compile (a test checks): {e}"))
});

impl RuleSet {
    /// The built-in rules (`default.toml`), compiled on first use.
    #[must_use]
    pub fn builtin() -> &'static RuleSet {
        &BUILTIN
    }

    /// The text of the built-in rules, for users who want to read or copy them.
    #[must_use]
    pub fn builtin_toml() -> &'static str {
        config::DEFAULT_TOML
    }

    /// Rules from gitleaks-format TOML. `origin` names the text in errors; when it is a file
    /// path, `[extend] path` is resolved against its folder. `[extend] useDefault = true`
    /// merges the built-in rules.
    pub fn from_toml(text: &str, origin: &str) -> Result<RuleSet, SecretsError> {
        let base_dir = Path::new(origin).parent();
        let raw = config::parse(text, origin, base_dir, 0)?;
        compile(raw)
    }

    /// Rules from a gitleaks-format file.
    pub fn load(path: &Path) -> Result<RuleSet, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The config's `title`, if any.
    #[must_use]
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Every rule's metadata, for reports and SARIF.
    #[must_use]
    pub fn rules(&self) -> Vec<Rule> {
        self.rules
            .iter()
            .map(|r| Rule {
                id: r.id.clone(),
                description: r.description.clone(),
                help: Some(HELP.to_string()),
                help_uri: None,
                severity: r.severity,
            })
            .collect()
    }

    /// The rules to run on `bytes`, in rule order: those without keywords, and those with a
    /// keyword that occurs in `bytes` (ASCII case-insensitive).
    pub(crate) fn candidates(&self, bytes: &[u8]) -> Vec<usize> {
        let mut on = vec![false; self.rules.len()];
        for &i in &self.always {
            on[i] = true;
        }
        if let Some(ac) = &self.prefilter {
            let mut seen = vec![false; self.keyword_rules.len()];
            let mut left = seen.len();
            for m in ac.find_overlapping_iter(bytes) {
                let k = m.pattern().as_usize();
                if !seen[k] {
                    seen[k] = true;
                    for &r in &self.keyword_rules[k] {
                        on[r] = true;
                    }
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        on.iter()
            .enumerate()
            .filter_map(|(i, on)| on.then_some(i))
            .collect()
    }
}

fn compile(raw: RawConfig) -> Result<RuleSet, SecretsError> {
    let mut targeted: Vec<(String, Allowlist, RawAllowlist)> = Vec::new();
    let mut allowlists = Vec::new();
    for a in &raw.allowlists {
        let compiled = compile_allowlist(a)?;
        if a.target_rules.is_empty() {
            allowlists.push(compiled);
        } else {
            for id in &a.target_rules {
                targeted.push((id.clone(), compile_allowlist(a)?, a.clone()));
            }
        }
    }
    let mut rules = Vec::with_capacity(raw.rules.len());
    for r in &raw.rules {
        rules.push(compile_rule(r)?);
    }
    for (id, allowlist, a) in targeted {
        let Some(rule) = rules.iter_mut().find(|r| r.id == id) else {
            return Err(SecretsError::Field {
                origin: a.origin,
                at: a.at,
                field: "targetRules".to_string(),
                message: format!("names rule `{id}`, which does not exist"),
            });
        };
        rule.allowlists.push(allowlist);
    }
    // One automaton over the distinct lowercase keywords.
    let mut keywords: Vec<String> = Vec::new();
    let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
    let mut always = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        if r.keywords.is_empty() {
            always.push(i);
        }
        for k in &r.keywords {
            let k = k.to_ascii_lowercase();
            let slot = match keywords.iter().position(|x| *x == k) {
                Some(slot) => slot,
                None => {
                    keywords.push(k);
                    keyword_rules.push(Vec::new());
                    keywords.len() - 1
                }
            };
            if !keyword_rules[slot].contains(&i) {
                keyword_rules[slot].push(i);
            }
        }
    }
    let prefilter = if keywords.is_empty() {
        None
    } else {
        Some(build_ac(&keywords).map_err(|message| {
            SecretsError::Config {
                origin: raw
                    .rules
                    .first()
                    .map_or_else(String::new, |r| r.origin.clone()),
                message: format!("cannot build the keyword automaton: {message}"),
            }
        })?)
    };
    Ok(RuleSet {
        title: raw.title,
        rules,
        allowlists,
        prefilter,
        keyword_rules,
        always,
    })
}

fn build_ac(words: &[String]) -> Result<AhoCorasick, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(words)
        .map_err(|e| e.to_string())
}

fn compile_rule(r: &RawRule) -> Result<CompiledRule, SecretsError> {
    let at = format!("rule `{}`", r.id);
    let field_err = |field: &str, message: String| SecretsError::Field {
        origin: r.origin.clone(),
        at: at.clone(),
        field: field.to_string(),
        message,
    };
    if r.regex.is_none() && r.path.is_none() {
        return Err(field_err(
            "regex",
            "both regex and path are empty, so the rule would match nothing: set one".to_string(),
        ));
    }
    let regex = match &r.regex {
        Some(p) => Some(build_regex(p, &r.origin, &at, "regex")?),
        None => None,
    };
    let path = match &r.path {
        Some(p) => Some(build_regex(p, &r.origin, &at, "path")?),
        None => None,
    };
    let secret_group = r.secret_group.unwrap_or(0);
    if let Some(re) = &regex {
        let groups = re.captures_len() - 1;
        if secret_group > groups {
            return Err(field_err(
                "secretGroup",
                format!("is {secret_group} but the regex has {groups} capture group(s)"),
            ));
        }
    }
    let mut allowlists = Vec::with_capacity(r.allowlists.len());
    for a in &r.allowlists {
        allowlists.push(compile_allowlist(a)?);
    }
    Ok(CompiledRule {
        id: r.id.clone(),
        description: r
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| r.id.clone()),
        regex,
        secret_group,
        entropy: r.entropy.filter(|e| *e > 0.0),
        path,
        tags: r.tags.clone(),
        allowlists,
        severity: r.severity.unwrap_or(Severity::High),
        skip_report: r.skip_report,
    })
}

fn compile_allowlist(a: &RawAllowlist) -> Result<Allowlist, SecretsError> {
    let stopwords = if a.stopwords.is_empty() {
        None
    } else {
        let words: Vec<String> = a.stopwords.iter().map(|w| w.to_ascii_lowercase()).collect();
        Some(build_ac(&words).map_err(|message| SecretsError::Field {
            origin: a.origin.clone(),
            at: a.at.clone(),
            field: "stopwords".to_string(),
            message,
        })?)
    };
    Ok(Allowlist {
        and: a.and,
        has_commits: !a.commits.is_empty(),
        paths: join_regexes(&a.paths, &a.origin, &a.at, "paths")?,
        regexes: join_regexes(&a.regexes, &a.origin, &a.at, "regexes")?,
        target: a.target,
        stopwords,
    })
}

/// One regex for a list (as gitleaks joins them); on error, the failing item is named.
fn join_regexes(
    patterns: &[String],
    origin: &str,
    at: &str,
    field: &str,
) -> Result<Option<Regex>, SecretsError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    match build_regex(&joined.join("|"), origin, at, field) {
        Ok(re) => Ok(Some(re)),
        Err(joined_err) => {
            for p in patterns {
                build_regex(p, origin, at, field)?;
            }
            Err(joined_err)
        }
    }
}

pub(crate) fn build_regex(
    pattern: &str,
    origin: &str,
    at: &str,
    field: &str,
) -> Result<Regex, SecretsError> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| SecretsError::Regex {
            origin: origin.to_string(),
            at: at.to_string(),
            field: field.to_string(),
            pattern: pattern.to_string(),
            message: e.to_string(),
        })
}

impl Allowlist {
    fn path_allowed(&self, path: &str) -> bool {
        self.paths
            .as_ref()
            .is_some_and(|re| re.is_match(path.as_bytes()))
    }

    fn regex_allowed(&self, target: &[u8]) -> bool {
        !target.is_empty() && self.regexes.as_ref().is_some_and(|re| re.is_match(target))
    }

    fn has_stopword(&self, secret: &[u8]) -> bool {
        self.stopwords
            .as_ref()
            .is_some_and(|ac| ac.is_match(secret))
    }

    /// gitleaks' `checkCommitOrPathAllowed`: a whole file is skipped. A directory scan has
    /// no commit, so a `commits` check never passes.
    pub(crate) fn allows_path(&self, path: &str) -> bool {
        if self.and {
            if self.regexes.is_some() || self.stopwords.is_some() {
                return false; // decided per finding
            }
            !self.has_commits && (self.paths.is_none() || self.path_allowed(path))
        } else {
            self.path_allowed(path)
        }
    }

    /// gitleaks' `checkFindingAllowed`; `target` is the secret, the match or the line, as
    /// `self.target` asks.
    pub(crate) fn allows_finding(&self, path: &str, secret: &[u8], target: &[u8]) -> bool {
        if self.and {
            !self.has_commits
                && (self.paths.is_none() || self.path_allowed(path))
                && (self.regexes.is_none() || self.regex_allowed(target))
                && (self.stopwords.is_none() || self.has_stopword(secret))
        } else {
            self.regex_allowed(target) || self.has_stopword(secret)
        }
    }
}
