//! Services and shared libraries: found by the globs of `isect.toml`, their language
//! detected from marker files, their dependencies inferred from their manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use globset::Glob;

use super::config::Config;
use super::deps;
use super::names::ServiceName;
use crate::diagnostic::{Diagnostic, nearest};
use crate::error::{Error, Result};

/// A language isect has a template and toolchain support for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Golang,
    Python,
    Node,
}

impl Language {
    /// Detects the language of a project folder from its marker files.
    #[must_use]
    pub fn detect(dir: &Path) -> Option<Self> {
        if dir.join("go.mod").is_file() {
            Some(Self::Golang)
        } else if dir.join("pyproject.toml").is_file() || dir.join("requirements.txt").is_file() {
            Some(Self::Python)
        } else if dir.join("package.json").is_file() {
            Some(Self::Node)
        } else {
            None
        }
    }

    /// The name scripts and output use (`golang`, `python`, `node`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Golang => "golang",
            Self::Python => "python",
            Self::Node => "node",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a project is deployable (a service) or shared code (a library).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectKind {
    Service,
    Library,
}

/// A service or a library.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Project {
    /// Service name (its folder name) or, for a library, its workspace-relative folder.
    pub name: String,
    pub kind: ProjectKind,
    /// Workspace-relative folder, `/`-separated.
    pub dir: String,
    pub language: Option<Language>,
    /// Workspace-relative folders of the projects this one uses, with the manifest that says so.
    pub depends_on: BTreeMap<String, String>,
}

/// The workspace: its root, its configuration, and every project in it.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    /// Keyed by workspace-relative folder.
    pub projects: BTreeMap<String, Project>,
}

impl Workspace {
    /// Loads `isect.toml` at `root` and discovers every project.
    pub fn load(root: &Path) -> Result<Self> {
        let config = Config::load(root)?;
        let mut projects = BTreeMap::new();
        for (globs, kind) in [
            (&config.workspace.services, ProjectKind::Service),
            (&config.workspace.libs, ProjectKind::Library),
        ] {
            for dir in find_dirs(root, globs)? {
                if projects.contains_key(&dir) {
                    continue;
                }
                let abs = root.join(&dir);
                let name = match kind {
                    ProjectKind::Service => dir.rsplit('/').next().unwrap_or(&dir).to_string(),
                    ProjectKind::Library => dir.clone(),
                };
                let language = Language::detect(&abs);
                let depends_on = deps::infer(root, &dir, language);
                projects.insert(
                    dir.clone(),
                    Project {
                        name,
                        kind,
                        dir,
                        language,
                        depends_on,
                    },
                );
            }
        }
        let mut workspace = Self {
            root: root.to_path_buf(),
            config,
            projects,
        };
        workspace.resolve_dependency_dirs();
        workspace.check_duplicate_service_names()?;
        Ok(workspace)
    }

    /// Dependencies point at folders; a folder inside a project means that project.
    fn resolve_dependency_dirs(&mut self) {
        let dirs: Vec<String> = self.projects.keys().cloned().collect();
        for project in self.projects.values_mut() {
            let mut resolved = BTreeMap::new();
            for (target, why) in std::mem::take(&mut project.depends_on) {
                let owner = dirs
                    .iter()
                    .filter(|d| target == **d || target.starts_with(&format!("{d}/")))
                    .max_by_key(|d| d.len());
                if let Some(owner) = owner
                    && *owner != project.dir
                {
                    resolved.insert(owner.clone(), why);
                }
            }
            project.depends_on = resolved;
        }
    }

