//! The baseline: findings a team accepted (a test fixture, a revoked key), by fingerprint,
//! each with a reason and an optional expiry date after which it is reported again.
//!
//! ```toml
//! [[accepted]]
//! fingerprint = "3f9a2c1d0b7e4a5f8c6d2e1f0a9b8c7d"
//! reason = "test fixture, not a live key"
//! expires = "2027-03-31"        # optional; a TOML date (2027-03-31) works too
//! rule = "aws-access-token"     # optional, for the reader
//! path = "services/auth/test/fixtures.py"  # optional, for the reader
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use toml::{Table, Value};

use super::SecretsError;
use crate::scan::Finding;

/// A calendar date (proleptic Gregorian), ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `None` unless the date exists.
    #[must_use]
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Today in UTC, from the system clock.
    #[must_use]
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_unix_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// Howard Hinnant's `civil_from_days`.
    fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = String;

    /// `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a date: write YYYY-MM-DD, e.g. 2027-03-31");
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (y, m, d) = (next()?, next()?, next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (y, m, d) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        Date::new(y, m, d).ok_or_else(bad)
    }
}

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub fingerprint: String,
    pub reason: String,
    /// The last day the entry silences its finding.
    pub expires: Option<Date>,
    pub rule: Option<String>,
    pub path: Option<String>,
}

/// Accepted findings by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    entries: BTreeMap<String, Accepted>,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses baseline TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Baseline, SecretsError> {
        let err = |message: String| SecretsError::Baseline {
            origin: origin.to_string(),
            message,
        };
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(format!("not valid TOML: {e}")))?;
        let mut entries = BTreeMap::new();
        for (key, value) in &table {
            if key != "accepted" {
                return Err(err(format!(
                    "unknown key `{key}`: a baseline holds [[accepted]] entries only"
                )));
            }
            let items = value.as_array().ok_or_else(|| {
                err("`accepted` must be an array of tables: write [[accepted]]".into())
            })?;
            for (i, item) in items.iter().enumerate() {
                let entry = parse_entry(item, i + 1).map_err(&err)?;
                if entries.contains_key(&entry.fingerprint) {
                    return Err(err(format!(
                        "entry #{}: fingerprint {} is listed twice: keep one entry",
                        i + 1,
                        entry.fingerprint
                    )));
                }
                entries.insert(entry.fingerprint.clone(), entry);
            }
        }
        Ok(Baseline { entries })
    }

    /// The entry for a finding's fingerprint, expired or not.
    #[must_use]
    pub fn get(&self, fingerprint: &str) -> Option<&Accepted> {
        self.entries.get(fingerprint)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Baseline TOML that accepts `findings`, each with `reason` (to start a baseline).
    #[must_use]
    pub fn render(findings: &[Finding], reason: &str) -> String {
        let mut out = String::new();
        for f in findings {
            let q = |s: &str| Value::String(s.to_string()).to_string();
            out.push_str("[[accepted]]\n");
            out.push_str(&format!("fingerprint = {}\n", q(&f.fingerprint)));
            out.push_str(&format!("reason = {}\n", q(reason)));
            out.push_str(&format!("rule = {}\n", q(&f.rule_id)));
            out.push_str(&format!("path = {}\n\n", q(&f.location.path)));
        }
        out
    }
}

