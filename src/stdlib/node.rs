//! `node::*`: npm install, build and test steps. Inputs: package.json, the lockfile and
//! sources, never node_modules (the workspace walk skips it).

use rhai::Map;
use rhai::plugin::*;

use crate::plan::StepKind;
use crate::stdlib::context::{self, StepHandle};
use crate::stdlib::options;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RunOpts {
    script: Option<String>,
}

/// `npm run <script>` as a step.
fn run_script(
    ctx: &NativeCallContext,
    function: &str,
    default_script: &str,
    opts: Map,
) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<RunOpts>(ctx, function, opts, &["script"])?;
    let script = o.script.unwrap_or_else(|| default_script.to_string());
    let name = common
        .name
        .clone()
        .unwrap_or_else(|| format!("npm_{script}"));
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    context::declare(
        ctx,
        name,
        StepKind::NodeRun {
            dir: svc.dir.clone(),
            script,
        },
        step_options,
    )
}

/// The `node` namespace.
#[export_module]
pub mod module {
    use rhai::Map;

    use super::run_script;
    use crate::plan::StepKind;
    use crate::stdlib::context::{self, StepHandle};
    use crate::stdlib::options;

    /// `npm ci` when a lockfile exists, `npm install` otherwise; outputs node_modules are
    /// not cached (npm's own cache is faster at that).
    ///
    /// ```rhai
    /// node::install();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn install(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        install_with(ctx, Map::new())
    }

    /// `node::install` with options.
    #[rhai_fn(name = "install", return_raw)]
    pub fn install_with(
        ctx: NativeCallContext,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, options::NoOptions {}) = options::parse(&ctx, "node::install", opts, &[])?;
        let name = common.name.clone().unwrap_or_else(|| "npm_install".into());
        let inputs = vec![
            format!("{}/package.json", svc.dir),
            format!("{}/package-lock.json", svc.dir),
            format!("{}/npm-shrinkwrap.json", svc.dir),
        ];
        let step_options = common.into_step_options(&svc, inputs);
        context::declare(
            &ctx,
            name,
            StepKind::NodeInstall {
                dir: svc.dir.clone(),
            },
            step_options,
        )
    }

    /// `npm run build` (or `script`); declare its `outputs` so they are cached and restored.
    ///
    /// ```rhai
    /// node::build(#{ outputs: ["dist/**"] });
    /// ```
    #[rhai_fn(name = "build", return_raw)]
    pub fn build_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        run_script(&ctx, "node::build", "build", opts)
    }

    /// `node::build` with default options.
    #[rhai_fn(return_raw)]
    pub fn build(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        build_with(ctx, Map::new())
    }

    /// `npm test` (or `script`).
    ///
    /// ```rhai
    /// node::test();
    /// ```
    #[rhai_fn(name = "test", return_raw)]
    pub fn test_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        run_script(&ctx, "node::test", "test", opts)
    }

    /// `node::test` with default options.
    #[rhai_fn(return_raw)]
    pub fn test(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        test_with(ctx, Map::new())
    }

    /// `npm run <script>` for any package.json script.
    ///
    /// ```rhai
    /// node::run("lint");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn run(
        ctx: NativeCallContext,
        script: ImmutableString,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        let mut opts = Map::new();
        opts.insert("script".into(), script.clone().into());
        run_script(&ctx, "node::run", &script, opts)
    }
}