    fn check_duplicate_service_names(&self) -> Result<()> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for project in self.services() {
            if let Some(other) = seen.insert(&project.name, &project.dir) {
                return Err(Error::user(
                    Diagnostic::error(
                        "workspace::duplicate_service",
                        format!(
                            "two services are named `{}`: {other} and {}",
                            project.name, project.dir
                        ),
                    )
                    .help("service names are folder names and must be unique; rename one folder"),
                ));
            }
        }
        Ok(())
    }

    /// Every service, in name order.
    pub fn services(&self) -> impl Iterator<Item = &Project> {
        let mut services: Vec<&Project> = self
            .projects
            .values()
            .filter(|p| p.kind == ProjectKind::Service)
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        services.into_iter()
    }

    /// The service called `name`, or an error that lists the nearest names.
    pub fn service(&self, name: &str) -> Result<&Project> {
        if let Some(project) = self.services().find(|p| p.name == name) {
            return Ok(project);
        }
        let names: Vec<&str> = self.services().map(|p| p.name.as_str()).collect();
        let close = nearest(name, names.iter().copied(), 3);
        let mut diagnostic = Diagnostic::error(
            "workspace::unknown_service",
            format!("no service named `{name}`"),
        );
        diagnostic = if names.is_empty() {
            diagnostic.help(format!(
                "this workspace has no services: isect.toml's services globs ({}) match no folder",
                self.config.workspace.services.join(", ")
            ))
        } else {
            diagnostic.help(format!(
                "did you mean {}? (`isect list` shows all services)",
                quoted(&close)
            ))
        };
        Err(Error::user(diagnostic))
    }

    /// The service's typed name.
    #[must_use]
    pub fn service_name(project: &Project) -> ServiceName {
        ServiceName::new(&project.name)
    }

    /// The workspace-relative path of a service's pipeline script.
    #[must_use]
    pub fn pipeline_path(&self, service: &str) -> String {
        let folder = self.config.workspace.pipelines.trim_end_matches('/');
        format!("{folder}/{service}.rhai")
    }

    /// Every project folder `project` depends on, directly or through others, in order.
    #[must_use]
    pub fn transitive_deps(&self, dir: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![dir.to_string()];
        while let Some(current) = stack.pop() {
            if let Some(project) = self.projects.get(&current) {
                for dep in project.depends_on.keys() {
                    if seen.insert(dep.clone()) {
                        stack.push(dep.clone());
                    }
                }
            }
        }
        seen.remove(dir);
        seen
    }

    /// The project owning a workspace-relative file path, if any (the deepest folder wins).
    #[must_use]
    pub fn owner_of(&self, path: &str) -> Option<&Project> {
        self.projects
            .values()
            .filter(|p| path.starts_with(&format!("{}/", p.dir)))
            .max_by_key(|p| p.dir.len())
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Folders matching any of `globs`, workspace-relative and sorted. A glob is expanded one
/// folder level at a time (`services/*` lists `services/` only), so finding the projects of
/// a large monorepo reads a few folders, not the tree; a `**` glob falls back to a walk.
fn find_dirs(root: &Path, globs: &[String]) -> Result<Vec<String>> {
    let invalid = |pattern: &str, e: globset::Error| {
        Error::user(
            Diagnostic::error(
                "config::invalid_glob",
                format!("isect.toml has an invalid glob `{pattern}`: {e}"),
            )
            .help("globs use `*` for one folder level and `**` for any number"),
        )
    };
    let mut dirs = BTreeSet::new();
    for pattern in globs {
        let pattern = pattern.trim_end_matches('/');
        let glob = Glob::new(pattern).map_err(|e| invalid(pattern, e))?;
        if pattern.contains("**") {
            dirs.extend(walk_matching(root, &glob.compile_matcher()));
            continue;
        }
        let mut current = vec![String::new()];
        for part in pattern.split('/').filter(|p| !p.is_empty()) {
            let wildcard = part.contains(['*', '?', '[', '{']);
            let matcher = if wildcard {
                Some(
                    Glob::new(part)
                        .map_err(|e| invalid(pattern, e))?
                        .compile_matcher(),
                )
            } else {
                None
            };
            let mut next = Vec::new();
            for base in &current {
                let join = |name: &str| {
                    if base.is_empty() {
                        name.to_string()
                    } else {
                        format!("{base}/{name}")
                    }
                };
                match &matcher {
                    Some(matcher) => {
                        let Ok(entries) = std::fs::read_dir(root.join(base)) else {
                            continue;
                        };
                        for entry in entries.filter_map(std::result::Result::ok) {
                            let name = entry.file_name();
                            let Some(name) = name.to_str() else { continue };
                            if entry.file_type().is_ok_and(|t| t.is_dir())
                                && !skip_dir(name)
                                && matcher.is_match(name)
                            {
                                next.push(join(name));
                            }
                        }
                    }
                    None => {
                        if root.join(base).join(part).is_dir() {
                            next.push(join(part));
                        }
                    }
                }
            }
            current = next;
        }
        dirs.extend(current.into_iter().filter(|d| !d.is_empty()));
    }
    Ok(dirs.into_iter().collect())
}

/// Folders anywhere under `root` matching `matcher` (for `**` globs).
fn walk_matching(root: &Path, matcher: &globset::GlobMatcher) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !skip_dir(e.file_name().to_str().unwrap_or("")))
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_dir())
        .filter_map(|e| {
            e.path()
                .strip_prefix(root)
                .ok()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
        })
        .filter(|rel| matcher.is_match(rel))
        .collect()
}

/// Folders never searched for projects or inputs.
#[must_use]
pub fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || name == "node_modules" || name == "__pycache__" || name == "target"
}
