//! The evaluation context: which service is being evaluated and where recorded steps go.
//! Thread-local because a shared `Engine` has no per-evaluation user data (DEPS.md trap 4);
//! each evaluation sets it up on its own thread and takes the result back.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rhai::{Dynamic, EvalAltResult, FnPtr, NativeCallContext, Position};

use crate::plan::{Command, DeclaredAt, StepKind, StepOptions};

/// The service a script is evaluated for, as scripts see it (`svc.name`, `svc.dir`, ...).
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
    /// Workspace-relative folder.
    pub dir: String,
    pub language: Option<String>,
    /// Workspace-relative output folder.
    pub out: String,
    /// Workspace-relative folders of the libraries it uses, directly or not.
    pub deps: Vec<String>,
    /// The file being evaluated (the pipeline script, or the template's name).
    pub script: String,
    /// The workspace's `[scan]` settings, where scan steps start from.
    pub scan: Arc<crate::workspace::ScanSettings>,
    /// The workspace's `[image]` settings: registry, approved bases, signing key.
    pub image: Arc<crate::workspace::ImageSettings>,
}

impl ServiceInfo {
    /// Default inputs of a step: the service's folder and those of the libraries it uses.
    #[must_use]
    pub fn tree_globs(&self) -> Vec<String> {
        std::iter::once(&self.dir)
            .chain(&self.deps)
            .map(|d| format!("{d}/**"))
            .collect()
    }

    /// The map stage closures receive.
    #[must_use]
    pub fn to_map(&self) -> rhai::Map {
        let mut map = rhai::Map::new();
        map.insert("name".into(), self.name.clone().into());
        map.insert("dir".into(), self.dir.clone().into());
        map.insert(
            "language".into(),
            self.language.clone().map_or(Dynamic::UNIT, Into::into),
        );
        map.insert("out".into(), self.out.clone().into());
        map.insert(
            "deps".into(),
            self.deps
                .iter()
                .map(|d| Dynamic::from(d.clone()))
                .collect::<rhai::Array>()
                .into(),
        );
        map
    }
}

/// A step as a script declared it, before the plan gives it an id.
#[derive(Debug, Clone)]
pub struct DeclaredStep {
    /// Unique per process: tells a step recorded in a stage from the same one returned by it.
    pub serial: u64,
    pub name: String,
    pub kind: StepKind,
    pub options: StepOptions,
    pub declared_at: DeclaredAt,
}

/// What a stdlib call returns to the script: a handle on the declared step.
#[derive(Debug, Clone)]
pub struct StepHandle(pub Arc<DeclaredStep>);

/// `stage(#{ needs, part_of }, body)`: a custom stage with its place in the lifecycle.
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// `None`: the lifecycle's default needs.
    pub needs: Option<Vec<String>>,
    pub part_of: Option<String>,
    /// Its steps do not wait for one another (scanners); by default each waits for the last.
    pub parallel: bool,
    pub body: Dynamic,
    pub declared_at: DeclaredAt,
}

/// An error a stdlib function raises, with a stable code for diagnostics.
#[derive(Debug, Clone)]
pub struct ScriptError {
    pub code: &'static str,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
    /// A word on the call's line to underline (an option's key), when it is there.
    pub focus: Option<String>,
}

impl ScriptError {
    #[must_use]
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            label: None,
            help: None,
            focus: None,
        }
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn focus(mut self, word: impl Into<String>) -> Self {
        self.focus = Some(word.into());
        self
    }
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ScriptError> for Box<EvalAltResult> {
    fn from(err: ScriptError) -> Self {
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(err),
            Position::NONE,
        ))
    }
}

enum Frame {
    /// Inside a stage body: declared steps belong to the stage.
    Stage(Vec<Arc<DeclaredStep>>),
    /// Inside `step(name, opts, || ...)`: `sh`/`exec` become the step's commands.
    CustomStep(Vec<Command>),
}

