//! Dependencies on other workspace projects, read from each language's manifest:
//! Go `replace` directives to local paths, Python path dependencies (pyproject.toml
//! `path =` sources, requirements.txt `-e ../x` / `file:` lines), Node `file:` dependencies.
//! Each returns workspace-relative target folders with the manifest that declared them.

use std::collections::BTreeMap;
use std::path::Path;

use super::normalize_rel;
use super::projects::Language;

/// Workspace-relative folders that the project at `dir` depends on → the manifest saying so.
pub(super) fn infer(
    root: &Path,
    dir: &str,
    language: Option<Language>,
) -> BTreeMap<String, String> {
    let abs = root.join(dir);
    let mut found = Vec::new();
    match language {
        Some(Language::Golang) => {
            if let Ok(text) = std::fs::read_to_string(abs.join("go.mod")) {
                found.extend(
                    go_replace_paths(&text)
                        .into_iter()
                        .map(|p| (p, "go.mod replace")),
                );
            }
        }
        Some(Language::Python) => {
            if let Ok(text) = std::fs::read_to_string(abs.join("pyproject.toml")) {
                found.extend(
                    pyproject_paths(&text)
                        .into_iter()
                        .map(|p| (p, "pyproject.toml path dependency")),
                );
            }
            for name in ["requirements.txt", "requirements-dev.txt"] {
                if let Ok(text) = std::fs::read_to_string(abs.join(name)) {
                    found.extend(
                        requirements_paths(&text)
                            .into_iter()
                            .map(|p| (p, "requirements.txt local path")),
                    );
                }
            }
        }
        Some(Language::Node) => {
            if let Ok(text) = std::fs::read_to_string(abs.join("package.json")) {
                found.extend(
                    package_json_paths(&text)
                        .into_iter()
                        .map(|p| (p, "package.json file: dependency")),
                );
            }
        }
        None => {}
    }
    found
        .into_iter()
        .filter_map(|(path, why)| {
            let rel = if let Some(stripped) = path.strip_prefix('/') {
                Path::new("/")
                    .join(stripped)
                    .strip_prefix(root)
                    .ok()?
                    .to_string_lossy()
                    .into_owned()
            } else {
                format!("{dir}/{path}")
            };
            Some((normalize_rel(&rel)?, why.to_string()))
        })
        .collect()
}

/// Local targets of `replace` directives (`=> ../x` or `=> ./x`), single-line or block form.
fn go_replace_paths(go_mod: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut in_block = false;
    for raw in go_mod.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        let directive = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if let Some(rest) = line.strip_prefix("replace") {
            let rest = rest.trim();
            if rest == "(" {
                in_block = true;
                continue;
            }
            rest
        } else {
            continue;
        };
        if let Some((_, target)) = directive.split_once("=>") {
            let target = target.split_whitespace().next().unwrap_or("");
            if is_local_path(target) {
                paths.push(target.to_string());
            }
        }
    }
    paths
}

fn is_local_path(s: &str) -> bool {
    s.starts_with("./") || s.starts_with("../") || s.starts_with('/')
}

/// `path = "..."` sources (uv, poetry, pdm) and PEP 508 `name @ file:…` dependencies.
fn pyproject_paths(text: &str) -> Vec<String> {
    let Ok(value) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    collect_path_values(&toml::Value::Table(value), &mut paths);
    paths
}

fn collect_path_values(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                match (key.as_str(), inner) {
                    ("path", toml::Value::String(path)) => out.push(path.clone()),
                    (_, toml::Value::String(s)) => {
                        if let Some(path) = file_url_path(s) {
                            out.push(path);
                        }
                    }
                    _ => collect_path_values(inner, out),
                }
            }
        }
        toml::Value::Array(items) => {
            for item in items {
                match item {
                    toml::Value::String(s) => {
                        if let Some(path) = file_url_path(s) {
                            out.push(path);
                        }
                    }
                    other => collect_path_values(other, out),
                }
            }
        }
        _ => {}
    }
}

/// `name @ file:../x`, `file:///abs`, or `file:../x` → the path.
fn file_url_path(spec: &str) -> Option<String> {
    let at = spec.split_once('@').map_or(spec, |(_, url)| url).trim();
    let rest = at
        .strip_prefix("file://")
        .or_else(|| at.strip_prefix("file:"))?;
    Some(rest.trim().to_string())
}

/// `-e ../x`, `../x`, `./x` and `name @ file:…` lines.
fn requirements_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        let line = line
            .strip_prefix("-e")
            .or_else(|| line.strip_prefix("--editable"))
            .map_or(line, str::trim);
        if is_local_path(line) {
            paths.push(line.to_string());
        } else if let Some(path) = file_url_path(line) {
            paths.push(path);
        }
    }
    paths
}

/// Values `file:../x` in any dependencies table of package.json.
fn package_json_paths(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for table in [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ] {
        if let Some(deps) = value.get(table).and_then(|d| d.as_object()) {
            for spec in deps.values().filter_map(|v| v.as_str()) {
                if let Some(path) = spec
                    .strip_prefix("file:")
                    .or_else(|| spec.strip_prefix("link:"))
                {
                    paths.push(path.to_string());
                }
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_replace_single_and_block() {
        let go_mod = "module a\n\nreplace example.com/x => ../../libs/go/x\nreplace (\n\texample.com/y v1.0.0 => ./y // local\n\texample.com/z => example.com/z2 v1.2.0\n)\n";
        assert_eq!(go_replace_paths(go_mod), vec!["../../libs/go/x", "./y"]);
    }

    #[test]
    fn python_path_dependencies() {
        let pyproject = "[project]\nname='a'\ndependencies=['common @ file:///ws/libs/python/common']\n[tool.uv.sources]\nplatform-common = { path = \"../../libs/python/platform_common\" }\n";
        assert_eq!(
            pyproject_paths(pyproject),
            vec![
                "/ws/libs/python/common",
                "../../libs/python/platform_common"
            ]
        );
        assert_eq!(
            requirements_paths("-e ../../libs/python/x\nrequests==2.0\n./local\n"),
            vec!["../../libs/python/x", "./local"]
        );
    }

    #[test]
    fn node_file_dependencies() {
        let pkg = r#"{"dependencies":{"ui":"file:../../libs/node/ui","left-pad":"1.0.0"}}"#;
        assert_eq!(package_json_paths(pkg), vec!["../../libs/node/ui"]);
    }
}
