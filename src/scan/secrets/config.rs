//! Reads gitleaks' v8 TOML config into plain rule records, field by field, so that an error
//! names the rule and the field; `[extend]` merges a base config the way gitleaks does.
//! Keys are matched case-insensitively, as gitleaks (viper) does.

use std::path::Path;

use toml::{Table, Value};

use super::SecretsError;
use crate::scan::Severity;

/// The built-in rules, in the same format users write.
pub(crate) const DEFAULT_TOML: &str = include_str!("default.toml");
pub(crate) const DEFAULT_ORIGIN: &str = "built-in secret rules (src/scan/secrets/default.toml)";
/// As in gitleaks: a config may extend one that extends another, no deeper.
const MAX_EXTEND_DEPTH: usize = 2;

#[derive(Debug, Clone, Default)]
pub(crate) struct RawConfig {
    pub(crate) title: Option<String>,
    pub(crate) rules: Vec<RawRule>,
    /// Global allowlists; those with `target_rules` go to the rules they name.
    pub(crate) allowlists: Vec<RawAllowlist>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawRule {
    pub(crate) origin: String,
    pub(crate) id: String,
    pub(crate) description: Option<String>,
    pub(crate) regex: Option<String>,
    pub(crate) secret_group: Option<usize>,
    pub(crate) entropy: Option<f64>,
    pub(crate) keywords: Vec<String>,
    pub(crate) path: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) allowlists: Vec<RawAllowlist>,
    pub(crate) severity: Option<Severity>,
    pub(crate) skip_report: bool,
}

/// What an allowlist regex is tested against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Target {
    #[default]
    Secret,
    Match,
    Line,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawAllowlist {
    pub(crate) origin: String,
    /// Where it was declared, for errors: `rule \`x\`, allowlist #1`.
    pub(crate) at: String,
    pub(crate) and: bool,
    pub(crate) commits: Vec<String>,
    pub(crate) paths: Vec<String>,
    pub(crate) target: Target,
    pub(crate) regexes: Vec<String>,
    pub(crate) stopwords: Vec<String>,
    pub(crate) target_rules: Vec<String>,
}

/// Parses `text`; `[extend] path` is resolved against `base_dir` (the config's folder).
pub(crate) fn parse(
    text: &str,
    origin: &str,
    base_dir: Option<&Path>,
    depth: usize,
) -> Result<RawConfig, SecretsError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| SecretsError::Toml {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
    let config_err = |message: String| SecretsError::Config {
        origin: origin.to_string(),
        message,
    };
    let top = Fields::new(origin, "the top level".to_string());
    let mut config = RawConfig::default();
    let mut extend: Option<&Table> = None;
    let (mut old_allowlist, mut allowlists) = (None, Vec::new());
    for (key, value) in &table {
        match key.to_ascii_lowercase().as_str() {
            "title" => config.title = Some(top.string(key, value)?),
            "description" | "minversion" => {}
            "extend" => extend = Some(top.table(key, value)?),
            "rules" => {
                for (i, item) in top.array(key, value)?.iter().enumerate() {
                    let at = format!("rule #{}", i + 1);
                    let rule = parse_rule(Fields::new(origin, at).table(key, item)?, origin, i)?;
                    if config.rules.iter().any(|r| r.id == rule.id) {
                        return Err(Fields::new(origin, format!("rule `{}`", rule.id))
                            .err("id", "declared twice: rule ids must be unique"));
                    }
                    config.rules.push(rule);
                }
            }
            "allowlist" => old_allowlist = Some(top.table(key, value)?),
            "allowlists" => allowlists = top.array(key, value)?.iter().collect(),
            _ => {
                return Err(config_err(format!(
                    "unknown top-level key `{key}`: expected title, extend, rules, allowlist \
                     or allowlists"
                )));
            }
        }
    }
    if old_allowlist.is_some() && !allowlists.is_empty() {
        return Err(config_err(
            "[allowlist] and [[allowlists]] cannot both be used: move [allowlist] into \
             [[allowlists]]"
                .to_string(),
        ));
    }
    if let Some(t) = old_allowlist {
        config.allowlists.push(parse_allowlist(
            t,
            origin,
            "global allowlist".to_string(),
            true,
        )?);
    }
    for (i, item) in allowlists.into_iter().enumerate() {
        let at = format!("global allowlist #{}", i + 1);
        let t = Fields::new(origin, at.clone()).table("allowlists", item)?;
        config
            .allowlists
            .push(parse_allowlist(t, origin, at, true)?);
    }
    match extend {
        Some(ext) if depth < MAX_EXTEND_DEPTH => {
            extend_config(config, ext, origin, base_dir, depth)
        }
        _ => Ok(config),
    }
}

