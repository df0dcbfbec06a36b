//! Rhai errors → `Diagnostic`s: the innermost error is the primary label (file, line,
//! column, the line and a caret); each function call on the way is a "called from here" note.

use std::sync::Arc;

use rhai::{EvalAltResult, ParseErrorType, Position};

use super::resolver::STDLIB;
use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::stdlib::{FUNCTIONS, ScriptError};

/// Finds the text of the files positions refer to.
pub struct SourceLookup {
    top: String,
    text: Arc<str>,
}

impl SourceLookup {
    /// `top` is the file being evaluated and `text` its content.
    #[must_use]
    pub fn new(top: String, text: Arc<str>) -> Self {
        Self { top, text }
    }

    fn text_of(&self, file: &str) -> Option<Arc<str>> {
        if file == self.top {
            return Some(self.text.clone());
        }
        let name = file.strip_prefix("stdlib/")?.strip_suffix(".rhai")?;
        STDLIB
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| Arc::from(*t))
    }

    fn location(&self, file: &str, pos: Position, len: usize) -> Option<Location> {
        let line = pos.line()?;
        let column = pos.position().unwrap_or(1);
        let mut location = Location::new(file, line, column).with_len(len);
        if let Some(text) = self.text_of(file) {
            location = location.with_text(text);
        }
        Some(location)
    }
}

/// Converts a Rhai error raised while evaluating `sources.top` into a diagnostic.
#[must_use]
pub fn to_diagnostic(err: &EvalAltResult, sources: &SourceLookup) -> Diagnostic {
    // Walk the call chain: each level says where the next one was called from.
    let mut calls: Vec<(String, Position, String)> = Vec::new();
    let mut file = sources.top.clone();
    let mut current = err;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                calls.push((file.clone(), *pos, display_fn(name)));
                if !src.is_empty() {
                    file.clone_from(src);
                }
                current = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                calls.push((file.clone(), *pos, format!("module `{name}`")));
                if name.starts_with("stdlib/") {
                    file.clone_from(name);
                }
                current = inner;
            }
            _ => break,
        }
    }
    let mut diagnostic = innermost(current);
    let focus = match current {
        EvalAltResult::ErrorRuntime(value, _) if value.is::<ScriptError>() => {
            value.clone().cast::<ScriptError>().focus
        }
        _ => None,
    };
    let len = underline_len(current);
    let inner = sources.location(&file, current.position(), len);
    // An error inside a stdlib template is the caller's mistake: point at the caller's line
    // and show the template line as context.
    let user_call = if file.starts_with("stdlib/") {
        calls
            .iter()
            .rposition(|(f, pos, _)| !f.starts_with("stdlib/") && !pos.is_none())
    } else {
        None
    };
    match user_call {
        Some(index) => {
            let (call_file, pos, _) = calls.remove(index);
            if let Some(location) = sources.location(&call_file, pos, 1) {
                diagnostic = diagnostic.at(focused(location, focus.as_deref()));
            }
            if let Some(location) = inner {
                diagnostic =
                    diagnostic.related(location, "raised here, inside the stdlib template");
            }
        }
        None => {
            if let Some(location) = inner {
                diagnostic = diagnostic.at(focused(location, focus.as_deref()));
            }
        }
    }
    for (call_file, pos, what) in calls.into_iter().rev() {
        if call_file.starts_with("stdlib/") {
            continue;
        }
        if let Some(location) = sources.location(&call_file, pos, 1) {
            diagnostic = diagnostic.related(location, format!("in {what}, called from here"));
        }
    }
    diagnostic
}

/// Moves a location onto `word` when it appears on the same line at or after it.
fn focused(location: Location, word: Option<&str>) -> Location {
    let (Some(word), Some(text)) = (word, location.text.clone()) else {
        return location;
    };
    let Some(line) = text.lines().nth(location.line.saturating_sub(1)) else {
        return location;
    };
    let start: String = line
        .chars()
        .skip(location.column.saturating_sub(1))
        .collect();
    match start.find(word) {
        Some(byte) => {
            let column = location.column + start[..byte].chars().count();
            Location {
                column,
                len: word.chars().count(),
                ..location
            }
        }
        None => location,
    }
}

