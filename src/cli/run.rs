//! `isect build|test|scan|image|deploy|run` and `isect plan`: select services, evaluate
//! their pipelines, plan the stage, compute keys, then run (or just show) the plan.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::session::Session;
use super::{DeployCommand, GlobalArgs, PlanCommand, RunArgs, SelectArgs, print_stdout};
use crate::cache::{FileIndex, FileTree, LocalStore};
use crate::diagnostic::Diagnostic;
use crate::env_vars::EnvVars;
use crate::error::{Error, ExitStatus, Result};
use crate::exec::{self, Prepared, RunContext, RunSettings};
use crate::plan::Plan;
use crate::report::{
    Event, JsonReporter, OutputLogs, PlainReporter, Reporter, TermReporter, render_failures,
    render_summary,
};

/// Everything computed before a run: the plan and every step's key.
pub(crate) struct Planned {
    pub(crate) session: Session,
    pub(crate) plan: Plan,
    pub(crate) prepared: Prepared,
    pub(crate) store: LocalStore,
    pub(crate) index: Mutex<FileIndex>,
    pub(crate) last_keys: BTreeMap<String, String>,
    pub(crate) selected: Vec<(String, String)>,
}

fn last_keys_path(session: &Session) -> std::path::PathBuf {
    session.workspace.root.join(".isect/last-keys.json")
}

/// Plans `stage` for the selected services and computes keys.
pub(crate) fn plan_stage(global: &GlobalArgs, stage: &str, select: &SelectArgs) -> Result<Planned> {
    // `-vv` shows where the time of a run goes, phase by phase.
    let started = std::time::Instant::now();
    let phase = |name: &str| tracing::debug!(target: "isect::timing", "{name}: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let session = Session::open(global)?;
    phase("workspace loaded");
    // Load the file index while the pipelines are evaluated and the workspace walked.
    let index_path = session.workspace.root.join(".isect/index");
    let index_loader = std::thread::spawn(move || FileIndex::load(&index_path));
    let selected = session.select(select)?;
    let names: Vec<String> = selected.iter().map(|(n, _)| n.clone()).collect();
    let pipelines = session.pipelines(&names)?;
    phase("pipelines evaluated");
    let plan = Plan::build(&pipelines, &names, stage, select.all || select.affected)
        .map_err(|e| Error::User(e.0))?;
    let store = LocalStore::open(&session.cache_dir()).map_err(|e| {
        Error::infra(
            format!(
                "cannot open the cache folder {}",
                session.cache_dir().display()
            ),
            e,
        )
    })?;
    let root = session.workspace.root.clone();
    let roots = exec::walk_roots(&plan, &session.workspace);
    let tree =
        FileTree::walk(&root, &roots).map_err(|e| Error::infra("cannot walk the workspace", e))?;
    phase("workspace walked");
    // Joined only now: the index loads while the scripts are evaluated and the tree walked.
    let index = Mutex::new(
        index_loader
            .join()
            .map_err(|_| Error::infra_msg("loading the file index panicked"))?,
    );
    phase("index loaded");
    let prepared = exec::prepare(&plan, &session.workspace, &store, &tree, &index)?;
    phase("keys computed");
    if let Ok(mut idx) = index.lock() {
        tree.prune_index(&mut idx);
    }
    let last_keys = std::fs::read(last_keys_path(&session))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Ok(Planned {
        session,
        plan,
        prepared,
        store,
        index,
        last_keys,
        selected,
    })
}

fn reporter(args: &RunArgs) -> Arc<dyn Reporter> {
    if args.json {
        return Arc::new(JsonReporter);
    }
    let plain = args.no_progress
        || std::env::var_os(EnvVars::CI).is_some()
        || crate::report::ci::current().is_some()
        || !std::io::stderr().is_terminal();
    if plain {
        Arc::new(PlainReporter::new(
            args.output_logs.unwrap_or(OutputLogs::NewOnly),
        ))
    } else {
        Arc::new(TermReporter::new(
            args.output_logs.unwrap_or(OutputLogs::ErrorsOnly),
            super::color_stderr(),
        ))
    }
}

/// Runs `stage` for the selected services.
/// Runs `stage` for the selected services: plans first (scripts are evaluated here, before
/// any async work exists), then executes on the runtime.
pub(crate) fn stage(
    global: &GlobalArgs,
    stage: &str,
    select: &SelectArgs,
    args: &RunArgs,
) -> Result<ExitStatus> {
    let planned = plan_stage(global, stage, select)?;
    super::runtime()?.block_on(execute(planned, stage, select, args))
}

async fn execute(
    planned: Planned,
    stage: &str,
    select: &SelectArgs,
    args: &RunArgs,
) -> Result<ExitStatus> {
    let Planned {
        session,
        plan,
        prepared,
        store,
        index,
        last_keys,
        selected,
    } = planned;
    let reporter = reporter(args);
    if select.affected {
        for (service, why) in &selected {
            reporter.event(&Event::Warning {
                message: format!("selected {service}: {why}"),
            });
        }
        if selected.is_empty() {
            print_stdout("no service is affected by the changes\n");
            return Ok(ExitStatus::Success);
        }
    }
    for service in &plan.skipped {
        reporter.event(&Event::Warning {
            message: format!("{service} has no `{stage}` stage: skipped"),
        });
    }
    let root = session.workspace.root.clone();
    let remote = open_remote(&session, args)?;
    if let Some(r) = &remote {
        tracing::info!(target: "isect::cache", "shared cache: {}", r.describe());
    }
    let ctx = Arc::new(RunContext {
        root: root.clone(),
        store,
        index,
        reporter: reporter.clone(),
        last_keys: Mutex::new(last_keys),
        remote,
        remote_off_said: std::sync::atomic::AtomicBool::new(false),
    });
    let (cancel_tx, _cancel_rx) = tokio::sync::watch::channel(false);
    let interrupt = {
        let cancel = cancel_tx.clone();
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            let _ = cancel.send(true);
        })
    };
    let deadline = args
        .timeout
        .map(|secs| tokio::spawn(exec::deadline(Duration::from_secs(secs), cancel_tx.clone())));
    let settings = RunSettings {
        jobs: args.jobs.unwrap_or_else(crate::cores),
        keep_going: args.keep_going,
        use_cache: !args.no_cache,
        replay_logs: args.output_logs == Some(OutputLogs::Full),
    };
    let command = format!(
        "{stage} {}",
        selected
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let run_started = std::time::Instant::now();
    let plan = Arc::new(plan);
    let summary = exec::run(
        plan.clone(),
        Arc::new(prepared),
        ctx.clone(),
        settings,
        cancel_tx.clone(),
        command,
    )
    .await;
    tracing::debug!(target: "isect::timing", "steps run: {:.1} ms", run_started.elapsed().as_secs_f64() * 1e3);
    interrupt.abort();
    let timed_out = deadline
        .as_ref()
        .is_some_and(tokio::task::JoinHandle::is_finished);
    if let Some(d) = deadline {
        d.abort();
    }
    save_state(&ctx, &root);
    tracing::debug!(target: "isect::timing", "state saved: {:.1} ms", run_started.elapsed().as_secs_f64() * 1e3);
    let sarif = write_scan_reports(&plan, &root, reporter.as_ref());
    reporter.event(&Event::RunFinished(summary.clone()));
    if !args.json {
        print_stdout(&render_summary(&summary));
        if let Some(path) = sarif {
            print_stdout(&format!("SARIF: {}\n", path.display()));
        }
        if summary
            .ci
            .as_ref()
            .is_some_and(|c| c.provider == "github-actions")
        {
            github_outputs(&summary);
        }
        super::print_stderr(&render_failures(&summary, &root, super::color_stderr()));
    }
    if timed_out {
        return Err(Error::user(
            Diagnostic::error(
                "run::timeout",
                format!(
                    "the run took longer than --timeout {}s and was stopped",
                    args.timeout.unwrap_or(0)
                ),
            )
            .help("raise --timeout, or find the slow step in the summary above"),
        ));
    }
    if summary.success() {
        Ok(ExitStatus::Success)
    } else {
        Err(Error::StepsFailed {
            failed: summary.failed.max(1),
        })
    }
}

