//! Reads a Dockerfile into instructions and build stages, and checks its `FROM` bases
//! against the approved list: enough of Docker's grammar to know what a build starts
//! from, without asking the engine.

use std::collections::BTreeMap;
use std::path::Path;

/// Instructions the Docker builder knows.
const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Where it was read from, for messages ("Dockerfile" when parsed from text).
    pub path: String,
    /// Every instruction, continuations joined, in order.
    pub instructions: Vec<Instruction>,
    /// The build stages, one per `FROM`.
    pub stages: Vec<Stage>,
}

/// One instruction, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// The keyword, upper-cased (`RUN`).
    pub keyword: String,
    /// The arguments, continuation lines joined with a space.
    pub args: String,
    /// The first source line, trimmed, for messages.
    pub text: String,
}

/// A build stage: one `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 1-based line of its `FROM`.
    pub line: usize,
    /// The `FROM` line as written.
    pub text: String,
    /// `AS name`, lower-cased as Docker does.
    pub name: Option<String>,
    /// `--platform=…`, if given.
    pub platform: Option<String>,
    /// What the stage starts from, build args substituted.
    pub base: Base,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An earlier stage, by index into [`Dockerfile::stages`].
    Stage(usize),
    /// An image from outside the Dockerfile.
    Image(ImageRef),
}

/// An image reference: `name[:tag][@sha256:…]`, or a bare `sha256:…` image id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written after substitution.
    pub raw: String,
    /// Repository name; empty for a bare image id.
    pub name: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// `sha256:<hex>`, if pinned (or a bare image id).
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits `name[:tag][@digest]`; a bare `sha256:<64 hex>` is an image id.
    pub fn parse(raw: &str) -> ImageRef {
        if is_sha256(raw) {
            return ImageRef {
                raw: raw.into(),
                name: String::new(),
                tag: None,
                digest: Some(raw.to_ascii_lowercase()),
            };
        }
        let (rest, digest) = match raw.split_once('@') {
            Some((r, d)) => (r, Some(d.to_ascii_lowercase())),
            None => (raw, None),
        };
        // A colon after the last slash is a tag; before it, a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        ImageRef {
            raw: raw.into(),
            name: name.into(),
            tag,
            digest,
        }
    }
}

/// `sha256:` followed by 64 hex digits.
pub(super) fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A Dockerfile the builder would refuse, with the line that says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}\n    {line} | {text}")]
pub struct DockerfileError {
    /// The Dockerfile, as given to [`read_dockerfile`] ("Dockerfile" otherwise).
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// That line, trimmed.
    pub text: String,
    /// What is wrong.
    pub message: String,
}

/// Reads and parses a Dockerfile, naming `path` in errors.
pub fn read_dockerfile(
    path: &Path,
    build_args: &BTreeMap<String, String>,
) -> Result<Dockerfile, DockerfileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| DockerfileError {
        path: shown.clone(),
        line: 0,
        text: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    let mut df = parse_dockerfile_with_args(&text, build_args).map_err(|e| DockerfileError {
        path: shown.clone(),
        ..e
    })?;
    df.path = shown;
    Ok(df)
}

/// Parses a Dockerfile with the `ARG` defaults it declares.
pub fn parse_dockerfile(text: &str) -> Result<Dockerfile, DockerfileError> {
    parse_dockerfile_with_args(text, &BTreeMap::new())
}

