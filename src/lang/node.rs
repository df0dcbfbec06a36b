//! Node: what `npm` command an install, build or test step runs.

use std::path::Path;

/// What installing dependencies means for a package folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// A lockfile exists: `npm ci`.
    Ci,
    /// Dependencies but no lockfile: `npm install --no-package-lock` (leaves no lockfile behind).
    Install,
    /// No dependencies at all: nothing to do.
    Nothing,
}

/// Decides how to install the package in `dir`.
#[must_use]
pub fn install_mode(dir: &Path) -> Install {
    if dir.join("package-lock.json").is_file() || dir.join("npm-shrinkwrap.json").is_file() {
        return Install::Ci;
    }
    let has_deps = std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| {
            ["dependencies", "devDependencies", "optionalDependencies"]
                .iter()
                .any(|k| {
                    v.get(*k)
                        .and_then(|d| d.as_object())
                        .is_some_and(|o| !o.is_empty())
                })
        });
    if has_deps {
        Install::Install
    } else {
        Install::Nothing
    }
}

/// Arguments of `npm` for an install.
#[must_use]
pub fn install_args(mode: &Install) -> Vec<String> {
    match mode {
        Install::Ci => vec!["ci".into(), "--no-audit".into(), "--no-fund".into()],
        Install::Install => vec![
            "install".into(),
            "--no-package-lock".into(),
            "--no-audit".into(),
            "--no-fund".into(),
        ],
        Install::Nothing => Vec::new(),
    }
}

/// Arguments of `npm` that run `script`; `build` is optional (`--if-present`), others are not.
#[must_use]
pub fn run_args(script: &str) -> Vec<String> {
    match script {
        "test" => vec!["test".into()],
        "build" => vec!["run".into(), "build".into(), "--if-present".into()],
        other => vec!["run".into(), other.into()],
    }
}
