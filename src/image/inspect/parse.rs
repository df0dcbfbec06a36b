//! The package-manager records an image keeps, parsed into (name, version, licences):
//! Python `METADATA` (RFC 822 headers), dpkg `status` paragraphs, npm `package.json`,
//! DEP-5 `copyright` files and `os-release`.

use crate::image::sbom::spdx;

/// One package a record describes, before it gets a path and a purl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub name: String,
    pub version: String,
    pub licenses: Vec<String>,
    /// dpkg only: `Architecture` and the `Source` package (without its version).
    pub arch: Option<String>,
    pub source: Option<String>,
}

/// RFC 822-style fields (`Key: value`, continuation lines indented) up to the first
/// blank line; continuation lines are kept only as the field's first line.
fn headers(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim(), v.trim()));
        }
    }
    out
}

/// A Python distribution's `METADATA`: `Name`, `Version`, and its licence from
/// `License-Expression` (PEP 639), else a short `License`, else the classifiers.
pub(crate) fn python_metadata(text: &str) -> Option<Parsed> {
    let fields = headers(text);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    };
    let name = get("Name")?.to_string();
    let version = get("Version")?.to_string();
    let mut licenses = Vec::new();
    if let Some(expr) = get("License-Expression") {
        licenses.push(expr.to_string());
    } else if let Some(l) = get("License").filter(|l| l.len() <= 80 && *l != "UNKNOWN") {
        // a long `License` is the licence's full text, not its name
        licenses.push(spdx::normalize(l));
    } else {
        for (k, v) in &fields {
            if k.eq_ignore_ascii_case("Classifier")
                && let Some(l) = v.strip_prefix("License :: ")
            {
                let last = l.rsplit(" :: ").next().unwrap_or(l);
                if last != "OSI Approved" {
                    licenses.push(spdx::from_classifier(last));
                }
            }
        }
    }
    Some(Parsed {
        name,
        version,
        licenses,
        arch: None,
        source: None,
    })
}

/// Every installed package of a dpkg `status` file (or one `status.d/<pkg>` file, where
/// distroless images leave out `Status`).
pub(crate) fn dpkg_status(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let fields = headers(para.trim_start_matches('\n'));
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .filter(|v| !v.is_empty())
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        // `install ok installed`; `deinstall ok config-files` leaves only configuration
        if get("Status").is_some_and(|s| s.split_whitespace().nth(2) != Some("installed")) {
            continue;
        }
        let source = get("Source")
            .and_then(|s| s.split_whitespace().next())
            .filter(|s| *s != name)
            .map(str::to_string);
        out.push(Parsed {
            name: name.to_string(),
            version: version.to_string(),
            licenses: Vec::new(),
            arch: get("Architecture").map(str::to_string),
            source,
        });
    }
    out
}

/// The first `License:` of a machine-readable (DEP-5) `copyright` file, as an SPDX id
/// when it is a well-known Debian short name.
pub(crate) fn dep5_license(text: &str) -> Option<String> {
    if !text.starts_with("Format:") {
        return None;
    }
    text.lines()
        .find_map(|l| l.strip_prefix("License:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(spdx::from_debian)
}

/// An npm `package.json`: `name`, `version` and `license` (or the legacy `licenses`).
pub(crate) fn npm_package(bytes: &[u8]) -> Option<Parsed> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let name = v.get("name")?.as_str()?.to_string();
    let version = v.get("version")?.as_str()?.to_string();
    let one = |l: &serde_json::Value| {
        l.as_str()
            .or_else(|| l.get("type").and_then(|t| t.as_str()))
            .map(str::to_string)
    };
    let mut licenses: Vec<String> = v.get("license").and_then(one).into_iter().collect();
    if licenses.is_empty()
        && let Some(list) = v.get("licenses").and_then(|l| l.as_array())
    {
        licenses = list.iter().filter_map(one).collect();
    }
    Some(Parsed {
        name,
        version,
        licenses,
        arch: None,
        source: None,
    })
}

/// The fields of `os-release` (shell-style `KEY="value"`).
pub(crate) fn os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn python_licences_by_precedence() {
        let m = "Metadata-Version: 2.1\nName: Requests\nVersion: 2.25.0\nLicense: Apache 2.0\n\
                 Classifier: License :: OSI Approved :: Apache Software License\n\nbody: x\n";
        let p = python_metadata(m).unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("Requests", "2.25.0")
        );
        assert_eq!(p.licenses, ["Apache-2.0"]);
        let m = "Name: x\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(python_metadata(m).unwrap().licenses, ["MIT"]);
        let m = "Name: x\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n";
        assert_eq!(python_metadata(m).unwrap().licenses, ["MIT OR Apache-2.0"]);
        assert!(python_metadata("Name: x\n").is_none());
    }

    #[test]
    fn dpkg_paragraphs_and_status() {
        let s = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n\
                 Source: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4\nDescription: GNU C\n lib\n\n\
                 Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                 Package: base-files\nVersion: 12.4\nArchitecture: amd64\n";
        let p = dpkg_status(s);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source.as_deref(), Some("glibc"));
        assert_eq!(p[1].name, "base-files");
        let c = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
                 Files: *\nCopyright: x\nLicense: GPL-2+\n";
        assert_eq!(dep5_license(c).as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(dep5_license("free text"), None);
    }

    #[test]
    fn npm_and_os_release() {
        let p = npm_package(br#"{"name":"@scope/x","version":"1.0.0","license":{"type":"MIT"}}"#);
        assert_eq!(p.unwrap().licenses, ["MIT"]);
        let f = os_release(
            "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        );
        assert!(f.contains(&("VERSION_ID".into(), "12".into())));
    }
}
