//! Package URLs (github.com/package-url/purl-spec) for what an image contains: each
//! segment percent-encoded, names normalised where the type says so (PyPI lower case
//! with `-`), qualifiers sorted by key.

use crate::scan::osv::Ecosystem;

/// Percent-encode everything but RFC 3986 unreserved characters (and `extra`).
fn encode(s: &str, extra: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || extra.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn segments(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| encode(s, &[]))
        .collect::<Vec<_>>()
        .join("/")
}

/// `pkg:golang/github.com/x/y@v1.2.3` (the module path's segments as namespace and name).
#[must_use]
pub fn golang(module: &str, version: &str) -> String {
    format!("pkg:golang/{}@{}", segments(module), encode(version, &[]))
}

/// `pkg:pypi/name@ver`, the name as PEP 503 normalises it.
#[must_use]
pub fn pypi(name: &str, version: &str) -> String {
    let name = Ecosystem::PyPI.normalize_name(name);
    format!("pkg:pypi/{}@{}", encode(&name, &[]), encode(version, &[]))
}

/// `pkg:npm/%40scope/name@ver` or `pkg:npm/name@ver`.
#[must_use]
pub fn npm(name: &str, version: &str) -> String {
    let path = match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
        Some((scope, n)) => format!("{}/{}", encode(&format!("@{scope}"), &[]), encode(n, &[])),
        None => encode(name, &[]),
    };
    format!("pkg:npm/{path}@{}", encode(version, &[]))
}

/// `pkg:deb/<vendor>/name@ver?arch=amd64&distro=debian-12&upstream=src`, the qualifiers
/// present ones only, in key order.
#[must_use]
pub fn deb(
    vendor: &str,
    name: &str,
    version: &str,
    arch: Option<&str>,
    distro: Option<&str>,
    upstream: Option<&str>,
) -> String {
    let qualifiers: Vec<String> = [("arch", arch), ("distro", distro), ("upstream", upstream)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v, &[]))))
        .collect();
    let mut purl = format!(
        "pkg:deb/{}/{}@{}",
        encode(&vendor.to_ascii_lowercase(), &[]),
        encode(name, &[]),
        encode(version, &[])
    );
    if !qualifiers.is_empty() {
        purl.push('?');
        purl.push_str(&qualifiers.join("&"));
    }
    purl
}

/// `pkg:oci/name@sha256%3A…?repository_url=registry/path&tag=t` for an image reference
/// (`registry/path/name:tag`, `name@sha256:…`) and its manifest digest.
#[must_use]
pub fn oci(image_ref: &str, digest: &str) -> String {
    let without_digest = image_ref.split('@').next().unwrap_or(image_ref);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match without_digest[last_slash..].rfind(':') {
        Some(i) => (
            &without_digest[..last_slash + i],
            Some(&without_digest[last_slash + i + 1..]),
        ),
        None => (without_digest, None),
    };
    let name = repo.rsplit('/').next().unwrap_or(repo).to_ascii_lowercase();
    let mut qualifiers = Vec::new();
    if repo.contains('/') {
        qualifiers.push(format!("repository_url={}", encode(repo, b"/")));
    }
    if let Some(t) = tag.filter(|t| !t.is_empty()) {
        qualifiers.push(format!("tag={}", encode(t, &[])));
    }
    let mut purl = format!("pkg:oci/{}@{}", encode(&name, &[]), encode(digest, &[]));
    if !qualifiers.is_empty() {
        purl.push('?');
        purl.push_str(&qualifiers.join("&"));
    }
    purl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_per_type() {
        assert_eq!(
            golang("github.com/BurntSushi/toml", "v1.2.3"),
            "pkg:golang/github.com/BurntSushi/toml@v1.2.3"
        );
        assert_eq!(pypi("Zope.Interface", "5.0"), "pkg:pypi/zope-interface@5.0");
        assert_eq!(npm("@babel/core", "7.0.0"), "pkg:npm/%40babel/core@7.0.0");
        assert_eq!(npm("lodash", "4.17.20"), "pkg:npm/lodash@4.17.20");
        assert_eq!(
            deb(
                "debian",
                "libc6",
                "1:2.36-9+deb12u4",
                Some("amd64"),
                Some("debian-12"),
                Some("glibc")
            ),
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            oci("registry.local:5000/team/API:1.0", "sha256:ab"),
            "pkg:oci/api@sha256%3Aab?repository_url=registry.local%3A5000/team/API&tag=1.0"
        );
        assert_eq!(oci("api", "sha256:ab"), "pkg:oci/api@sha256%3Aab");
    }
}
