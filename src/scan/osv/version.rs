//! Each ecosystem's version ordering: semver 2.0 precedence for npm, Go's semver
//! (leading `v`, pseudo-versions as prereleases, `+incompatible` as build metadata,
//! `go1.21rc2` toolchain names), PEP 440 for PyPI (through `pep440_rs`) and dpkg's
//! ordering for Debian (Debian Policy §5.6.12).

use std::cmp::Ordering;
use std::str::FromStr;

use super::Ecosystem;

/// A version of one ecosystem, parsed once so matching compares without re-parsing.
/// A version that does not parse in its ecosystem falls back to a plain string
/// comparison (against anything), so a malformed version never panics or matches at
/// random: it orders as text.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Sem(SemVer),
    Pep(Box<pep440_rs::Version>),
    Deb(DebVersion),
    Raw,
}

impl Version {
    /// Parse `text` with the ordering of `eco`.
    #[must_use]
    pub fn parse(eco: Ecosystem, text: &str) -> Self {
        let kind = match eco {
            Ecosystem::Go | Ecosystem::Npm => SemVer::parse(text).map_or(Kind::Raw, Kind::Sem),
            Ecosystem::PyPI => pep440_rs::Version::from_str(text.trim())
                .map_or(Kind::Raw, |v| Kind::Pep(Box::new(v))),
            Ecosystem::Debian => DebVersion::parse(text).map_or(Kind::Raw, Kind::Deb),
        };
        Self {
            text: text.to_string(),
            kind,
        }
    }

    /// The text the version was parsed from.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the version parsed in its ecosystem (else it orders as text).
    #[must_use]
    pub fn is_parsed(&self) -> bool {
        !matches!(self.kind, Kind::Raw)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.kind, &other.kind) {
            (Kind::Sem(a), Kind::Sem(b)) => a.cmp(b),
            (Kind::Pep(a), Kind::Pep(b)) => a.cmp(b),
            (Kind::Deb(a), Kind::Deb(b)) => a.cmp(b),
            _ => self.text.cmp(&other.text),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// Compare two version strings in `eco`'s ordering.
#[must_use]
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Ordering {
    Version::parse(eco, a).cmp(&Version::parse(eco, b))
}

/// A semver 2.0 version; build metadata is dropped since it never affects precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    core: [u64; 3],
    pre: Vec<Ident>,
}

/// A prerelease identifier: numeric ones order numerically and below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    /// Digits without leading zeros; compared by length then text, so a 14-digit
    /// pseudo-version timestamp or a longer number never overflows.
    Num(String),
    Alpha(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Self::Num(_), Self::Alpha(_)) => Ordering::Less,
            (Self::Alpha(_), Self::Num(_)) => Ordering::Greater,
            (Self::Alpha(a), Self::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SemVer {
    /// Lenient parse: an optional `v`, `=` or `go` prefix, one to three numeric parts
    /// (missing ones are 0, as `go1.21` is `1.21.0`), a `-prerelease`, for Go
    /// toolchains letters straight after the numbers (`go1.21rc2` → `1.21.0-rc.2`),
    /// and `+build` ignored.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let s = text.trim();
        let toolchain = s.starts_with("go");
        let s = s.strip_prefix("go").unwrap_or(s);
        let s = s.trim_start_matches(['v', 'V', '=']);
        let s = s.split('+').next().unwrap_or_default();
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (nums, rest) = s.split_at(num_end);
        if nums.ends_with('.') {
            return None;
        }
        let mut core = [0u64; 3];
        let parts: Vec<&str> = nums.split('.').collect();
        if nums.is_empty() || parts.len() > 3 {
            return None;
        }
        for (slot, part) in core.iter_mut().zip(&parts) {
            *slot = part.parse().ok()?;
        }
        let pre = match rest.strip_prefix('-') {
            Some(p) => p.split('.').map(Ident::parse).collect::<Option<_>>()?,
            None if rest.is_empty() => Vec::new(),
            // Go toolchains: `rc2` is `rc` then 2, so that rc10 is above rc2
            None if toolchain && rest.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                let split = rest
                    .find(|c: char| c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let (word, num) = rest.split_at(split);
                let mut pre = vec![Ident::parse(word)?];
                if !num.is_empty() {
                    pre.push(Ident::parse(num)?);
                }
                pre
            }
            None => return None,
        };
        Some(Self { core, pre })
    }
}

impl Ident {
    fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return None;
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            let trimmed = s.trim_start_matches('0');
            Some(Self::Num(
                if trimmed.is_empty() { "0" } else { trimmed }.to_string(),
            ))
        } else {
            Some(Self::Alpha(s.to_string()))
        }
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // a release is above all of its prereleases
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A Debian package version, `[epoch:]upstream_version[-debian_revision]`, ordered as
/// dpkg orders it (Debian Policy §5.6.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion {
    /// Digits without leading zeros, compared by length then text (no overflow).
    epoch: String,
    upstream: String,
    /// Empty when the version has no `-`, which dpkg orders as `0`.
    revision: String,
}

