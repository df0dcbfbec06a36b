//! CVSS 3.x base scores from a vector string (FIRST's CVSS v3.1 specification, §7.1 and
//! the `Roundup` of Appendix A), and a record's `Severity`.
//!
//! CVSS v4 vectors are not scored here (the v4 score is a lookup over macro-vectors, not
//! a formula): a record with only a v4 vector falls back to GitHub's
//! `database_specific.severity`, then to Medium.

use super::record::{Record, SeverityEntry};
use crate::scan::Severity;

/// A record's severity and, when a CVSS 3.x vector was scored, the score and vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    pub severity: Severity,
    pub score: Option<f64>,
    pub vector: Option<String>,
}

/// The severity of a record: the highest CVSS 3.x score among its (and its affected
/// entries') vectors, else `database_specific.severity`, else Medium.
#[must_use]
pub fn rate(record: &Record) -> Rated {
    let entries = record
        .severity
        .iter()
        .chain(record.affected.iter().flat_map(|a| a.severity.iter()));
    let best = entries
        .filter(|e: &&SeverityEntry| e.kind.eq_ignore_ascii_case("CVSS_V3"))
        .filter_map(|e| base_score(&e.score).map(|s| (s, e.score.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((score, vector)) = best {
        return Rated {
            severity: Severity::from_cvss_score(score),
            score: Some(score),
            vector: Some(vector),
        };
    }
    let fallback = record
        .database_specific
        .as_ref()
        .and_then(|d| d.severity.as_deref())
        .and_then(|s| s.parse::<Severity>().ok())
        .unwrap_or(Severity::Medium);
    Rated {
        severity: fallback,
        score: None,
        vector: None,
    }
}

/// The CVSS 3.0/3.1 base score of a vector (`CVSS:3.1/AV:N/AC:L/…`), or `None` when a
/// base metric is missing or unknown. 3.0 vectors use the 3.1 rounding, as NVD does.
#[must_use]
pub fn base_score(vector: &str) -> Option<f64> {
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    let (mut av, mut ac, mut pr, mut ui, mut scope) = (None, None, None, None, None);
    let (mut c, mut i, mut a) = (None, None, None);
    for part in parts {
        let (key, value) = part.split_once(':')?;
        match key {
            "AV" => {
                av = Some(pick(
                    value,
                    &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)],
                )?)
            }
            "AC" => ac = Some(pick(value, &[("L", 0.77), ("H", 0.44)])?),
            "PR" => pr = Some(value),
            "UI" => ui = Some(pick(value, &[("N", 0.85), ("R", 0.62)])?),
            "S" => scope = Some(value),
            "C" => c = Some(cia(value)?),
            "I" => i = Some(cia(value)?),
            "A" => a = Some(cia(value)?),
            _ => {} // temporal and environmental metrics do not change the base score
        }
    }
    let changed = match scope? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let pr = match (pr?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let iss = 1.0 - (1.0 - c?) * (1.0 - i?) * (1.0 - a?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av? * ac? * pr * ui?;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(roundup(raw))
}

fn pick(value: &str, table: &[(&str, f64)]) -> Option<f64> {
    table.iter().find(|(k, _)| *k == value).map(|(_, w)| *w)
}

fn cia(value: &str) -> Option<f64> {
    pick(value, &[("H", 0.56), ("L", 0.22), ("N", 0.0)])
}

/// CVSS 3.1 Appendix A: the smallest one-decimal number ≥ the input, computed on
/// integers so that 4.000000000001 does not become 4.1.
fn roundup(input: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation)]
    let int_input = (input * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::osv::record::DatabaseSpecific;

    #[test]
    fn known_cvss31_vectors() {
        for (vector, want) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N/E:U", 1.6),
        ] {
            assert_eq!(base_score(vector), Some(want), "{vector}");
        }
        assert_eq!(base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H"), None);
        assert_eq!(base_score("CVSS:3.1/AV:X/AC:L"), None);
        assert_eq!(roundup(4.000_000_000_01), 4.0);
        assert_eq!(roundup(4.02), 4.1);
    }

    #[test]
    fn severity_falls_back_to_database_specific_then_medium() {
        let mut r = Record {
            severity: vec![SeverityEntry {
                kind: "CVSS_V4".into(),
                score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".into(),
            }],
            ..Record::default()
        };
        assert_eq!(rate(&r).severity, Severity::Medium);
        r.database_specific = Some(DatabaseSpecific {
            severity: Some("CRITICAL".into()),
        });
        assert_eq!(rate(&r).severity, Severity::Critical);
        r.severity.push(SeverityEntry {
            kind: "CVSS_V3".into(),
            score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N".into(),
        });
        let rated = rate(&r);
        assert_eq!((rated.severity, rated.score), (Severity::Medium, Some(6.1)));
    }
}
