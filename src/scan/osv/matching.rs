//! The OSV schema's affected-version evaluation: `versions[]` enumerated, then each
//! `SEMVER`/`ECOSYSTEM` range's events sorted by version and walked (`introduced` opens,
//! `fixed` closes, `last_affected` closes after itself, `limit` caps the range); `GIT`
//! ranges and withdrawn records never match. Release-qualified ecosystems (`Debian:12`)
//! are compared as osv-scanner compares them: the releases must agree when both the
//! entry and the query name one.

use super::Ecosystem;
use super::record::{Affected, Range, Record};
use super::version::Version;

/// A package version that a record affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The lowest `fixed` above the version, when the record names one.
    pub fixed: Option<String>,
}

/// Whether `record` affects `name` (already normalised for `eco`) at `version`, in
/// any release.
#[must_use]
pub fn record_affects(
    record: &Record,
    eco: Ecosystem,
    name: &str,
    version: &Version,
) -> Option<Hit> {
    record_affects_in(record, eco, None, name, version)
}

/// `record_affects` for one release of a release-qualified ecosystem (`Some("12")` for
/// Debian 12): an entry for another release (`Debian:11`) is skipped, while an entry
/// without a release applies to all of them.
#[must_use]
pub fn record_affects_in(
    record: &Record,
    eco: Ecosystem,
    release: Option<&str>,
    name: &str,
    version: &Version,
) -> Option<Hit> {
    if record.withdrawn.is_some() {
        return None;
    }
    let mut hit: Option<Hit> = None;
    for affected in &record.affected {
        let Some(pkg) = &affected.package else {
            continue;
        };
        if Ecosystem::from_osv(&pkg.ecosystem) != Some(eco) || eco.normalize_name(&pkg.name) != name
        {
            continue;
        }
        if let (Some(want), Some(entry)) = (release, Ecosystem::release(&pkg.ecosystem))
            && want != entry
        {
            continue;
        }
        if let Some(h) = affected_entry(eco, affected, version) {
            hit = Some(match hit {
                None => h,
                Some(prev) => Hit {
                    fixed: lowest(eco, prev.fixed, h.fixed),
                },
            });
        }
    }
    hit
}

/// One `affected[]` entry against a version (the package is assumed to match).
#[must_use]
pub fn affected_entry(eco: Ecosystem, affected: &Affected, version: &Version) -> Option<Hit> {
    let mut hit = None;
    if affected
        .versions
        .iter()
        .any(|v| Version::parse(eco, v) == *version)
    {
        hit = Some(Hit { fixed: None });
    }
    for range in &affected.ranges {
        if !(range.kind == "SEMVER" || range.kind == "ECOSYSTEM") {
            continue; // GIT ranges name commits, not versions
        }
        if let Some(h) = range_affects(eco, range, version) {
            let prev = hit.map(|p: Hit| p.fixed).unwrap_or_default();
            hit = Some(Hit {
                fixed: lowest(eco, prev, h.fixed),
            });
        }
    }
    hit
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Introduced,
    LastAffected,
    Fixed,
    Limit,
}

/// One range: the schema's `isAffected` walk over events sorted by version.
#[must_use]
pub fn range_affects(eco: Ecosystem, range: &Range, version: &Version) -> Option<Hit> {
    // `None` is the schema's "0": before every version
    let mut events: Vec<(Option<Version>, Kind)> = Vec::with_capacity(range.events.len());
    for e in &range.events {
        let (text, kind) = match (&e.introduced, &e.fixed, &e.last_affected, &e.limit) {
            (Some(t), _, _, _) => (t, Kind::Introduced),
            (_, Some(t), _, _) => (t, Kind::Fixed),
            (_, _, Some(t), _) => (t, Kind::LastAffected),
            (_, _, _, Some(t)) => (t, Kind::Limit),
            _ => continue,
        };
        let v = if kind == Kind::Introduced && text == "0" {
            None
        } else if kind == Kind::Limit && text == "*" {
            continue; // `*` is "no limit"
        } else {
            Some(Version::parse(eco, text))
        };
        events.push((v, kind));
    }
    events.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));

    let limits: Vec<&Version> = events
        .iter()
        .filter(|(_, k)| *k == Kind::Limit)
        .filter_map(|(v, _)| v.as_ref())
        .collect();
    if !limits.is_empty() && !limits.iter().any(|l| version < *l) {
        return None;
    }
    let mut affected = false;
    for (v, kind) in &events {
        match (kind, v) {
            (Kind::Introduced, None) => affected = true,
            (Kind::Introduced, Some(v)) if version >= v => affected = true,
            (Kind::Fixed, Some(v)) if version >= v => affected = false,
            (Kind::LastAffected, Some(v)) if version > v => affected = false,
            _ => {}
        }
    }
    if !affected {
        return None;
    }
    let fixed = events
        .iter()
        .filter(|(_, k)| *k == Kind::Fixed)
        .filter_map(|(v, _)| v.as_ref())
        .find(|v| *v > version)
        .map(|v| v.as_str().to_string());
    Some(Hit { fixed })
}

