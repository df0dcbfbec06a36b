//! What exists: the workspace root and its `isect.toml`, the services and shared libraries
//! under it, their languages and the dependency edges between them.
//! Pure discovery: nothing here evaluates scripts or runs steps.

mod config;
mod deps;
mod discover;
mod names;
mod projects;

pub use config::{
    CacheSettings, Config, EnvironmentConfig, ImageSettings, LicenseSettings, ScanSettings,
    SecretsSettings, WorkspaceConfig,
};
pub use discover::find_root;
pub use names::{ServiceName, StepId};
pub use projects::{Language, Project, ProjectKind, Workspace, skip_dir};

/// Joins workspace-relative path parts with `/` and removes `.` and `..` parts.
/// Returns `None` when the path climbs above the workspace root.
#[must_use]
pub fn normalize_rel(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::normalize_rel;

    #[test]
    fn normalizes_relative_paths() {
        assert_eq!(
            normalize_rel("services/a/../../libs/go/x").as_deref(),
            Some("libs/go/x")
        );
        assert_eq!(normalize_rel("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize_rel("../x"), None);
    }
}
