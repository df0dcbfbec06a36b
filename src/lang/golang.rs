//! Go: command lines for build, test and vet; input inference from `go list -deps -test
//! -json` restricted to the workspace; `go test -json` events → a JUnit report; coverage
//! profiles → a total percentage (as `go tool cover -func` computes it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Deserialize;

/// Arguments of `go build`.
#[must_use]
pub fn build_args(pkg: &str, output_abs: &Path, tags: &[String], ldflags: &str) -> Vec<String> {
    // No VCS stamp: the commit is not an input of the step's key, and a binary that embeds
    // it would differ on every commit, so neither the cache nor image digests would hold.
    let mut args = vec![
        "build".to_string(),
        "-trimpath".to_string(),
        "-buildvcs=false".to_string(),
    ];
    if !tags.is_empty() {
        args.push(format!("-tags={}", tags.join(",")));
    }
    if !ldflags.is_empty() {
        args.push(format!("-ldflags={ldflags}"));
    }
    args.push("-o".into());
    args.push(output_abs.display().to_string());
    args.push(pkg.to_string());
    args
}

/// Options of `go test` that change its command line.
#[derive(Debug, Clone, Default)]
pub struct TestArgs<'a> {
    pub pkgs: &'a [String],
    pub race: bool,
    pub short: bool,
    pub tags: &'a [String],
    pub run: Option<&'a str>,
}

/// Arguments of `go test -json` writing a coverage profile to `profile_abs`.
#[must_use]
pub fn test_args(opts: &TestArgs<'_>, profile_abs: &Path) -> Vec<String> {
    let mut args = vec![
        "test".to_string(),
        "-json".to_string(),
        format!("-coverprofile={}", profile_abs.display()),
    ];
    if opts.race {
        args.push("-race".into());
    }
    if opts.short {
        args.push("-short".into());
    }
    if !opts.tags.is_empty() {
        args.push(format!("-tags={}", opts.tags.join(",")));
    }
    if let Some(run) = opts.run {
        args.push(format!("-run={run}"));
    }
    args.extend(opts.pkgs.iter().cloned());
    args
}

/// Arguments of `go vet`.
#[must_use]
pub fn vet_args(pkgs: &[String]) -> Vec<String> {
    let mut args = vec!["vet".to_string()];
    args.extend(pkgs.iter().cloned());
    args
}

