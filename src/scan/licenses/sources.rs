//! Where licences are read, besides Python (`python`): npm's package-lock.json `license`
//! fields and vendored Go modules' LICENSE files; the package model they all return.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::LicenseError;
use super::spdx::{self, Dnf, Term};

/// One third-party package and what it declares.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub ecosystem: &'static str,
    pub name: String,
    pub version: String,
    /// The licence as declared (for messages); `None` when nothing was found.
    pub declared: Option<String>,
    pub dnf: Dnf,
    pub path: String,
    pub line: usize,
}

/// What a source read: packages, and notes for the summary.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub packages: Vec<Package>,
    pub notes: Vec<String>,
}

pub(super) fn read(path: &Path, rel: &str) -> Result<String, LicenseError> {
    std::fs::read_to_string(path).map_err(|source| LicenseError::Io {
        path: rel.to_string(),
        source,
    })
}

pub(super) fn rel_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// 1-based line of the first occurrence of `needle`, or 0.
pub(super) fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(0, |i| text[..i].matches('\n').count() + 1)
}

// ---- Node ------------------------------------------------------------------------------

/// `package-lock.json` (v2/v3 `packages`): every installed, non-dev, non-linked package.
pub(crate) fn node(root: &Path, dir: &str, extra: &[String]) -> Result<Found, LicenseError> {
    let mut found = Found::default();
    let path = root.join(dir).join("package-lock.json");
    if !path.is_file() {
        return Ok(found);
    }
    let rel = rel_of(root, &path);
    let text = read(&path, &rel)?;
    let lock: serde_json::Value = serde_json::from_str(&text).map_err(|e| LicenseError::Parse {
        path: rel.clone(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let Some(packages) = lock.get("packages").and_then(|p| p.as_object()) else {
        found.notes.push(format!(
            "{rel} is a v1 lockfile without licence fields: regenerate it with npm 7 or later"
        ));
        return Ok(found);
    };
    let mut dev = 0;
    for (key, pkg) in packages {
        // "" is the project; keys outside node_modules/ are workspace packages (first-party).
        let Some(idx) = key.rfind("node_modules/") else {
            continue;
        };
        let flag = |k: &str| pkg.get(k).and_then(serde_json::Value::as_bool) == Some(true);
        if flag("link") {
            continue;
        }
        if flag("dev") {
            dev += 1;
            continue;
        }
        let name = key[idx + "node_modules/".len()..].to_string();
        let declared = match pkg.get("license") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // Old packages: { "type": "MIT" }.
            Some(obj) => obj.get("type").and_then(|t| t.as_str()).map(str::to_string),
            None => None,
        };
        found.packages.push(Package {
            ecosystem: "npm",
            version: pkg
                .get("version")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            dnf: declared
                .as_deref()
                .map(|d| spdx::interpret(d, extra))
                .unwrap_or_default(),
            declared,
            path: rel.clone(),
            line: line_of(&text, &format!("\"{key}\":")),
            name,
        });
    }
    if dev > 0 {
        found.notes.push(format!(
            "{rel}: {dev} dev-only packages not checked (they are not shipped)"
        ));
    }
    Ok(found)
}

// ---- Go --------------------------------------------------------------------------------

/// `vendor/modules.txt` and each vendored module's LICENSE file; modules required in
/// go.mod but not vendored are listed in a note (their licence needs the module cache or
/// the network, which a scan does not use).
pub(crate) fn go(root: &Path, dir: &str) -> Result<Found, LicenseError> {
    let mut found = Found::default();
    let base = root.join(dir);
    let modules_txt = base.join("vendor/modules.txt");
    if modules_txt.is_file() {
        let rel = rel_of(root, &modules_txt);
        let text = read(&modules_txt, &rel)?;
        for (i, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("# ") else {
                continue;
            };
            let mut parts = rest.split_whitespace();
            let (Some(module), Some(version)) = (parts.next(), parts.next()) else {
                continue;
            };
            // `=> ../lib` is a local replacement: first-party.
            if rest.contains("=> .") || rest.contains("=> /") || version == "=>" {
                continue;
            }
            let (declared, dnf) = match licence_file(&base.join("vendor"), module) {
                Some((file, ids)) => {
                    let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
                    (
                        Some(format!("{} ({file})", ids.join(" or "))),
                        vec![vec![Term::Known(ids)]],
                    )
                }
                None => (None, Vec::new()),
            };
            found.packages.push(Package {
                ecosystem: "Go",
                name: module.to_string(),
                version: version.to_string(),
                declared,
                dnf,
                path: rel.clone(),
                line: i + 1,
            });
        }
        return Ok(found);
    }
    let go_mod = base.join("go.mod");
    if go_mod.is_file() {
        let rel = rel_of(root, &go_mod);
        let text = read(&go_mod, &rel)?;
        let modules = go_requires(&text);
        if !modules.is_empty() {
            let shown: Vec<&str> = modules.iter().take(5).map(String::as_str).collect();
            found.notes.push(format!(
                "{rel}: {} Go modules are not vendored, so their licences cannot be read \
                 offline (run `go mod vendor` to check them): {}{}",
                modules.len(),
                shown.join(", "),
                if modules.len() > 5 { ", ..." } else { "" }
            ));
        }
    }
    Ok(found)
}

/// The modules a go.mod requires (not those replaced by local paths).
fn go_requires(text: &str) -> Vec<String> {
    let mut local = BTreeSet::new();
    let mut required = Vec::new();
    let mut in_block: Option<&str> = None;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        let (kind, spec) = match in_block {
            Some(_) if line == ")" => {
                in_block = None;
                continue;
            }
            Some(kind) => (kind, line),
            None => {
                let Some((kind, rest)) = line.split_once(char::is_whitespace) else {
                    continue;
                };
                if rest.trim() == "(" {
                    in_block = Some(if kind == "require" {
                        "require"
                    } else if kind == "replace" {
                        "replace"
                    } else {
                        "other"
                    });
                    continue;
                }
                (kind, rest.trim())
            }
        };
        match kind {
            "require" => {
                if let Some(m) = spec.split_whitespace().next() {
                    required.push(m.to_string());
                }
            }
            "replace" => {
                if let Some((from, to)) = spec.split_once("=>")
                    && to.trim().starts_with(['.', '/'])
                    && let Some(m) = from.split_whitespace().next()
                {
                    local.insert(m.to_string());
                }
            }
            _ => {}
        }
    }
    required.retain(|m| !local.contains(m));
    required
}

/// The licence file of a vendored module: in its folder, else the nearest parent inside
/// `vendor/` (a package of a bigger module).
fn licence_file(vendor: &Path, module: &str) -> Option<(String, Vec<&'static str>)> {
    let mut dir = vendor.join(module);
    while dir.starts_with(vendor) && dir != vendor {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut names: Vec<PathBuf> =
                entries.filter_map(Result::ok).map(|e| e.path()).collect();
            names.sort();
            for path in names {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_ascii_uppercase())
                    .unwrap_or_default();
                if (name.starts_with("LICENSE")
                    || name.starts_with("LICENCE")
                    || name.starts_with("COPYING"))
                    && path.is_file()
                    && let Ok(text) = std::fs::read_to_string(&path)
                {
                    let file = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    return spdx::classify_text(&text).map(|ids| (file, ids));
                }
            }
        }
        if !dir.pop() {
            break;
        }
    }
    None
}
