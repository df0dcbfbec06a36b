//! package-lock.json v2/v3: the `packages` map (`node_modules/x`, nested
//! `node_modules/a/node_modules/x`, each with a `version`), skipping the `""` root,
//! workspace links and entries outside `node_modules`. Each package's line is the line
//! of its key, found by scanning the text.

use std::collections::HashMap;

use serde::Deserialize;

use super::{Lockfile, package};
use crate::scan::osv::{DepsError, Ecosystem};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lock {
    #[serde(default)]
    lockfile_version: Option<u32>,
    #[serde(default)]
    packages: Option<serde_json::Map<String, serde_json::Value>>,
}

pub(super) fn parse(rel: &str, text: &str, lock: &mut Lockfile) -> Result<(), DepsError> {
    let parsed: Lock = serde_json::from_str(text).map_err(|e| {
        DepsError::lockfile(rel, e.line(), format!("not valid package-lock JSON: {e}"))
    })?;
    let version = parsed.lockfile_version.unwrap_or(1);
    let Some(packages) = parsed.packages.filter(|_| version >= 2) else {
        return Err(DepsError::lockfile(
            rel,
            1,
            format!(
                "lockfileVersion {version} has no `packages` map: regenerate it with npm 7 or later"
            ),
        ));
    };
    let lines = key_lines(text);
    for (key, entry) in &packages {
        let Some(idx) = key.rfind("node_modules/") else {
            continue;
        }; // "" root, workspaces
        if entry.get("link").and_then(serde_json::Value::as_bool) == Some(true) {
            continue; // a symlink to a workspace package: first-party
        }
        let Some(version) = entry.get("version").and_then(serde_json::Value::as_str) else {
            continue;
        };
        // `name` is set for aliased installs (`"x": "npm:real@1"`): the real package
        let name = entry
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(&key[idx + "node_modules/".len()..]);
        let line = lines.get(key.as_str()).copied().unwrap_or(0);
        lock.packages
            .push(package(Ecosystem::Npm, name, version, rel, line));
    }
    lock.packages.sort_by_key(|p| p.line);
    Ok(())
}

/// The line of each `"node_modules/…": {` key (first occurrence).
fn key_lines(text: &str) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("\"node_modules/") else {
            continue;
        };
        let Some(end) = rest.find('"') else { continue };
        if !rest[end + 1..].trim_start().starts_with(':') {
            continue;
        }
        // the key with its `node_modules/` prefix, borrowed from the text
        let key = &t[1..1 + "node_modules/".len() + end];
        out.entry(key).or_insert(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(text: &str) -> Result<Lockfile, DepsError> {
        let mut l = Lockfile {
            path: "f/package-lock.json".into(),
            ecosystem: Ecosystem::Npm,
            packages: vec![],
            notes: vec![],
        };
        parse("f/package-lock.json", text, &mut l).map(|()| l)
    }

    #[test]
    fn packages_nested_links_and_lines() {
        let text = r#"{
  "name": "frontend",
  "lockfileVersion": 3,
  "packages": {
    "": { "name": "frontend", "dependencies": { "lodash": "^4.17.20" } },
    "node_modules/lodash": {
      "version": "4.17.20"
    },
    "node_modules/mkdirp/node_modules/minimist": {
      "version": "1.2.5"
    },
    "node_modules/my-ws": { "resolved": "packages/my-ws", "link": true },
    "packages/my-ws": { "version": "0.0.1" },
    "node_modules/str": { "name": "string-width", "version": "4.2.3" }
  }
}"#;
        let l = run(text).unwrap();
        let got: Vec<(&str, &str, usize)> = l
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("lodash", "4.17.20", 6),
                ("minimist", "1.2.5", 9),
                ("string-width", "4.2.3", 14)
            ]
        );
    }

    #[test]
    fn malformed_and_v1_lockfiles_are_errors() {
        let e = run("{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n    \"node_modules/a\": { \"version\": }\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f/package-lock.json:4: not valid package-lock JSON"),
            "{e}"
        );
        let e = run("{ \"lockfileVersion\": 1, \"dependencies\": {} }").unwrap_err();
        assert!(e.to_string().contains("lockfileVersion 1"), "{e}");
    }
}