/// The SARIF files of the run's scan steps, ran or cached; the run-wide file's
/// workspace-relative path when there were any.
fn write_scan_reports(
    plan: &crate::plan::Plan,
    root: &std::path::Path,
    reporter: &dyn crate::report::Reporter,
) -> Option<std::path::PathBuf> {
    let scans: Vec<&crate::plan::Step> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.kind, crate::plan::StepKind::Scan { .. }))
        .collect();
    if scans.is_empty() {
        return None;
    }
    match exec::write_sarif(root, &scans) {
        Ok(path) => path.map(|p| {
            p.strip_prefix(root)
                .map(std::path::Path::to_path_buf)
                .unwrap_or(p)
        }),
        Err(e) => {
            reporter.event(&Event::Warning {
                message: format!("cannot write the SARIF reports: {e}"),
            });
            None
        }
    }
}

/// The shared cache of `[cache] remote` or `$ISECT_REMOTE_CACHE`; a setting that cannot
/// work (no signing key, a bad URL) is an error before anything runs.
fn open_remote(
    session: &super::session::Session,
    args: &RunArgs,
) -> Result<Option<crate::cache::RemoteCache>> {
    if args.no_cache {
        return Ok(None);
    }
    let config = &session.workspace.config.cache;
    let settings =
        crate::cache::RemoteSettings::from_env(config.remote.as_deref(), config.read_only)
            .map_err(|e| {
                Error::user(
                    Diagnostic::error("cache::remote", e.to_string())
                        .help("see the README's `Shared cache` section"),
                )
            })?;
    settings
        .map(crate::cache::RemoteCache::open)
        .transpose()
        .map_err(|e| Error::user(Diagnostic::error("cache::remote", e.to_string())))
}