fn lowest(eco: Ecosystem, a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if Version::parse(eco, &b) < Version::parse(eco, &a) {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::osv::record::Event;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let slot = match kind {
            "introduced" => &mut e.introduced,
            "fixed" => &mut e.fixed,
            "last_affected" => &mut e.last_affected,
            _ => &mut e.limit,
        };
        *slot = Some(v.to_string());
        e
    }

    fn range(kind: &str, events: &[(&str, &str)]) -> Range {
        Range {
            kind: kind.into(),
            events: events.iter().map(|(k, v)| ev(k, v)).collect(),
        }
    }

    fn hit(eco: Ecosystem, r: &Range, v: &str) -> Option<Option<String>> {
        range_affects(eco, r, &Version::parse(eco, v)).map(|h| h.fixed)
    }

    #[test]
    fn introduced_fixed_and_multiple_intervals() {
        // minimist's GHSA-xvch-5gv4-984h: two intervals, events deliberately unsorted
        let r = range(
            "SEMVER",
            &[
                ("introduced", "1.0.0"),
                ("fixed", "1.2.6"),
                ("introduced", "0"),
                ("fixed", "0.2.4"),
            ],
        );
        let npm = Ecosystem::Npm;
        assert_eq!(hit(npm, &r, "0.0.1"), Some(Some("0.2.4".into())));
        assert_eq!(hit(npm, &r, "0.2.4"), None);
        assert_eq!(hit(npm, &r, "0.9.9"), None);
        assert_eq!(hit(npm, &r, "1.0.0"), Some(Some("1.2.6".into())));
        assert_eq!(hit(npm, &r, "1.2.5"), Some(Some("1.2.6".into())));
        assert_eq!(hit(npm, &r, "1.2.6-rc.1"), Some(Some("1.2.6".into())));
        assert_eq!(hit(npm, &r, "1.2.6"), None);
    }

    #[test]
    fn last_affected_is_inclusive_and_limit_caps() {
        let py = Ecosystem::PyPI;
        let r = range(
            "ECOSYSTEM",
            &[("introduced", "0"), ("last_affected", "0.18.0")],
        );
        assert_eq!(hit(py, &r, "0.18.0"), Some(None));
        assert_eq!(hit(py, &r, "0.18.0.post1"), None);
        assert_eq!(hit(py, &r, "0.18.1"), None);
        let r = range("ECOSYSTEM", &[("introduced", "1.0"), ("limit", "2.0")]);
        assert_eq!(hit(py, &r, "1.5"), Some(None));
        assert_eq!(hit(py, &r, "2.0"), None);
        assert_eq!(hit(py, &r, "0.9"), None);
        let r = range("ECOSYSTEM", &[("introduced", "1.0"), ("limit", "*")]);
        assert_eq!(hit(py, &r, "9.0"), Some(None));
    }

    #[test]
    fn git_ranges_and_withdrawn_records_never_match() {
        let go = Ecosystem::Go;
        let affected = Affected {
            package: Some(super::super::record::PackageRef {
                ecosystem: "Go".into(),
                name: "example.com/m".into(),
            }),
            ranges: vec![range("GIT", &[("introduced", "0"), ("fixed", "abc123")])],
            versions: vec!["v1.0.0".into()],
            ..Affected::default()
        };
        let v = Version::parse(go, "v1.0.1");
        assert_eq!(affected_entry(go, &affected, &v), None);
        let v = Version::parse(go, "1.0.0");
        assert_eq!(affected_entry(go, &affected, &v), Some(Hit { fixed: None }));
        let mut record = Record {
            affected: vec![affected],
            ..Record::default()
        };
        assert!(record_affects(&record, go, "example.com/m", &v).is_some());
        assert!(record_affects(&record, go, "example.com/other", &v).is_none());
        record.withdrawn = Some("2024-01-01T00:00:00Z".into());
        assert!(record_affects(&record, go, "example.com/m", &v).is_none());
    }

    #[test]
    fn debian_entries_match_only_their_release() {
        // DSA-5514-1's shape: one source package, a fix per release
        let deb = Ecosystem::Debian;
        let entry = |eco: &str, fixed: &str| Affected {
            package: Some(super::super::record::PackageRef {
                ecosystem: eco.into(),
                name: "glibc".into(),
            }),
            ranges: vec![range("ECOSYSTEM", &[("introduced", "0"), ("fixed", fixed)])],
            ..Affected::default()
        };
        let record = Record {
            affected: vec![
                entry("Debian:11", "2.31-13+deb11u7"),
                entry("Debian:12", "2.36-9+deb12u3"),
            ],
            ..Record::default()
        };
        let at = |release: Option<&str>, v: &str| {
            record_affects_in(&record, deb, release, "glibc", &Version::parse(deb, v))
                .map(|h| h.fixed)
        };
        assert_eq!(
            at(Some("12"), "2.36-9+deb12u1"),
            Some(Some("2.36-9+deb12u3".into()))
        );
        assert_eq!(at(Some("12"), "2.36-9+deb12u3"), None);
        assert_eq!(at(Some("12"), "2.36-9+deb12u14"), None);
        // below bullseye's fix, but a bookworm package is judged by bookworm's entry
        assert_eq!(
            at(Some("12"), "2.31-13+deb11u5"),
            Some(Some("2.36-9+deb12u3".into()))
        );
        assert_eq!(
            at(Some("11"), "2.31-13+deb11u5"),
            Some(Some("2.31-13+deb11u7".into()))
        );
        assert_eq!(at(Some("11"), "2.31-13+deb11u7"), None);
        assert_eq!(at(Some("13"), "2.36-9"), None);
        // the binary package's name is not the source package's
        let v = Version::parse(deb, "2.36-9");
        assert!(record_affects_in(&record, deb, Some("12"), "libc6", &v).is_none());
        // an entry without a release applies to every release
        let any = Record {
            affected: vec![entry("Debian", "2.36-9+deb12u3")],
            ..Record::default()
        };
        assert!(record_affects_in(&any, deb, Some("12"), "glibc", &v).is_some());
    }
}