fn parse_entry(item: &Value, n: usize) -> Result<Accepted, String> {
    let t = item
        .as_table()
        .ok_or_else(|| format!("entry #{n}: expected a table ([[accepted]])"))?;
    let string = |key: &str| -> Result<Option<String>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(v) => Err(format!(
                "entry #{n}, field `{key}`: expected a string, found {}",
                v.type_str()
            )),
        }
    };
    for key in t.keys() {
        if !["fingerprint", "reason", "expires", "rule", "path"].contains(&key.as_str()) {
            return Err(format!(
                "entry #{n}, field `{key}`: unknown field: expected fingerprint, reason, \
                 expires, rule or path"
            ));
        }
    }
    let fingerprint = string("fingerprint")?
        .unwrap_or_default()
        .to_ascii_lowercase();
    if fingerprint.is_empty() || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "entry #{n}, field `fingerprint`: missing or not hex: copy the finding's full \
             fingerprint (SARIF partialFingerprints, or the JSON report)"
        ));
    }
    let reason = string("reason")?.unwrap_or_default();
    if reason.is_empty() {
        return Err(format!(
            "entry #{n} ({fingerprint}), field `reason`: missing: say why the finding is accepted"
        ));
    }
    let expires = match t.get("expires") {
        None => None,
        Some(Value::String(s)) => Some(
            s.parse::<Date>()
                .map_err(|e| format!("entry #{n} ({fingerprint}), field `expires`: {e}"))?,
        ),
        Some(Value::Datetime(dt)) => {
            let d = dt.date.ok_or_else(|| {
                format!("entry #{n} ({fingerprint}), field `expires`: give a date, not a time")
            })?;
            Some(
                Date::new(i32::from(d.year), u32::from(d.month), u32::from(d.day)).ok_or_else(
                    || format!("entry #{n} ({fingerprint}), field `expires`: not a valid date"),
                )?,
            )
        }
        Some(v) => {
            return Err(format!(
                "entry #{n} ({fingerprint}), field `expires`: expected a date (YYYY-MM-DD), \
                 found {}",
                v.type_str()
            ));
        }
    };
    Ok(Accepted {
        fingerprint,
        reason,
        expires,
        rule: string("rule")?,
        path: string("path")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_order_and_today() {
        let d: Date = "2027-03-31".parse().unwrap();
        assert_eq!(d, Date::new(2027, 3, 31).unwrap());
        assert_eq!(d.to_string(), "2027-03-31");
        assert!(Date::new(2027, 2, 29).is_none() && Date::new(2028, 2, 29).is_some());
        assert!("2027-3-31".parse::<Date>().is_err() && "tomorrow".parse::<Date>().is_err());
        assert!(Date::new(2026, 12, 31).unwrap() < d);
        assert_eq!(Date::from_unix_days(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(Date::from_unix_days(19_723), Date::new(2024, 1, 1).unwrap());
        assert!(Date::today() > Date::new(2024, 1, 1).unwrap());
    }

    #[test]
    fn parses_entries_with_string_or_toml_dates() {
        let text = r#"
            [[accepted]]
            fingerprint = "ABCDEF0123"
            reason = "test fixture"
            expires = "2027-03-31"
            [[accepted]]
            fingerprint = "0123456789"
            reason = "revoked key"
            expires = 2026-01-15
            rule = "aws-access-token"
            [[accepted]]
            fingerprint = "feedface"
            reason = "docs example"
        "#;
        let b = Baseline::parse(text, "baseline.toml").unwrap();
        assert_eq!(b.len(), 3);
        let e = b.get("abcdef0123").unwrap();
        assert_eq!(e.reason, "test fixture");
        assert_eq!(e.expires, Date::new(2027, 3, 31));
        assert_eq!(b.get("0123456789").unwrap().expires, Date::new(2026, 1, 15));
        assert_eq!(b.get("feedface").unwrap().expires, None);
    }

    #[test]
    fn bad_entries_name_the_entry_and_field() {
        let e = |t: &str| Baseline::parse(t, "b.toml").unwrap_err().to_string();
        let m = e("[[accepted]]\nfingerprint = \"ab\"\n");
        assert!(
            m.contains("b.toml") && m.contains("entry #1") && m.contains("`reason`"),
            "{m}"
        );
        let m = e("[[accepted]]\nfingerprint = \"xyz\"\nreason = \"r\"\n");
        assert!(m.contains("`fingerprint`") && m.contains("not hex"), "{m}");
        let m = e("[[accepted]]\nfingerprint = \"ab\"\nreason = \"r\"\nexpires = \"31/03/2027\"\n");
        assert!(m.contains("`expires`") && m.contains("YYYY-MM-DD"), "{m}");
        let m = e("[[accepted]]\nfingerprint = \"ab\"\nreason = \"r\"\nexpiry = \"2027-01-01\"\n");
        assert!(m.contains("`expiry`") && m.contains("unknown field"), "{m}");
        let m = e(
            "[[accepted]]\nfingerprint = \"ab\"\nreason = \"r\"\n[[accepted]]\nfingerprint = \"AB\"\nreason = \"s\"\n",
        );
        assert!(m.contains("listed twice"), "{m}");
        let m = e("[ignored]\nx = 1\n");
        assert!(m.contains("unknown key `ignored`"), "{m}");
    }

    #[test]
    fn render_round_trips() {
        let f = Finding {
            rule_id: "jwt".into(),
            severity: crate::scan::Severity::Medium,
            message: "JSON Web Token eyJh…0011aabb".into(),
            location: crate::scan::Location::line("a \"quoted\" path.txt", 3),
            fingerprint: "0011aabbccddeeff0011aabbccddeeff".into(),
            properties: BTreeMap::new(),
        };
        let text = Baseline::render(&[f], "fixture \"A\"");
        let b = Baseline::parse(&text, "rendered").unwrap();
        let e = b.get("0011aabbccddeeff0011aabbccddeeff").unwrap();
        assert_eq!(e.reason, "fixture \"A\"");
        assert_eq!(e.path.as_deref(), Some("a \"quoted\" path.txt"));
    }
}
