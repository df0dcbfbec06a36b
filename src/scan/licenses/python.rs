//! Python licences: dist-info METADATA from the service's virtualenv, or from the
//! interpreter's site-packages for the dependencies the service declares (requirements
//! files, pyproject.toml) and what those require in turn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::LicenseError;
use super::sources::{Found, Package, line_of, read, rel_of};
use super::spdx::{self, Dnf, Term};

/// A declared dependency: normalised name, manifest path, line.
type Requirement = (String, String, usize);

/// PEP 503 normalised name.
pub(crate) fn normalise(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim().chars() {
        if matches!(ch, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(ch.to_ascii_lowercase());
        }
    }
    out
}

/// The package name a requirement line starts with (`requests[socks]>=2; python_version…`).
fn requirement_name(spec: &str) -> Option<String> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    (!name.is_empty() && !spec.contains("://") && !name.starts_with('.')).then(|| normalise(name))
}

/// A dist-info folder's METADATA, read.
struct Dist {
    name: String,
    version: String,
    metadata: PathBuf,
    text: String,
    requires: Vec<String>,
    local: bool,
}

fn read_dist(dist_info: &Path) -> Option<Dist> {
    let metadata = dist_info.join("METADATA");
    let text = std::fs::read_to_string(&metadata).ok()?;
    let header = text.split("\n\n").next().unwrap_or_default();
    let field = |key: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let requires = header
        .lines()
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        // `; extra == "x"`: optional, not installed by default.
        .filter(|r| !r.contains("extra =="))
        .filter_map(requirement_name)
        .collect();
    // An editable or local install (direct_url.json with a file:// URL) is first-party.
    let local = std::fs::read_to_string(dist_info.join("direct_url.json"))
        .is_ok_and(|d| d.contains("\"file://"));
    Some(Dist {
        name: field("Name:")?,
        version: field("Version:").unwrap_or_default(),
        metadata,
        text,
        requires,
        local,
    })
}

/// The licence a METADATA declares: License-Expression (PEP 639), else License (when it
/// names a licence or is one's text), else the licence classifiers (several = a choice).
fn python_licence(text: &str, extra: &[String]) -> (Option<String>, Dnf, &'static str) {
    let header = text.split("\n\n").next().unwrap_or_default();
    let field = |key: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    if let Some(expr) = field("License-Expression:").filter(|e| !e.is_empty()) {
        let dnf = spdx::interpret(&expr, extra);
        return (Some(expr), dnf, "License-Expression:");
    }
    let license = field("License:").filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("UNKNOWN"));
    if let Some(l) = &license {
        let dnf = spdx::interpret(l, extra);
        if !dnf.iter().flatten().any(|t| matches!(t, Term::Unknown(_))) {
            return (Some(l.clone()), dnf, "License:");
        }
        if let Some(ids) = spdx::classify_text(l) {
            let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
            return (
                Some(ids.join(" or ")),
                vec![vec![Term::Known(ids)]],
                "License:",
            );
        }
    }
    let classifiers: Vec<String> = header
        .lines()
        .filter_map(|l| l.strip_prefix("Classifier: License ::"))
        .filter_map(|c| c.rsplit("::").next().map(|n| n.trim().to_string()))
        .filter(|n| n != "OSI Approved")
        .collect();
    if !classifiers.is_empty() {
        let dnf = classifiers
            .iter()
            .map(|c| vec![spdx::term(c, extra)])
            .collect();
        return (Some(classifiers.join(" OR ")), dnf, "Classifier: License");
    }
    match license {
        Some(l) => {
            let short: String = l
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect();
            (
                Some(short.clone()),
                vec![vec![Term::Unknown(short)]],
                "License:",
            )
        }
        None => (None, Vec::new(), "Name:"),
    }
}

fn dist_infos(site: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(site) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "dist-info") && p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The service's own virtualenv site-packages, if it has one.
fn venv_site(base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for venv in [".venv", "venv"] {
        let lib = base.join(venv).join("lib");
        if let Ok(entries) = std::fs::read_dir(&lib) {
            out.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("site-packages"))
                    .filter(|p| p.is_dir()),
            );
        }
        let win = base.join(venv).join("Lib/site-packages");
        if win.is_dir() {
            out.push(win);
        }
    }
    out.sort();
    out
}

