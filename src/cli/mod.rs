//! The command line: clap definitions and dispatch. One file per subcommand, each thin:
//! it opens a `Session`, calls into the library, and renders the result.

mod affected;
mod cache;
mod ci;
mod doctor;
mod explain;
mod image;
mod info;
mod run;
mod session;
mod vulndb;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{Category, Error, ExitStatus};
use crate::report::OutputLogs;

/// isect: build, test, scan, package and deploy the services of a polyglot monorepo.
#[derive(Debug, Parser)]
#[command(name = "isect", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// More of isect's own logs (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which services a command applies to.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Services by name (default: the service of the current folder).
    pub services: Vec<String>,
    /// Every service of the workspace.
    #[arg(long, conflicts_with = "services")]
    pub all: bool,
    /// The services touched by the changes since --since, and those that depend on them.
    #[arg(long, conflicts_with = "services")]
    pub affected: bool,
    /// Git ref to compare with for --affected (default: the merge base with main).
    #[arg(long, requires = "affected", value_name = "REF")]
    pub since: Option<String>,
}

/// How a run behaves and reports.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Steps run at once (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Go on after a failure with every step that does not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Stop the whole run after this long (`90s`, `10m`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<u64>,
    /// Neither read nor write the cache: run every step.
    #[arg(long)]
    pub no_cache: bool,
    /// Plain, prefixed log lines instead of progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// One JSON event per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Which step logs to show.
    #[arg(long, value_enum, value_name = "WHICH")]
    pub output_logs: Option<OutputLogs>,
}

fn parse_timeout(text: &str) -> Result<u64, String> {
    crate::stdlib_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration: use seconds or 90s, 10m, 1h"))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build services (the `build` stage).
    Build(StageCommand),
    /// Build and test services (`test` and what it needs).
    Test(StageCommand),
    /// Scan services (`scan`).
    Scan(StageCommand),
    /// Build container images (`image`).
    Image(ImageCommand),
    /// Deploy services to an environment (`deploy`).
    Deploy(DeployCommand),
    /// Run one stage of one service (custom stages too), with what it needs first.
    Run(RunCommand),
    /// Show what a command would run and what is cached, without running anything.
    Plan(PlanCommand),
    /// Evaluate every pipeline script and report mistakes.
    Check,
    /// List services, their languages and pipelines.
    List(ListCommand),
    /// Show services, libraries and the edges between them.
    Graph(GraphCommand),
    /// Say why each step of a stage would run: what changed since its last run.
    Explain(ExplainCommand),
    /// Inspect and manage the cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// The offline OSV vulnerability database the scan stage matches dependencies against.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// Generate CI configuration that runs the same pipelines: Cloud Build, its triggers,
    /// GitHub Actions.
    #[command(subcommand)]
    Ci(CiCommand),
    /// Check the toolchains and the Docker Engine the workspace needs.
    Doctor,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `isect build|test|scan|image`.
#[derive(Debug, Args)]
pub struct StageCommand {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `isect deploy`.
#[derive(Debug, Args)]
pub struct DeployCommand {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Target environment (from isect.toml).
    #[arg(long, value_name = "ENV")]
    pub env: String,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `isect run SERVICE STAGE`.
#[derive(Debug, Args)]
pub struct RunCommand {
    pub service: String,
    pub stage: String,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `isect plan`.
#[derive(Debug, Args)]
pub struct PlanCommand {
    #[command(flatten)]
    pub select: SelectArgs,
    /// The stage to plan.
    #[arg(long, default_value = "build")]
    pub stage: String,
    /// The plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `isect list`.
#[derive(Debug, Args)]
pub struct ListCommand {
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

/// `isect graph`.
#[derive(Debug, Args)]
pub struct GraphCommand {
    /// Graphviz dot instead of text.
    #[arg(long)]
    pub dot: bool,
}

/// `isect explain SERVICE [STAGE]`.
#[derive(Debug, Args)]
pub struct ExplainCommand {
    pub service: String,
    /// The stage (default: test, or build when the pipeline has no test stage).
    pub stage: Option<String>,
}

/// `isect cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, sizes, and hits and misses so far.
    Stats,
    /// Remove least-recently-used entries until the cache fits in SIZE (`500M`, `2G`).
    Gc {
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: u64,
    },
    /// Remove every entry.
    Clean,
}

/// `isect image [SERVICE...]`, or one of its subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImageCommand {
    #[command(subcommand)]
    pub action: Option<ImageAction>,
    #[command(flatten)]
    pub stage: StageCommand,
}

/// `isect image verify|load|keygen`.
#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// Check that a pushed image is signed by `[image] verify_key` and that its provenance
    /// names it: what a deploy checks before it uses an image.
    Verify {
        /// A service (its last pushed image) or an image reference (`host/repo:tag`,
        /// `host/repo@sha256:…`).
        image: String,
        /// The public key (PEM), instead of `[image] verify_key`.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Load a service's image into the Docker Engine (`docker run` it afterwards).
    Load {
        /// Services.
        services: Vec<String>,
    },
    /// Write a new signing key pair: PRIVATE (PKCS#8 PEM) and PRIVATE.pub.
    Keygen {
        /// Where to write the private key.
        path: PathBuf,
        /// `ed25519` or `ecdsa-p256`.
        #[arg(long, default_value = "ed25519")]
        kind: String,
    },
}

/// `isect ci cloudbuild|triggers|github|matrix`.
#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// cloudbuild.yaml: one step per service and stage, `isect run SERVICE STAGE` in the
    /// isect builder image, in parallel where the graph allows.
    Cloudbuild(CiArgs),
    /// Cloud Build triggers for the branches of isect.toml's environments (one YAML
    /// document each, for `gcloud builds triggers import`).
    Triggers {
        #[command(flatten)]
        args: CiArgs,
        /// The GitHub repository the triggers watch, `owner/name`.
        #[arg(long, value_name = "OWNER/NAME")]
        repo: String,
    },
    /// A GitHub Actions workflow with a matrix over the affected services (the backup CI).
    Github(CiArgs),
    /// The selected services as `{"service":[...]}`: the matrix the GitHub workflow runs.
    Matrix {
        #[command(flatten)]
        select: SelectArgs,
    },
}

/// What `isect ci` generates for, and where it writes.
#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where to write (`-` for stdout; default: the platform's usual path).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The builder image steps run in.
    #[arg(long, value_name = "IMAGE")]
    pub builder: Option<String>,
    /// Cloud Build machine type.
    #[arg(long, value_name = "TYPE")]
    pub machine_type: Option<String>,
}

/// `isect vulndb import|status`.
#[derive(Debug, Subcommand)]
pub enum VulndbCommand {
    /// Import OSV records into `[scan] vulndb`: an ecosystem's `all.zip` (as
    /// https://osv-vulnerabilities.storage.googleapis.com/<ecosystem>/all.zip serves it), a
    /// folder in osv-scanner's offline layout, or a folder of OSV JSON files.
    Import {
        /// The zip or folder to import.
        source: PathBuf,
        /// The ecosystem of a single zip (`Go`, `PyPI`, `npm`), when its records do not say.
        #[arg(long, value_name = "NAME")]
        ecosystem: Option<String>,
    },
    /// Record counts, the newest record per ecosystem, and a warning when it is stale.
    Status,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, ""), |i| t.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: use bytes or 500K, 200M, 2G"))?;
    let factor = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("`{text}` has an unknown unit: use K, M or G")),
    };
    Ok(n * factor)
}

