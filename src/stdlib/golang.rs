//! `golang::*`: Go build, test and vet steps. Inputs are inferred with `go list -deps`
//! at plan time (see `lang::golang`), so a shared library's files are inputs of every
//! service that imports it.

use rhai::plugin::*;

/// The `golang` namespace.
#[export_module]
pub mod module {
    use rhai::Map;

    use crate::plan::StepKind;
    use crate::stdlib::context::{self, StepHandle};
    use crate::stdlib::options;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct BuildOpts {
        #[serde(default = "dot")]
        pkg: String,
        output: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        ldflags: String,
        #[serde(default)]
        cgo: bool,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TestOpts {
        #[serde(default = "all_pkgs")]
        pkgs: Vec<String>,
        #[serde(default)]
        race: bool,
        #[serde(default)]
        short: bool,
        #[serde(default)]
        tags: Vec<String>,
        run: Option<String>,
        coverage_min: Option<f64>,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct VetOpts {
        #[serde(default = "all_pkgs")]
        pkgs: Vec<String>,
    }

    #[rhai_fn(skip)]
    fn dot() -> String {
        ".".into()
    }
    #[rhai_fn(skip)]
    fn all_pkgs() -> Vec<String> {
        vec!["./...".into()]
    }

    /// `go build -trimpath` of the main package `pkg` into `<out>/bin/<output>`.
    ///
    /// ```rhai
    /// golang::build(#{ pkg: "./cmd/server", ldflags: "-X main.version=1.2.3" });
    /// ```
    #[rhai_fn(name = "build", return_raw)]
    pub fn build_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<BuildOpts>(
            &ctx,
            "golang::build",
            opts,
            &["pkg", "output", "tags", "ldflags", "cgo"],
        )?;
        let output_name = o.output.unwrap_or_else(|| svc.name.clone());
        let output = format!("{}/bin/{output_name}", svc.out);
        let name = common.name.clone().unwrap_or_else(|| "go_build".into());
        let mut step_options = common.into_step_options(&svc, Vec::new());
        step_options.go_module = Some(svc.dir.clone());
        step_options.outputs.push(output.clone());
        let kind = StepKind::GoBuild {
            module: svc.dir.clone(),
            pkg: o.pkg,
            output,
            tags: o.tags,
            ldflags: o.ldflags,
            cgo: o.cgo,
        };
        context::declare(&ctx, name, kind, step_options)
    }

    /// `golang::build` with default options.
    #[rhai_fn(return_raw)]
    pub fn build(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        build_with(ctx, Map::new())
    }

    /// `go test -json` with a coverage profile and a JUnit report; `coverage_min` fails the
    /// step when total statement coverage is lower.
    ///
    /// ```rhai
    /// golang::test(#{ coverage_min: 80.0, race: true });
    /// ```
    #[rhai_fn(name = "test", return_raw)]
    pub fn test_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<TestOpts>(
            &ctx,
            "golang::test",
            opts,
            &["pkgs", "race", "short", "tags", "run", "coverage_min"],
        )?;
        let name = common.name.clone().unwrap_or_else(|| "go_test".into());
        let mut step_options = common.into_step_options(&svc, Vec::new());
        step_options.go_module = Some(svc.dir.clone());
        step_options
            .outputs
            .push(format!("{}/reports/go-test.junit.xml", svc.out));
        step_options
            .outputs
            .push(format!("{}/reports/go-coverage.out", svc.out));
        let kind = StepKind::GoTest {
            module: svc.dir.clone(),
            pkgs: o.pkgs,
            race: o.race,
            short: o.short,
            tags: o.tags,
            run: o.run,
            coverage_min: o.coverage_min,
        };
        context::declare(&ctx, name, kind, step_options)
    }

    /// `golang::test` with default options.
    #[rhai_fn(return_raw)]
    pub fn test(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        test_with(ctx, Map::new())
    }

    /// `go vet` over `pkgs` (default `./...`).
    ///
    /// ```rhai
    /// golang::vet();
    /// ```
    #[rhai_fn(name = "vet", return_raw)]
    pub fn vet_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<VetOpts>(&ctx, "golang::vet", opts, &["pkgs"])?;
        let name = common.name.clone().unwrap_or_else(|| "go_vet".into());
        let mut step_options = common.into_step_options(&svc, Vec::new());
        step_options.go_module = Some(svc.dir.clone());
        context::declare(
            &ctx,
            name,
            StepKind::GoVet {
                module: svc.dir.clone(),
                pkgs: o.pkgs,
            },
            step_options,
        )
    }

    /// `golang::vet` with default options.
    #[rhai_fn(return_raw)]
    pub fn vet(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        vet_with(ctx, Map::new())
    }
}
