//! The Rhai engine: one per run, with limits, the stdlib registered, and a resolver that
//! serves `isect/<name>` from the templates embedded in the binary. Evaluating a pipeline
//! script records steps and runs nothing (`evaluate.rs`).

mod errors;
mod evaluate;
mod resolver;

use std::path::Path;
use std::sync::Arc;

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection};
use rhai::{Engine, exported_module};

pub use errors::to_diagnostic;
pub use evaluate::{LIFECYCLE, Pipeline, StageDef, evaluate_all, evaluate_service};
pub use resolver::{STDLIB, StdlibResolver};

/// Operation limit per evaluation: far above any real pipeline, low enough that an
/// endless loop in a script fails in about a second instead of hanging a build.
const MAX_OPERATIONS: u64 = 5_000_000;

/// Builds the engine scripts of `workspace_root` are evaluated with.
#[must_use]
pub fn build_engine(pipelines_dir: &Path) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(64);
    engine.set_max_expr_depths(128, 64);
    engine.on_print(|text| tracing::info!(target: "isect::script", "{text}"));
    engine.on_debug(|text, source, pos| tracing::debug!(target: "isect::script", "{}:{pos}: {text}", source.unwrap_or("")));

    engine.register_global_module(exported_module!(crate::stdlib::core::module).into());
    let native = native_modules();
    for (name, module) in &native {
        engine.register_static_module(*name, module.clone());
    }
    engine.register_type_with_name::<crate::stdlib::StepHandle>("Step");
    engine.register_type_with_name::<crate::stdlib::StageSpec>("Stage");

    let mut resolvers = ModuleResolversCollection::new();
    resolvers.push(StdlibResolver::new(native));
    let mut files = FileModuleResolver::new_with_path(pipelines_dir);
    files.enable_cache(true);
    resolvers.push(files);
    engine.set_module_resolver(resolvers);
    engine
}

/// The Rust halves of the stdlib namespaces, by name.
fn native_modules() -> Vec<(&'static str, Arc<rhai::Module>)> {
    vec![
        (
            "golang",
            Arc::new(exported_module!(crate::stdlib::golang::module)),
        ),
        (
            "python",
            Arc::new(exported_module!(crate::stdlib::python::module)),
        ),
        (
            "node",
            Arc::new(exported_module!(crate::stdlib::node::module)),
        ),
        (
            "scan",
            Arc::new(exported_module!(crate::stdlib::scan::module)),
        ),
        (
            "image",
            Arc::new(exported_module!(crate::stdlib::image::module)),
        ),
    ]
}