fn extend_config(
    config: RawConfig,
    ext: &Table,
    origin: &str,
    base_dir: Option<&Path>,
    depth: usize,
) -> Result<RawConfig, SecretsError> {
    let f = Fields::new(origin, "[extend]".to_string());
    let (mut use_default, mut path, mut disabled) = (false, None, Vec::new());
    for (key, value) in ext {
        match key.to_ascii_lowercase().as_str() {
            "usedefault" => use_default = f.boolean(key, value)?,
            "path" => path = Some(f.string(key, value)?),
            "disabledrules" => disabled = f.strings(key, value)?,
            "url" => {
                return Err(f.err(
                    key,
                    "extending from a URL is not supported: download the file and use `path`",
                ));
            }
            _ => {
                return Err(f.err(
                    key,
                    "unknown key: expected useDefault, path or disabledRules",
                ));
            }
        }
    }
    let base = match (use_default, path) {
        (true, Some(_)) => {
            return Err(f.err("path", "cannot be used with useDefault = true: choose one"));
        }
        (true, None) => parse(DEFAULT_TOML, DEFAULT_ORIGIN, None, depth + 1)?,
        (false, Some(p)) => {
            let full = base_dir.map_or_else(|| Path::new(&p).to_path_buf(), |d| d.join(&p));
            let text = std::fs::read_to_string(&full).map_err(|source| SecretsError::Io {
                path: full.clone(),
                source,
            })?;
            let name = full.display().to_string();
            parse(&text, &name, full.parent(), depth + 1)?
        }
        (false, None) => return Ok(config),
    };
    Ok(merge(config, base, &disabled))
}

/// gitleaks' `extend`: base rules first; a rule of `over` with a base rule's id overrides
/// the fields it sets and adds its keywords, tags and allowlists.
fn merge(over: RawConfig, base: RawConfig, disabled: &[String]) -> RawConfig {
    let mut overrides = over.rules;
    let mut rules = Vec::new();
    for mut rule in base.rules {
        if disabled.contains(&rule.id) {
            continue;
        }
        if let Some(i) = overrides.iter().position(|r| r.id == rule.id) {
            let o = overrides.remove(i);
            rule.origin = o.origin;
            rule.description = o.description.or(rule.description);
            rule.regex = o.regex.or(rule.regex);
            rule.secret_group = o.secret_group.or(rule.secret_group);
            rule.entropy = o.entropy.or(rule.entropy);
            rule.path = o.path.or(rule.path);
            rule.severity = o.severity.or(rule.severity);
            rule.skip_report |= o.skip_report;
            rule.keywords.extend(o.keywords);
            rule.tags.extend(o.tags);
            rule.allowlists.extend(o.allowlists);
        }
        rules.push(rule);
    }
    rules.extend(overrides);
    let mut allowlists = over.allowlists;
    allowlists.extend(base.allowlists);
    RawConfig {
        title: over.title.or(base.title),
        rules,
        allowlists,
    }
}

fn parse_rule(t: &Table, origin: &str, index: usize) -> Result<RawRule, SecretsError> {
    let id_value = t.iter().find(|(k, _)| k.eq_ignore_ascii_case("id"));
    let unnamed = Fields::new(origin, format!("rule #{} (no id)", index + 1));
    let id = match id_value {
        Some((k, v)) => unnamed.string(k, v)?.trim().to_string(),
        None => String::new(),
    };
    if id.is_empty() {
        return Err(unnamed.err("id", "missing or empty: every rule needs a unique id"));
    }
    let f = Fields::new(origin, format!("rule `{id}`"));
    let mut rule = RawRule {
        origin: origin.to_string(),
        id: id.clone(),
        ..RawRule::default()
    };
    let mut old_allowlist = None;
    for (key, value) in t {
        match key.to_ascii_lowercase().as_str() {
            "id" => {}
            "description" => rule.description = Some(f.string(key, value)?),
            "regex" => rule.regex = Some(f.string(key, value)?).filter(|s| !s.is_empty()),
            "path" => rule.path = Some(f.string(key, value)?).filter(|s| !s.is_empty()),
            "secretgroup" => rule.secret_group = Some(f.count(key, value)?),
            "entropy" => rule.entropy = Some(f.number(key, value)?),
            "keywords" => {
                rule.keywords = f.strings(key, value)?;
                if rule.keywords.iter().any(String::is_empty) {
                    return Err(f.err(key, "an empty keyword would match every file: remove it"));
                }
            }
            "tags" => rule.tags = f.strings(key, value)?,
            "severity" => {
                let s = f.string(key, value)?;
                rule.severity = Some(s.parse().map_err(|e: String| f.err(key, &e))?);
            }
            "skipreport" => rule.skip_report = f.boolean(key, value)?,
            "allowlist" => old_allowlist = Some(f.table(key, value)?),
            "allowlists" => {
                for (i, item) in f.array(key, value)?.iter().enumerate() {
                    let at = format!("rule `{id}`, allowlist #{}", i + 1);
                    let t = Fields::new(origin, at.clone()).table(key, item)?;
                    rule.allowlists.push(parse_allowlist(t, origin, at, false)?);
                }
            }
            "required" => {
                return Err(f.err(
                    key,
                    "multi-part rules ([[rules.required]]) are not supported",
                ));
            }
            _ => {
                return Err(f.err(
                    key,
                    "unknown field: expected id, description, regex, secretGroup, entropy, \
                     keywords, path, tags, severity, allowlists",
                ));
            }
        }
    }
    if let Some(t) = old_allowlist {
        if !rule.allowlists.is_empty() {
            return Err(f.err(
                "allowlist",
                "[rules.allowlist] cannot be used with [[rules.allowlists]]: use the latter",
            ));
        }
        let at = format!("rule `{id}`, allowlist");
        rule.allowlists.push(parse_allowlist(t, origin, at, false)?);
    }
    if let Some(e) = rule.entropy
        && !(0.0..=8.0).contains(&e)
    {
        return Err(f.err("entropy", "must be between 0 and 8 bits per character"));
    }
    Ok(rule)
}

