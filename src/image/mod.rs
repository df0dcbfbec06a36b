//! The image stage's engines: container images written by isect itself (`oci`), built by
//! the Docker Engine (`docker`), bases assembled from Debian packages (`debian`), pushed to
//! a registry (`registry`), inspected for what they contain (`inspect`), described by a
//! CycloneDX SBOM (`sbom`) and signed with SLSA provenance (`sign`). Nothing here prints
//! or knows about pipelines: `exec` calls these inside steps.

pub mod debian;
pub mod docker;
pub mod inspect;
pub mod oci;
pub mod registry;
pub mod sbom;
pub mod sign;

/// RFC 3339 UTC (`2024-01-02T03:04:05Z`) for seconds since the Unix epoch: image configs,
/// SBOMs and provenance all write times this way.
#[must_use]
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(i64::MAX / 2);
    let secs = unix_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