struct Context {
    service: ServiceInfo,
    frames: Vec<Frame>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// Runs `f` with `service` as the evaluation context of this thread.
pub fn with_service<T>(service: ServiceInfo, f: impl FnOnce() -> T) -> T {
    CONTEXT.with(|c| {
        *c.borrow_mut() = Some(Context {
            service,
            frames: Vec::new(),
        })
    });
    let result = f();
    CONTEXT.with(|c| *c.borrow_mut() = None);
    result
}

/// The service being evaluated.
pub fn current_service() -> Result<ServiceInfo, Box<EvalAltResult>> {
    CONTEXT
        .with(|c| c.borrow().as_ref().map(|ctx| ctx.service.clone()))
        .ok_or_else(|| {
            ScriptError::new(
                "script::no_service",
                "this function is only available while a pipeline is evaluated",
            )
            .into()
        })
}

/// Runs `f` (a stage body) and returns the steps it declared.
pub fn collect_stage<T>(f: impl FnOnce() -> T) -> (T, Vec<Arc<DeclaredStep>>) {
    push(Frame::Stage(Vec::new()));
    let result = f();
    let steps = match pop() {
        Some(Frame::Stage(steps)) => steps,
        _ => Vec::new(),
    };
    (result, steps)
}

/// Runs `f` (a custom step's closure) and returns the commands it declared.
pub fn collect_commands<T>(f: impl FnOnce() -> T) -> (T, Vec<Command>) {
    push(Frame::CustomStep(Vec::new()));
    let result = f();
    let commands = match pop() {
        Some(Frame::CustomStep(commands)) => commands,
        _ => Vec::new(),
    };
    (result, commands)
}

fn push(frame: Frame) {
    CONTEXT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.frames.push(frame);
        }
    });
}

fn pop() -> Option<Frame> {
    CONTEXT.with(|c| c.borrow_mut().as_mut().and_then(|ctx| ctx.frames.pop()))
}

/// True inside `step(...)`, where only commands may be declared.
pub fn in_custom_step() -> bool {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|ctx| matches!(ctx.frames.last(), Some(Frame::CustomStep(_))))
    })
}

/// Where the current native call was made from.
pub fn call_site(ctx: &NativeCallContext) -> DeclaredAt {
    let pos = ctx.call_position();
    let file = ctx
        .call_source()
        .map(str::to_string)
        .or_else(|| CONTEXT.with(|c| c.borrow().as_ref().map(|x| x.service.script.clone())))
        .unwrap_or_default();
    DeclaredAt {
        file,
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
        template: None,
    }
}

/// Declares a step: records it in the current stage (if any) and returns its handle.
pub fn declare(
    ctx: &NativeCallContext,
    name: String,
    kind: StepKind,
    options: StepOptions,
) -> Result<StepHandle, Box<EvalAltResult>> {
    if in_custom_step() {
        let error = ScriptError::new("script::step_in_step", format!("`{}` cannot be used inside step(...)", ctx.fn_name()))
            .help("a custom step runs commands: use sh(...) or exec(...) inside it, and declare language steps in the stage");
        return Err(super::options::at_call(ctx, error.into()));
    }
    let step = Arc::new(DeclaredStep {
        serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        name,
        kind,
        options,
        declared_at: call_site(ctx),
    });
    CONTEXT.with(|c| {
        if let Some(Context { frames, .. }) = c.borrow_mut().as_mut()
            && let Some(Frame::Stage(steps)) = frames.last_mut()
        {
            steps.push(step.clone());
        }
    });
    Ok(StepHandle(step))
}

/// Declares a command: inside `step(...)` it becomes one of its commands; elsewhere it is a
/// step of its own (`sh(...)` in a stage).
pub fn declare_command(
    ctx: &NativeCallContext,
    command: Command,
    name: String,
    options: StepOptions,
) -> Result<StepHandle, Box<EvalAltResult>> {
    let recorded = CONTEXT.with(|c| {
        if let Some(Context { frames, .. }) = c.borrow_mut().as_mut()
            && let Some(Frame::CustomStep(commands)) = frames.last_mut()
        {
            commands.push(command.clone());
            return true;
        }
        false
    });
    if recorded {
        return Ok(StepHandle(Arc::new(DeclaredStep {
            serial: 0,
            name,
            kind: StepKind::Exec {
                commands: vec![command],
            },
            options,
            declared_at: call_site(ctx),
        })));
    }
    declare(
        ctx,
        name,
        StepKind::Exec {
            commands: vec![command],
        },
        options,
    )
}

/// Calls a closure from inside a native function, with zero or one argument as it declares.
pub fn call_closure(
    ctx: &NativeCallContext,
    f: &FnPtr,
    arg: Dynamic,
) -> Result<Dynamic, Box<EvalAltResult>> {
    match f.call_within_context::<Dynamic>(ctx, (arg,)) {
        Err(err) if is_arity_mismatch(&err, f) => f.call_within_context::<Dynamic>(ctx, ()),
        other => other,
    }
}

/// True when calling `f` failed only because it takes a different number of arguments.
#[must_use]
pub fn is_arity_mismatch(err: &EvalAltResult, f: &FnPtr) -> bool {
    matches!(err, EvalAltResult::ErrorFunctionNotFound(sig, _) if sig.starts_with(f.fn_name()))
}