fn display_fn(name: &str) -> String {
    if name.starts_with("anon$") {
        "a closure".to_string()
    } else {
        format!("`{name}`")
    }
}

fn underline_len(err: &EvalAltResult) -> usize {
    match err {
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split([' ', '(']).next().unwrap_or(sig);
            name.rsplit("::").next().map_or(1, str::len)
        }
        EvalAltResult::ErrorVariableNotFound(name, _) => name.len(),
        _ => 1,
    }
}

/// The message of an error without rhai's ` (line x, position y)` suffix.
fn message_of(err: &EvalAltResult) -> String {
    let mut text = err.to_string();
    if let Some(index) = text.find(" (line ") {
        text.truncate(index);
    }
    text.lines().next().unwrap_or_default().to_string()
}

fn innermost(err: &EvalAltResult) -> Diagnostic {
    match err {
        EvalAltResult::ErrorParsing(kind, _) => syntax(kind),
        EvalAltResult::ErrorRuntime(value, _) if value.is::<ScriptError>() => {
            let e = value.clone().cast::<ScriptError>();
            let mut d = Diagnostic::error(e.code, e.message);
            if let Some(label) = e.label {
                d = d.label(label);
            }
            if let Some(help) = e.help {
                d = d.help(help);
            }
            d
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => unknown_function(signature),
        EvalAltResult::ErrorVariableNotFound(name, _) => {
            Diagnostic::error("script::unknown_variable", format!("unknown variable `{name}`"))
                .label("not defined here")
                .help("define it with `let` before using it; stage closures receive the service as their parameter (|svc| ...)")
        }
        EvalAltResult::ErrorModuleNotFound(path, _) => {
            let names: Vec<String> = STDLIB.iter().map(|(n, _)| format!("isect/{n}")).collect();
            let mut d = Diagnostic::error("script::unknown_module", format!("no module `{path}`"))
                .help(format!("the stdlib modules are {}; other imports are files relative to the pipelines folder", names.join(", ")));
            if let Some(close) = did_you_mean(path, names.iter().map(String::as_str)) {
                d = d.label(format!("did you mean `{close}`?"));
            }
            d
        }
        EvalAltResult::ErrorTooManyOperations(_) => Diagnostic::error(
            "script::too_many_operations",
            "the script ran too long (an endless loop?) and was stopped",
        )
        .help("pipeline scripts only declare steps; move long computations into a step"),
        EvalAltResult::ErrorMismatchDataType(expected, actual, _) => {
            Diagnostic::error("script::type_mismatch", format!("expected {expected}, found {actual}"))
        }
        other => Diagnostic::error("script::runtime", message_of(other)),
    }
}

fn syntax(kind: &ParseErrorType) -> Diagnostic {
    let message = kind.to_string();
    let mut d = Diagnostic::error("script::syntax", format!("syntax error: {message}"));
    if let ParseErrorType::Reserved(word) = kind {
        d = d.help(format!(
            "`{word}` is a reserved word in Rhai; the Go module is `golang` (import \"isect/golang\" as golang)"
        ));
    } else if let ParseErrorType::MissingToken(token, _) = kind {
        d = d.label(format!("expected `{token}`"));
    }
    d
}

fn unknown_function(signature: &str) -> Diagnostic {
    let name = signature.split(' ').next().unwrap_or(signature);
    let name = name.split('(').next().unwrap_or(name).trim();
    let mut d = Diagnostic::error(
        "script::unknown_function",
        format!("unknown function `{signature}`"),
    );
    if let Some(close) = did_you_mean(name, FUNCTIONS.iter().copied()).filter(|c| *c != name) {
        d = d.label(format!("did you mean `{close}`?"));
    } else if FUNCTIONS.contains(&name) {
        d = d.label("no variant of this function takes these arguments");
    }
    d.help("the stdlib functions are listed in the README (`golang::build`, `python::test`, `sh`, `step`, ...)")
}