/// Runs the command and reports errors; the library's single entry point.
#[must_use]
pub fn run(cli: Cli) -> ExitStatus {
    init_tracing(cli.global.verbose);
    match dispatch(cli) {
        Ok(status) => status,
        Err(err) => report_error(&err),
    }
}

/// The async runtime, for the commands that run processes. Steps are child processes and
/// the cache's blocking work goes to `spawn_blocking`, so one thread drives them all; it
/// also spares the cross-core wake-ups that a short no-op run would otherwise pay.
pub(crate) fn runtime() -> crate::error::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::infra("cannot start the async runtime", e))
}

fn dispatch(cli: Cli) -> crate::error::Result<ExitStatus> {
    let global = cli.global;
    match cli.command {
        Command::Build(c) => run::stage(&global, "build", &c.select, &c.run),
        Command::Test(c) => run::stage(&global, "test", &c.select, &c.run),
        Command::Scan(c) => run::stage(&global, "scan", &c.select, &c.run),
        Command::Image(c) => match &c.action {
            Some(action) => image::image(&global, action),
            None => run::stage(&global, "image", &c.stage.select, &c.stage.run),
        },
        Command::Deploy(c) => run::deploy(&global, &c),
        Command::Run(c) => {
            let select = SelectArgs {
                services: vec![c.service.clone()],
                ..SelectArgs::default()
            };
            run::stage(&global, &c.stage, &select, &c.run)
        }
        Command::Plan(c) => run::plan(&global, &c),
        Command::Check => info::check(&global),
        Command::List(c) => info::list(&global, &c),
        Command::Graph(c) => info::graph(&global, &c),
        Command::Explain(c) => explain::explain(&global, &c),
        Command::Cache(c) => cache::cache(&global, &c),
        Command::Vulndb(c) => vulndb::vulndb(&global, &c),
        Command::Ci(c) => ci::ci(&global, &c),
        Command::Doctor => runtime()?.block_on(doctor::doctor(&global)),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "isect", &mut std::io::stdout());
            Ok(ExitStatus::Success)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        // opendal logs each retry it makes; isect reports what finally failed.
        0 => "warn,opendal=error",
        1 => "isect=info",
        2 => "isect=debug",
        _ => "isect=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// Whether to colour stderr.
pub(crate) fn color_stderr() -> bool {
    std::env::var_os(crate::env_vars::EnvVars::NO_COLOR).is_none()
        && console::Term::stderr().is_term()
}

/// Prints an error the way its category asks, and returns the exit status.
fn report_error(err: &Error) -> ExitStatus {
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    match err {
        Error::User(diagnostics) => {
            for d in diagnostics {
                let _ = writeln!(out, "{}", d.render_styled(color_stderr()));
            }
        }
        Error::StepsFailed { .. } => {}
        Error::Infra { .. } => {
            let _ = writeln!(out, "isect failed: {err}");
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                let _ = writeln!(out, "  Cause: {cause}");
                source = cause.source();
            }
        }
    }
    match err.category() {
        Category::User => ExitStatus::Failure,
        Category::Infra => ExitStatus::Error,
    }
}

/// Writes to stderr (for people).
pub(crate) fn print_stderr(text: &str) {
    if !text.is_empty() {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Writes to stdout, ignoring a closed pipe (`isect list | head` exits 0, as ripgrep does).
pub(crate) fn print_stdout(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
