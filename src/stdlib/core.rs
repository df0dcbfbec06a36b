//! Global script functions: `sh`, `exec`, `step` (a custom cached step), `stage` (a custom
//! stage), and `check_options` for templates.

use rhai::Map;
use rhai::plugin::*;

use std::collections::BTreeMap;

use crate::plan::{Command, StepOptions};
use crate::stdlib::context::ScriptError;
use crate::stdlib::context::{self, StepHandle};
use crate::stdlib::options::{self, resolve_path};

/// `sh` and `exec`: one command, as a step or as part of a custom step.
fn command_step(
    ctx: &NativeCallContext,
    function: &str,
    program: &str,
    args: Vec<String>,
    opts: Map,
) -> Result<StepHandle, Box<EvalAltResult>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CommandOpts {
        cwd: Option<String>,
    }
    let svc = context::current_service()?;
    let (common, own) = options::parse::<CommandOpts>(ctx, function, opts, &["cwd"])?;
    let cwd = own
        .cwd
        .map_or_else(|| svc.dir.clone(), |c| resolve_path(&svc, &c));
    let name = common.name.clone().unwrap_or_else(|| function.to_string());
    if context::in_custom_step() {
        // Inside step(...), a command has its own cwd, env and timeout; what is cached,
        // read and written belongs to the step.
        if let Some(key) = common.step_level_key() {
            let error = ScriptError::new(
                "script::option_on_command",
                format!("option `{key}` of `{function}` has no effect inside step(...)"),
            )
            .help(format!("put `{key}` in the options of step(...) itself; a command inside it takes cwd, env and timeout"))
            .focus(key);
            return Err(options::at_call(ctx, error.into()));
        }
        let command = Command {
            program: program.to_string(),
            args,
            cwd,
            env: common.env,
            timeout_secs: common.timeout_secs,
        };
        return context::declare_command(ctx, command, name, StepOptions::default());
    }
    let default_inputs = svc.tree_globs();
    let options = common.into_step_options(&svc, default_inputs);
    let command = Command {
        program: program.to_string(),
        args,
        cwd,
        env: BTreeMap::new(),
        timeout_secs: None,
    };
    context::declare_command(ctx, command, name, options)
}

/// The functions every script sees without an import.
// rhai's export macro unwraps the `&mut` receiver of the getters it generates.
#[allow(clippy::unwrap_used)]
#[export_module]
pub mod module {
    use rhai::{Array, FnPtr, Map};

    use super::command_step;
    use crate::plan::StepKind;
    use crate::stdlib::context::{self, ScriptError, StageSpec, StepHandle};
    use crate::stdlib::options;

