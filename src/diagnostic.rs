//! `Diagnostic`: what isect tells a person about a mistake, and its one human format
//! (`error[code]: message`, `--> file:line:col`, the source line and a caret, notes, help).
//! Rendering lives here and in `report/`; everything else only builds diagnostics.

use std::fmt;
use std::sync::Arc;

use annotate_snippets::{Level, Renderer, Snippet};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A place in a source file: 1-based line and character column, and a length in characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub len: usize,
    /// The whole text of `file`, so the renderer can show the line.
    #[serde(skip)]
    pub text: Option<Arc<str>>,
}

impl Location {
    /// A location without source text (the renderer shows only `file:line:col`).
    #[must_use]
    pub fn new(file: impl Into<String>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line,
            column,
            len: 1,
            text: None,
        }
    }

    /// Attach the file's text so the line can be shown.
    #[must_use]
    pub fn with_text(mut self, text: Arc<str>) -> Self {
        self.text = Some(text);
        self
    }

    /// Underline `len` characters instead of one.
    #[must_use]
    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len.max(1);
        self
    }

    /// Byte range of the located characters inside `text`, clamped to the line.
    fn byte_range(&self, text: &str) -> std::ops::Range<usize> {
        let mut offset = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            if index + 1 == self.line {
                let content = line.trim_end_matches(['\n', '\r']);
                let start = content
                    .char_indices()
                    .nth(self.column.saturating_sub(1))
                    .map_or(content.len(), |(i, _)| i);
                let end = content[start..]
                    .char_indices()
                    .nth(self.len)
                    .map_or(content.len(), |(i, _)| start + i);
                return offset + start..offset + end.max(start);
            }
            offset += line.len();
        }
        text.len()..text.len()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One message to a person: what went wrong, where, and how to fix it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable `module::snake_case` code; tests assert on it.
    pub code: &'static str,
    pub message: String,
    pub location: Option<Location>,
    /// Text shown under the caret.
    pub label: Option<String>,
    /// Further locations ("called from here").
    pub related: Vec<(Location, String)>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a code and a message.
    #[must_use]
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            label: None,
            related: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with a code and a message.
    #[must_use]
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn related(mut self, location: Location, text: impl Into<String>) -> Self {
        self.related.push((location, text.into()));
        self
    }

    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The human format, without colours.
    #[must_use]
    pub fn render(&self) -> String {
        self.render_with(&Renderer::plain())
    }

    /// The human format, coloured when `color` is true.
    #[must_use]
    pub fn render_styled(&self, color: bool) -> String {
        if color {
            self.render_with(&Renderer::styled())
        } else {
            self.render()
        }
    }

    fn render_with(&self, renderer: &Renderer) -> String {
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let notes: Vec<String> = self.notes.clone();
        let mut message = level.title(&self.message).id(self.code);
        let mut snippets = Vec::new();
        let mut plain_locations = Vec::new();
        let label = self.label.clone().unwrap_or_default();
        let mut locations: Vec<(&Location, &str)> = Vec::new();
        if let Some(location) = &self.location {
            locations.push((location, &label));
        }
        for (location, text) in &self.related {
            locations.push((location, text));
        }
        let origins: Vec<String> = locations.iter().map(|(l, _)| l.file.clone()).collect();
        for (index, (location, text)) in locations.iter().enumerate() {
            match &location.text {
                Some(source) => {
                    let range = location.byte_range(source);
                    let annotation_level = if index == 0 { level } else { Level::Note };
                    snippets.push(
                        Snippet::source(source)
                            .line_start(1)
                            .origin(&origins[index])
                            .fold(true)
                            .annotation(annotation_level.span(range).label(text)),
                    );
                }
                None => plain_locations.push(format!("at {location}{}", suffix(text))),
            }
        }
        message = message.snippets(snippets);
        for line in &plain_locations {
            message = message.footer(Level::Note.title(line));
        }
        for note in &notes {
            message = message.footer(Level::Note.title(note));
        }
        if let Some(help) = &self.help {
            message = message.footer(Level::Help.title(help));
        }
        renderer.render(message).to_string()
    }
}

fn suffix(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Up to `n` candidates ordered by closeness to `word`, for "known names are …" hints.
#[must_use]
pub fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let text: Arc<str> = Arc::from("let a = 1;\ngolang::build(#{ tgas: [] });\n");
        let d = Diagnostic::error(
            "script::unknown_option",
            "unknown option `tgas` for `golang::build`",
        )
        .at(Location::new("pipelines/api.rhai", 2, 18)
            .with_text(text)
            .with_len(4))
        .label("did you mean `tags`?")
        .help("valid options: pkg, tags, ldflags");
        let out = d.render();
        assert!(
            out.contains("error[script::unknown_option]: unknown option `tgas`"),
            "{out}"
        );
        assert!(out.contains("--> pipelines/api.rhai:2:18"), "{out}");
        assert!(out.contains("golang::build(#{ tgas: [] });"), "{out}");
        assert!(out.contains("^^^^ did you mean `tags`?"), "{out}");
        assert!(out.contains("= help: valid options"), "{out}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("auth-servce", ["auth-service", "api-gateway"]),
            Some("auth-service")
        );
        assert_eq!(did_you_mean("zzz", ["auth-service"]), None);
    }
}
