//! `import "isect/golang" as golang;` → the template `stdlib/golang.rhai`, compiled from the
//! copy embedded in the binary (or `$ISECT_STDLIB_DIR` while developing it), with the Rust
//! functions of the same namespace merged in, so `golang::build` and `golang::pipeline`
//! live side by side. Resolved modules are cached (DEPS.md trap 7).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope};

use crate::env_vars::EnvVars;

/// The templates compiled into the binary: (name, text).
pub const STDLIB: &[(&str, &str)] = &[
    ("golang", include_str!("../../stdlib/golang.rhai")),
    ("python", include_str!("../../stdlib/python.rhai")),
    ("node", include_str!("../../stdlib/node.rhai")),
];

/// Serves `isect/<name>` imports.
pub struct StdlibResolver {
    native: Vec<(&'static str, Arc<Module>)>,
    cache: RwLock<HashMap<String, Arc<Module>>>,
}

impl StdlibResolver {
    #[must_use]
    pub fn new(native: Vec<(&'static str, Arc<Module>)>) -> Self {
        Self {
            native,
            cache: RwLock::new(HashMap::new()),
        }
    }

    fn text(name: &str) -> Option<String> {
        if let Some(dir) = std::env::var_os(EnvVars::ISECT_STDLIB_DIR)
            && let Ok(text) =
                std::fs::read_to_string(std::path::Path::new(&dir).join(format!("{name}.rhai")))
        {
            return Some(text);
        }
        STDLIB
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| (*text).to_string())
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Arc<Module>, Box<EvalAltResult>> {
        let Some(name) = path.strip_prefix("isect/") else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_string(),
                pos,
            )));
        };
        if let Some(module) = self.cache.read().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(module);
        }
        let Some(text) = Self::text(name) else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_string(),
                pos,
            )));
        };
        let source = format!("stdlib/{name}.rhai");
        let wrap = |err: Box<EvalAltResult>| {
            Box::new(EvalAltResult::ErrorInModule(source.clone(), err, pos))
        };
        let mut ast = engine.compile(&text).map_err(|e| wrap(e.into()))?;
        ast.set_source(source.as_str());
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(wrap)?;
        if let Some((_, native)) = self.native.iter().find(|(n, _)| *n == name) {
            module.combine_flatten((**native).clone());
        }
        module.build_index();
        let module = Arc::new(module);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(name.to_string(), module.clone());
        }
        Ok(module)
    }
}
