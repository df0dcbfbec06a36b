//! `Step`: one cacheable unit of work, as a script declared it. Typed all the way down:
//! `StepKind` says what to do, `StepOptions` what it reads, writes and may see.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scan::{Scanner, Severity};
use crate::workspace::StepId;

/// Where a step was declared: a script file, 1-based line and column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredAt {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// For a step a stdlib template declared: the template line (`stdlib/golang.rhai:31:25`),
    /// while `file:line` is where the user's script called the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl fmt::Display for DeclaredAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One process to run: a program and its arguments, with a working folder relative to the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// Workspace-relative working folder.
    pub cwd: String,
    /// Variables for this command only (a command inside `step(...)`); part of the key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Seconds before this command is killed (a command inside `step(...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.program == "sh" && self.args.first().is_some_and(|a| a == "-c") {
            return f.write_str(self.args.get(1).map_or("", String::as_str));
        }
        f.write_str(&self.program)?;
        for arg in &self.args {
            if arg.contains(' ') {
                write!(f, " '{arg}'")?
            } else {
                write!(f, " {arg}")?
            }
        }
        Ok(())
    }
}

/// What a step does. Each variant's fields are its normalised options, part of the cache key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// A plan holds a few hundred steps at most: boxing the larger variants would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum StepKind {
    /// `sh(...)`, `exec(...)` or a custom `step(...)`: commands run in order.
    Exec { commands: Vec<Command> },
    /// `go build -trimpath` of one main package into the service's output folder.
    GoBuild {
        module: String,
        pkg: String,
        output: String,
        tags: Vec<String>,
        ldflags: String,
        cgo: bool,
    },
    /// `go test -json` with a coverage profile, a JUnit report and an optional coverage gate.
    GoTest {
        module: String,
        pkgs: Vec<String>,
        race: bool,
        short: bool,
        tags: Vec<String>,
        run: Option<String>,
        coverage_min: Option<f64>,
    },
    /// `go vet`.
    GoVet { module: String, pkgs: Vec<String> },
    /// Byte-compile every Python source, so a syntax error fails the build stage.
    PyCheck { dir: String, paths: Vec<String> },
    /// pytest under coverage.py with a JUnit report and an optional coverage gate.
    PyTest {
        dir: String,
        args: Vec<String>,
        source: Vec<String>,
        coverage_min: Option<f64>,
    },
    /// `npm ci` (with a lockfile) or `npm install`.
    NodeInstall { dir: String },
    /// `npm run <script>`.
    NodeRun { dir: String, script: String },
    /// One scanner over a service's folder and the libraries it ships; findings at or above
    /// `fail_on` fail the step.
    Scan {
        check: ScanCheck,
        dirs: Vec<String>,
        fail_on: Severity,
    },
    /// An OCI image layout in `out` (workspace-relative), tagged `tag`, with its SBOM.
    Image {
        source: ImageSource,
        runtime: ImageRuntime,
        out: String,
        tag: String,
    },
    /// Push the layout in `layout` to `repository`, attach its SBOM and, with a key, sign it
    /// with SLSA provenance. Never skipped by its key; skipped by the registry when it has
    /// the image and its signature.
    ImagePush {
        layout: String,
        repository: String,
        signing_key: Option<String>,
        script: String,
    },
    /// Before a deploy: the image `image::push` recorded in `pushed` must be signed by
    /// `verify_key` and described by provenance, or nothing is deployed.
    ImageVerify {
        pushed: String,
        verify_key: Option<String>,
    },
}

/// How a container runs an image: what `ENTRYPOINT`, `CMD`, `ENV`, `USER`, `WORKDIR`,
/// `EXPOSE` and `LABEL` say in a Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRuntime {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `8080/tcp`.
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// What an image step makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "build", rename_all = "snake_case")]
pub enum ImageSource {
    /// Files (workspace-relative source → path in the image) as one layer on `base` (an
    /// OCI layout folder another step wrote) or on scratch.
    Files {
        base: Option<String>,
        files: BTreeMap<String, String>,
    },
    /// A Dockerfile built by the Docker Engine; the context is the step's inputs.
    Dockerfile {
        context: String,
        dockerfile: String,
        target: Option<String>,
        build_args: BTreeMap<String, String>,
        approved_bases: Vec<String>,
    },
    /// A distroless-style base: Debian packages unpacked into one layer.
    Debian { packages: Vec<String> },
}

