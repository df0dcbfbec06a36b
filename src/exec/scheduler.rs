//! The scheduler: runs a plan's steps on tokio, each as soon as the steps it waits for have
//! succeeded, at most `jobs` at a time. A step whose key has a verified record is restored
//! instead of run; a step that runs holds a lock on its key, so two isect processes sharing
//! a cache run it once. Fail fast by default (cancel what runs, skip the rest);
//! `keep_going` skips only what depends on a failure.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::actions::{Action, Outcome};
use super::prepare::{Prepared, rerun_reasons};
use crate::cache::{
    ActionRecord, Digest, FileIndex, GlobMatcher, LocalStore, OutputEntry, Stat, StepKey, hash_file,
};
use crate::plan::{Plan, Step};
use crate::report::{Event, Reporter, RunSummary, StepResult, StepStatus};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub jobs: usize,
    pub keep_going: bool,
    /// Read and write the cache (`--no-cache` turns it off).
    pub use_cache: bool,
    /// Cached steps' logs are replayed (`--output-logs full`).
    pub replay_logs: bool,
}

/// What every step task shares.
pub struct RunContext {
    pub root: PathBuf,
    pub store: LocalStore,
    pub index: Mutex<FileIndex>,
    pub reporter: Arc<dyn Reporter>,
    /// Step id → the key of its last run in this workspace.
    pub last_keys: Mutex<BTreeMap<String, String>>,
    /// The shared cache, read after the local one misses and written after it.
    pub remote: Option<crate::cache::RemoteCache>,
    /// The shared cache went unreachable and that was said once.
    pub remote_off_said: std::sync::atomic::AtomicBool,
}

impl RunContext {
    /// A shared-cache failure as a warning; once the cache has gone unreachable, said once.
    fn remote_warning(&self, message: String, off: bool) {
        use std::sync::atomic::Ordering;
        if off && self.remote_off_said.swap(true, Ordering::Relaxed) {
            return;
        }
        self.reporter.event(&Event::Warning { message });
    }
}

/// Number of log lines kept for a failure's summary.
const LOG_TAIL: usize = 20;

/// Runs the plan; returns when every step has finished, been skipped, or been cancelled.
pub async fn run(
    plan: Arc<Plan>,
    prepared: Arc<Prepared>,
    ctx: Arc<RunContext>,
    settings: RunSettings,
    cancel_tx: watch::Sender<bool>,
    command: String,
) -> RunSummary {
    let started = Instant::now();
    let cancel = cancel_tx.subscribe();
    let n = plan.steps.len();
    ctx.reporter.event(&Event::RunStarted {
        command: command.clone(),
        total: n,
    });
    let mut waiting: Vec<usize> = plan.deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, deps) in plan.deps.iter().enumerate() {
        for &d in deps {
            dependents[d].push(i);
        }
    }
    let mut results: Vec<Option<StepResult>> = vec![None; n];
    let mut reported = vec![false; n];
    // Resolve cache hits up front, off the async threads and without a task per step: a
    // step is done here when its record verifies and every step it waits for is done too.
    // On a no-op run that is every step, and nothing is scheduled at all.
    let hits = if settings.use_cache {
        // Blocking on purpose: nothing runs yet, and a hand-off to another thread costs more
        // than the lookups themselves on a no-op run.
        precheck(&plan, &prepared, &ctx, settings.replay_logs)
    } else {
        Vec::new()
    };
    for (i, hit) in hits.into_iter().enumerate() {
        let Some(hit) = hit else { continue };
        let deps_done = plan.deps[i].iter().all(|&d| {
            results[d]
                .as_ref()
                .is_some_and(|r| r.status == StepStatus::Cached)
        });
        if !deps_done {
            continue;
        }
        let step = &plan.steps[i];
        let mut result = base_result(step, StepStatus::Ok);
        result.key = Some(prepared.keys[i].to_hex());
        let result = cached_result(&ctx, step, result, hit, started);
        ctx.reporter.event(&Event::StepFinished(result.clone()));
        reported[i] = true;
        results[i] = Some(result);
        for &d in &dependents[i] {
            waiting[d] -= 1;
        }
    }
    let mut ready: VecDeque<usize> = (0..n)
        .filter(|&i| waiting[i] == 0 && results[i].is_none())
        .collect();
    let mut tasks: JoinSet<(usize, StepResult)> = JoinSet::new();
    let mut stop_reason: Option<String> = None;
    let jobs = settings.jobs.max(1);

    loop {
        while stop_reason.is_none() && tasks.len() < jobs {
            let Some(i) = ready.pop_front() else { break };
            let (plan, prepared, ctx, cancel) =
                (plan.clone(), prepared.clone(), ctx.clone(), cancel.clone());
            let (use_cache, replay) = (settings.use_cache, settings.replay_logs);
            tasks.spawn(async move {
                let step = &plan.steps[i];
                (
                    i,
                    run_step(step, &prepared, i, &ctx, cancel, use_cache, replay).await,
                )
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let Ok((i, result)) = joined else { continue };
        let failed = matches!(result.status, StepStatus::Failed | StepStatus::Skipped);
        ctx.reporter.event(&Event::StepFinished(result.clone()));
        reported[i] = true;
        let id = result.id.clone();
        results[i] = Some(result);
        if *cancel.borrow() && stop_reason.is_none() {
            stop_reason = Some("the run was interrupted".into());
        }
        if failed {
            if !settings.keep_going && stop_reason.is_none() {
                stop_reason = Some(format!("{id} failed"));
                // Fail fast: stop what is running.
                let _ = cancel_tx.send(true);
            }
            for d in plan.dependents(i) {
                if results[d].is_none() {
                    results[d] = Some(skipped(
                        &plan.steps[d],
                        format!("needs {id}, which did not succeed"),
                    ));
                }
            }
        } else {
            for &d in &dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 && results[d].is_none() {
                    ready.push_back(d);
                }
            }
        }
        if stop_reason.is_some() && (!settings.keep_going || *cancel.borrow()) {
            ready.clear();
        }
    }
    let reason = stop_reason.unwrap_or_else(|| "not reached".into());
    let steps: Vec<StepResult> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| skipped(&plan.steps[i], format!("not run: {reason}"))))
        .collect();
    // Steps that finished were reported as they did; report the rest (never started) once.
    for (r, done) in steps.iter().zip(&reported) {
        if !done {
            ctx.reporter.event(&Event::StepFinished(r.clone()));
        }
    }
    let hits = steps
        .iter()
        .filter(|s| s.status == StepStatus::Cached)
        .count() as u64;
    let misses = steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Ok | StepStatus::Failed))
        .count() as u64;
    if settings.use_cache {
        ctx.store.record_run(hits, misses);
        if let Some(remote) = &ctx.remote {
            ctx.store.record_remote(remote.counters());
        }
    }
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    RunSummary::new(command, steps, elapsed)
}