/// On GitHub Actions: failures as annotations on their script lines, and the summary on the
/// job's page.
fn github_outputs(summary: &crate::report::RunSummary) {
    print_stdout(&crate::report::ci::github_annotations(summary));
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = file.write_all(crate::report::ci::github_step_summary(summary).as_bytes());
        }
    }
}

/// Resolves on SIGINT (Ctrl-C), SIGTERM (CI cancellation, `docker stop`) or SIGHUP (a closed
/// terminal): steps run in their own process groups, so isect must stop them itself.
async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

/// Saves the file index and the last key of every step that ran, merged with what another
/// isect process may have saved meanwhile.
fn save_state(ctx: &RunContext, root: &std::path::Path) {
    let started = std::time::Instant::now();
    if let Ok(mut index) = ctx.index.lock()
        && let Err(e) = index.save()
    {
        ctx.reporter.event(&Event::Warning {
            message: format!("cannot save the file index: {e}"),
        });
    }
    tracing::debug!(target: "isect::timing", "index saved: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    let path = root.join(".isect/last-keys.json");
    let mut merged: BTreeMap<String, String> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let ours = ctx.last_keys.lock().map(|k| k.clone()).unwrap_or_default();
    if ours.iter().all(|(k, v)| merged.get(k) == Some(v)) {
        return;
    }
    merged.extend(ours);
    if let Ok(bytes) = serde_json::to_vec(&merged) {
        let _ = crate::cache::write_memo(&path, &bytes);
    }
}

/// `isect deploy`: checks the environment, then runs the `deploy` stage.
pub(crate) fn deploy(global: &GlobalArgs, command: &DeployCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let environments = &session.workspace.config.environments;
    if !environments.contains_key(&command.env) {
        let names: Vec<&str> = environments.keys().map(String::as_str).collect();
        return Err(Error::user(
            Diagnostic::error(
                "deploy::unknown_environment",
                format!("no environment `{}` in isect.toml", command.env),
            )
            .help(if names.is_empty() {
                "declare it: [environments.dev]".to_string()
            } else {
                format!("environments: {}", names.join(", "))
            }),
        ));
    }
    stage(global, "deploy", &command.select, &command.run)
}

/// `isect plan`: what would run and what is cached.
pub(crate) fn plan(global: &GlobalArgs, command: &PlanCommand) -> Result<ExitStatus> {
    let planned = plan_stage(global, &command.stage, &command.select)?;
    let Planned {
        plan,
        prepared,
        store,
        last_keys,
        ..
    } = &planned;
    let mut rows = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let key = prepared.keys[i];
        let cacheable = step.options.cache && !step.options.side_effects;
        let cached = cacheable && matches!(store.get_record(&key), Ok(Some(_)));
        let last = last_keys
            .get(step.id.as_str())
            .and_then(|h| crate::cache::Digest::from_hex(h));
        let reason = if cached {
            None
        } else {
            exec::rerun_reasons(store, last.as_ref(), &prepared.manifests[i])
                .into_iter()
                .next()
        };
        rows.push(serde_json::json!({
            "id": step.id,
            "service": step.service,
            "stage": step.stage,
            "step": step.name,
            "kind": step.kind.name(),
            "key": key.to_hex(),
            "cached": cached,
            "reason": reason,
            "inputs": prepared.manifests[i].inputs.len(),
            "needs": plan.deps[i].iter().map(|&d| plan.steps[d].id.to_string()).collect::<Vec<_>>(),
            "declared_at": step.declared_at.to_string(),
        }));
    }
    if command.json {
        let doc = serde_json::json!({ "version": 1, "stage": command.stage, "services": plan.services, "steps": rows });
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        ));
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    for row in &rows {
        let state = if row["cached"].as_bool().unwrap_or(false) {
            "cached".to_string()
        } else {
            format!("run ({})", row["reason"].as_str().unwrap_or(""))
        };
        out.push_str(&format!(
            "{:<48} {:<10} {}\n",
            row["id"].as_str().unwrap_or(""),
            row["kind"].as_str().unwrap_or(""),
            state
        ));
    }
    let cached = rows
        .iter()
        .filter(|r| r["cached"].as_bool().unwrap_or(false))
        .count();
    out.push_str(&format!(
        "\n{} steps: {} cached, {} to run\n",
        rows.len(),
        cached,
        rows.len() - cached
    ));
    print_stdout(&out);
    Ok(ExitStatus::Success)
}