/// Which scanner a scan step runs, with the settings that change its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scanner", rename_all = "snake_case")]
pub enum ScanCheck {
    /// Gitleaks-format rules (the built-in set when `rules` is `None`) and a baseline.
    Secrets {
        rules: Option<String>,
        baseline: Option<String>,
    },
    /// Lockfiles against the OSV database folder `vulndb`.
    Deps { vulndb: String, max_age_days: u32 },
    /// The language's analyser (`go vet`, bandit) and isect's own rules.
    Sast { language: Option<String> },
    /// Licences against SPDX allow and deny lists.
    Licenses {
        allow: Vec<String>,
        deny: Vec<String>,
    },
    /// Terraform misconfigurations.
    Iac,
    /// The packages inside the image in the OCI layout `layout`.
    Image {
        layout: String,
        vulndb: String,
        max_age_days: u32,
    },
}

impl ScanCheck {
    #[must_use]
    pub fn scanner(&self) -> Scanner {
        match self {
            Self::Secrets { .. } => Scanner::Secrets,
            Self::Deps { .. } => Scanner::Deps,
            Self::Sast { .. } => Scanner::Sast,
            Self::Licenses { .. } => Scanner::Licenses,
            Self::Iac => Scanner::Iac,
            Self::Image { .. } => Scanner::Image,
        }
    }
}

impl StepKind {
    /// Short kind name, as shown in plans and used as the default step name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Exec { .. } => "exec",
            Self::GoBuild { .. } => "go_build",
            Self::GoTest { .. } => "go_test",
            Self::GoVet { .. } => "go_vet",
            Self::PyCheck { .. } => "py_check",
            Self::PyTest { .. } => "py_test",
            Self::NodeInstall { .. } => "npm_install",
            Self::NodeRun { .. } => "npm_run",
            Self::Scan { check, .. } => match check.scanner() {
                Scanner::Secrets => "scan_secrets",
                Scanner::Deps => "scan_deps",
                Scanner::Sast => "scan_sast",
                Scanner::Licenses => "scan_licenses",
                Scanner::Iac => "scan_iac",
                Scanner::Image => "scan_image",
            },
            Self::Image { source, .. } => match source {
                ImageSource::Files { .. } => "image_files",
                ImageSource::Dockerfile { .. } => "image_dockerfile",
                ImageSource::Debian { .. } => "image_debian",
            },
            Self::ImagePush { .. } => "image_push",
            Self::ImageVerify { .. } => "image_verify",
        }
    }

    /// Version of this kind's implementation: bump it when what the step does changes,
    /// so old cache entries stop matching.
    #[must_use]
    pub fn impl_version(&self) -> u32 {
        match self {
            // 2: no VCS stamp in binaries (-buildvcs=false).
            Self::GoBuild { .. } => 2,
            Self::Exec { .. }
            | Self::GoTest { .. }
            | Self::GoVet { .. }
            | Self::PyCheck { .. }
            | Self::PyTest { .. }
            | Self::NodeInstall { .. }
            | Self::NodeRun { .. } => 1,
            // Scanners live in isect: their rules change with it.
            Self::Scan { .. } => 2,
            Self::Image { .. } | Self::ImagePush { .. } | Self::ImageVerify { .. } => 1,
        }
    }

    /// The toolchain whose identity is part of the key.
    #[must_use]
    pub fn toolchain(&self) -> Option<Toolchain> {
        match self {
            Self::Exec { .. } => None,
            Self::GoBuild { .. } | Self::GoTest { .. } | Self::GoVet { .. } => Some(Toolchain::Go),
            Self::PyCheck { .. } | Self::PyTest { .. } => Some(Toolchain::Python),
            Self::NodeInstall { .. } | Self::NodeRun { .. } => Some(Toolchain::Node),
            Self::Scan {
                check: ScanCheck::Sast { language },
                ..
            } => match language.as_deref() {
                Some("golang") => Some(Toolchain::Go),
                Some("python") => Some(Toolchain::Bandit),
                _ => None,
            },
            Self::Scan { .. }
            | Self::Image { .. }
            | Self::ImagePush { .. }
            | Self::ImageVerify { .. } => None,
        }
    }
}

