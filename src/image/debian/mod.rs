//! Assembles a distroless-style base root filesystem from Debian packages, as Google's
//! distroless images are made: the packages' dependency closure is downloaded with apt
//! (cached by exact version), unpacked without running any maintainer script, recorded
//! in `var/lib/dpkg/status.d/` for image scanners, and given users, /tmp and os-release.

mod rootfs;

use std::path::Path;
use std::process::Command;

pub use rootfs::rootfs_tar;

/// Users every base gets, as in distroless: root and nonroot (65532).
const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
                      nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n";

/// What can go wrong assembling a rootfs.
#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    /// An apt or dpkg command failed.
    #[error("`{command}` failed{}: {stderr}", hint(.stderr))]
    Command {
        /// The command line.
        command: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A tool is missing (not a Debian host).
    #[error(
        "cannot run {tool}: {source} (assembling a Debian base needs apt-get and dpkg-deb, as on Debian or Ubuntu)"
    )]
    Tool {
        /// apt-get or dpkg-deb.
        tool: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The destination already holds files.
    #[error("{0}: the destination of a rootfs must be empty")]
    NotEmpty(String),
    /// apt resolved nothing.
    #[error("apt resolved no package for {0:?}")]
    NothingResolved(Vec<String>),
    /// Reading or writing files.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn hint(stderr: &str) -> &'static str {
    if stderr.contains("Unable to locate package")
        || stderr.contains("has no installation candidate")
    {
        " (run `apt-get update` first, and check the package names)"
    } else if stderr.contains("Temporary failure resolving") || stderr.contains("Could not connect")
    {
        " (no Debian mirror reachable)"
    } else {
        ""
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DebianError + '_ {
    move |source| DebianError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One package of a rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackage {
    /// `libc6`.
    pub name: String,
    /// The exact version, epoch included (`1:1.35.0-4`).
    pub version: String,
    /// `amd64` or `all`.
    pub arch: String,
}

impl DebPackage {
    /// The file name apt gives the .deb (`:` in the version is `%3a`).
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.deb",
            self.name,
            self.version.replace(':', "%3a"),
            self.arch
        )
    }
}

/// What [`assemble_rootfs`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsReport {
    /// The dependency closure, in apt's install order.
    pub packages: Vec<DebPackage>,
    /// How many .debs were fetched (0 on a rerun with a warm cache).
    pub downloaded: usize,
    /// Bytes of regular files in the rootfs.
    pub size: u64,
}

/// Resolves the packages' dependency closure as apt would install it on an empty system:
/// Depends and Pre-Depends, no Recommends, alternatives and virtual packages chosen by apt
/// itself, exact candidate versions. A name written `!dpkg` is left out with the part of
/// the closure only it needs (apt is told it is already installed).
pub fn resolve<S: AsRef<str>>(packages: &[S]) -> Result<Vec<DebPackage>, DebianError> {
    let (excluded, wanted): (Vec<&str>, Vec<&str>) = packages
        .iter()
        .map(AsRef::as_ref)
        .partition(|p| p.starts_with('!'));
    let excluded: Vec<&str> = excluded.iter().map(|p| &p[1..]).collect();
    let status = tempfile::NamedTempFile::new().map_err(io(Path::new("<temp file>")))?;
    if !excluded.is_empty() {
        std::fs::write(status.path(), pretend_installed(&excluded)?).map_err(io(status.path()))?;
    }
    let mut cmd = Command::new("apt-get");
    cmd.args([
        "install",
        "--simulate",
        "--no-install-recommends",
        "--quiet",
    ])
    // Only our status: the host's installed packages must not shrink the closure.
    .arg("-o")
    .arg(format!("Dir::State::status={}", status.path().display()))
    .args(["-o", "Debug::NoLocking=1"])
    .args(&wanted);
    let resolved = parse_simulation(&run(&mut cmd)?);
    if resolved.is_empty() {
        return Err(DebianError::NothingResolved(
            wanted.iter().map(|p| p.to_string()).collect(),
        ));
    }
    Ok(resolved)
}

