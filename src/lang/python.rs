//! Python: command lines for byte-compiling and for pytest under coverage.py, and reading
//! coverage.py's JSON report.

/// Arguments of `python3` that byte-compile `paths` quietly, failing on a syntax error.
/// `-x` skips virtualenvs and caches; compiled files go to a throwaway prefix so the
/// service tree is left as it was.
#[must_use]
pub fn check_args(paths: &[String], pycache_prefix: &str) -> Vec<String> {
    let mut args = vec![
        "-X".to_string(),
        format!("pycache_prefix={pycache_prefix}"),
        "-m".into(),
        "compileall".into(),
        "-q".into(),
        "-x".into(),
        r"(^|/)(\.venv|venv|node_modules|\.git|__pycache__)(/|$)".into(),
    ];
    args.extend(paths.iter().cloned());
    args
}

/// Arguments of `python3` that run pytest under coverage.py.
#[must_use]
pub fn test_args(source: &[String], junit_abs: &str, extra: &[String]) -> Vec<String> {
    let mut args = vec!["-m".to_string(), "coverage".into(), "run".into()];
    if !source.is_empty() {
        args.push(format!("--source={}", source.join(",")));
    }
    args.extend([
        "-m".into(),
        "pytest".into(),
        "-q".into(),
        "-p".into(),
        "no:cacheprovider".into(),
    ]);
    args.push(format!("--junitxml={junit_abs}"));
    args.extend(extra.iter().cloned());
    args
}

/// Arguments of `python3` that write coverage.py's JSON report.
#[must_use]
pub fn coverage_json_args(output_abs: &str) -> Vec<String> {
    vec![
        "-m".into(),
        "coverage".into(),
        "json".into(),
        "-q".into(),
        "-o".into(),
        output_abs.into(),
    ]
}

/// Total coverage percent from coverage.py's JSON report.
#[must_use]
pub fn coverage_percent(report: &str) -> Option<f64> {
    let value: serde_json::Value = serde_json::from_str(report).ok()?;
    value.get("totals")?.get("percent_covered")?.as_f64()
}

/// (passed, failed, skipped) from pytest's JUnit report: the first `<testsuite>`'s counts.
#[must_use]
pub fn junit_counts(xml: &str) -> Option<(u64, u64, u64)> {
    let start = xml.find("<testsuite ")?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let attr = |name: &str| -> u64 {
        tag.split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (tests, failures, errors, skipped) = (
        attr("tests"),
        attr("failures"),
        attr("errors"),
        attr("skipped"),
    );
    Some((
        tests.saturating_sub(failures + errors + skipped),
        failures + errors,
        skipped,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pytest_junit_counts() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="1" failures="2" skipped="3" tests="10" time="0.1"></testsuite></testsuites>"#;
        assert_eq!(junit_counts(xml), Some((4, 3, 3)));
        assert_eq!(junit_counts("<testsuites/>"), None);
    }

    #[test]
    fn reads_total_coverage() {
        assert_eq!(
            coverage_percent(r#"{"totals":{"percent_covered":83.5}}"#),
            Some(83.5)
        );
        assert_eq!(coverage_percent("{}"), None);
    }
}
