//! Image references (`host:port/repo/name:tag@sha256:…`), split the way Docker does.

use std::fmt;
use std::str::FromStr;

use super::RegistryError;

/// Docker Hub's API host, for references without a registry part (`alpine:3`).
pub const DOCKER_HUB: &str = "registry-1.docker.io";

/// A parsed image reference: registry host, repository path, optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]`, e.g. `127.0.0.1:5000` or `ghcr.io`.
    pub registry: String,
    /// The repository path inside the registry, e.g. `platform/auth-service`.
    pub repository: String,
    /// The tag, when one was given.
    pub tag: Option<String>,
    /// The content digest (`sha256:<hex>`), when one was given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `registry/repo[:tag][@sha256:hex]`; the first path part is a registry when it
    /// has a `.` or `:` or is `localhost`, as in Docker, otherwise Docker Hub is meant.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::BadReference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad("empty reference"));
        }
        let (name_tag, digest) = match s_trim.split_once('@') {
            Some((n, d)) => {
                validate_digest(d).map_err(|r| bad(&r))?;
                (n, Some(d.to_string()))
            }
            None => (s_trim, None),
        };
        // A tag is after the last ':' only when no '/' follows it (else it is a port).
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i..].contains('/') => {
                (&name_tag[..i], Some(name_tag[i + 1..].to_string()))
            }
            _ => (name_tag, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && !t.starts_with(['.', '-']);
            if !ok {
                return Err(bad(
                    "a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                ));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ if name.contains('/') => (DOCKER_HUB.to_string(), name.to_string()),
            _ => (DOCKER_HUB.to_string(), format!("library/{name}")),
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            });
        if !repo_ok {
            return Err(bad(
                "a repository is lowercase path parts of [a-z0-9._-] separated by /",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when pinned, else the tag, else `latest`.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository`, with no tag or digest (cosign's `docker-reference`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True for registries on this machine, which are spoken to over plain HTTP.
    pub fn is_local(&self) -> bool {
        is_local_registry(&self.registry)
    }

    /// The same repository pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository at `tag`, without a digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// True for `localhost` and loopback addresses, with or without a port.
pub fn is_local_registry(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.starts_with("127.")
}

/// Checks `sha256:<64 lowercase hex>`, the only algorithm isect writes or accepts.
pub fn validate_digest(d: &str) -> Result<(), String> {
    match d.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Ok(())
        }
        _ => Err(format!("`{d}` is not a sha256:<64 hex> digest")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_local_registry_with_port_and_tag() {
        let r = Reference::parse("127.0.0.1:5000/platform/auth-service:v1.2").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "platform/auth-service");
        assert_eq!(r.tag.as_deref(), Some("v1.2"));
        assert_eq!(r.digest, None);
        assert!(r.is_local());
        assert_eq!(r.to_string(), "127.0.0.1:5000/platform/auth-service:v1.2");
    }

    #[test]
    fn parses_digest_and_tag_plus_digest() {
        let r = Reference::parse(&format!("localhost:5000/a/b@{D}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.tag, None);
        assert_eq!(r.reference(), D);
        let r = Reference::parse(&format!("ghcr.io/org/app:main@{D}")).unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.tag.as_deref(), Some("main"));
        assert_eq!(r.reference(), D);
        assert!(!r.is_local());
    }

    #[test]
    fn docker_hub_defaults() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.registry, DOCKER_HUB);
        assert_eq!(r.repository, "library/alpine");
        assert_eq!(r.reference(), "latest");
        let r = Reference::parse("grafana/loki:3").unwrap();
        assert_eq!(r.repository, "grafana/loki");
        // a port without a tag is not mistaken for a tag
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("localhost:5000", None));
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "x:-tag",
            "x@sha256:12",
            "x@md5:abc",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        let e = Reference::parse("x@sha256:12").unwrap_err().to_string();
        assert!(e.contains("sha256:<64 hex>"), "{e}");
    }
}
