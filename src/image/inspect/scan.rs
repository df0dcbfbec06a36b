//! The image scan: an image's packages matched against the offline OSV database with
//! the dependency scan's matching (`scan::osv::matching`), one finding per (package,
//! file, advisory), located at the file inside the image as a relative URI.
//!
//! Debian packages are matched as osv-scanner matches them: by source package (OSV's
//! Debian records name source packages), with the installed binary version, against
//! the affected entries of the image's release (`Debian:<VERSION_ID>` from
//! os-release). An image whose release is unknown has its dpkg packages listed only.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::json;

use super::{ImageContents, ImagePackage, OsInfo, PackageEcosystem};
use crate::scan::finding::fingerprint;
use crate::scan::osv::cvss::rate;
use crate::scan::osv::matching::record_affects_in;
use crate::scan::osv::scan::{advisory_message, advisory_properties, advisory_rule};
use crate::scan::osv::vulndb::{STALE_AFTER_DAYS, is_stale, stale_warning};
use crate::scan::osv::{Database, DepsError, Ecosystem, Record, Version};
use crate::scan::{Finding, Location, Rule, ScanReport, Scanner, Severity};

/// The tool name image findings carry.
pub const TOOL: &str = "isect-image";

/// Scan `contents` against `db`. `image` prefixes every finding's path
/// (`<image>/<path in image>`): a relative, URI-safe name such as `image/api`, so SARIF
/// viewers show `image/api/usr/lib/python3/dist-packages/x.dist-info/METADATA`.
pub fn scan_image(
    contents: &ImageContents,
    image: &str,
    db: &Database,
) -> Result<ScanReport, DepsError> {
    scan_image_with(contents, image, db, STALE_AFTER_DAYS, SystemTime::now())
}

/// `scan_image` with the database staleness threshold and the time to measure it from.
pub fn scan_image_with(
    contents: &ImageContents,
    image: &str,
    db: &Database,
    max_age_days: u64,
    now: SystemTime,
) -> Result<ScanReport, DepsError> {
    let mut report = ScanReport::new(Scanner::Image, TOOL, env!("CARGO_PKG_VERSION"));
    report.notes.extend(contents.notes.iter().cloned());
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    let mut seen: BTreeSet<Ecosystem> = BTreeSet::new();
    let mut unmatched: BTreeMap<PackageEcosystem, usize> = BTreeMap::new();
    let debian_release = debian_release(contents.os.as_ref());
    for pkg in &contents.packages {
        let (eco, release, name) = match pkg.ecosystem {
            Ecosystem::Debian => {
                let Some(release) = debian_release else {
                    *unmatched.entry(pkg.ecosystem).or_default() += 1;
                    continue;
                };
                // OSV's Debian records are by source package
                let name = pkg.source.as_deref().unwrap_or(&pkg.name);
                (Ecosystem::Debian, Some(release), name)
            }
            eco => (eco, None, pkg.name.as_str()),
        };
        let Some(index) = db.index(eco)? else {
            if seen.insert(eco) {
                report.notes.push(format!(
                    "no {eco} database in {}: run `isect vulndb import`",
                    db.dir().display()
                ));
            }
            continue;
        };
        if seen.insert(eco) && is_stale(index.newest_modified.as_deref(), now, max_age_days) {
            report.notes.push(stale_warning(
                eco.as_str(),
                index.newest_modified.as_deref(),
                db.dir(),
            ));
        }
        let name = eco.normalize_name(name);
        let version = Version::parse(eco, &pkg.version);
        for record in index.lookup(&name)? {
            let Some(hit) = record_affects_in(&record, eco, release, &name, &version) else {
                continue;
            };
            let f = finding(image, pkg, eco, &record, hit.fixed.as_deref());
            rules
                .entry(record.id.clone())
                .or_insert_with(|| rule(&record, f.severity));
            report.findings.push(f);
        }
    }
    for (eco, n) in unmatched {
        report.notes.push(if eco == PackageEcosystem::Debian {
            format!(
                "{n} Debian package(s) listed but not matched: {}",
                match contents.os.as_ref() {
                    Some(os) if os.id != "debian" => format!(
                        "the image's OS is `{}`, and the OSV scan matches dpkg packages only for Debian",
                        os.id
                    ),
                    _ => "the image's Debian release is unknown (no os-release, or no VERSION_ID in it)"
                        .to_string(),
                }
            )
        } else {
            format!(
                "{n} {eco} package(s) listed but not matched: the OSV scan has no {eco} ecosystem yet"
            )
        });
    }
    report.rules = rules.into_values().collect();
    Ok(report)
}

/// The Debian release OSV names the image's packages under (`12` for `Debian:12`): the
/// os-release `VERSION_ID` of a Debian image. Testing and unstable have none.
fn debian_release(os: Option<&OsInfo>) -> Option<&str> {
    os.filter(|o| o.id == "debian")
        .and_then(|o| o.version_id.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A relative URI for a file in the image: each segment percent-encoded where it has
/// characters a URI path cannot hold (spaces, `%`, `#`, `?`).
fn location(image: &str, path: &str) -> String {
    let mut out = String::with_capacity(image.len() + path.len() + 1);
    let joined = format!(
        "{}/{}",
        image.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    for b in joined.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn finding(
    image: &str,
    pkg: &ImagePackage,
    eco: Ecosystem,
    record: &Record,
    fixed: Option<&str>,
) -> Finding {
    let rated = rate(record);
    let fixed = fixed.map(|f| {
        if eco == Ecosystem::Go && pkg.name != "stdlib" && !f.starts_with('v') {
            format!("v{f}")
        } else {
            f.to_string()
        }
    });
    let subject = match (&pkg.source, eco) {
        (Some(source), Ecosystem::Debian) => format!(
            "{} {} (Debian source package {source}, in /{})",
            pkg.name, pkg.version, pkg.path_in_image
        ),
        _ => format!(
            "{} {} ({eco}, in /{})",
            pkg.name, pkg.version, pkg.path_in_image
        ),
    };
    let message = advisory_message(&subject, record, fixed.as_deref());
    let mut properties = advisory_properties(record, fixed.as_deref());
    properties.insert("package".to_string(), json!(pkg.name));
    properties.insert("version".to_string(), json!(pkg.version));
    properties.insert("ecosystem".to_string(), json!(eco.as_str()));
    properties.insert("purl".to_string(), json!(pkg.purl));
    properties.insert("path_in_image".to_string(), json!(pkg.path_in_image));
    if let Some(source) = pkg.source.as_ref().filter(|_| eco == Ecosystem::Debian) {
        properties.insert("source_package".to_string(), json!(source));
    }
    if !record.upstream.is_empty() {
        properties.insert("upstream".to_string(), json!(record.upstream));
    }
    Finding {
        rule_id: record.id.clone(),
        severity: rated.severity,
        message,
        location: Location::line(location(image, &pkg.path_in_image), 0),
        fingerprint: fingerprint(&[
            "image",
            image,
            &pkg.path_in_image,
            eco.as_str(),
            &pkg.name,
            &pkg.version,
            &record.id,
        ]),
        properties,
    }
}

fn rule(record: &Record, severity: Severity) -> Rule {
    advisory_rule(
        record,
        severity,
        "Rebuild the image with a fixed version of the package (or a base image that has one).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_relative_uris() {
        assert_eq!(
            location("image/api", "/usr/lib/x y/METADATA"),
            "image/api/usr/lib/x%20y/METADATA"
        );
        assert_eq!(location("", "a#b"), "a%23b");
    }
}
