//! What each `StepKind` does when it runs: the processes (from `lang`), and the work after
//! them (JUnit reports, coverage gates). Output lines go to the step's log and, as events,
//! to the reporter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::background::Background;
use super::runner::{ProcessEnd, ProcessSpec, run_process};
use super::vault;
use crate::env_vars::EnvVars;
use crate::lang;
use crate::plan::{Step, StepKind};
use crate::report::{Event, Reporter};

/// How a step's action ended.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub success: bool,
    pub cancelled: bool,
    /// What went wrong, in one line.
    pub error: Option<String>,
    /// A line of results for the summary.
    pub summary: Option<String>,
    pub log: Vec<String>,
}

/// Runs one step's processes.
pub(super) struct Action<'a> {
    root: &'a Path,
    step: &'a Step,
    env: BTreeMap<String, String>,
    cancel: watch::Receiver<bool>,
    reporter: &'a dyn Reporter,
    log: Vec<String>,
    /// The timeout of the command being run, when it has its own.
    command_timeout: Option<u64>,
    /// A secret in the environment that could not be read: the step fails with it.
    setup_error: Option<String>,
}

impl<'a> Action<'a> {
    #[must_use]
    pub(super) fn new(
        root: &'a Path,
        step: &'a Step,
        cancel: watch::Receiver<bool>,
        reporter: &'a dyn Reporter,
    ) -> Self {
        let mut setup_error = None;
        let mut env = step.options.env.clone();
        for value in env.values_mut() {
            if vault::has_secret(value) {
                match vault::expand(value, root) {
                    Ok(expanded) => *value = expanded,
                    Err(e) => setup_error = Some(e),
                }
            }
        }
        env.insert(EnvVars::ISECT_WORKSPACE.into(), root.display().to_string());
        env.insert(
            EnvVars::ISECT_OUT.into(),
            root.join(&step.out_dir).display().to_string(),
        );
        env.insert(EnvVars::ISECT_SERVICE.into(), step.service.clone());
        Self {
            root,
            step,
            env,
            cancel,
            reporter,
            log: Vec::new(),
            command_timeout: None,
            setup_error,
        }
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub(super) fn root(&self) -> &Path {
        self.root
    }

    pub(super) fn step(&self) -> &Step {
        self.step
    }

    pub(super) fn emit(&mut self, text: String) {
        // A tool may hand over several lines at once (go test's output of a failed test):
        // each becomes its own log line, so every line names its step.
        for line in text.lines() {
            // Every line a step shows passes here: the one place secrets are taken out.
            let line = vault::redact(line);
            self.reporter.event(&Event::StepOutput {
                id: self.step.id.to_string(),
                line: line.clone(),
            });
            self.log.push(line);
        }
    }

    /// Runs a process; `transform` turns each raw line into what the log shows (or nothing).
    pub(super) async fn run(
        &mut self,
        program: &str,
        args: Vec<String>,
        cwd: &str,
        mut transform: impl FnMut(&str) -> Option<String>,
    ) -> ProcessEnd {
        let spec = ProcessSpec {
            program: program.to_string(),
            args,
            cwd: self.abs(cwd),
            env: self.env.clone(),
            timeout: self
                .command_timeout
                .or(self.step.options.timeout_secs)
                .map(Duration::from_secs),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let process = run_process(&spec, tx, self.cancel.clone());
        tokio::pin!(process);
        let end = loop {
            tokio::select! {
                Some(line) = rx.recv() => {
                    if let Some(shown) = transform(&line) {
                        self.emit(shown);
                    }
                }
                result = &mut process => break result,
            }
        };
        // The process has ended and its output readers are done: take what is buffered.
        while let Ok(line) = rx.try_recv() {
            if let Some(shown) = transform(&line) {
                self.emit(shown);
            }
        }
        end
    }

    fn finish(self, end: &ProcessEnd, program: &str, summary: Option<String>) -> Outcome {
        Outcome {
            success: end.success(),
            cancelled: *end == ProcessEnd::Cancelled,
            error: (!end.success()).then(|| vault::redact(&end.describe(program))),
            summary,
            log: self.log,
        }
    }

    pub(super) fn fail(self, error: String, summary: Option<String>) -> Outcome {
        Outcome {
            success: false,
            cancelled: false,
            error: Some(vault::redact(&error)),
            summary,
            log: self.log,
        }
    }

    pub(super) fn succeed(self, summary: Option<String>) -> Outcome {
        Outcome {
            success: true,
            cancelled: false,
            error: None,
            summary,
            log: self.log,
        }
    }

    /// Performs the step, with its background processes running around it.
    pub(super) async fn perform(mut self) -> Outcome {
        if let Some(error) = self.setup_error.take() {
            return self.fail(error, None);
        }
        if self.step.options.processes.is_empty() {
            return self.perform_kind().await;
        }
        let mut processes = self.step.options.processes.clone();
        for value in processes.iter_mut().flat_map(|p| p.env.values_mut()) {
            if vault::has_secret(value) {
                match vault::expand(value, self.root) {
                    Ok(expanded) => *value = expanded,
                    Err(e) => return self.fail(e, None),
                }
            }
        }
        let (background, started) = Background::start(&processes, self.root, &self.env).await;
        match started {
            Ok(ports) => {
                self.env.extend(ports);
                let mut outcome = self.perform_kind().await;
                outcome.log.extend(background.stop().await);
                outcome
            }
            Err(error) => {
                for line in background.stop().await {
                    self.emit(line);
                }
                self.fail(error, None)
            }
        }
    }

    async fn perform_kind(mut self) -> Outcome {
        let step = self.step;
        if let Err(e) = std::fs::create_dir_all(self.abs(&step.out_dir).join("reports")) {
            return self.fail(format!("cannot create {}: {e}", step.out_dir), None);
        }
        match &step.kind {
            StepKind::Exec { commands } => {
                for command in commands {
                    let step_env = self.env.clone();
                    for (name, value) in &command.env {
                        let value = if vault::has_secret(value) {
                            match vault::expand(value, self.root) {
                                Ok(v) => v,
                                Err(e) => return self.fail(e, None),
                            }
                        } else {
                            value.clone()
                        };
                        self.env.insert(name.clone(), value);
                    }
                    self.command_timeout = command.timeout_secs;
                    let end = self
                        .run(&command.program, command.args.clone(), &command.cwd, |l| {
                            Some(l.to_string())
                        })
                        .await;
                    self.env = step_env;
                    self.command_timeout = None;
                    if !end.success() {
                        let what = command.to_string();
                        return self.finish(&end, &what, None);
                    }
                }
                self.succeed(None)
            }
            StepKind::GoBuild {
                module,
                pkg,
                output,
                tags,
                ldflags,
                cgo,
            } => {
                self.env
                    .insert("CGO_ENABLED".into(), if *cgo { "1" } else { "0" }.into());
                let args = lang::golang::build_args(pkg, &self.abs(output), tags, ldflags);
                let end = self.run("go", args, module, |l| Some(l.to_string())).await;
                self.finish(&end, "go build", None)
            }
            StepKind::GoVet { module, pkgs } => {
                let end = self
                    .run("go", lang::golang::vet_args(pkgs), module, |l| {
                        Some(l.to_string())
                    })
                    .await;
                self.finish(&end, "go vet", None)
            }
            StepKind::GoTest {
                module,
                pkgs,
                race,
                short,
                tags,
                run,
                coverage_min,
            } => {
                let reports = self.abs(&step.out_dir).join("reports");
                let profile = reports.join("go-coverage.out");
                let opts = lang::golang::TestArgs {
                    pkgs,
                    race: *race,
                    short: *short,
                    tags,
                    run: run.as_deref(),
                };
                let mut events = lang::golang::TestRun::default();
                let end = self
                    .run(
                        "go",
                        lang::golang::test_args(&opts, &profile),
                        module,
                        |l| events.push_line(l),
                    )
                    .await;
                if let Ok(xml) = events.junit(&step.service) {
                    let _ = std::fs::write(reports.join("go-test.junit.xml"), xml);
                }
                let counts = format!(
                    "{} passed, {} failed, {} skipped",
                    events.passed, events.failed, events.skipped
                );
                if !end.success() {
                    let error = if events.failures.is_empty() {
                        end.describe("go test")
                    } else {
                        format!("tests failed: {}", events.failures.join(", "))
                    };
                    return if end == ProcessEnd::Cancelled {
                        self.finish(&end, "go test", None)
                    } else {
                        self.fail(error, Some(counts))
                    };
                }
                let coverage = std::fs::read_to_string(&profile)
                    .ok()
                    .and_then(|p| lang::golang::coverage_percent(&p));
                self.gate(counts, coverage, *coverage_min)
            }
            StepKind::PyCheck { dir, paths } => {
                let prefix = match tempfile::tempdir() {
                    Ok(p) => p,
                    Err(e) => {
                        return self.fail(format!("cannot create a temporary folder: {e}"), None);
                    }
                };
                let args = lang::python::check_args(paths, &prefix.path().display().to_string());
                let end = self
                    .run("python3", args, dir, |l| Some(l.to_string()))
                    .await;
                self.finish(&end, "python3 -m compileall", None)
            }
            StepKind::PyTest {
                dir,
                args,
                source,
                coverage_min,
            } => {
                let reports = self.abs(&step.out_dir).join("reports");
                self.env.insert(
                    "COVERAGE_FILE".into(),
                    reports.join(".coverage").display().to_string(),
                );
                self.env
                    .insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
                let junit = reports.join("pytest.junit.xml").display().to_string();
                let end = self
                    .run(
                        "python3",
                        lang::python::test_args(source, &junit, args),
                        dir,
                        |l| Some(l.to_string()),
                    )
                    .await;
                if end == ProcessEnd::Exited(Some(5)) {
                    return self.fail("pytest collected no tests".into(), None);
                }
                if !end.success() {
                    return self.finish(&end, "pytest", None);
                }
                let json = reports.join("coverage.json").display().to_string();
                let end = self
                    .run(
                        "python3",
                        lang::python::coverage_json_args(&json),
                        dir,
                        |l| Some(l.to_string()),
                    )
                    .await;
                if !end.success() {
                    return self.finish(&end, "coverage json", None);
                }
                let coverage = std::fs::read_to_string(&json)
                    .ok()
                    .and_then(|t| lang::python::coverage_percent(&t));
                let counts = std::fs::read_to_string(&junit)
                    .ok()
                    .and_then(|x| lang::python::junit_counts(&x))
                    .map_or_else(
                        || "tests passed".to_string(),
                        |(p, f, k)| format!("{p} passed, {f} failed, {k} skipped"),
                    );
                self.gate(counts, coverage, *coverage_min)
            }
            StepKind::NodeInstall { dir } => {
                let mode = lang::node::install_mode(&self.abs(dir));
                if mode == lang::node::Install::Nothing {
                    self.emit("package.json declares no dependencies: nothing to install".into());
                    return self.succeed(None);
                }
                let end = self
                    .run("npm", lang::node::install_args(&mode), dir, |l| {
                        Some(l.to_string())
                    })
                    .await;
                self.finish(&end, "npm install", None)
            }
            StepKind::NodeRun { dir, script } => {
                let end = self
                    .run("npm", lang::node::run_args(script), dir, |l| {
                        Some(l.to_string())
                    })
                    .await;
                self.finish(&end, &format!("npm run {script}"), None)
            }
            StepKind::Scan {
                check,
                dirs,
                fail_on,
            } => self.scan(check, dirs, *fail_on).await,
            StepKind::Image {
                source,
                runtime,
                out,
                tag,
            } => self.image(source, runtime, out, tag).await,
            StepKind::ImagePush {
                layout,
                repository,
                signing_key,
                script,
            } => {
                self.push(layout, repository, signing_key.as_deref(), script)
                    .await
            }
            StepKind::ImageVerify { pushed, verify_key } => {
                self.verify(pushed, verify_key.as_deref()).await
            }
        }
    }

    /// Applies a coverage gate: the figure is always shown; below the minimum fails.
    fn gate(self, counts: String, coverage: Option<f64>, minimum: Option<f64>) -> Outcome {
        let figure = coverage.map_or_else(
            || "coverage n/a".to_string(),
            |c| format!("coverage {c:.1}%"),
        );
        match (coverage, minimum) {
            (Some(c), Some(min)) if c + 1e-9 < min => self.fail(
                format!("coverage {c:.1}% is below the minimum {min:.1}%"),
                Some(format!("{counts}, {figure} (min {min:.1}%)")),
            ),
            (None, Some(min)) => self.fail(
                format!("no coverage data, but the minimum is {min:.1}%"),
                Some(counts),
            ),
            (_, Some(min)) => self.succeed(Some(format!("{counts}, {figure} (min {min:.1}%)"))),
            _ => self.succeed(Some(format!("{counts}, {figure}"))),
        }
    }
}