fn parse_allowlist(
    t: &Table,
    origin: &str,
    at: String,
    global: bool,
) -> Result<RawAllowlist, SecretsError> {
    let f = Fields::new(origin, at.clone());
    let mut a = RawAllowlist {
        origin: origin.to_string(),
        at,
        ..RawAllowlist::default()
    };
    for (key, value) in t {
        match key.to_ascii_lowercase().as_str() {
            "description" => {
                f.string(key, value)?;
            }
            "condition" => {
                a.and = match f.string(key, value)?.to_ascii_uppercase().as_str() {
                    "AND" | "&&" => true,
                    "" | "OR" | "||" => false,
                    other => {
                        return Err(f.err(key, &format!("`{other}`: expected \"AND\" or \"OR\"")));
                    }
                }
            }
            "commits" => a.commits = f.strings(key, value)?,
            "paths" => a.paths = f.strings(key, value)?,
            "regexes" => a.regexes = f.strings(key, value)?,
            "stopwords" => a.stopwords = f.strings(key, value)?,
            "regextarget" => {
                a.target = match f.string(key, value)?.as_str() {
                    "" | "secret" => Target::Secret,
                    "match" => Target::Match,
                    "line" => Target::Line,
                    other => {
                        return Err(f.err(
                            key,
                            &format!("`{other}`: expected \"secret\", \"match\" or \"line\""),
                        ));
                    }
                }
            }
            "targetrules" if global => a.target_rules = f.strings(key, value)?,
            _ => {
                return Err(f.err(
                    key,
                    "unknown field: expected description, condition, commits, paths, regexes, \
                     regexTarget, stopwords",
                ));
            }
        }
    }
    if a.commits.is_empty() && a.paths.is_empty() && a.regexes.is_empty() && a.stopwords.is_empty()
    {
        return Err(f.err(
            "regexes",
            "an allowlist needs at least one of commits, paths, regexes or stopwords",
        ));
    }
    Ok(a)
}

/// Typed access to one table's fields; errors say where (`at`) and which field.
struct Fields<'a> {
    origin: &'a str,
    at: String,
}

impl<'a> Fields<'a> {
    fn new(origin: &'a str, at: String) -> Self {
        Self { origin, at }
    }

    fn err(&self, field: &str, message: &str) -> SecretsError {
        SecretsError::Field {
            origin: self.origin.to_string(),
            at: self.at.clone(),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    fn wrong(&self, field: &str, expected: &str, v: &Value) -> SecretsError {
        self.err(
            field,
            &format!("expected {expected}, found {}", v.type_str()),
        )
    }

    fn string(&self, field: &str, v: &Value) -> Result<String, SecretsError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.wrong(field, "a string", v))
    }

    fn boolean(&self, field: &str, v: &Value) -> Result<bool, SecretsError> {
        v.as_bool()
            .ok_or_else(|| self.wrong(field, "true or false", v))
    }

    fn number(&self, field: &str, v: &Value) -> Result<f64, SecretsError> {
        match v {
            Value::Float(x) => Ok(*x),
            #[allow(clippy::cast_precision_loss)]
            Value::Integer(i) => Ok(*i as f64),
            _ => Err(self.wrong(field, "a number", v)),
        }
    }

    fn count(&self, field: &str, v: &Value) -> Result<usize, SecretsError> {
        v.as_integer()
            .and_then(|i| usize::try_from(i).ok())
            .ok_or_else(|| self.wrong(field, "a non-negative integer", v))
    }

    fn strings(&self, field: &str, v: &Value) -> Result<Vec<String>, SecretsError> {
        let items = v
            .as_array()
            .ok_or_else(|| self.wrong(field, "a list of strings", v))?;
        items.iter().map(|item| self.string(field, item)).collect()
    }

    fn table<'v>(&self, field: &str, v: &'v Value) -> Result<&'v Table, SecretsError> {
        v.as_table().ok_or_else(|| self.wrong(field, "a table", v))
    }

    fn array<'v>(&self, field: &str, v: &'v Value) -> Result<&'v Vec<Value>, SecretsError> {
        v.as_array()
            .ok_or_else(|| self.wrong(field, "an array of tables", v))
    }
}