/// dpkg status entries that make apt think `packages` are installed (at their candidate
/// version, with what they provide, and without dependencies of their own).
fn pretend_installed(packages: &[&str]) -> Result<String, DebianError> {
    let mut cmd = Command::new("apt-cache");
    cmd.args([
        "show",
        "--no-all-versions",
        "-o",
        "Dir::State::status=/dev/null",
    ])
    .args(packages);
    let mut status = String::new();
    for block in run(&mut cmd)?
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
    {
        for line in block.lines() {
            let keep = [
                "Package:",
                "Version:",
                "Architecture:",
                "Provides:",
                "Multi-Arch:",
            ];
            if keep.iter().any(|k| line.starts_with(k)) {
                status.push_str(line);
                status.push('\n');
            }
        }
        status.push_str("Status: install ok installed\n\n");
    }
    Ok(status)
}

/// The `Inst` lines of `apt-get install --simulate`.
fn parse_simulation(out: &str) -> Vec<DebPackage> {
    let mut resolved = Vec::new();
    for line in out.lines() {
        // `Inst libc6 (2.36-9+deb12u4 Debian:12.5/stable [amd64])`
        let Some(rest) = line.strip_prefix("Inst ") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(" (") else {
            continue;
        };
        // Only what is inside the parentheses: a trailing `[]` lists broken packages.
        let rest = rest.split_once(')').map_or(rest, |(inside, _)| inside);
        let version = rest.split_whitespace().next().unwrap_or_default();
        let arch = rest
            .rsplit_once('[')
            .and_then(|(_, a)| a.split_once(']'))
            .map_or("", |(a, _)| a);
        let name = name.split(':').next().unwrap_or(name);
        resolved.push(DebPackage {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
        });
    }
    resolved
}

/// Assembles a rootfs in `dest` (which must be empty or absent) from `packages` and their
/// dependency closure. The .debs are cached in `cache_dir` by name, version and
/// architecture, so a rerun downloads nothing; `!name` leaves a package out (see
/// [`resolve`]). No maintainer script runs; the rootfs gets `var/lib/dpkg/status.d/`
/// entries, /etc/passwd and /etc/group (root, nonroot 65532), /tmp (1777), the host's
/// os-release, a CA bundle when ca-certificates is in, and only the licences of the docs.
/// Progress lines go to `on_line`.
pub fn assemble_rootfs<S: AsRef<str>>(
    packages: &[S],
    dest: &Path,
    cache_dir: &Path,
    mut on_line: impl FnMut(String),
) -> Result<RootfsReport, DebianError> {
    if dest.exists() && std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(DebianError::NotEmpty(dest.display().to_string()));
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    std::fs::create_dir_all(cache_dir).map_err(io(cache_dir))?;
    let closure = resolve(packages)?;
    on_line(format!(
        "resolved {} packages for {}",
        closure.len(),
        packages
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<&str>>()
            .join(" ")
    ));
    let downloaded = download(&closure, cache_dir, &mut on_line)?;

    let status_dir = dest.join("var/lib/dpkg/status.d");
    std::fs::create_dir_all(&status_dir).map_err(io(&status_dir))?;
    for pkg in &closure {
        let deb = cache_dir.join(pkg.file_name());
        on_line(format!("unpacking {} {}", pkg.name, pkg.version));
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(dest))?;
        write_status(&deb, &pkg.name, &status_dir)?;
    }
    finish(dest)?;
    let size = rootfs::size(dest)?;
    on_line(format!(
        "rootfs {}: {} packages, {:.1} MiB",
        dest.display(),
        closure.len(),
        size as f64 / 1048576.0
    ));
    Ok(RootfsReport {
        packages: closure,
        downloaded,
        size,
    })
}

