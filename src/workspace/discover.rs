//! Finding the workspace root from any folder inside it.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};

/// The nearest folder at or above `start` that holds an `isect.toml`.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let start = start
        .canonicalize()
        .map_err(|e| Error::infra(format!("cannot open folder {}", start.display()), e))?;
    for dir in start.ancestors() {
        if dir.join("isect.toml").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    Err(Error::user(
        Diagnostic::error(
            "workspace::not_found",
            format!("no isect.toml in {} or any folder above it", start.display()),
        )
        .help("run isect inside a workspace, or create an isect.toml at the repository root (an empty file uses the defaults)"),
    ))
}