/// Parses a Dockerfile; `build_args` override `ARG` defaults before the first `FROM`,
/// as `--build-arg` does, so the bases are the ones the engine would use.
pub fn parse_dockerfile_with_args(
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Dockerfile, DockerfileError> {
    let instructions = split_instructions(text)?;
    let err = |ins: &Instruction, message: String| DockerfileError {
        path: "Dockerfile".into(),
        line: ins.line,
        text: ins.text.clone(),
        message,
    };
    let mut global_args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in &instructions {
        if !INSTRUCTIONS.contains(&ins.keyword.as_str()) {
            let hint = INSTRUCTIONS
                .iter()
                .map(|k| (strsim::jaro_winkler(k, &ins.keyword), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return Err(err(
                ins,
                format!("unknown instruction {}{hint}", ins.keyword),
            ));
        }
        match ins.keyword.as_str() {
            "ARG" if stages.is_empty() => {
                for decl in ins.args.split_whitespace() {
                    let (key, default) = match decl.split_once('=') {
                        Some((k, v)) => (k, Some(unquote(v))),
                        None => (decl, None),
                    };
                    let value = build_args.get(key).cloned().or(default).unwrap_or_default();
                    global_args.insert(key.to_string(), value);
                }
            }
            "FROM" => {
                let stage = parse_from(ins, &global_args, &stages).map_err(|m| err(ins, m))?;
                stages.push(stage);
            }
            _ if stages.is_empty() => {
                return Err(err(
                    ins,
                    format!(
                        "{} before the first FROM: only ARG may come before FROM",
                        ins.keyword
                    ),
                ));
            }
            _ => {}
        }
    }
    if stages.is_empty() {
        let (line, text) = instructions
            .last()
            .map_or((1, String::new()), |i| (i.line, i.text.clone()));
        return Err(DockerfileError {
            path: "Dockerfile".into(),
            line,
            text,
            message: "no FROM instruction".into(),
        });
    }
    Ok(Dockerfile {
        path: "Dockerfile".into(),
        instructions,
        stages,
    })
}

/// `FROM [--platform=p] image [AS name]`.
fn parse_from(
    ins: &Instruction,
    args: &BTreeMap<String, String>,
    earlier: &[Stage],
) -> Result<Stage, String> {
    let mut words: Vec<&str> = ins.args.split_whitespace().collect();
    let mut platform = None;
    while let Some(flag) = words.first().and_then(|w| w.strip_prefix("--")) {
        match flag.split_once('=') {
            Some(("platform", p)) => platform = Some(substitute(p, args)),
            _ => return Err(format!("FROM does not take the flag --{flag}")),
        }
        words.remove(0);
    }
    let (image, name) = match words.as_slice() {
        [image] => (*image, None),
        [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
            (*image, Some(name.to_ascii_lowercase()))
        }
        [] => return Err("FROM needs an image: FROM image[:tag|@digest] [AS name]".into()),
        _ => return Err("FROM takes one image and an optional `AS name`".into()),
    };
    if let Some(n) = &name
        && earlier.iter().any(|s| s.name.as_ref() == Some(n))
    {
        return Err(format!("a stage named {n} already exists"));
    }
    let image = substitute(image, args);
    if image.is_empty() {
        return Err("FROM names no image (is a build arg unset?)".into());
    }
    let lowered = image.to_ascii_lowercase();
    let base = if lowered == "scratch" {
        Base::Scratch
    } else if let Some(i) = earlier
        .iter()
        .position(|s| s.name.as_deref() == Some(lowered.as_str()))
    {
        Base::Stage(i)
    } else {
        Base::Image(ImageRef::parse(&image))
    };
    Ok(Stage {
        line: ins.line,
        text: ins.text.clone(),
        name,
        platform,
        base,
    })
}

/// Expands `$X`, `${X}`, `${X:-default}` and `${X:+alt}` from build args; an unknown
/// variable is empty, as in Docker.
fn substitute(word: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1] == '$' {
            out.push('$');
            i += 2;
        } else if c == '$' && chars.get(i + 1) == Some(&'{') {
            let end = chars[i..].iter().position(|&c| c == '}').map(|p| i + p);
            let Some(end) = end else {
                out.extend(&chars[i..]);
                break;
            };
            let inner: String = chars[i + 2..end].iter().collect();
            let value = if let Some((name, default)) = inner.split_once(":-") {
                args.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_string())
            } else if let Some((name, alt)) = inner.split_once(":+") {
                args.get(name)
                    .filter(|v| !v.is_empty())
                    .map(|_| alt.to_string())
                    .unwrap_or_default()
            } else {
                args.get(&inner).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            i = end + 1;
        } else if c == '$'
            && chars
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
        {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            let name: String = chars[start..end].iter().collect();
            out.push_str(args.get(&name).map_or("", String::as_str));
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// Splits the text into instructions: parser directives, comments and blank lines
/// dropped, `\` continuations joined, heredoc bodies skipped.
fn split_instructions(text: &str) -> Result<Vec<Instruction>, DockerfileError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives (`# syntax=…`, `# escape=…`) only count before anything else.
    while i < lines.len() {
        let Some(body) = lines[i].trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = body.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(char::is_whitespace) {
            break;
        }
        if key == "escape" && value.trim() == "`" {
            escape = '`';
        }
        i += 1;
    }
    let mut out = Vec::new();
    while i < lines.len() {
        let first = lines[i].trim();
        if first.is_empty() || first.starts_with('#') {
            i += 1;
            continue;
        }
        let line = i + 1;
        let mut joined = String::new();
        let mut current = first.to_string();
        loop {
            let trimmed = current.trim_end();
            if let Some(head) = trimmed.strip_suffix(escape) {
                joined.push_str(head);
                joined.push(' ');
                i += 1;
                // Comment and blank lines inside a continuation are dropped, as Docker does.
                while i < lines.len()
                    && (lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#'))
                {
                    i += 1;
                }
                match lines.get(i) {
                    Some(next) => current = next.trim().to_string(),
                    None => break,
                }
            } else {
                joined.push_str(trimmed);
                i += 1;
                break;
            }
        }
        let (keyword, args) = match joined.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_uppercase(), a.trim().to_string()),
            None => (joined.to_ascii_uppercase(), String::new()),
        };
        // Heredocs (`RUN <<EOF`): skip the body up to each terminator.
        for word in args.split_whitespace() {
            let Some(tag) = word.strip_prefix("<<") else {
                continue;
            };
            let tag = tag
                .trim_start_matches('-')
                .trim_matches(|c| c == '"' || c == '\'');
            if tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            while i < lines.len() && lines[i].trim() != tag {
                i += 1;
            }
            i += 1;
        }
        out.push(Instruction {
            line,
            keyword,
            args,
            text: first.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "dockerfile_tests.rs"]
mod tests;
