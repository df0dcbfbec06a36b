//! The build context sent to the Docker Engine: exactly the step's input files under the
//! context folder, less what `.dockerignore` excludes, as a reproducible tar (sorted
//! entries, fixed owners and mtimes, so the same inputs are the same bytes).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// The name a Dockerfile outside the context folder gets inside the tar.
const OUTSIDE_DOCKERFILE: &str = ".isect.Dockerfile";

/// Why a context could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// An input file could not be read.
    #[error("build context: cannot read {path}: {source}")]
    Read {
        /// Workspace-relative path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A `.dockerignore` pattern globset refuses.
    #[error("{path}:{line}: bad .dockerignore pattern {pattern:?}: {message}")]
    Pattern {
        /// The `.dockerignore` file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
}

/// `.dockerignore` rules, matched as Docker does: patterns relative to the context root,
/// the last matching pattern wins, `!` re-includes, a pattern that matches a folder
/// excludes what is under it, `*` and `?` stay within one path element, `**` spans any.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<(GlobMatcher, bool)>,
}

impl DockerIgnore {
    /// Parses `.dockerignore` text; `path` is only for messages.
    pub fn parse(text: &str, path: &str) -> Result<DockerIgnore, ContextError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| ContextError::Pattern {
                    path: path.into(),
                    line: i + 1,
                    pattern: raw.trim().into(),
                    message: e.kind().to_string(),
                })?;
            rules.push((glob.compile_matcher(), exclusion));
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether a context-relative path (`a/b.txt`) is left out.
    pub fn is_excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (glob, exception) in &self.rules {
            // An exception can only undo an exclusion, and an exclusion only add one.
            if *exception != excluded {
                continue;
            }
            let matched = glob.is_match(path)
                || (1..parts.len()).any(|n| glob.is_match(parts[..n].join("/")));
            if matched {
                excluded = !exception;
            }
        }
        excluded
    }
}

/// Docker's filepath.Clean of a pattern, rooted at the context: `./a//b/` is `a/b`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A build context, ready to stream to the engine.
#[derive(Debug, Clone)]
pub struct BuildContext {
    tar: Vec<u8>,
    entries: Vec<String>,
    dockerfile: String,
    dockerfile_path: String,
    dockerfile_text: String,
}

enum Entry {
    Dir,
    File(PathBuf),
}

impl BuildContext {
    /// Builds the context from `files` (workspace-relative, e.g. a step's inputs) that lie
    /// under `context_dir`, minus `.dockerignore` exclusions in `context_dir`; the
    /// Dockerfile is always included (under `.isect.Dockerfile` when it lies outside).
    pub fn new<P: AsRef<Path>>(
        workspace: &Path,
        context_dir: &Path,
        dockerfile: &Path,
        files: impl IntoIterator<Item = P>,
    ) -> Result<BuildContext, ContextError> {
        let context_dir = if context_dir == Path::new(".") {
            Path::new("")
        } else {
            context_dir
        };
        let ctx_abs = workspace.join(context_dir);
        let ignore_path = ctx_abs.join(".dockerignore");
        let ignore = match std::fs::read_to_string(&ignore_path) {
            Ok(text) => DockerIgnore::parse(
                &text,
                &context_dir.join(".dockerignore").display().to_string(),
            )?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(source) => {
                return Err(ContextError::Read {
                    path: ignore_path.display().to_string(),
                    source,
                });
            }
        };
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        let mut add = |rel: String, abs: PathBuf| {
            let mut dir = rel.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                entries.entry(parent.to_string()).or_insert(Entry::Dir);
                dir = parent;
            }
            entries.insert(rel, Entry::File(abs));
        };
        for file in files {
            let file = file.as_ref();
            let Some(rel) = relative(file, context_dir) else {
                continue;
            };
            if !ignore.is_excluded(&rel) {
                add(rel, workspace.join(file));
            }
        }
        let dockerfile_path = dockerfile.display().to_string();
        let in_context =
            relative(dockerfile, context_dir).unwrap_or_else(|| OUTSIDE_DOCKERFILE.to_string());
        add(in_context.clone(), workspace.join(dockerfile));
        let dockerfile_text =
            std::fs::read_to_string(workspace.join(dockerfile)).map_err(|source| {
                ContextError::Read {
                    path: dockerfile_path.clone(),
                    source,
                }
            })?;

        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        let mut names = Vec::new();
        for (rel, entry) in &entries {
            let io = |source| ContextError::Read {
                path: rel.clone(),
                source,
            };
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match entry {
                Entry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, format!("{rel}/"), std::io::empty())
                        .map_err(io)?;
                }
                Entry::File(abs) => {
                    let meta = std::fs::symlink_metadata(abs).map_err(io)?;
                    if meta.file_type().is_symlink() {
                        let target = std::fs::read_link(abs).map_err(io)?;
                        header.set_entry_type(tar::EntryType::Symlink);
                        header.set_mode(0o777);
                        header.set_size(0);
                        tar.append_link(&mut header, rel, target).map_err(io)?;
                    } else {
                        use std::os::unix::fs::PermissionsExt;
                        let executable = meta.permissions().mode() & 0o111 != 0;
                        header.set_entry_type(tar::EntryType::Regular);
                        header.set_mode(if executable { 0o755 } else { 0o644 });
                        header.set_size(meta.len());
                        let f = std::fs::File::open(abs).map_err(io)?;
                        tar.append_data(&mut header, rel, f).map_err(io)?;
                    }
                    names.push(rel.clone());
                }
            }
        }
        let tar = tar.into_inner().map_err(|source| ContextError::Read {
            path: "<tar>".into(),
            source,
        })?;
        Ok(BuildContext {
            tar,
            entries: names,
            dockerfile: in_context,
            dockerfile_path,
            dockerfile_text,
        })
    }

    /// The tar bytes.
    pub fn tar(&self) -> &[u8] {
        &self.tar
    }

    /// The files in the context, context-relative, sorted.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// The Dockerfile's path inside the context (the engine's `dockerfile` option).
    pub fn dockerfile(&self) -> &str {
        &self.dockerfile
    }

    /// The Dockerfile's workspace-relative path, for messages.
    pub fn dockerfile_path(&self) -> &str {
        &self.dockerfile_path
    }

    /// The Dockerfile's text.
    pub fn dockerfile_text(&self) -> &str {
        &self.dockerfile_text
    }
}

/// `file` relative to `dir` with `/` separators, or None when it is not under it.
fn relative(file: &Path, dir: &Path) -> Option<String> {
    let rel = file.strip_prefix(dir).ok()?;
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(Some(p.to_string_lossy().into_owned())),
            Component::CurDir => None,
            _ => Some(None),
        })
        .collect::<Option<Vec<_>>>()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
