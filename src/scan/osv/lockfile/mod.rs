//! Lockfiles to pinned packages with their 1-based lines: which file names are
//! lockfiles, and the dispatch to each format's parser.

mod gomod;
mod npm;
mod requirements;
mod toml_locks;

use std::path::Path;

use super::{DepsError, Ecosystem, Package};

/// The lockfile names looked for directly in a service folder, with their ecosystem.
pub const NAMES: [(&str, Ecosystem); 5] = [
    ("go.mod", Ecosystem::Go),
    ("requirements.txt", Ecosystem::PyPI),
    ("poetry.lock", Ecosystem::PyPI),
    ("uv.lock", Ecosystem::PyPI),
    ("package-lock.json", Ecosystem::Npm),
];

/// One parsed lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    /// Workspace-relative path.
    pub path: String,
    pub ecosystem: Ecosystem,
    pub packages: Vec<Package>,
    /// What the report should say about it (unpinned requirements, an old go.mod).
    pub notes: Vec<String>,
}

/// Parse the lockfile at workspace-relative `rel` (its file name picks the format).
pub fn parse(root: &Path, rel: &str) -> Result<Lockfile, DepsError> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let Some((_, ecosystem)) = NAMES.iter().find(|(n, _)| *n == name) else {
        return Err(DepsError::lockfile(rel, 0, "not a lockfile isect reads"));
    };
    if name == "requirements.txt" {
        return requirements::parse(root, rel);
    }
    let text = read(root, rel)?;
    let mut lock = Lockfile {
        path: rel.to_string(),
        ecosystem: *ecosystem,
        packages: Vec::new(),
        notes: Vec::new(),
    };
    match name {
        "go.mod" => gomod::parse(rel, &text, &mut lock)?,
        "poetry.lock" => toml_locks::parse_poetry(rel, &text, &mut lock)?,
        "uv.lock" => toml_locks::parse_uv(rel, &text, &mut lock)?,
        _ => npm::parse(rel, &text, &mut lock)?,
    }
    Ok(lock)
}

/// Read a workspace-relative file as text.
fn read(root: &Path, rel: &str) -> Result<String, DepsError> {
    let path = root.join(rel);
    std::fs::read_to_string(&path).map_err(|e| DepsError::io(path, e))
}

/// A package pinned at `line` of `file`.
fn package(eco: Ecosystem, name: &str, version: &str, file: &str, line: usize) -> Package {
    Package {
        ecosystem: eco,
        name: name.to_string(),
        version: version.to_string(),
        file: file.to_string(),
        line,
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `rel` resolved against the folder of the workspace-relative file `from`, lexically
/// (`..` pops a component); `None` when it climbs out of the workspace or is absolute.
fn join_rel(from: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_and_lines() {
        assert_eq!(
            join_rel("services/a/requirements.txt", "base.txt").as_deref(),
            Some("services/a/base.txt")
        );
        assert_eq!(
            join_rel("services/a/requirements.txt", "../b/r.txt").as_deref(),
            Some("services/b/r.txt")
        );
        assert_eq!(join_rel("r.txt", "../x.txt"), None);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 0), 1);
    }
}
