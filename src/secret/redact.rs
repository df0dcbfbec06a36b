//! Replacing secrets, and their encoded forms, with `***` in output: whole buffers, lines,
//! and streams whose chunks may split a secret anywhere.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

use super::Secret;
use super::patterns::patterns;

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// Finds every secret and every encoding of one (see the `patterns` module) in one pass.
///
/// All matches, overlapping ones included, are merged into spans and each span becomes one
/// `***`. Leftmost-longest matching alone would leave the tail of a second secret visible
/// where two secrets overlap (`abcdef` and `defghi` in `abcdefghi` would leave `ghi`).
///
/// Cloning is cheap (the automaton is shared). The automaton holds copies of the patterns
/// for as long as the redactor lives; they are not zeroed.
#[derive(Clone, Default)]
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    longest: usize,
    patterns: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} patterns, <redacted>)", self.patterns)
    }
}

impl Redactor {
    /// A redactor for these secrets; with none, output passes through unchanged.
    #[must_use]
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut all: Vec<Vec<u8>> = secrets
            .into_iter()
            .flat_map(|s| patterns(s.expose()))
            .collect();
        all.sort();
        all.dedup();
        let longest = all.iter().map(Vec::len).max().unwrap_or(0);
        // Standard semantics are what overlapping search requires; a failure to build
        // (only possible past aho-corasick's size limits) falls back to raw values alone
        // rather than to no redaction.
        let automaton = (!all.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&all)
                    .ok()
            })
            .flatten();
        let redactor = Self {
            automaton,
            longest,
            patterns: all.len(),
        };
        for pattern in &mut all {
            pattern.iter_mut().for_each(|b| *b = 0);
        }
        redactor
    }

    /// The length of the longest pattern: a stream holds back one byte less than this.
    #[must_use]
    pub fn longest_pattern(&self) -> usize {
        self.longest
    }

    /// Whether `haystack` contains a secret in any form (for checking files, e.g. a cache).
    #[must_use]
    pub fn leaks(&self, haystack: &[u8]) -> bool {
        self.automaton
            .as_ref()
            .is_some_and(|ac| ac.find_overlapping_iter(haystack).next().is_some())
    }

    /// `bytes` with every secret replaced by `***`.
    #[must_use]
    pub fn redact<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let spans = self.spans(bytes);
        if spans.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        replace(&mut out, bytes, &spans);
        Cow::Owned(out)
    }

    /// A line (or any text) with every secret replaced by `***`. A binary secret can match
    /// inside a multi-byte character; what is left of it becomes U+FFFD.
    #[must_use]
    pub fn redact_line<'b>(&self, line: &'b str) -> Cow<'b, str> {
        match self.redact(line.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(line),
            Cow::Owned(bytes) => Cow::Owned(match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        }
    }

    /// Disjoint, sorted `start..end` spans covering every match; touching ones are merged.
    fn spans(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let mut matches: Vec<(usize, usize)> = ac
            .find_overlapping_iter(bytes)
            .map(|m| (m.start(), m.end()))
            .collect();
        matches.sort_unstable();
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(matches.len());
        for (start, end) in matches {
            match spans.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end)),
            }
        }
        spans
    }
}

/// Appends `bytes` to `out` with each span replaced by `***`.
fn replace(out: &mut Vec<u8>, bytes: &[u8], spans: &[(usize, usize)]) {
    let mut at = 0;
    for &(start, end) in spans {
        out.extend_from_slice(&bytes[at..start]);
        out.extend_from_slice(REDACTED.as_bytes());
        at = end;
    }
    out.extend_from_slice(&bytes[at..]);
}

/// Redacts one output stream (a step's stdout, say) chunk by chunk, holding back the
/// last `longest pattern − 1` bytes so a secret split across chunks is still found.
#[derive(Clone)]
pub struct RedactingStream {
    redactor: Redactor,
    pending: Vec<u8>,
}

impl fmt::Debug for RedactingStream {
    // The held-back bytes are unredacted: only their count is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactingStream({} bytes held back)", self.pending.len())
    }
}

impl RedactingStream {
    /// A stream through `redactor` (cloned: cheap).
    #[must_use]
    pub fn new(redactor: &Redactor) -> Self {
        Self {
            redactor: redactor.clone(),
            pending: Vec::new(),
        }
    }

    /// The redacted bytes that are final after `chunk`; the rest waits for more or `finish`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.redactor.automaton.is_none() {
            return chunk.to_vec();
        }
        self.pending.extend_from_slice(chunk);
        // No match ending in future bytes can start before `cut`, so every match that
        // covers a byte before it lies wholly in `pending` and has been found.
        let mut cut = self
            .pending
            .len()
            .saturating_sub(self.redactor.longest.saturating_sub(1));
        let spans = self.redactor.spans(&self.pending);
        // A span across the cut is held back whole: emitting its head would lose the match,
        // and a later secret overlapping its tail could then slip out unredacted.
        if let Some(&(start, _)) = spans.iter().find(|&&(s, e)| s < cut && e > cut) {
            cut = start;
        }
        let before: Vec<(usize, usize)> = spans.into_iter().filter(|&(_, e)| e <= cut).collect();
        let mut out = Vec::with_capacity(cut);
        replace(&mut out, &self.pending[..cut], &before);
        self.pending.drain(..cut);
        out
    }

    /// Everything still held back, redacted; the stream is empty afterwards.
    pub fn finish(&mut self) -> Vec<u8> {
        let out = self.redactor.redact(&self.pending).into_owned();
        self.pending.iter_mut().for_each(|b| *b = 0);
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests;
