//! isect's own SAST rules, for what go vet and bandit miss: TLS verification turned off,
//! shell commands built from input, 0.0.0.0 binds in production configs, weak password
//! hashes and JWTs that accept `none`. Regexes run over whole files (so calls that span
//! lines match) and each match is then checked in code, to stay precise: a comment line
//! or a line marked `isect:ignore` never reports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::SastError;
use crate::scan::finding::{Finding, Location, Rule, ScanReport, Scanner, Severity, fingerprint};

/// Files above this size are generated or data, not code.
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Go,
    Python,
    Js,
    Config,
    Docker,
}

struct NativeRule {
    id: &'static str,
    description: &'static str,
    help: &'static str,
    severity: Severity,
}

static TLS: NativeRule = NativeRule {
    id: "tls-verify-disabled",
    description: "TLS certificate verification is turned off",
    help: "Keep verification on; to trust a private CA, give its certificate (Go RootCAs, \
           requests verify=\"/path/ca.pem\", Node `ca`, NODE_EXTRA_CA_CERTS) instead.",
    severity: Severity::High,
};
static SHELL: NativeRule = NativeRule {
    id: "shell-exec-from-input",
    description: "A shell command line is built from a non-literal string",
    help: "Run the program directly with an argument list (exec.Command(\"git\", args...), \
           subprocess.run([...]) without shell=True, child_process.execFile), or quote \
           every input (shlex.quote).",
    severity: Severity::High,
};
static BIND: NativeRule = NativeRule {
    id: "bind-all-interfaces-production",
    description: "A production config binds to 0.0.0.0 (every interface)",
    help: "Bind to the interface the service needs (127.0.0.1 behind a proxy, a private \
           address); in a container that must listen on 0.0.0.0, take the address from \
           the environment or mark the line `isect:ignore`.",
    severity: Severity::Medium,
};
static WEAK_HASH: NativeRule = NativeRule {
    id: "weak-hash-for-password",
    description: "MD5 or SHA-1 used on a password",
    help: "Hash passwords with a slow, salted KDF: argon2id, scrypt or bcrypt \
           (golang.org/x/crypto, argon2-cffi/passlib, the argon2 or bcrypt npm package).",
    severity: Severity::Medium,
};
static JWT_NONE: NativeRule = NativeRule {
    id: "jwt-none-alg",
    description: "JWTs are accepted without a signature (alg none, or verification off)",
    help: "Pin the expected algorithms (e.g. algorithms=[\"RS256\"]) and always verify the \
           signature.",
    severity: Severity::High,
};

static RULES: [&NativeRule; 5] = [&TLS, &SHELL, &BIND, &WEAK_HASH, &JWT_NONE];

/// What a match is checked against once the regex matched.
struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
    line: &'a str,
    /// The matched text.
    matched: &'a str,
    /// Offset just after the match.
    end: usize,
}

struct Pattern {
    rule: &'static NativeRule,
    langs: &'static [Lang],
    re: Regex,
    accept: fn(&Ctx<'_>) -> bool,
    message: &'static str,
}

const ALL: &[Lang] = &[Lang::Go, Lang::Python, Lang::Js, Lang::Config, Lang::Docker];
const CODE: &[Lang] = &[Lang::Go, Lang::Python, Lang::Js];

fn pattern(
    rule: &'static NativeRule,
    langs: &'static [Lang],
    re: &str,
    accept: fn(&Ctx<'_>) -> bool,
    message: &'static str,
) -> Pattern {
    Pattern {
        rule,
        langs,
        // The patterns are fixed at compile time and covered by tests.
        re: Regex::new(re).expect("a built-in SAST pattern compiles"),
        accept,
        message,
    }
}

fn always(_: &Ctx<'_>) -> bool {
    true
}

fn not_a_def(c: &Ctx<'_>) -> bool {
    let t = c.line.trim_start();
    !(t.starts_with("def ") || t.starts_with("async def "))
}

/// The text between the `(` that ends the match and its `)` (at most 4 KiB).
fn call_args<'a>(c: &Ctx<'a>) -> &'a str {
    let rest = &c.text[c.end..];
    let mut depth = 1usize;
    let mut quote: Option<char> = None;
    let mut prev = '\0';
    for (i, ch) in rest.char_indices() {
        if i > 4096 {
            return &rest[..i];
        }
        match quote {
            Some(q) if ch == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match ch {
                '"' | '\'' | '`' => quote = Some(ch),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &rest[..i];
                    }
                }
                _ => {}
            },
        }
        prev = if prev == '\\' && ch == '\\' { '\0' } else { ch };
    }
    rest
}

/// Whether the first argument in `args` is one plain string literal (no f-string, no
/// template interpolation, no concatenation or formatting after it).
fn first_arg_is_literal(args: &str) -> bool {
    let s = args.trim_start();
    // Python string prefixes: r, b, u (an f-string is formatting).
    let s = s.trim_start_matches(['r', 'R', 'b', 'B', 'u', 'U']);
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else {
        return false;
    };
    if !matches!(q, '"' | '\'' | '`') {
        return false;
    }
    let mut escaped = false;
    for (i, ch) in chars {
        if escaped {
            escaped = false;
        } else if ch == '\\' {
            escaped = true;
        } else if ch == q {
            let body = &s[1..i];
            if q == '`' && body.contains("${") {
                return false;
            }
            let after = s[i + 1..].trim_start();
            return after.is_empty() || after.starts_with([',', ')']);
        }
    }
    false
}