fn base_result(step: &Step, status: StepStatus) -> StepResult {
    StepResult {
        id: step.id.to_string(),
        service: step.service.clone(),
        stage: step.stage.clone(),
        step: step.name.clone(),
        status,
        duration_ms: 0,
        reason: None,
        summary: None,
        declared_at: step.declared_at.clone(),
        log_tail: Vec::new(),
        error: None,
        key: None,
    }
}

fn skipped(step: &Step, reason: String) -> StepResult {
    StepResult {
        reason: Some(reason),
        ..base_result(step, StepStatus::Skipped)
    }
}

async fn run_step(
    step: &Step,
    prepared: &Prepared,
    i: usize,
    ctx: &Arc<RunContext>,
    cancel: watch::Receiver<bool>,
    use_cache: bool,
    replay: bool,
) -> StepResult {
    let started = Instant::now();
    let key = prepared.keys[i];
    let cacheable = use_cache && step.options.cache && !step.options.side_effects;
    let mut result = base_result(step, StepStatus::Ok);
    result.key = Some(key.to_hex());
    if *cancel.borrow() {
        return skipped(step, "not run: the run was interrupted".into());
    }
    if cacheable
        && let Some(hit) =
            blocking(ctx, step, move |ctx, step| try_hit(ctx, step, &key, replay)).await
    {
        return cached_result(ctx, step, result, hit, started);
    }
    if cacheable && let Some(remote) = &ctx.remote {
        match remote.fetch(&key, &ctx.store).await {
            Ok(true) => {
                if let Some(hit) =
                    blocking(ctx, step, move |ctx, step| try_hit(ctx, step, &key, replay)).await
                {
                    result.reason = Some("from the remote cache".into());
                    return cached_result(ctx, step, result, hit, started);
                }
            }
            Ok(false) => {}
            // A shared cache that fails is a miss and a warning, never a failed build.
            Err(e) => {
                let off = matches!(e, crate::cache::RemoteError::Off(_));
                ctx.remote_warning(
                    format!("remote cache: {e}; running {} instead", step.id),
                    off,
                );
            }
        }
    }
    // Hold the key's lock while running, so a second process waits and then hits.
    let lock = if cacheable {
        lock_key(ctx, &key).await
    } else {
        None
    };
    if cacheable
        && lock.is_some()
        && let Some(hit) =
            blocking(ctx, step, move |ctx, step| try_hit(ctx, step, &key, replay)).await
    {
        return cached_result(ctx, step, result, hit, started);
    }
    let manifest = &prepared.manifests[i];
    let last = ctx
        .last_keys
        .lock()
        .ok()
        .and_then(|k| k.get(step.id.as_str()).cloned())
        .and_then(|h| Digest::from_hex(&h));
    result.reason = if cacheable {
        rerun_reasons(&ctx.store, last.as_ref(), manifest)
            .into_iter()
            .next()
    } else if step.options.side_effects {
        Some("side-effecting step: always runs".into())
    } else if !step.options.cache {
        Some("cache: false".into())
    } else {
        Some("--no-cache".into())
    };
    ctx.reporter.event(&Event::StepStarted {
        id: step.id.to_string(),
        reason: result.reason.clone(),
    });
    let _ = ctx.store.put_manifest(manifest);
    if let Ok(mut keys) = ctx.last_keys.lock() {
        keys.insert(step.id.to_string(), key.to_hex());
    }

    let outcome: Outcome = Action::new(&ctx.root, step, cancel, ctx.reporter.as_ref())
        .perform()
        .await;
    result.duration_ms = elapsed_ms(started);
    result.summary.clone_from(&outcome.summary);
    if outcome.cancelled {
        return StepResult {
            reason: Some("cancelled".into()),
            ..skipped(step, String::new())
        };
    }
    if !outcome.success {
        result.status = StepStatus::Failed;
        result.error.clone_from(&outcome.error);
        result.log_tail = outcome
            .log
            .iter()
            .rev()
            .take(LOG_TAIL)
            .rev()
            .cloned()
            .collect();
        return result;
    }
    if cacheable {
        let log = outcome.log.join("\n");
        let summary = outcome.summary.clone();
        let duration_ms = result.duration_ms;
        let stored = blocking(ctx, step, move |ctx, step| {
            store_result(ctx, step, key, &log, summary, duration_ms)
        })
        .await;
        match stored {
            Err(warning) => ctx.reporter.event(&Event::Warning { message: warning }),
            Ok(record) => {
                if let Some(remote) = &ctx.remote
                    && !remote.read_only()
                    && let Err(e) = remote.publish(&record, &ctx.store).await
                {
                    let off = matches!(e, crate::cache::RemoteError::Off(_));
                    ctx.remote_warning(
                        format!("remote cache: cannot publish {}: {e}", step.id),
                        off,
                    );
                }
            }
        }
    }
    drop(lock);
    result
}