impl DebVersion {
    /// Parse as dpkg does: the epoch is everything before the first `:` (digits only),
    /// the revision everything after the last `-`. `None` for an empty part, a
    /// non-numeric epoch or a character dpkg does not allow in versions.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let s = text.trim();
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (e.trim_start_matches('0'), rest)
            }
            None => ("", s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() || (rest.contains('-') && revision.is_empty()) {
            return None;
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"+.~-:".contains(&b);
        if !upstream.bytes().all(allowed) || !revision.bytes().all(allowed) {
            return None;
        }
        Some(Self {
            epoch: if epoch.is_empty() { "0" } else { epoch }.to_string(),
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .len()
            .cmp(&other.epoch.len())
            .then_with(|| self.epoch.cmp(&other.epoch))
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// dpkg's weight of a character in a non-digit run: `~` below the end of the string,
/// letters below every other character (`None` is the end, weighing 0 like a digit).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit runs (by `order`) and digit runs (as
/// numbers, of any length) until one side differs.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while a.get(i).is_some_and(|c| !c.is_ascii_digit())
            || b.get(j).is_some_and(|c| !c.is_ascii_digit())
        {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let digits = |s: &[u8], mut k: usize| {
            while s.get(k) == Some(&b'0') {
                k += 1;
            }
            let start = k;
            while s.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            (start, k)
        };
        let ((sa, ea), (sb, eb)) = (digits(a, i), digits(b, j));
        let by_number = (ea - sa)
            .cmp(&(eb - sb))
            .then_with(|| a[sa..ea].cmp(&b[sb..eb]));
        if by_number != Ordering::Equal {
            return by_number;
        }
        (i, j) = (ea, eb);
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(eco: Ecosystem, table: &[(&str, &str, Ordering)]) {
        for (a, b, want) in table {
            assert_eq!(compare(eco, a, b), *want, "{eco:?}: {a} vs {b}");
            assert_eq!(compare(eco, b, a), want.reverse(), "{eco:?}: {b} vs {a}");
        }
    }

    use Ordering::{Equal as E, Greater as G, Less as L};

    #[test]
    fn npm_semver_precedence() {
        check(
            Ecosystem::Npm,
            &[
                ("1.0.0-alpha", "1.0.0-alpha.1", L),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta", L),
                ("1.0.0-alpha.beta", "1.0.0-beta", L),
                ("1.0.0-beta", "1.0.0-beta.2", L),
                ("1.0.0-beta.2", "1.0.0-beta.11", L),
                ("1.0.0-beta.11", "1.0.0-rc.1", L),
                ("1.0.0-rc.1", "1.0.0", L),
                ("1.0.0-1", "1.0.0-a", L),
                ("1.0.0+build.5", "1.0.0", E),
                ("1.0.0-rc.1+b", "1.0.0-rc.1+c", E),
                ("4.17.20", "4.17.21", L),
                ("1.2.5", "1.2.6", L),
                ("10.0.0", "9.99.99", G),
                ("2.0.0", "1.99.99", G),
                ("1.10.0", "1.9.0", G),
                ("v1.2.3", "1.2.3", E),
                ("0.2.4", "0.2.3", G),
                ("1.0.0-x-y", "1.0.0-x", G),
            ],
        );
    }

    #[test]
    fn go_semver_pseudo_versions_and_toolchains() {
        check(
            Ecosystem::Go,
            &[
                ("v0.0.0-20210101000000-abcdef123456", "v0.0.1", L),
                (
                    "v0.0.0-20210101000000-abcdef123456",
                    "v0.0.0-20220101000000-abcdef123456",
                    L,
                ),
                (
                    "0.0.0-20220906165146-f3363e06e74c",
                    "v0.0.0-20220906165146-f3363e06e74c",
                    E,
                ),
                (
                    "v0.0.0-20220906000000-aaaaaaaaaaaa",
                    "0.0.0-20220906165146-f3363e06e74c",
                    L,
                ),
                ("v1.2.4-0.20210101000000-abcdef123456", "v1.2.3", G),
                ("v1.2.4-0.20210101000000-abcdef123456", "v1.2.4", L),
                ("v1.2.4-0.20210101000000-abcdef123456", "v1.2.4-pre", L),
                ("v1.2.3-pre.0.20210101000000-abcdef123456", "v1.2.3-pre", G),
                ("v1.2.3-pre.0.20210101000000-abcdef123456", "v1.2.3", L),
                ("v2.0.0+incompatible", "v2.0.0", E),
                ("v2.1.0+incompatible", "v2.0.9", G),
                ("v0.13.0", "0.7.0", G),
                ("v1.10.0", "v1.9.9", G),
                ("go1.19.2", "go1.19.10", L),
                ("go1.21rc2", "go1.21.0", L),
                ("go1.21rc2", "go1.21rc10", L),
                ("go1.20", "1.20.0", E),
                ("1.18.6", "go1.19", L),
            ],
        );
    }

    #[test]
    fn pypi_pep440() {
        check(
            Ecosystem::PyPI,
            &[
                ("1.0.dev0", "1.0a1", L),
                ("1.0a1.dev1", "1.0a1", L),
                ("1.0a1", "1.0a2", L),
                ("1.0a2", "1.0b1", L),
                ("1.0b1", "1.0rc1", L),
                ("1.0c1", "1.0rc1", E),
                ("1.0rc1", "1.0", L),
                ("1.0", "1.0.post1", L),
                ("1.0.post1.dev1", "1.0.post1", L),
                ("1.0-1", "1.0.post1", E),
                ("1.0.post1", "1.0.1", L),
                ("1.0", "1.0+local", L),
                ("1.0+abc", "1.0+abc.1", L),
                ("1.0+abc", "1.0+1", L),
                ("1!0.1", "2.0", G),
                ("1.0", "1.0.0.0", E),
                ("1.10", "1.9", G),
                ("2.31.0", "2.30.99", G),
                ("V2.0", "2.0", E),
            ],
        );
    }

    #[test]
    fn debian_dpkg_ordering() {
        check(
            Ecosystem::Debian,
            &[
                ("1.0~rc1", "1.0", L),
                ("1.0~~", "1.0~", L),
                ("1.0~", "1.0~a", L),
                ("1.0~rc1", "1.0~beta2", G),
                ("1.0", "1.0a", L),
                ("1.0a", "1.0+", L),
                ("1.0A", "1.0a", L),
                ("1:0.9", "2.0", G),
                ("10:1.0", "9:2.0", G),
                ("0:1.0", "1.0", E),
                ("1.0", "1.0-0", E),
                ("1.00", "1.0", E),
                ("1.0.0", "1.0", G),
                ("1.2.10", "1.2.9", G),
                ("2.30-2", "2.30-10", L),
                ("1.2.3+dfsg-1", "1.2.3-1", G),
                ("1.2.3.dfsg-1", "1.2.3+dfsg-1", G),
                ("7.88.1-10+deb12u5", "7.88.1-10+deb12u7", L),
                ("2.36-9+deb12u4", "2.36-9+deb12u10", L),
                ("3.0.11-1~deb12u2", "3.0.11-1", L),
                ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2", L),
                ("1.0-1+b1", "1.0-1", G),
                ("1:1.2.13.dfsg-1", "1.2.13.dfsg-1", G),
                ("1:1.2.11.dfsg-2+deb11u2", "1:1.2.13.dfsg-1", L),
                ("a-b-2", "a-b-10", L),
            ],
        );
        assert!(Version::parse(Ecosystem::Debian, "1:2.0-1").is_parsed());
        for bad in ["", "x:1.0", ":1.0", "1.0-", "1.0 beta", "1.0_1"] {
            assert!(!Version::parse(Ecosystem::Debian, bad).is_parsed(), "{bad}");
        }
    }

    #[test]
    fn unparseable_versions_fall_back_to_text() {
        let bad = Version::parse(Ecosystem::PyPI, "not a version");
        assert!(!bad.is_parsed());
        assert_eq!(compare(Ecosystem::PyPI, "abc", "abd"), L);
        assert!(!Version::parse(Ecosystem::Npm, "1.2.x").is_parsed());
        assert!(Version::parse(Ecosystem::Go, "v1.2.3").is_parsed());
    }
}