fn go_shell(c: &Ctx<'_>) -> bool {
    !first_arg_is_literal(&c.text[c.end..])
}

fn py_subprocess(c: &Ctx<'_>) -> bool {
    let args = call_args(c);
    static SHELL_TRUE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\bshell\s*=\s*True\b").expect("a built-in pattern compiles"));
    // getoutput/getstatusoutput always run a shell.
    let implicit_shell = c.matched.contains("getoutput") || c.matched.contains("getstatusoutput");
    (implicit_shell || SHELL_TRUE.is_match(args))
        && !args.trim_start().starts_with('[')
        && !first_arg_is_literal(args)
}

fn first_arg_dynamic(c: &Ctx<'_>) -> bool {
    !first_arg_is_literal(call_args(c))
}

fn node_exec(c: &Ctx<'_>) -> bool {
    c.text.contains("child_process") && first_arg_dynamic(c)
}

static PROD_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[/._-])(prod|production|prd)([/._-]|$)")
        .expect("a built-in pattern compiles")
});

fn production_path(c: &Ctx<'_>) -> bool {
    PROD_PATH.is_match(c.path)
}

fn mentions_password(c: &Ctx<'_>) -> bool {
    let l = c.line.to_ascii_lowercase();
    l.contains("passw") || l.contains("pwd")
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    use Lang::{Config, Go, Js, Python};
    vec![
        pattern(
            &TLS,
            &[Go],
            r"\bInsecureSkipVerify\s*:\s*true\b",
            always,
            "tls.Config has InsecureSkipVerify: true",
        ),
        pattern(
            &TLS,
            &[Python],
            r"\b(?:verify|verify_ssl|ssl)=False\b",
            not_a_def,
            "HTTP call with certificate verification off (verify=False)",
        ),
        pattern(
            &TLS,
            &[Python],
            r"\bssl\._create_unverified_context\b|\bCERT_NONE\b|\bcheck_hostname\s*=\s*False\b",
            always,
            "SSL context without certificate or hostname verification",
        ),
        pattern(
            &TLS,
            &[Js],
            r"\brejectUnauthorized\s*:\s*false\b",
            always,
            "TLS option rejectUnauthorized: false",
        ),
        pattern(
            &TLS,
            ALL,
            r#"\bNODE_TLS_REJECT_UNAUTHORIZED["']?(?:\s*[:=]\s*|\s+)["']?0\b"#,
            always,
            "NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS verification for the whole process",
        ),
        pattern(
            &TLS,
            &[Config],
            r#"(?i)\b(?:insecure[_-]?skip[_-]?(?:tls[_-]?)?verify|tls[_-]?skip[_-]?verify|skip[_-]?tls[_-]?verify)["']?\s*[:=]\s*["']?true\b"#,
            always,
            "config turns TLS verification off",
        ),
        pattern(
            &SHELL,
            &[Go],
            r#"\bexec\.Command(?:Context)?\(\s*(?:\w+\s*,\s*)?"(?:/usr)?(?:/bin/)?(?:sh|bash|zsh|dash)"\s*,\s*"-c"\s*,\s*"#,
            go_shell,
            "exec.Command runs `sh -c` with a command line built at run time",
        ),
        pattern(
            &SHELL,
            &[Python],
            r"\bsubprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)\s*\(",
            py_subprocess,
            "subprocess with shell=True runs a command line built at run time",
        ),
        pattern(
            &SHELL,
            &[Python],
            r"\bos\.(?:system|popen)\s*\(",
            first_arg_dynamic,
            "os.system/os.popen runs a command line built at run time",
        ),
        pattern(
            &SHELL,
            &[Js],
            r"(?:\b(?:child_process|childProcess|cp)\.|(?:^|[^.\w$]))(?:exec|execSync)\s*\(",
            node_exec,
            "child_process.exec runs a command line built at run time",
        ),
        pattern(
            &BIND,
            &[Config],
            r#"(?im)^\s*["']?[\w.-]*(?:host|bind|listen|addr|address)["']?\s*[:=]\s*["']?0\.0\.0\.0(?::\d+)?["']?\s*,?\s*(?:#.*)?$"#,
            production_path,
            "production config binds to 0.0.0.0",
        ),
        pattern(
            &WEAK_HASH,
            CODE,
            r"(?i)\b(?:md5|sha1)\b",
            mentions_password,
            "MD5/SHA-1 used on a password",
        ),
        pattern(
            &JWT_NONE,
            &[Python, Js],
            r#"(?i)\balgorithms?["']?\s*[:=]\s*\[?[^\]\n]*["']none["']"#,
            always,
            "JWT algorithm `none` is accepted",
        ),
        pattern(
            &JWT_NONE,
            &[Python],
            r#"["']verify_signature["']\s*:\s*False\b"#,
            always,
            "JWT decoded with verify_signature: False",
        ),
        pattern(
            &JWT_NONE,
            &[Go],
            r"\bjwt\.UnsafeAllowNoneSignatureType\b|\bSigningMethodNone\b",
            always,
            "JWT library told to accept the `none` algorithm",
        ),
    ]
});

