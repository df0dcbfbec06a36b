//! Licences: what a service's third-party packages declare (Python METADATA, npm's
//! package-lock, vendored Go LICENSE files), judged against the SPDX allow/deny lists of
//! isect.toml's `[scan.licenses]`.
//!
//! Severities: a denied licence is High (shipping it may breach the policy's legal
//! reason); one outside a non-empty allow list is Medium (it needs a review, not
//! necessarily a removal); an unknown licence (none declared, or a name that is not an
//! SPDX id isect can map) is Medium by default, `unknown = "..."` to change it, since it
//! can hide either. Go modules that are not vendored are a note, not a finding: their
//! licence cannot be read offline. First-party packages (local paths, editable installs,
//! the service itself, npm workspace links) are skipped.

mod python;
mod sources;
mod spdx;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::finding::{Finding, Location, Rule, ScanReport, Scanner, Severity, fingerprint};
use sources::Package;
use spdx::Term;

/// `[scan.licenses]` of isect.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicensePolicy {
    /// SPDX ids allowed; when non-empty, anything else is a finding.
    #[serde(default)]
    pub allow: Vec<String>,
    /// SPDX ids denied (an id also denies its `-only`/`-or-later` variants).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Severity of an unknown licence; Medium when not set.
    #[serde(default)]
    pub unknown: Option<Severity>,
}

/// Why the licence scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    #[error("{path}: cannot read it: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: does not parse: {message}; fix the file so its packages can be checked"
    )]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

const DENIED: &str = "license-denied";
const NOT_ALLOWED: &str = "license-not-allowed";
const UNKNOWN: &str = "license-unknown";

/// The rules, with the policy's unknown severity.
#[must_use]
pub fn rules(policy: &LicensePolicy) -> Vec<Rule> {
    let rule = |id: &str, description: &str, help: &str, severity| Rule {
        id: id.to_string(),
        description: description.to_string(),
        help: Some(help.to_string()),
        help_uri: None,
        severity,
    };
    vec![
        rule(
            DENIED,
            "A dependency's licence is denied by isect.toml [scan.licenses]",
            "Replace the package, or get the licence approved and take it off the deny list.",
            Severity::High,
        ),
        rule(
            NOT_ALLOWED,
            "A dependency's licence is not in the allow list of isect.toml [scan.licenses]",
            "Review the licence; add its SPDX id to `allow` if it is acceptable, or replace the package.",
            Severity::Medium,
        ),
        rule(
            UNKNOWN,
            "A dependency's licence is missing or is not an SPDX identifier",
            "Check the package's licence by hand; add its SPDX id to `allow` if isect does not know it, or ask upstream for an SPDX `license` field.",
            policy.unknown.unwrap_or(Severity::Medium),
        ),
    ]
}

/// The interpreter's site-packages folders (`python3 -c 'import site; …'`), for services
/// without their own virtualenv. Empty when there is no Python.
#[must_use]
pub fn python_site_packages() -> Vec<PathBuf> {
    let script =
        "import site\nprint('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))";
    for python in ["python3", "python"] {
        if let Ok(out) = std::process::Command::new(python)
            .args(["-c", script])
            .output()
            && out.status.success()
        {
            return String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(PathBuf::from)
                .filter(|p| p.is_dir())
                .collect();
        }
    }
    Vec::new()
}

/// How a package's licence stands against the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Allowed,
    NotAllowed,
    Unknown,
    Denied,
}

/// `GPL-3.0-only` → `gpl-3.0`: a denied id denies its only/or-later variants.
fn family(id: &str) -> String {
    let id = id.to_ascii_lowercase();
    id.trim_end_matches("-only")
        .trim_end_matches("-or-later")
        .trim_end_matches('+')
        .to_string()
}