    /// A shell command as a step (or, inside `step(...)`, as one of its commands).
    /// Runs `sh -c CMD` in the service folder.
    ///
    /// ```rhai
    /// sh("go generate ./...");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn sh(
        ctx: NativeCallContext,
        cmd: ImmutableString,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        sh_with(ctx, cmd, Map::new())
    }

    /// A shell command with options: `name`, `cwd`, `inputs`, `outputs`, `env`, `pass_env`,
    /// `timeout`, `cache`, `side_effects`.
    ///
    /// ```rhai
    /// sh("npm run lint", #{ inputs: ["src/**"], timeout: "2m" });
    /// ```
    #[rhai_fn(name = "sh", return_raw)]
    pub fn sh_with(
        ctx: NativeCallContext,
        cmd: ImmutableString,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        command_step(&ctx, "sh", "sh", vec!["-c".into(), cmd.to_string()], opts)
    }

    /// A program with arguments, without a shell.
    ///
    /// ```rhai
    /// exec("python3", ["-m", "mypy", "src"]);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn exec(
        ctx: NativeCallContext,
        program: ImmutableString,
        args: Array,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        exec_with(ctx, program, args, Map::new())
    }

    /// A program with arguments and options (as for `sh`).
    ///
    /// ```rhai
    /// exec("go", ["run", "./cmd/check"], #{ env: #{ MODE: "strict" } });
    /// ```
    #[rhai_fn(name = "exec", return_raw)]
    pub fn exec_with(
        ctx: NativeCallContext,
        program: ImmutableString,
        args: Array,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        let args = options::strings("exec", "args", Dynamic::from_array(args))?;
        command_step(&ctx, "exec", &program, args, opts)
    }

    /// A custom step: the `sh`/`exec` calls inside the closure are its commands, run in
    /// order; it is cached on its inputs exactly like a built-in step.
    ///
    /// ```rhai
    /// step("contract", #{ inputs: ["api/**"] }, || {
    ///     sh("go run ./cmd/contract-check");
    /// });
    /// ```
    #[rhai_fn(return_raw)]
    pub fn step(
        ctx: NativeCallContext,
        name: ImmutableString,
        opts: Map,
        body: FnPtr,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, options::NoOptions {}) = options::parse(&ctx, "step", opts, &[])?;
        let (result, commands) =
            context::collect_commands(|| context::call_closure(&ctx, &body, Dynamic::UNIT));
        let _ = result?;
        if commands.is_empty() {
            return Err(ScriptError::new(
                "script::empty_step",
                format!("step `{name}` declares no command"),
            )
            .help("call sh(...) or exec(...) inside the step's closure")
            .into());
        }
        let default_inputs = svc.tree_globs();
        let options = common.into_step_options(&svc, default_inputs);
        context::declare(&ctx, name.to_string(), StepKind::Exec { commands }, options)
    }

    /// A custom stage: `needs` are stages that run first; `part_of` runs it whenever that
    /// stage runs (`isect test` runs a stage with `part_of: "test"`); `parallel: true` lets its
    /// steps run at once instead of one after the other.
    ///
    /// ```rhai
    /// p.lint_rules = stage(#{ needs: ["build"], part_of: "test" }, |svc| sh("python3 tools/lint.py"));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn stage(
        ctx: NativeCallContext,
        opts: Map,
        body: Dynamic,
    ) -> Result<StageSpec, Box<EvalAltResult>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct StageOpts {
            needs: Option<Vec<String>>,
            part_of: Option<String>,
            #[serde(default)]
            parallel: bool,
        }
        let parsed: StageOpts = options::typed("stage", opts, &["needs", "part_of", "parallel"])
            .map_err(|e| options::at_call(&ctx, e))?;
        Ok(StageSpec {
            needs: parsed.needs,
            part_of: parsed.part_of,
            parallel: parsed.parallel,
            body,
            declared_at: context::call_site(&ctx),
        })
    }

    /// A secret for a step's environment: `env:NAME` (or `NAME`), `file:path`, or
    /// `gcp:secret` / `gcp:projects/P/secrets/S/versions/V` (Google Secret Manager through
    /// `gcloud`). Resolved when the run starts; never part of a key in clear, never cached,
    /// redacted from every log.
    ///
    /// ```rhai
    /// step("migrate", #{ env: #{ DB_PASSWORD: secret("gcp:db-password") } }, || sh("./migrate"));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn secret(ctx: NativeCallContext, reference: &str) -> Result<String, Box<EvalAltResult>> {
        match crate::secret::SecretRef::parse(reference) {
            Ok(parsed) => Ok(format!("{}{parsed}}}", crate::exec::SECRET_MARKER)),
            Err(e) => Err(options::at_call(
                &ctx,
                ScriptError::new("script::invalid_secret", e.to_string())
                    .help("use env:NAME, file:path or gcp:secret-name")
                    .into(),
            )),
        }
    }

    /// For templates: fails with `script::unknown_option` when `opts` has a key not in `allowed`.
    ///
    /// ```rhai
    /// check_options("golang::pipeline", opts, ["pkg", "coverage_min"]);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_options(
        ctx: NativeCallContext,
        function: ImmutableString,
        opts: Map,
        allowed: Array,
    ) -> Result<(), Box<EvalAltResult>> {
        let allowed: Vec<String> = allowed.into_iter().map(|a| a.to_string()).collect();
        let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
        for key in opts.keys() {
            if !refs.contains(&key.as_str()) {
                let mut error = ScriptError::new(
                    "script::unknown_option",
                    format!("unknown option `{key}` for `{function}`"),
                )
                .help(format!("valid options: {}", refs.join(", ")))
                .focus(key.as_str());
                if let Some(close) = crate::diagnostic::did_you_mean(key, refs.iter().copied()) {
                    error = error.label(format!("did you mean `{close}`?"));
                }
                return Err(options::at_call(&ctx, error.into()));
            }
        }
        Ok(())
    }

    /// The step's name.
    #[rhai_fn(get = "name", pure)]
    pub fn get_name(step: &mut StepHandle) -> String {
        step.0.name.clone()
    }

    /// The step's kind (`go_build`, `exec`, ...).
    #[rhai_fn(get = "kind", pure)]
    pub fn get_kind(step: &mut StepHandle) -> String {
        step.0.kind.name().to_string()
    }

    /// The step's declared outputs, workspace-relative.
    #[rhai_fn(get = "outputs", pure)]
    pub fn get_outputs(step: &mut StepHandle) -> Array {
        step.0
            .options
            .outputs
            .iter()
            .map(|o| Dynamic::from(o.clone()))
            .collect()
    }
}
