//! Vulnerable dependencies from an offline OSV database (`scan::deps`): lockfiles are
//! parsed into packages, matched against OSV records with each ecosystem's version
//! ordering, and reported as findings with the advisory, its CVSS severity and the fix.
//!
//! The database is laid out as osv-scanner's offline mode keeps it
//! (`<dir>/<Ecosystem>/all.zip`, flat zips of OSV JSON records), so one folder serves
//! both tools.
//!
//! - `record`: the serde model of an OSV record.
//! - `version`: semver (npm), Go semver, PEP 440 and dpkg orderings.
//! - `matching`: the OSV schema's affected-range evaluation.
//! - `cvss`: CVSS 3.x base scores and a record's severity.
//! - `db`: bounded zip reading and the in-memory name index.
//! - `vulndb`: `isect vulndb import` and `isect vulndb status`.
//! - `lockfile`: go.mod, requirements.txt, poetry.lock, uv.lock, package-lock.json.
//! - `scan`: `scan_dir`, one service's findings.

pub mod cvss;
pub mod db;
pub mod lockfile;
pub mod matching;
pub mod record;
pub mod scan;
pub mod version;
pub mod vulndb;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::PathBuf;

pub use db::{Database, Limits};
pub use lockfile::Lockfile;
pub use record::Record;
pub use scan::{scan_dir, scan_dir_with};
pub use version::Version;
pub use vulndb::{DbStatus, EcosystemStatus, ImportSummary, import, status};

/// The ecosystems isect matches (lockfiles, and an image's Debian packages), named as
/// OSV and the database folders name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    Go,
    PyPI,
    Npm,
    /// Debian source packages; OSV qualifies each affected entry with its release
    /// (`Debian:12`), while the database folder is plain `Debian`.
    Debian,
}

impl Ecosystem {
    /// Every supported ecosystem.
    pub const ALL: [Ecosystem; 4] = [Self::Go, Self::PyPI, Self::Npm, Self::Debian];

    /// The OSV ecosystem name, which is also the database folder name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Go => "Go",
            Self::PyPI => "PyPI",
            Self::Npm => "npm",
            Self::Debian => "Debian",
        }
    }

    /// From an OSV `affected[].package.ecosystem` (exact, as the schema spells it);
    /// Debian's release suffix (`Debian:12`) is accepted and dropped (see `release`).
    #[must_use]
    pub fn from_osv(s: &str) -> Option<Self> {
        match s.split_once(':') {
            Some(("Debian", _)) => Some(Self::Debian),
            Some(_) => None,
            None => match s {
                "Go" => Some(Self::Go),
                "PyPI" => Some(Self::PyPI),
                "npm" => Some(Self::Npm),
                "Debian" => Some(Self::Debian),
                _ => None,
            },
        }
    }

    /// The release suffix of an OSV ecosystem string (`Debian:12` → `12`), if any.
    #[must_use]
    pub fn release(osv: &str) -> Option<&str> {
        osv.split_once(':')
            .map(|(_, r)| r)
            .filter(|r| !r.is_empty())
    }

    /// The name under which packages compare: PEP 503 for PyPI (lower case, runs of
    /// `-_.` as one `-`); Go module paths, npm and Debian names as written.
    #[must_use]
    pub fn normalize_name(self, name: &str) -> Cow<'_, str> {
        if self != Self::PyPI {
            return Cow::Borrowed(name);
        }
        let mut out = String::with_capacity(name.len());
        let mut in_sep = false;
        for c in name.trim().chars() {
            if matches!(c, '-' | '_' | '.') {
                if !in_sep {
                    out.push('-');
                }
                in_sep = true;
            } else {
                out.push(c.to_ascii_lowercase());
                in_sep = false;
            }
        }
        Cow::Owned(out)
    }
}

impl std::fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One pinned dependency read from a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub ecosystem: Ecosystem,
    /// As the lockfile writes it (matching normalises it).
    pub name: String,
    pub version: String,
    /// Workspace-relative path of the file that pins it.
    pub file: String,
    /// 1-based line of the pin.
    pub line: usize,
}

/// What can go wrong reading the database, importing one, or parsing a lockfile. Each
/// message names the file (and line) and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: the OSV database is corrupt or truncated ({reason}); re-import it with `isect vulndb import`",
        path.display()
    )]
    CorruptDb { path: PathBuf, reason: String },
    #[error(
        "{}: entry `{entry}` is over the {cap}-byte limit once uncompressed; refusing it (re-import a genuine OSV database)",
        path.display()
    )]
    EntryTooLarge {
        path: PathBuf,
        entry: String,
        cap: u64,
    },
    #[error(
        "{}: more than {cap} bytes once uncompressed; refusing it (re-import a genuine OSV database)",
        path.display()
    )]
    DbTooLarge { path: PathBuf, cap: u64 },
    #[error("{}: `{entry}` is not a valid OSV record: {reason}", path.display())]
    BadRecord {
        path: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("{path}:{line}: {reason}")]
    Lockfile {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("vulndb import: {0}")]
    Import(String),
}

impl DepsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn lockfile(path: &str, line: usize, reason: impl Into<String>) -> Self {
        Self::Lockfile {
            path: path.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_normalise_per_ecosystem() {
        assert_eq!(Ecosystem::PyPI.normalize_name("Jinja2"), "jinja2");
        assert_eq!(
            Ecosystem::PyPI.normalize_name("zope.interface"),
            "zope-interface"
        );
        assert_eq!(Ecosystem::PyPI.normalize_name("Foo__-.Bar"), "foo-bar");
        assert_eq!(
            Ecosystem::Go.normalize_name("github.com/BurntSushi/toml"),
            "github.com/BurntSushi/toml"
        );
        assert_eq!(Ecosystem::Npm.normalize_name("@Babel/core"), "@Babel/core");
        assert_eq!(Ecosystem::from_osv("pypi"), None);
        assert_eq!(Ecosystem::from_osv("npm"), Some(Ecosystem::Npm));
        assert_eq!(Ecosystem::from_osv("Debian:12"), Some(Ecosystem::Debian));
        assert_eq!(Ecosystem::from_osv("Debian"), Some(Ecosystem::Debian));
        assert_eq!(Ecosystem::from_osv("Ubuntu:22.04:LTS"), None);
        assert_eq!(Ecosystem::from_osv("npm:1"), None);
        assert_eq!(Ecosystem::release("Debian:12"), Some("12"));
        assert_eq!(Ecosystem::release("Debian"), None);
    }
}
