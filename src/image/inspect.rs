//! What an image contains: an OCI image layout's layers applied in memory, and the
//! packages its files record — Go binaries' embedded module info, Python `dist-info`,
//! dpkg's status, npm `package.json` — each with a version, licences and a purl.
//!
//! - `layout`: the manifest, layers applied with whiteouts, interesting files captured.
//! - `gobuild`: a Go binary's build info (Go ≥ 1.18 inline format).
//! - `parse`: METADATA, dpkg status, package.json, DEP-5 copyright, os-release.
//! - `purl`: package URLs.
//! - `scan`: the image scan, packages against the OSV database.
//!
//! The Go standard library a binary was built with is reported as the Go package
//! `stdlib` (`pkg:golang/stdlib@1.19.8`), as osv-scanner and the Go vulnerability
//! database name it, so toolchain advisories match.

mod gobuild;
mod layout;
mod parse;
pub mod purl;
mod scan;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use gobuild::{BuildInfo, GoModule, parse_mod_info};
pub use scan::{TOOL, scan_image, scan_image_with};

use layout::Captured;

/// Caps on what inspection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Files larger than this are skipped (with a note).
    pub max_file: u64,
    /// Total bytes read from captured files and executables; past it, files are skipped.
    pub budget: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file: 256 << 20,
            budget: 4 << 30,
        }
    }
}

/// What can go wrong reading a layout; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a valid OCI image layout: {reason}", path.display())]
    Layout { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
}

impl InspectError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The package ecosystems found in images: the ones the OSV scan matches, named as OSV
/// names them.
pub use crate::scan::osv::Ecosystem as PackageEcosystem;

/// One package found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePackage {
    pub ecosystem: PackageEcosystem,
    pub name: String,
    pub version: String,
    /// SPDX ids where recognised, else as the package writes them.
    pub licenses: Vec<String>,
    /// The file that records it (a Go module's binary), without a leading `/`.
    pub path_in_image: String,
    pub purl: String,
    /// Debian: the source package, when it differs from the binary package.
    pub source: Option<String>,
}

/// A Go executable found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBinary {
    /// Without a leading `/`.
    pub path: String,
    /// As the toolchain writes it (`go1.19.8`).
    pub go_version: String,
    /// The main module's path (or the main package's, outside module mode).
    pub main_module: String,
    /// The main module's version (`(devel)` for a local build).
    pub main_version: Option<String>,
    /// SHA-256 (hex) of the file.
    pub sha256: String,
}

/// The image's operating system, from `os-release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsInfo {
    /// `ID` (`debian`).
    pub id: String,
    /// `VERSION_ID` (`12`), absent on rolling releases.
    pub version_id: Option<String>,
    /// `PRETTY_NAME` (`Debian GNU/Linux 12 (bookworm)`).
    pub pretty_name: Option<String>,
}

/// Everything an image was found to contain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageContents {
    /// The manifest's digest (`sha256:…`).
    pub manifest_digest: String,
    /// The layers' digests, lowest first.
    pub layers: Vec<String>,
    /// Sorted by ecosystem, name, version and path.
    pub packages: Vec<ImagePackage>,
    pub go_binaries: Vec<GoBinary>,
    pub os: Option<OsInfo>,
    /// Files skipped (size caps), binaries not read: for the scan's summary.
    pub notes: Vec<String>,
}

/// Inspect the OCI image layout at `layout_dir` with the default limits.
pub fn inspect_layout(layout_dir: &Path) -> Result<ImageContents, InspectError> {
    inspect_layout_with(layout_dir, Limits::default())
}

/// Inspect the OCI image layout at `layout_dir`: its (linux/amd64 or first) manifest's
/// layers applied in order, and the packages the resulting files record.
pub fn inspect_layout_with(
    layout_dir: &Path,
    limits: Limits,
) -> Result<ImageContents, InspectError> {
    let (manifest_digest, layers) = layout::manifest(layout_dir)?;
    let mut notes = Vec::new();
    let view = layout::apply(layout_dir, &layers, limits, &mut notes)?;
    let mut contents = contents_of(&view);
    contents.manifest_digest = manifest_digest;
    contents.layers = layers;
    contents.notes.splice(0..0, notes);
    Ok(contents)
}

