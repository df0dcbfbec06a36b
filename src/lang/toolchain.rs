//! Toolchain identity (`go version`, `python3 --version`, `node --version`), probed once
//! per run and memoised by the binary's path and stat, so a no-op run spawns no process.
//! Wrapper scripts (pyenv shims) are probed every run: their stat says nothing of the
//! version behind them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::Toolchain;

/// Why a toolchain could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("`{program}` was not found on PATH")]
    Missing { program: String },
    #[error("`{program} {args}` failed: {detail}")]
    Probe {
        program: String,
        args: String,
        detail: String,
    },
}

/// The first executable named `program` on PATH.
#[must_use]
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#!")
}

/// A pyenv, rbenv, asdf, goenv or nodenv shim: an executable in a `shims` folder.
fn is_version_manager_shim(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == "shims")
}

/// What decides the version a version manager's wrapper script (a pyenv, asdf or goenv shim)
/// runs: the variables they read, their global version file, the version files from the
/// current folder up, and the list of installed versions. The wrapper's own stat says
/// nothing of that, and running it costs a process per run.
fn version_manager_state(wrapper: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for var in [
        "PYENV_VERSION",
        "PYENV_ROOT",
        "ASDF_DATA_DIR",
        "GOENV_VERSION",
        "NODENV_VERSION",
        "VIRTUAL_ENV",
        "PATH",
    ] {
        std::env::var_os(var).hash(&mut hasher);
    }
    // <root>/shims/python3 → <root>/version and <root>/versions
    if let Some(root) = wrapper.parent().and_then(Path::parent) {
        std::fs::read(root.join("version")).ok().hash(&mut hasher);
        let versions = std::fs::metadata(root.join("versions"))
            .ok()
            .and_then(|m| m.modified().ok());
        versions.hash(&mut hasher);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            for name in [
                ".python-version",
                ".tool-versions",
                ".go-version",
                ".node-version",
                ".nvmrc",
            ] {
                std::fs::read(dir.join(name)).ok().hash(&mut hasher);
            }
        }
    }
    format!("|wrapper:{:016x}", hasher.finish())
}

/// Identifies `toolchain`, using and updating the memo file at `memo`.
pub fn identify(toolchain: Toolchain, memo: &Path) -> Result<String, ToolchainError> {
    let program = toolchain.program();
    let path = which(program).ok_or_else(|| ToolchainError::Missing {
        program: program.to_string(),
    })?;
    let resolved = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
    let memo_key = std::fs::metadata(&resolved).ok().map(|m| {
        use std::os::unix::fs::MetadataExt;
        let key = format!(
            "{}|{}|{}|{}",
            resolved.display(),
            m.len(),
            m.mtime_nsec() + m.mtime() * 1_000_000_000,
            m.ino()
        );
        key
    });
    // A wrapper script's stat says nothing of what it runs: memoise only a version manager's
    // shim (by what selects its version); probe any other wrapper on every run.
    let memo_key = match memo_key {
        Some(key) if is_script(&resolved) => is_version_manager_shim(&resolved)
            .then(|| format!("{key}{}", version_manager_state(&resolved))),
        other => other,
    };
    let mut memos: BTreeMap<String, String> = std::fs::read(memo)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(version) = memo_key.as_ref().and_then(|k| memos.get(k)) {
        return Ok(version.clone());
    }
    let args = toolchain.version_args();
    let output = std::process::Command::new(&path)
        .args(args)
        .output()
        .map_err(|e| ToolchainError::Probe {
            program: program.to_string(),
            args: args.join(" "),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(ToolchainError::Probe {
            program: program.to_string(),
            args: args.join(" "),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let version = text.trim().lines().next().unwrap_or_default().to_string();
    if let Some(key) = memo_key {
        memos.insert(key, version.clone());
        if let Ok(bytes) = serde_json::to_vec_pretty(&memos) {
            let _ = crate::cache::write_memo(memo, &bytes);
        }
    }
    Ok(version)
}
