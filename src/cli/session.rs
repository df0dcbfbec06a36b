//! What most commands start with: the workspace found from the current folder, the
//! engine, the cache folder, the selected services and their evaluated pipelines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{GlobalArgs, SelectArgs};
use crate::diagnostic::Diagnostic;
use crate::engine::{self, Pipeline};
use crate::env_vars::EnvVars;
use crate::error::{Error, Result};
use crate::workspace::{Project, Workspace, find_root};

/// An opened workspace.
pub(crate) struct Session {
    pub(crate) workspace: Workspace,
    pub(crate) engine: rhai::Engine,
    /// The folder isect was started in.
    pub(crate) cwd: PathBuf,
}

impl Session {
    pub(crate) fn open(global: &GlobalArgs) -> Result<Self> {
        let cwd = match &global.directory {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::infra("cannot read the current folder", e))?,
        };
        let root = find_root(&cwd)?;
        let workspace = Workspace::load(&root)?;
        let engine = engine::build_engine(&root.join(&workspace.config.workspace.pipelines));
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        Ok(Self {
            workspace,
            engine,
            cwd,
        })
    }

    /// The cache folder: `$ISECT_CACHE_DIR`, else isect.toml's `[cache] dir`, else `.isect/cache`.
    pub(crate) fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os(EnvVars::ISECT_CACHE_DIR) {
            return PathBuf::from(dir);
        }
        let configured = self
            .workspace
            .config
            .cache
            .dir
            .clone()
            .unwrap_or_else(|| ".isect/cache".into());
        self.workspace.root.join(configured)
    }

    /// The services a command names: by name, `--all`, `--affected`, or the service whose
    /// folder isect runs in. Returns each with why it was selected.
    pub(crate) fn select(&self, args: &SelectArgs) -> Result<Vec<(String, String)>> {
        if args.all {
            return Ok(self
                .workspace
                .services()
                .map(|p| (p.name.clone(), "--all".to_string()))
                .collect());
        }
        if args.affected {
            return super::affected::affected(&self.workspace, args.since.as_deref());
        }
        if !args.services.is_empty() {
            let mut errors = Vec::new();
            let mut selected = Vec::new();
            for name in &args.services {
                match self.workspace.service(name) {
                    Ok(p) => selected.push((p.name.clone(), "named".to_string())),
                    Err(Error::User(d)) => errors.extend(d),
                    Err(other) => return Err(other),
                }
            }
            return if errors.is_empty() {
                Ok(selected)
            } else {
                Err(Error::User(errors))
            };
        }
        let rel = self
            .cwd
            .strip_prefix(&self.workspace.root)
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        if let Some(project) = rel.and_then(|r| self.workspace.owner_of(&format!("{r}/")).cloned())
            && project.kind == crate::workspace::ProjectKind::Service
        {
            return Ok(vec![(project.name, "current folder".into())]);
        }
        Err(Error::user(
            Diagnostic::error("cli::no_service", "no service given")
                .help("name one or more services (`isect build auth-service`), use --all or --affected, or run isect inside a service's folder"),
        ))
    }

    /// Evaluates the pipelines of `names` and of every service their pipelines depend on.
    pub(crate) fn pipelines(&self, names: &[String]) -> Result<BTreeMap<String, Pipeline>> {
        let mut pipelines: BTreeMap<String, Pipeline> = BTreeMap::new();
        let mut todo: Vec<String> = names.to_vec();
        while !todo.is_empty() {
            let projects: Vec<&Project> = todo
                .iter()
                .filter(|n| !pipelines.contains_key(*n))
                .filter_map(|n| self.workspace.services().find(|p| &p.name == n))
                .collect();
            let evaluated = engine::evaluate_all(&self.engine, &self.workspace, &projects)
                .map_err(Error::User)?;
            todo.clear();
            for pipeline in evaluated {
                let stage_needs = pipeline
                    .stages
                    .values()
                    .flat_map(|s| s.needs.iter())
                    .filter_map(|n| n.split_once(':').map(|(service, _)| service.to_string()));
                let deps: Vec<String> = pipeline
                    .depends_on
                    .iter()
                    .cloned()
                    .chain(stage_needs)
                    .collect();
                for dep in &deps {
                    if !pipelines.contains_key(dep)
                        && !todo.contains(dep)
                        && self.workspace.services().any(|p| &p.name == dep)
                    {
                        todo.push(dep.clone());
                    }
                }
                pipelines.insert(pipeline.service.clone(), pipeline);
            }
            todo.retain(|n| !pipelines.contains_key(n));
        }
        Ok(pipelines)
    }

    /// Evaluates every service's pipeline.
    pub(crate) fn all_pipelines(&self) -> Result<BTreeMap<String, Pipeline>> {
        let names: Vec<String> = self.workspace.services().map(|p| p.name.clone()).collect();
        self.pipelines(&names)
    }
}