/// Arguments of the `go list` that names a module's inputs (with `tests`, those of its
/// tests too). `-e` reports broken packages instead of failing, so a syntax error surfaces
/// in the build step, with the compiler's message.
#[must_use]
pub fn list_args(tests: bool) -> Vec<String> {
    let mut args: Vec<String> = ["list", "-e", "-deps", "-json"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    if tests {
        args.insert(3, "-test".into());
    }
    args.push("./...".into());
    args
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedPackage {
    dir: Option<String>,
    #[serde(default)]
    standard: bool,
    module: Option<ListedModule>,
    #[serde(default)]
    go_files: Vec<String>,
    #[serde(default)]
    cgo_files: Vec<String>,
    #[serde(default)]
    c_files: Vec<String>,
    #[serde(default)]
    h_files: Vec<String>,
    #[serde(default)]
    s_files: Vec<String>,
    #[serde(default)]
    embed_files: Vec<String>,
    #[serde(default)]
    test_go_files: Vec<String>,
    #[serde(default)]
    x_test_go_files: Vec<String>,
    #[serde(default)]
    test_embed_files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedModule {
    dir: Option<String>,
    go_mod: Option<String>,
}

/// The workspace-relative files `go list -deps -test -json` output names inside `root`:
/// every package's sources, tests and embeds, and each module's go.mod and go.sum.
pub fn parse_list(
    output: &[u8],
    root: &Path,
    tests: bool,
) -> Result<BTreeSet<String>, serde_json::Error> {
    let mut files = BTreeSet::new();
    let rel = |path: &Path| {
        path.strip_prefix(root)
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    };
    for package in serde_json::Deserializer::from_slice(output).into_iter::<ListedPackage>() {
        let package = package?;
        if package.standard {
            continue;
        }
        let Some(dir) = package.dir.as_deref().map(Path::new) else {
            continue;
        };
        if rel(dir).is_none() {
            continue;
        }
        let names = package
            .go_files
            .iter()
            .chain(&package.cgo_files)
            .chain(&package.c_files)
            .chain(&package.h_files)
            .chain(&package.s_files)
            .chain(&package.embed_files);
        files.extend(names.filter_map(|name| rel(&dir.join(name))));
        if tests {
            let test_names = package
                .test_go_files
                .iter()
                .chain(&package.x_test_go_files)
                .chain(&package.test_embed_files);
            files.extend(test_names.filter_map(|name| rel(&dir.join(name))));
        }
        if let Some(module) = &package.module {
            if let Some(go_mod) = module.go_mod.as_deref().and_then(|m| rel(Path::new(m))) {
                files.insert(go_mod);
            }
            if let Some(go_sum) = module
                .dir
                .as_deref()
                .and_then(|d| rel(&Path::new(d).join("go.sum")))
                && root.join(&go_sum).is_file()
            {
                files.insert(go_sum);
            }
        }
    }
    Ok(files)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TestEvent {
    action: String,
    package: Option<String>,
    test: Option<String>,
    elapsed: Option<f64>,
    output: Option<String>,
}

/// What `go test -json` reported.
#[derive(Debug, Default)]
pub struct TestRun {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Names of failed tests, `package.Test`.
    pub failures: Vec<String>,
    report: BTreeMap<String, Vec<(String, TestCaseStatus, f64, String)>>,
    output: BTreeMap<(String, String), String>,
}

impl TestRun {
    /// Takes one line of `go test -json` output; returns the text a person should see.
    pub fn push_line(&mut self, line: &str) -> Option<String> {
        let Ok(event) = serde_json::from_str::<TestEvent>(line) else {
            return Some(line.to_string());
        };
        let package = event.package.clone().unwrap_or_default();
        match (event.action.as_str(), &event.test) {
            ("output", Some(test)) => {
                let text = event.output.clone().unwrap_or_default();
                self.output
                    .entry((package, test.clone()))
                    .or_default()
                    .push_str(&text);
                None
            }
            ("output", None) => event.output.map(|o| o.trim_end_matches('\n').to_string()),
            (action @ ("pass" | "fail" | "skip"), Some(test)) => {
                let output = self
                    .output
                    .remove(&(package.clone(), test.clone()))
                    .unwrap_or_default();
                let status = match action {
                    "pass" => {
                        self.passed += 1;
                        TestCaseStatus::success()
                    }
                    "skip" => {
                        self.skipped += 1;
                        TestCaseStatus::skipped()
                    }
                    _ => {
                        self.failed += 1;
                        self.failures.push(format!("{package}.{test}"));
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        status.set_message(format!("{test} failed"));
                        status.set_description(output.clone());
                        status
                    }
                };
                let shown = (action == "fail").then(|| output.trim_end().to_string());
                self.report.entry(package).or_default().push((
                    test.clone(),
                    status,
                    event.elapsed.unwrap_or(0.0),
                    output,
                ));
                shown
            }
            _ => None,
        }
    }

    /// The JUnit XML report: one suite per package.
    pub fn junit(&self, name: &str) -> Result<String, quick_junit::SerializeError> {
        let mut report = Report::new(name);
        for (package, cases) in &self.report {
            let mut suite = TestSuite::new(package.as_str());
            for (test, status, elapsed, output) in cases {
                let mut case = TestCase::new(test.as_str(), status.clone());
                case.set_classname(package.as_str());
                case.set_time(Duration::from_secs_f64(elapsed.max(0.0)));
                if !output.is_empty() {
                    case.set_system_out(output.as_str());
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        report.to_string()
    }
}

/// Total statement coverage of a `-coverprofile` file, in percent; `None` when it has no
/// statements.
#[must_use]
pub fn coverage_percent(profile: &str) -> Option<f64> {
    let mut blocks: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
    for line in profile.lines().skip_while(|l| l.starts_with("mode:")) {
        let mut parts = line.rsplitn(3, ' ');
        let (Some(count), Some(statements), Some(block)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(count), Ok(statements)) = (count.parse::<u64>(), statements.parse::<u64>()) else {
            continue;
        };
        let entry = blocks.entry(block).or_insert((statements, false));
        entry.1 |= count > 0;
    }
    let total: u64 = blocks.values().map(|(n, _)| n).sum();
    let covered: u64 = blocks
        .values()
        .filter(|(_, hit)| *hit)
        .map(|(n, _)| n)
        .sum();
    #[allow(clippy::cast_precision_loss)]
    (total > 0).then(|| covered as f64 * 100.0 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_each_block_once() {
        let profile = "mode: set\na.go:1.1,2.2 3 1\na.go:3.1,4.2 1 0\na.go:1.1,2.2 3 0\n";
        assert_eq!(coverage_percent(profile), Some(75.0));
        assert_eq!(coverage_percent("mode: set\n"), None);
    }

    #[test]
    fn test_events_become_junit() {
        let mut run = TestRun::default();
        let lines = [
            r#"{"Action":"run","Package":"p","Test":"TestA"}"#,
            r#"{"Action":"output","Package":"p","Test":"TestA","Output":"boom\n"}"#,
            r#"{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.01}"#,
            r#"{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0}"#,
            r#"{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}"#,
        ];
        let shown: Vec<String> = lines.iter().filter_map(|l| run.push_line(l)).collect();
        assert_eq!(shown, vec!["boom", "FAIL\tp\t0.01s"]);
        assert_eq!((run.passed, run.failed), (1, 1));
        let xml = run.junit("svc").expect("xml");
        assert!(xml.contains(r#"<testcase name="TestA""#), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
    }

    #[test]
    fn list_output_is_restricted_to_the_workspace() {
        let out = br#"{"Dir":"/usr/lib/go/src/fmt","Standard":true,"GoFiles":["print.go"]}
{"Dir":"/ws/libs/go/platform/health","GoFiles":["health.go"],"TestGoFiles":["health_test.go"],"Module":{"Dir":"/ws/libs/go/platform","GoMod":"/ws/libs/go/platform/go.mod"}}
{"Dir":"/ws/services/a","GoFiles":["main.go"],"EmbedFiles":["static/x.html"],"Module":{"Dir":"/ws/services/a","GoMod":"/ws/services/a/go.mod"}}"#;
        let build_only = parse_list(out, Path::new("/ws"), false).expect("parse");
        assert!(!build_only.contains("libs/go/platform/health/health_test.go"));
        let files = parse_list(out, Path::new("/ws"), true).expect("parse");
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        assert_eq!(
            files,
            vec![
                "libs/go/platform/go.mod",
                "libs/go/platform/health/health.go",
                "libs/go/platform/health/health_test.go",
                "services/a/go.mod",
                "services/a/main.go",
                "services/a/static/x.html",
            ]
        );
    }
}
