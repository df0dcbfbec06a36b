//! `--affected`: the files git says changed since a ref (plus uncommitted and untracked
//! ones), mapped to the services they touch and the services that depend on the libraries
//! they touch, each with the reason it was selected.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::workspace::{ProjectKind, Workspace};

fn git(root: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| {
            Error::user(
                Diagnostic::error("git::missing", format!("cannot run git: {e}"))
                    .help("--affected needs git on PATH and a git repository"),
            )
        })?;
    if !output.status.success() {
        return Err(Error::user(
            Diagnostic::error("git::failed", format!("`git {}` failed", args.join(" ")))
                .note(String::from_utf8_lossy(&output.stderr).trim().to_string())
                .help(
                    "check that the workspace is a git repository and that the --since ref exists",
                ),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The default base: the merge base with main (or master).
fn default_base(root: &Path) -> Result<String> {
    for candidate in ["main", "origin/main", "master", "origin/master"] {
        if let Ok(base) = git(root, &["merge-base", "HEAD", candidate]) {
            return Ok(base.trim().to_string());
        }
    }
    Err(Error::user(
        Diagnostic::error(
            "git::no_base",
            "cannot find the merge base with main or master",
        )
        .help("pass the ref to compare with: --affected --since HEAD~1"),
    ))
}

/// Services affected by the changes since `since`, with why.
pub(crate) fn affected(
    workspace: &Workspace,
    since: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let root = &workspace.root;
    let base = match since {
        Some(s) => s.to_string(),
        None => default_base(root)?,
    };
    let mut changed: Vec<String> = git(root, &["diff", "--name-only", "--relative", &base])?
        .lines()
        .map(str::to_string)
        .collect();
    changed.extend(
        git(root, &["ls-files", "--others", "--exclude-standard"])?
            .lines()
            .map(str::to_string),
    );
    changed.sort();
    changed.dedup();
    Ok(select_for_changes(workspace, &changed))
}

/// Maps changed workspace-relative files to services, with reasons.
#[must_use]
pub(crate) fn select_for_changes(
    workspace: &Workspace,
    changed: &[String],
) -> Vec<(String, String)> {
    let mut selected: BTreeMap<String, String> = BTreeMap::new();
    let pipelines = workspace
        .config
        .workspace
        .pipelines
        .trim_end_matches('/')
        .to_string();
    for file in changed {
        if file == "isect.toml" {
            for s in workspace.services() {
                selected
                    .entry(s.name.clone())
                    .or_insert_with(|| "isect.toml changed".into());
            }
            continue;
        }
        if let Some(name) = file
            .strip_prefix(&format!("{pipelines}/"))
            .and_then(|f| f.strip_suffix(".rhai"))
        {
            if workspace.services().any(|s| s.name == name) {
                selected
                    .entry(name.to_string())
                    .or_insert_with(|| format!("{file} changed"));
            }
            continue;
        }
        let Some(owner) = workspace.owner_of(file) else {
            continue;
        };
        match owner.kind {
            ProjectKind::Service => {
                selected
                    .entry(owner.name.clone())
                    .or_insert_with(|| format!("{file} changed"));
            }
            ProjectKind::Library => {
                for service in workspace.services() {
                    if workspace.transitive_deps(&service.dir).contains(&owner.dir) {
                        selected
                            .entry(service.name.clone())
                            .or_insert_with(|| format!("uses {} ({file} changed)", owner.dir));
                    }
                }
            }
        }
    }
    selected.into_iter().collect()
}