fn cached_result(
    ctx: &RunContext,
    step: &Step,
    mut result: StepResult,
    hit: (ActionRecord, String),
    started: Instant,
) -> StepResult {
    let (record, log) = hit;
    if !log.is_empty() {
        ctx.reporter.event(&Event::StepReplay {
            id: step.id.to_string(),
            log,
        });
    }
    result.status = StepStatus::Cached;
    result.summary = record.summary;
    result.duration_ms = elapsed_ms(started);
    result
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Looks up every cacheable step's result, in parallel: `Some` for a verified hit (outputs
/// restored where needed).
fn precheck(
    plan: &Plan,
    prepared: &Prepared,
    ctx: &RunContext,
    replay: bool,
) -> Vec<Option<(ActionRecord, String)>> {
    let indices: Vec<usize> = (0..plan.steps.len()).collect();
    crate::par::par_map(&indices, |&i| {
        let step = &plan.steps[i];
        let cacheable = step.options.cache && !step.options.side_effects;
        cacheable
            .then(|| try_hit(ctx, step, &prepared.keys[i], replay))
            .flatten()
    })
}

/// Runs blocking cache work off the async threads.
async fn blocking<T: Send + 'static>(
    ctx: &Arc<RunContext>,
    step: &Step,
    f: impl FnOnce(&RunContext, &Step) -> T + Send + 'static,
) -> T {
    let (ctx, step) = (ctx.clone(), step.clone());
    tokio::task::spawn_blocking(move || f(&ctx, &step))
        .await
        .expect("invariant: cache work does not panic")
}

async fn lock_key(ctx: &Arc<RunContext>, key: &StepKey) -> Option<std::fs::File> {
    let path = ctx.store.lock_path(key);
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(path.parent()?).ok()?;
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ok()?;
        file.lock().ok()?;
        Some(file)
    })
    .await
    .ok()
    .flatten()
}