/// A language toolchain a step needs on PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolchain {
    Go,
    Python,
    Node,
    /// Python's security analyser: optional, its absence is a note in the scan summary.
    Bandit,
}

impl Toolchain {
    /// The program that is probed and run.
    #[must_use]
    pub fn program(self) -> &'static str {
        match self {
            Self::Go => "go",
            Self::Python => "python3",
            Self::Node => "node",
            Self::Bandit => "bandit",
        }
    }

    /// Arguments that print the version.
    #[must_use]
    pub fn version_args(self) -> &'static [&'static str] {
        match self {
            Self::Go => &["version"],
            Self::Python | Self::Node | Self::Bandit => &["--version"],
        }
    }

    /// What to install when it is missing.
    #[must_use]
    pub fn install_hint(self) -> &'static str {
        match self {
            Self::Go => {
                "install Go: `apt-get install golang-go` (Debian/Ubuntu) or https://go.dev/dl"
            }
            Self::Python => {
                "install Python 3: `apt-get install python3` and `pip install pytest coverage`"
            }
            Self::Node => "install Node.js 20: `apt-get install nodejs npm` or https://nodejs.org",
            Self::Bandit => "install bandit: `pip install bandit`",
        }
    }
}

impl Toolchain {
    /// A step still runs without an optional toolchain, and says what it missed.
    #[must_use]
    pub fn optional(self) -> bool {
        self == Self::Bandit
    }
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// What a step reads, writes and may see, beyond its kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOptions {
    /// Workspace-relative globs of input files.
    pub inputs: Vec<String>,
    /// Infer Go inputs with `go list -deps` in this module folder (workspace-relative).
    pub go_module: Option<String>,
    /// Workspace-relative globs or paths of output files.
    pub outputs: Vec<String>,
    /// Environment variables set for the step; names and values are part of the key.
    pub env: BTreeMap<String, String>,
    /// Variables passed through from isect's environment; their values are part of the key.
    pub pass_env: Vec<String>,
    /// Seconds before the step is killed.
    pub timeout_secs: Option<u64>,
    /// `false`: never read from or written to the cache.
    pub cache: bool,
    /// The step changes the world (push, deploy): never skipped by its hash alone.
    pub side_effects: bool,
    /// Processes started before the step's commands and stopped after them (services an
    /// integration test talks to).
    pub processes: Vec<BackgroundProcess>,
}

/// A process a step needs running while it runs: started on a free loopback port (`PORT`),
/// waited for until its health endpoint answers, and killed with its whole process group
/// when the step ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackgroundProcess {
    /// Names the process in logs and in `ISECT_PORT_<NAME>` / `${port:name}`.
    pub name: String,
    /// A shell command, run in `cwd`.
    pub run: String,
    /// Workspace-relative working folder.
    pub cwd: String,
    /// Environment; `${port:other}` expands to the port of a process started before it.
    pub env: BTreeMap<String, String>,
    /// HTTP path polled on its port until it answers 200 (`/healthz`); `None`: the port accepting
    /// connections is enough.
    pub health: Option<String>,
    /// Seconds to wait for health before the step fails.
    pub ready_timeout_secs: u64,
}

/// A step in the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: StepId,
    pub service: String,
    pub stage: String,
    pub name: String,
    pub kind: StepKind,
    pub options: StepOptions,
    /// The service's output folder, workspace-relative (`.isect/out/<service>`).
    pub out_dir: String,
    /// The script line that declared the step.
    pub declared_at: DeclaredAt,
}