/// Declared dependencies, and the first-party names: the project itself, `-e ../libs/x`
/// folders, uv path/workspace sources.
fn python_requirements(
    root: &Path,
    base: &Path,
) -> Result<(Vec<Requirement>, BTreeSet<String>), LicenseError> {
    let mut deps = Vec::new();
    let mut own = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|it| it.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("requirements")
            && name.ends_with(".txt")
            && !name.contains("dev")
            && !name.contains("test")
        {
            let rel = rel_of(root, &path);
            let text = read(&path, &rel)?;
            for (i, line) in text.lines().enumerate() {
                let line = line.split(" #").next().unwrap_or_default().trim();
                let local = line.strip_prefix("-e").unwrap_or(line).trim();
                if local.starts_with(['.', '/']) {
                    if let Some(dir) = Path::new(local).file_name() {
                        own.insert(normalise(&dir.to_string_lossy()));
                    }
                    continue;
                }
                // Options, local paths and URLs (`-e ../../libs/x`, `./pkg`) are first-party.
                if line.is_empty() || line.starts_with(['#', '-', '.', '/']) {
                    continue;
                }
                if let Some(n) = requirement_name(line) {
                    deps.push((n, rel.clone(), i + 1));
                }
            }
        } else if name == "pyproject.toml" {
            let rel = rel_of(root, &path);
            let text = read(&path, &rel)?;
            let doc: toml::Table = toml::from_str(&text).map_err(|e| LicenseError::Parse {
                path: rel.clone(),
                line: e
                    .span()
                    .map_or(0, |s| text[..s.start].matches('\n').count() + 1),
                message: e.message().to_string(),
            })?;
            let project = doc.get("project");
            own.extend(
                project
                    .and_then(|p| p.get("name"))
                    .and_then(|n| n.as_str())
                    .map(normalise),
            );
            let uv = doc
                .get("tool")
                .and_then(|t| t.get("uv"))
                .and_then(|u| u.get("sources"))
                .and_then(|s| s.as_table());
            for (name, source) in uv.into_iter().flatten() {
                if source.get("path").is_some() || source.get("workspace").is_some() {
                    own.insert(normalise(name));
                }
            }
            let listed = project
                .and_then(|p| p.get("dependencies"))
                .and_then(|d| d.as_array())
                .cloned()
                .unwrap_or_default();
            for spec in listed.iter().filter_map(|s| s.as_str()) {
                if spec.contains(" @ file:") {
                    continue;
                }
                if let Some(n) = requirement_name(spec) {
                    deps.push((n, rel.clone(), line_of(&text, spec)));
                }
            }
            let poetry = doc
                .get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("dependencies"))
                .and_then(|d| d.as_table());
            for (name, spec) in poetry.into_iter().flatten() {
                if name == "python" || spec.get("path").is_some() {
                    continue;
                }
                deps.push((
                    normalise(name),
                    rel.clone(),
                    line_of(&text, &format!("{name} ")),
                ));
            }
        }
    }
    Ok((deps, own))
}

/// Python packages: everything in the service's `.venv`/`venv`, else the declared
/// dependencies (and what they require) found in `site_packages`.
pub(crate) fn python(
    root: &Path,
    dir: &str,
    site_packages: &[PathBuf],
    extra: &[String],
) -> Result<Found, LicenseError> {
    let mut found = Found::default();
    let base = root.join(dir);
    let venv = venv_site(&base);
    let (deps, own) = python_requirements(root, &base)?;
    let mut push = |d: &Dist, path: String, line: usize| {
        let (declared, dnf, _) = python_licence(&d.text, extra);
        found.packages.push(Package {
            ecosystem: "PyPI",
            name: d.name.clone(),
            version: d.version.clone(),
            declared,
            dnf,
            path,
            line,
        });
    };
    if !venv.is_empty() {
        for site in &venv {
            for info in dist_infos(site) {
                let Some(d) = read_dist(&info) else { continue };
                let n = normalise(&d.name);
                if d.local
                    || own.contains(&n)
                    || matches!(n.as_str(), "pip" | "setuptools" | "wheel")
                {
                    continue;
                }
                let rel = rel_of(root, &d.metadata);
                let (_, _, key) = python_licence(&d.text, extra);
                let line = line_of(&d.text, key);
                push(&d, rel, line);
            }
        }
        return Ok(found);
    }
    if deps.is_empty() {
        return Ok(found);
    }
    let mut installed: BTreeMap<String, Dist> = BTreeMap::new();
    for site in site_packages {
        for info in dist_infos(site) {
            if let Some(d) = read_dist(&info) {
                installed.entry(normalise(&d.name)).or_insert(d);
            }
        }
    }
    // Direct dependencies and what they require, each located at the manifest line of the
    // direct dependency that brought it in.
    let mut queue: Vec<Requirement> = deps.clone();
    let mut seen = BTreeSet::new();
    let mut missing = Vec::new();
    while let Some((name, path, line)) = queue.pop() {
        if !seen.insert(name.clone()) || own.contains(&name) {
            continue;
        }
        match installed.get(&name) {
            Some(d) if d.local => {}
            Some(d) => {
                queue.extend(d.requires.iter().map(|r| (r.clone(), path.clone(), line)));
                push(d, path, line);
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        missing.sort();
        found.notes.push(format!(
            "{dir}: {} Python packages are not installed, so their licences cannot be read \
             (install the service's dependencies first): {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    Ok(found)
}