/// A verified hit: the record, its outputs in place in the workspace, and its log.
/// Anything unreadable or corrupt is a warning and a miss (and the record is dropped).
fn try_hit(
    ctx: &RunContext,
    step: &Step,
    key: &StepKey,
    read_log: bool,
) -> Option<(ActionRecord, String)> {
    let warn = |message: String| ctx.reporter.event(&Event::Warning { message });
    let record = match ctx.store.get_record(key) {
        Ok(Some(record)) => record,
        Ok(None) => return None,
        Err(reason) => {
            warn(format!(
                "cache entry of {} is unreadable ({reason}); rerunning it",
                step.id
            ));
            ctx.store.remove_record(key);
            return None;
        }
    };
    // The log is only read (and verified) when it is going to be replayed.
    let log = if read_log {
        ctx.store.get_bytes(&record.log)
    } else {
        Some(Vec::new())
    };
    let Some(log) = log else {
        warn(format!(
            "the stored log of {} is missing or corrupt; rerunning it",
            step.id
        ));
        ctx.store.remove_record(key);
        return None;
    };
    for output in &record.outputs {
        if let Err(e) = ensure_output(ctx, output) {
            warn(format!("{e} for {}; rerunning it", step.id));
            ctx.store.remove_record(key);
            return None;
        }
    }
    ctx.store.touch_record(key);
    Some((record, String::from_utf8_lossy(&log).into_owned()))
}

/// Makes sure an output file in the workspace has the recorded content, restoring it
/// from the store when it does not.
fn ensure_output(ctx: &RunContext, output: &OutputEntry) -> Result<(), crate::cache::RestoreError> {
    let path = ctx.root.join(&output.path);
    if let Ok(meta) = std::fs::metadata(&path) {
        let stat = Stat::of(&meta);
        let known = ctx
            .index
            .lock()
            .ok()
            .and_then(|mut i| i.lookup(&output.path, &stat));
        let current = known.or_else(|| {
            (meta.len() == output.size)
                .then(|| hash_file(&path).ok())
                .flatten()
        });
        if current == Some(output.digest) {
            if known.is_none()
                && let Ok(mut index) = ctx.index.lock()
            {
                index.record(&output.path, stat, output.digest);
            }
            return Ok(());
        }
    }
    ctx.store.restore(&ctx.root, output)?;
    if let Ok(meta) = std::fs::metadata(&path)
        && let Ok(mut index) = ctx.index.lock()
    {
        index.record(&output.path, Stat::of(&meta), output.digest);
    }
    Ok(())
}

/// Stores a successful step's outputs and log, then its record (last, atomically).
fn store_result(
    ctx: &RunContext,
    step: &Step,
    key: StepKey,
    log: &str,
    summary: Option<String>,
    duration_ms: u64,
) -> Result<ActionRecord, String> {
    let outputs = collect_outputs(ctx, step)?;
    let log = ctx
        .store
        .put_bytes(log.as_bytes())
        .map_err(|e| format!("cannot store the log of {}: {e}", step.id))?;
    let record = ActionRecord {
        key,
        step_id: step.id.to_string(),
        outputs,
        log,
        duration_ms,
        summary,
    };
    ctx.store
        .put_record(&record)
        .map_err(|e| format!("cannot store the result of {}: {e}", step.id))?;
    Ok(record)
}

fn collect_outputs(ctx: &RunContext, step: &Step) -> Result<Vec<OutputEntry>, String> {
    let mut entries = Vec::new();
    for glob in &step.options.outputs {
        let matcher =
            GlobMatcher::new(glob).map_err(|e| format!("invalid output glob `{glob}`: {e}"))?;
        let base = ctx.root.join(matcher.prefix());
        let mut found = 0;
        for entry in walkdir::WalkDir::new(&base)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
        {
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&ctx.root) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if !matcher.is_match(&rel) && rel != matcher.prefix() {
                continue;
            }
            found += 1;
            entries.push(store_output(ctx, &rel, entry.path())?);
        }
        if found == 0 {
            ctx.reporter.event(&Event::Warning {
                message: format!("{}: declared output `{glob}` matched no file", step.id),
            });
        }
    }
    Ok(entries)
}

fn store_output(ctx: &RunContext, rel: &str, path: &Path) -> Result<OutputEntry, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read output {rel}: {e}"))?;
    let digest = hash_file(path).map_err(|e| format!("cannot read output {rel}: {e}"))?;
    ctx.store
        .put_file(path, &digest)
        .map_err(|e| format!("cannot store output {rel}: {e}"))?;
    if let Ok(mut index) = ctx.index.lock() {
        index.record(rel, Stat::of(&meta), digest);
    }
    Ok(OutputEntry {
        path: rel.to_string(),
        digest,
        size: meta.len(),
        executable: meta.permissions().mode() & 0o111 != 0,
    })
}

/// Stops the whole run after `after` (the `--timeout` flag).
pub async fn deadline(after: Duration, cancel: watch::Sender<bool>) {
    tokio::time::sleep(after).await;
    let _ = cancel.send(true);
}
