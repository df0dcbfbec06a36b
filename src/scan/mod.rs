//! The scan stage's engines: each scanner reads a service's files (and, for dependencies,
//! an OSV database) and returns `Findings` with severities. Nothing here prints or runs a
//! pipeline: `exec` calls a scanner inside a step, applies the gate and writes SARIF.
//!
//! - `secrets`: gitleaks-format rules, keyword prefilter, entropy, baselines.
//! - `osv`: OSV records, per-ecosystem version ordering, lockfiles, the offline database.
//! - `sast`: `go vet`, bandit, and isect's own rules.
//! - `licenses`: SPDX allow/deny lists over what lockfiles and metadata declare.
//! - `iac`: Terraform misconfigurations.
//! - `sarif`: SARIF 2.1.0 out.

pub mod finding;

pub use finding::{Finding, Location, Rule, ScanReport, Scanner, Severity};

/// Where a scan step leaves its report (JSON), workspace-relative: a declared output, so a
/// cached scan restores it and the run's SARIF can always be assembled.
#[must_use]
pub fn report_path(out_dir: &str, scanner: Scanner) -> String {
    format!("{out_dir}/reports/scan/{scanner}.json")
}
pub mod iac;
pub mod licenses;
pub mod osv;
pub mod sarif;
pub mod sast;
pub mod secrets;