/// `go1.21.3 X:boringcrypto` → `1.21.3`, `go1.21rc2` → `1.21.0-rc.2`, `go1.20` →
/// `1.20.0`: the semver the Go vulnerability database uses for `stdlib`.
fn stdlib_version(go: &str) -> Option<String> {
    let v = go.split_whitespace().next()?.strip_prefix("go")?;
    let (core, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => {
            let (kind, n) = v[i..].split_at(v[i..].find(|c: char| c.is_ascii_digit())?);
            (&v[..i], Some(format!("{kind}.{n}")))
        }
        None => (v, None),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    Some(match pre {
        Some(p) => format!("{}-{p}", parts.join(".")),
        None => parts.join("."),
    })
}

fn text(view: &layout::View, path: &str) -> Option<String> {
    match view.get(path) {
        Some(Captured::Text(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// The packages and OS the captured files record.
fn contents_of(view: &layout::View) -> ImageContents {
    let mut c = ImageContents::default();
    let release = text(view, "etc/os-release").or_else(|| text(view, "usr/lib/os-release"));
    if let Some(release) = release {
        let fields: BTreeMap<String, String> = parse::os_release(&release).into_iter().collect();
        if let Some(id) = fields.get("ID") {
            c.os = Some(OsInfo {
                id: id.clone(),
                version_id: fields.get("VERSION_ID").cloned(),
                pretty_name: fields.get("PRETTY_NAME").cloned(),
            });
        }
    }
    let vendor =
        c.os.as_ref()
            .map_or("debian", |o| o.id.as_str())
            .to_string();
    let distro =
        c.os.as_ref()
            .and_then(|o| o.version_id.as_ref().map(|v| format!("{}-{v}", o.id)));
    for (path, captured) in view {
        let pkg = |eco, name: String, version: String, licenses, purl| ImagePackage {
            ecosystem: eco,
            name,
            version,
            licenses,
            path_in_image: path.clone(),
            purl,
            source: None,
        };
        match captured {
            Captured::Go { sha256, build } => {
                go_packages(path, sha256, build, &mut c);
            }
            Captured::Text(bytes) if path.ends_with("/METADATA") => {
                if let Some(p) = parse::python_metadata(&String::from_utf8_lossy(bytes)) {
                    let purl = purl::pypi(&p.name, &p.version);
                    c.packages.push(pkg(
                        PackageEcosystem::PyPI,
                        p.name,
                        p.version,
                        p.licenses,
                        purl,
                    ));
                }
            }
            Captured::Text(bytes) if path.ends_with("/package.json") => {
                if let Some(p) = parse::npm_package(bytes) {
                    let purl = purl::npm(&p.name, &p.version);
                    c.packages.push(pkg(
                        PackageEcosystem::Npm,
                        p.name,
                        p.version,
                        p.licenses,
                        purl,
                    ));
                }
            }
            Captured::Text(bytes) if path.starts_with("var/lib/dpkg/status") => {
                for p in parse::dpkg_status(&String::from_utf8_lossy(bytes)) {
                    let copyright = format!("usr/share/doc/{}/copyright", p.name);
                    let licenses = text(view, &copyright)
                        .and_then(|t| parse::dep5_license(&t))
                        .into_iter()
                        .collect();
                    let purl = purl::deb(
                        &vendor,
                        &p.name,
                        &p.version,
                        p.arch.as_deref(),
                        distro.as_deref(),
                        p.source.as_deref(),
                    );
                    let mut package =
                        pkg(PackageEcosystem::Debian, p.name, p.version, licenses, purl);
                    package.source = p.source;
                    c.packages.push(package);
                }
            }
            Captured::Text(_) => {}
        }
    }
    c.packages.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.path_in_image).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.path_in_image,
        ))
    });
    c
}

/// A Go binary, its modules (replacements resolved) and its standard library.
fn go_packages(path: &str, sha256: &str, build: &BuildInfo, c: &mut ImageContents) {
    let main = build.main.as_ref();
    c.go_binaries.push(GoBinary {
        path: path.to_string(),
        go_version: build.go_version.clone(),
        main_module: main.map_or_else(|| build.path.clone(), |m| m.path.clone()),
        main_version: main.map(|m| m.version.clone()),
        sha256: sha256.to_string(),
    });
    let mut add = |name: &str, version: &str| {
        c.packages.push(ImagePackage {
            ecosystem: PackageEcosystem::Go,
            name: name.to_string(),
            version: version.to_string(),
            licenses: Vec::new(),
            path_in_image: path.to_string(),
            purl: purl::golang(name, version),
            source: None,
        });
    };
    for dep in &build.deps {
        // the replacement is what was compiled; a local directory (no version) is not
        // a published module, so the original requirement stands for it
        let m = match &dep.replace {
            Some(r) if !r.version.is_empty() => r,
            _ => dep,
        };
        if !m.version.is_empty() && m.version != "(devel)" {
            add(&m.path, &m.version);
        }
    }
    if let Some(v) = stdlib_version(&build.go_version) {
        add("stdlib", &v);
    }
}