/// Fetches the .debs missing from the cache, into a scratch folder first so an
/// interrupted download never leaves a partial .deb under its final name.
fn download(
    closure: &[DebPackage],
    cache_dir: &Path,
    on_line: &mut impl FnMut(String),
) -> Result<usize, DebianError> {
    let missing: Vec<&DebPackage> = closure
        .iter()
        .filter(|p| !cache_dir.join(p.file_name()).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    on_line(format!("downloading {} packages", missing.len()));
    let scratch = tempfile::tempdir_in(cache_dir).map_err(io(cache_dir))?;
    let mut cmd = Command::new("apt-get");
    cmd.args(["download", "--quiet"])
        .current_dir(scratch.path());
    cmd.args(missing.iter().map(|p| format!("{}={}", p.name, p.version)));
    run(&mut cmd)?;
    for pkg in &missing {
        let name = pkg.file_name();
        let from = scratch.path().join(&name);
        std::fs::rename(&from, cache_dir.join(&name)).map_err(io(&from))?;
    }
    Ok(missing.len())
}

/// `var/lib/dpkg/status.d/<pkg>`: the control fields with an installed status, and the
/// package's md5sums beside it, as distroless writes them.
fn write_status(deb: &Path, name: &str, status_dir: &Path) -> Result<(), DebianError> {
    let control = tempfile::tempdir().map_err(io(status_dir))?;
    run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(deb)
        .arg(control.path()))?;
    let fields = std::fs::read_to_string(control.path().join("control")).map_err(io(deb))?;
    let mut entry = String::new();
    for line in fields.lines() {
        entry.push_str(line);
        entry.push('\n');
        if line.starts_with("Package:") {
            entry.push_str("Status: install ok installed\n");
        }
    }
    let path = status_dir.join(name);
    std::fs::write(&path, entry).map_err(io(&path))?;
    let md5 = control.path().join("md5sums");
    if md5.is_file() {
        let to = status_dir.join(format!("{name}.md5sums"));
        std::fs::copy(&md5, &to).map_err(io(&to))?;
    }
    Ok(())
}

/// The distroless finishing touches: users, home folders, /tmp, os-release, and no docs
/// but the licences.
fn finish(dest: &Path) -> Result<(), DebianError> {
    let etc = dest.join("etc");
    std::fs::create_dir_all(&etc).map_err(io(&etc))?;
    for (name, text) in [("passwd", PASSWD), ("group", GROUP)] {
        let path = etc.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let os_release = Path::new("/etc/os-release");
    let text = std::fs::read_to_string(os_release).map_err(io(os_release))?;
    // Copied as a file: on the host it is a symlink into /usr/lib.
    let path = etc.join("os-release");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, text).map_err(io(&path))?;

    use std::os::unix::fs::PermissionsExt;
    for (dir, mode, owner) in [
        ("tmp", 0o1777, 0),
        ("root", 0o700, 0),
        ("home/nonroot", 0o700, 65532),
    ] {
        let path = dest.join(dir);
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(io(&path))?;
        match std::os::unix::fs::chown(&path, Some(owner), Some(owner)) {
            // Without root the folder stays ours; the image writer sets owners then.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            r => r.map_err(io(&path))?,
        }
    }
    for dir in [
        "usr/share/man",
        "usr/share/info",
        "usr/share/lintian",
        "usr/share/doc-base",
        "usr/share/bug",
    ] {
        let path = dest.join(dir);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        }
    }
    rootfs::strip_docs(&dest.join("usr/share/doc"))?;
    rootfs::ca_bundle(dest)
}

/// Runs a command; its stdout, or its stderr as the error.
fn run(cmd: &mut Command) -> Result<String, DebianError> {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(tool.clone())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = cmd
        .output()
        .map_err(|source| DebianError::Tool { tool, source })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // apt exits 0 after some errors it prints with `E:`.
    let apt_error = stderr.lines().any(|l| l.starts_with("E:"));
    if !out.status.success() || apt_error {
        let stderr = stderr
            .lines()
            .filter(|l| !l.starts_with("W:"))
            .collect::<Vec<_>>()
            .join("\n");
        return Err(DebianError::Command {
            command: line,
            stderr: stderr.trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests;