fn judge_term(term: &Term, policy: &LicensePolicy) -> Verdict {
    let Term::Known(ids) = term else {
        return Verdict::Unknown;
    };
    let denied = |id: &String| policy.deny.iter().any(|d| family(d) == family(id));
    let allowed = |id: &String| {
        policy.allow.iter().any(|a| {
            spdx::canonical_id(a, &policy.allow).is_some_and(|a| a.eq_ignore_ascii_case(id))
        })
    };
    if ids.iter().all(denied) {
        Verdict::Denied
    } else if policy.allow.is_empty() {
        if ids.iter().any(denied) {
            Verdict::Unknown
        } else {
            Verdict::Allowed
        }
    } else if ids.iter().all(allowed) {
        Verdict::Allowed
    } else if ids.iter().any(allowed) {
        // An ambiguous name, partly allowed: it needs a look.
        Verdict::Unknown
    } else {
        Verdict::NotAllowed
    }
}

/// An expression is allowed when one alternative is wholly allowed, denied when every
/// alternative contains a denied licence.
fn judge(pkg: &Package, policy: &LicensePolicy) -> Verdict {
    if pkg.dnf.is_empty() {
        return Verdict::Unknown;
    }
    let alts: Vec<Verdict> = pkg
        .dnf
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|t| judge_term(t, policy))
                .max()
                .unwrap_or(Verdict::Unknown)
        })
        .collect();
    if alts.contains(&Verdict::Allowed) {
        Verdict::Allowed
    } else if alts.iter().all(|v| *v == Verdict::Denied) {
        Verdict::Denied
    } else if alts.contains(&Verdict::NotAllowed) {
        Verdict::NotAllowed
    } else {
        Verdict::Unknown
    }
}

/// Scans the service folder `root/dir`: Python (`site_packages` for services without a
/// virtualenv, see `python_site_packages`), npm and vendored Go packages.
///
/// # Errors
/// A lockfile or manifest cannot be read or does not parse.
pub fn scan(
    root: &Path,
    dir: &str,
    policy: &LicensePolicy,
    site_packages: &[PathBuf],
) -> Result<ScanReport, LicenseError> {
    let extra: Vec<String> = policy.allow.iter().chain(&policy.deny).cloned().collect();
    let mut report = ScanReport::new(
        Scanner::Licenses,
        "isect-licenses",
        env!("CARGO_PKG_VERSION"),
    );
    report.rules = rules(policy);
    let unknown_severity = policy.unknown.unwrap_or(Severity::Medium);
    let found = [
        python::python(root, dir, site_packages, &extra)?,
        sources::node(root, dir, &extra)?,
        sources::go(root, dir)?,
    ];
    let mut checked = 0;
    for f in found {
        report.notes.extend(f.notes);
        for pkg in f.packages {
            checked += 1;
            let shown = pkg.declared.clone().unwrap_or_default();
            let (rule, severity, why) = match judge(&pkg, policy) {
                Verdict::Allowed => continue,
                Verdict::Denied => (
                    DENIED,
                    Severity::High,
                    format!("{shown} is denied by isect.toml [scan.licenses]"),
                ),
                Verdict::NotAllowed => (
                    NOT_ALLOWED,
                    Severity::Medium,
                    format!("{shown} is not in the allow list of isect.toml [scan.licenses]"),
                ),
                Verdict::Unknown if pkg.declared.is_none() => {
                    (UNKNOWN, unknown_severity, "declares no licence".to_string())
                }
                Verdict::Unknown => (
                    UNKNOWN,
                    unknown_severity,
                    format!("licence \"{shown}\" is not an SPDX identifier isect can judge"),
                ),
            };
            let mut properties = BTreeMap::new();
            properties.insert("package".into(), pkg.name.clone().into());
            properties.insert("version".into(), pkg.version.clone().into());
            properties.insert("ecosystem".into(), pkg.ecosystem.into());
            properties.insert("license".into(), shown.clone().into());
            report.findings.push(Finding {
                rule_id: rule.to_string(),
                severity,
                message: format!("{} {}: {why}", pkg.name, pkg.version),
                fingerprint: fingerprint(&[rule, pkg.ecosystem, &pkg.name, &shown]),
                location: Location::line(pkg.path, pkg.line),
                properties,
            });
        }
    }
    // A service with no third-party packages is the common case, not worth a note.
    let _ = checked;
    Ok(report)
}
