//! `isect.toml`: typed, with unknown keys rejected, so a typo is an error that names
//! the key and its line rather than a silently ignored setting.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::error::{Error, Result};
use crate::scan::Severity;

/// The whole `isect.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub workspace: WorkspaceConfig,
    #[serde(default)]
    pub cache: CacheSettings,
    /// Deploy targets, in promotion order as written. Declared now; deploying comes later.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub scan: ScanSettings,
    #[serde(default)]
    pub image: ImageSettings,
}

/// `[image]`: where images go, what they may start from, and how they are signed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    /// Registry and path prefix images are pushed to: `<registry>/<service>`
    /// (`127.0.0.1:5000/platform`, `europe-docker.pkg.dev/acme/platform`).
    pub registry: Option<String>,
    /// Base images a Dockerfile may start from, pinned by digest (`name@sha256:<hex>`).
    #[serde(default)]
    pub approved_bases: Vec<String>,
    /// Private key (PEM: ed25519 or ECDSA P-256) images are signed with, relative to the
    /// root or absolute; `$ISECT_SIGNING_KEY` overrides it.
    pub signing_key: Option<String>,
    /// Public key `isect image verify` and deploys check signatures against.
    pub verify_key: Option<String>,
}

/// `[workspace]`: where services, libraries and pipelines live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Globs of service folders, relative to the root.
    #[serde(default = "default_services")]
    pub services: Vec<String>,
    /// Globs of shared-library folders.
    #[serde(default = "default_libs")]
    pub libs: Vec<String>,
    /// Folder of `<service>.rhai` pipeline scripts.
    #[serde(default = "default_pipelines")]
    pub pipelines: String,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            services: default_services(),
            libs: default_libs(),
            pipelines: default_pipelines(),
        }
    }
}

/// `[cache]`: where results are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Cache folder, relative to the root or absolute (default `.isect/cache`).
    pub dir: Option<String>,
    /// The shared cache (`gs://bucket/prefix`, `s3://…`, `webdav+http://…`, `redis://…`,
    /// `file:///…`); `$ISECT_REMOTE_CACHE` overrides it. Entries are signed with a key
    /// from the environment.
    pub remote: Option<String>,
    /// Read the shared cache, never write it (pull requests); `$ISECT_CACHE_READONLY`.
    #[serde(default)]
    pub read_only: bool,
}

/// `[environments.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// A person must approve a deploy to this environment.
    #[serde(default)]
    pub requires_approval: bool,
    /// The environment whose deployed images this one promotes.
    pub promote_from: Option<String>,
    /// Git branch that deploys here automatically.
    pub branch: Option<String>,
}

/// `[scan]`: the defaults every service's scan stage starts from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSettings {
    /// Findings at or above this severity fail a scan step, unless the script sets its own.
    #[serde(default = "default_fail_on")]
    pub fail_on: Severity,
    /// The OSV database: a folder laid out as osv-scanner's offline mode keeps it
    /// (`<dir>/<ecosystem>/all.zip`), relative to the root or absolute.
    #[serde(default = "default_vulndb")]
    pub vulndb: String,
    /// Days after which the database's newest record makes it stale (a warning).
    #[serde(default = "default_vulndb_max_age")]
    pub vulndb_max_age_days: u32,
    #[serde(default)]
    pub secrets: SecretsSettings,
    #[serde(default)]
    pub licenses: LicenseSettings,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            fail_on: default_fail_on(),
            vulndb: default_vulndb(),
            vulndb_max_age_days: default_vulndb_max_age(),
            secrets: SecretsSettings::default(),
            licenses: LicenseSettings::default(),
        }
    }
}

/// `[scan.secrets]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// A gitleaks-format rule file (workspace-relative); `[extend] useDefault = true` in it
    /// keeps the built-in rules.
    pub rules: Option<String>,
    /// Accepted findings by fingerprint (workspace-relative).
    pub baseline: Option<String>,
}

/// `[scan.licenses]`: SPDX identifiers.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LicenseSettings {
    /// When not empty, any other licence is a finding.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Always a finding.
    #[serde(default)]
    pub deny: Vec<String>,
}

fn default_fail_on() -> Severity {
    Severity::High
}
fn default_vulndb() -> String {
    ".isect/vulndb".into()
}
fn default_vulndb_max_age() -> u32 {
    7
}

fn default_services() -> Vec<String> {
    vec!["services/*".into()]
}
fn default_libs() -> Vec<String> {
    vec!["libs/*/*".into()]
}
fn default_pipelines() -> String {
    "pipelines".into()
}

const KNOWN_KEYS: &[&str] = &[
    "workspace",
    "cache",
    "environments",
    "services",
    "libs",
    "pipelines",
    "dir",
    "remote",
    "read_only",
    "requires_approval",
    "promote_from",
    "branch",
    "scan",
    "fail_on",
    "vulndb",
    "vulndb_max_age_days",
    "secrets",
    "rules",
    "baseline",
    "licenses",
    "allow",
    "deny",
    "image",
    "registry",
    "approved_bases",
    "signing_key",
    "verify_key",
];

impl Config {
    /// Reads and parses `<root>/isect.toml`.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join("isect.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::infra(format!("cannot read {}", path.display()), e))?;
        Self::parse(&text)
    }

    /// Parses the text of an `isect.toml`.
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|err| Error::user(toml_diagnostic(text, &err)))
    }
}

fn toml_diagnostic(text: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    let mut diagnostic = Diagnostic::error(
        "config::invalid",
        format!("isect.toml is not valid: {message}"),
    );
    if let Some(span) = err.span() {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let len = text[span.start.min(text.len())..span.end.min(text.len())]
            .chars()
            .count();
        diagnostic = diagnostic
            .at(Location::new("isect.toml", line, column)
                .with_text(Arc::from(text))
                .with_len(len))
            .label(label_for(&message));
    }
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
        && let Some(close) = did_you_mean(unknown, KNOWN_KEYS.iter().copied())
    {
        diagnostic = diagnostic.help(format!("did you mean `{close}`?"));
    }
    if diagnostic.help.is_none() {
        diagnostic =
            diagnostic.help("see the README's `isect.toml` section for every key and its type");
    }
    diagnostic
}

fn label_for(message: &str) -> String {
    message.lines().next().unwrap_or(message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_uses_defaults() {
        let config = Config::parse("").expect("empty config parses");
        assert_eq!(config.workspace.services, vec!["services/*"]);
        assert_eq!(config.workspace.libs, vec!["libs/*/*"]);
        assert_eq!(config.workspace.pipelines, "pipelines");
    }

    #[test]
    fn unknown_key_names_key_line_and_suggestion() {
        let err =
            Config::parse("[workspace]\nservice = [\"x/*\"]\n").expect_err("typo is rejected");
        let Error::User(diagnostics) = err else {
            panic!("user error expected")
        };
        let rendered = diagnostics[0].render();
        assert!(rendered.contains("config::invalid"), "{rendered}");
        assert!(rendered.contains("isect.toml:2:1"), "{rendered}");
        assert!(rendered.contains("did you mean `services`?"), "{rendered}");
    }

    #[test]
    fn wrong_type_is_reported_with_line() {
        let err = Config::parse("[workspace]\npipelines = 3\n").expect_err("wrong type");
        let rendered = err.to_string();
        assert!(rendered.contains("isect.toml:2:"), "{rendered}");
    }
}