/// The native rules, as SARIF rule descriptors.
#[must_use]
pub fn native_rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|r| Rule {
            id: r.id.to_string(),
            description: r.description.to_string(),
            help: Some(r.help.to_string()),
            help_uri: None,
            severity: r.severity,
        })
        .collect()
}

fn lang_of(path: &Path) -> Option<Lang> {
    let name = path.file_name()?.to_string_lossy();
    if name == "Dockerfile" || name.starts_with("Dockerfile.") || name.ends_with(".dockerfile") {
        return Some(Lang::Docker);
    }
    if name.starts_with(".env") {
        return Some(Lang::Config);
    }
    if name.ends_with(".min.js") {
        return None;
    }
    match path.extension()?.to_str()? {
        "go" => Some(Lang::Go),
        "py" => Some(Lang::Python),
        "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => Some(Lang::Js),
        "yaml" | "yml" | "json" | "toml" | "ini" | "conf" | "cfg" | "properties" | "env" => {
            Some(Lang::Config)
        }
        _ => None,
    }
}

fn is_comment(line: &str, lang: Lang) -> bool {
    let t = line.trim_start();
    match lang {
        Lang::Go | Lang::Js => t.starts_with("//") || t.starts_with("/*") || t.starts_with('*'),
        Lang::Python | Lang::Docker => t.starts_with('#'),
        Lang::Config => t.starts_with('#') || t.starts_with(';') || t.starts_with("//"),
    }
}

/// Runs the native rules over the service folder `root/dir` (honouring `.gitignore`,
/// skipping dependencies and virtualenvs).
///
/// # Errors
/// A folder cannot be listed or a file cannot be read.
pub fn native_scan(root: &Path, dir: &str) -> Result<ScanReport, SastError> {
    let mut report = ScanReport::new(Scanner::Sast, "isect-sast", env!("CARGO_PKG_VERSION"));
    report.rules = native_rules();
    let walk = ignore::WalkBuilder::new(root.join(dir))
        .require_git(false)
        .hidden(false)
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !matches!(
                name.as_ref(),
                ".git"
                    | "node_modules"
                    | "vendor"
                    | ".venv"
                    | "venv"
                    | "__pycache__"
                    | ".terraform"
                    | "target"
                    | ".isect"
            )
        })
        .build();
    for entry in walk {
        let entry = entry.map_err(|e| SastError::Walk {
            path: dir.to_string(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        let Some(lang) = lang_of(path) else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file())
            || entry.metadata().is_ok_and(|m| m.len() > MAX_FILE_BYTES)
        {
            continue;
        }
        let rel = super::workspace_rel(root, "", &path.to_string_lossy());
        let bytes = std::fs::read(path).map_err(|source| SastError::Io {
            path: rel.clone(),
            source,
        })?;
        // Not UTF-8: not source code.
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        report.findings.extend(scan_text(&rel, lang, &text));
    }
    report.findings.sort_by(|a, b| {
        (&a.location.path, a.location.line).cmp(&(&b.location.path, b.location.line))
    });
    Ok(report)
}

/// The findings of one file's text.
fn scan_text(rel: &str, lang: Lang, text: &str) -> Vec<Finding> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut seen = BTreeSet::new();
    let mut findings = Vec::new();
    for p in PATTERNS.iter().filter(|p| p.langs.contains(&lang)) {
        for m in p.re.find_iter(text) {
            let line_no = starts.partition_point(|&s| s <= m.start());
            let start = starts[line_no - 1];
            let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let line = &text[start..end];
            if is_comment(line, lang) || line.contains("isect:ignore") {
                continue;
            }
            let ctx = Ctx {
                path: rel,
                text,
                line,
                matched: m.as_str(),
                end: m.end(),
            };
            if !(p.accept)(&ctx) || !seen.insert((p.rule.id, line_no)) {
                continue;
            }
            let mut properties = BTreeMap::new();
            properties.insert(
                "snippet".into(),
                line.trim().chars().take(200).collect::<String>().into(),
            );
            findings.push(Finding {
                rule_id: p.rule.id.to_string(),
                severity: p.rule.severity,
                message: p.message.to_string(),
                location: Location::line(rel, line_no),
                fingerprint: fingerprint(&[p.rule.id, rel, line.trim()]),
                properties,
            });
        }
    }
    findings
}

#[cfg(test)]
pub(super) fn scan_snippet(name: &str, text: &str) -> Vec<(String, usize)> {
    let lang = lang_of(Path::new(name)).map_or_else(Vec::new, |lang| scan_text(name, lang, text));
    lang.into_iter()
        .map(|f| (f.rule_id, f.location.line))
        .collect()
}
