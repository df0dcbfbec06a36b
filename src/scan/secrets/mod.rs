//! The secrets scanner: gitleaks-format rules (`default.toml` is the built-in set), an
//! aho-corasick keyword prefilter, byte regexes with Unicode classes off (as gitleaks' RE2
//! behaves), Shannon entropy per rule, allowlists, and a baseline of accepted fingerprints.
//! A finding never carries the secret: only its first characters and a fingerprint.
//!
//! - `config`: TOML in, plain rule records out (errors name the rule and the field).
//! - `rules`: the compiled `RuleSet` and its allowlists.
//! - `scan`: one file (`scan_bytes`) or a folder (`scan_tree`).
//! - `baseline`: accepted findings, with a reason and an optional expiry date.

mod baseline;
mod config;
mod rules;
mod scan;

#[cfg(test)]
mod default_tests;
#[cfg(test)]
mod rules_tests;
#[cfg(test)]
mod scan_tests;

use std::path::PathBuf;

pub use baseline::{Accepted, Baseline, Date};
pub use rules::RuleSet;
pub use scan::{
    MAX_FILE_BYTES, ScanOptions, ScanStats, entropy, redact, scan_bytes, scan_tree, scan_tree_with,
};

/// The tool name in reports and SARIF.
pub const TOOL: &str = "isect-secrets";

/// A short digest of the built-in rules' text: part of a scan step's cache key, so that
/// new built-in rules rerun secret scans.
#[must_use]
pub fn builtin_rules_digest() -> String {
    blake3::hash(config::DEFAULT_TOML.as_bytes()).to_hex()[..16].to_string()
}

/// Why a rule file, a baseline or a scan could not be used. Every message names the file,
/// the rule or entry, the field, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} is not valid TOML: {message}")]
    Toml { origin: String, message: String },
    #[error("{origin}: {message}")]
    Config { origin: String, message: String },
    /// A field of a rule or an allowlist has the wrong type or value.
    #[error("{origin}: {at}, field `{field}`: {message}")]
    Field {
        origin: String,
        /// `rule \`aws-access-token\``, `global allowlist #1`, …
        at: String,
        field: String,
        message: String,
    },
    /// A regex that does not compile (or is too big).
    #[error(
        "{origin}: {at}, field `{field}`: invalid regex `{pattern}`: {message}\n\
         (isect uses Rust's regex syntax with Unicode classes off: no lookarounds or backreferences)"
    )]
    Regex {
        origin: String,
        at: String,
        field: String,
        pattern: String,
        message: String,
    },
    #[error("baseline {origin}: {message}")]
    Baseline { origin: String, message: String },
    #[error("cannot scan {path}: {message}")]
    Walk { path: PathBuf, message: String },
}
