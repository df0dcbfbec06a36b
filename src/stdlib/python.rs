//! `python::*`: byte-compile and pytest-under-coverage steps. Inputs: the service tree
//! (sources, requirements/pyproject/lock files) and its local path dependencies.

use rhai::plugin::*;

use crate::stdlib::context::ServiceInfo;

/// The whole service folder.
fn default_inputs(svc: &ServiceInfo) -> Vec<String> {
    svc.tree_globs()
}

/// The `python` namespace.
#[export_module]
pub mod module {
    use rhai::Map;

    use super::default_inputs;
    use crate::plan::StepKind;
    use crate::stdlib::context::{self, StepHandle};
    use crate::stdlib::options;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CheckOpts {
        #[serde(default = "here")]
        paths: Vec<String>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TestOpts {
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        source: Vec<String>,
        coverage_min: Option<f64>,
    }

    #[rhai_fn(skip)]
    fn here() -> Vec<String> {
        vec![".".into()]
    }

    /// Byte-compiles every Python source under `paths`, so a syntax error fails the build.
    ///
    /// ```rhai
    /// python::check(#{ paths: ["src"] });
    /// ```
    #[rhai_fn(name = "check", return_raw)]
    pub fn check_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<CheckOpts>(&ctx, "python::check", opts, &["paths"])?;
        let name = common.name.clone().unwrap_or_else(|| "py_check".into());
        let step_options = common.into_step_options(&svc, default_inputs(&svc));
        context::declare(
            &ctx,
            name,
            StepKind::PyCheck {
                dir: svc.dir.clone(),
                paths: o.paths,
            },
            step_options,
        )
    }

    /// `python::check` with default options.
    #[rhai_fn(return_raw)]
    pub fn check(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        check_with(ctx, Map::new())
    }

    /// pytest under coverage.py with a JUnit report; `coverage_min` gates total coverage of
    /// the `source` packages.
    ///
    /// ```rhai
    /// python::test(#{ coverage_min: 80.0, source: ["my_service"] });
    /// ```
    #[rhai_fn(name = "test", return_raw)]
    pub fn test_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<TestOpts>(
            &ctx,
            "python::test",
            opts,
            &["args", "source", "coverage_min"],
        )?;
        let name = common.name.clone().unwrap_or_else(|| "py_test".into());
        let mut step_options = common.into_step_options(&svc, default_inputs(&svc));
        step_options
            .outputs
            .push(format!("{}/reports/pytest.junit.xml", svc.out));
        step_options
            .outputs
            .push(format!("{}/reports/coverage.json", svc.out));
        let kind = StepKind::PyTest {
            dir: svc.dir.clone(),
            args: o.args,
            source: o.source,
            coverage_min: o.coverage_min,
        };
        context::declare(&ctx, name, kind, step_options)
    }

    /// `python::test` with default options.
    #[rhai_fn(return_raw)]
    pub fn test(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        test_with(ctx, Map::new())
    }
}
