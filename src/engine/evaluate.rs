//! Evaluating a service's pipeline script: its value is a map of stages; each stage is a
//! list of steps, a closure that declares them, or `stage(...)`. Closures are called here,
//! once, with the service as context; they only record steps. The result is plain data.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, FnPtr, Map};

use super::errors::{SourceLookup, to_diagnostic};
use crate::diagnostic::Diagnostic;
use crate::plan::{DeclaredAt, StepKind, StepOptions};
use crate::stdlib::context::{self, DeclaredStep, ServiceInfo, StageSpec, StepHandle};
use crate::workspace::{Project, Workspace};

/// The lifecycle, in order, with the stages each needs by default.
pub const LIFECYCLE: &[(&str, &[&str])] = &[
    ("build", &[]),
    ("test", &["build"]),
    ("scan", &[]),
    ("image", &["build", "test", "scan"]),
    ("deploy", &["image"]),
];

/// A stage after evaluation: what it needs and the steps it declared, in order.
#[derive(Debug, Clone)]
pub struct StageDef {
    pub name: String,
    pub needs: Vec<String>,
    pub part_of: Option<String>,
    /// `needs` came from `stage(#{ needs })` (so a missing one is an error), not the lifecycle.
    pub needs_declared: bool,
    /// Steps run at once rather than in order.
    pub parallel: bool,
    pub steps: Vec<Arc<DeclaredStep>>,
}

/// A service's pipeline after evaluation.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub service: String,
    /// Workspace-relative script path, or `None` when the language's template is used.
    pub script: Option<String>,
    /// The template the pipeline comes from when there is no script.
    pub template: Option<String>,
    pub stages: BTreeMap<String, StageDef>,
    /// Services whose build must finish first (`depends_on` in the pipeline map).
    pub depends_on: Vec<String>,
}

/// Evaluates the pipelines of `services`, in parallel, collecting every error.
pub fn evaluate_all(
    engine: &Engine,
    workspace: &Workspace,
    services: &[&Project],
) -> Result<Vec<Pipeline>, Vec<Diagnostic>> {
    collect(crate::par::par_map(services, |p| {
        evaluate_service(engine, workspace, p)
    }))
}

/// The pipelines, or every error of every script.
fn collect(
    results: Vec<Result<Pipeline, Vec<Diagnostic>>>,
) -> Result<Vec<Pipeline>, Vec<Diagnostic>> {
    let mut pipelines = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(p) => pipelines.push(p),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(pipelines)
    } else {
        Err(errors)
    }
}

/// Evaluates one service's pipeline script (or its language's template).
pub fn evaluate_service(
    engine: &Engine,
    workspace: &Workspace,
    project: &Project,
) -> Result<Pipeline, Vec<Diagnostic>> {
    let rel = workspace.pipeline_path(&project.name);
    let abs = workspace.root.join(&rel);
    let (script, text, template) = match std::fs::read_to_string(&abs) {
        Ok(text) => (Some(rel.clone()), text, None),
        Err(_) => match project.language {
            Some(language) => {
                let lang = language.as_str();
                (
                    None,
                    format!("import \"isect/{lang}\" as {lang};\n{lang}::pipeline()\n"),
                    Some(lang.to_string()),
                )
            }
            None => {
                return Ok(Pipeline {
                    service: project.name.clone(),
                    script: None,
                    template: None,
                    stages: BTreeMap::new(),
                    depends_on: Vec::new(),
                });
            }
        },
    };
    let source_name = script
        .clone()
        .unwrap_or_else(|| format!("<template {}>", template.as_deref().unwrap_or("")));
    let text: Arc<str> = Arc::from(text);
    let sources = SourceLookup::new(source_name.clone(), text.clone());
    let info = ServiceInfo {
        name: project.name.clone(),
        dir: project.dir.clone(),
        language: project.language.map(|l| l.as_str().to_string()),
        out: format!(".isect/out/{}", project.name),
        deps: workspace
            .transitive_deps(&project.dir)
            .into_iter()
            .collect(),
        script: source_name.clone(),
        scan: Arc::new(workspace.config.scan.clone()),
        image: Arc::new(workspace.config.image.clone()),
    };
    let mut ast = engine
        .compile(&*text)
        .map_err(|e| vec![to_diagnostic(&e.into(), &sources)])?;
    ast.set_source(source_name.as_str());

    context::with_service(info.clone(), || {
        let value = engine
            .eval_ast::<Dynamic>(&ast)
            .map_err(|e| vec![to_diagnostic(&e, &sources)])?;
        let Some(map) = value.clone().try_cast::<Map>() else {
            return Err(vec![not_a_pipeline(&source_name, &value)]);
        };
        let mut pipeline = Pipeline {
            service: project.name.clone(),
            script: script.clone(),
            template: template.clone(),
            stages: BTreeMap::new(),
            depends_on: Vec::new(),
        };
        let mut errors = Vec::new();
        for (key, value) in map {
            let key = key.to_string();
            if key == "depends_on" {
                match string_list(&value) {
                    Some(list) => pipeline.depends_on = list,
                    None => errors.push(Diagnostic::error(
                        "script::invalid_pipeline",
                        format!("{source_name}: `depends_on` must be an array of service names"),
                    )),
                }
                continue;
            }
            match collect_stage(engine, &ast, &info, &key, value) {
                Ok(Some(stage)) => {
                    pipeline.stages.insert(key, stage);
                }
                Ok(None) => {}
                Err(err) => errors.push(match err {
                    StageError::Eval(e) => to_diagnostic(&e, &sources),
                    StageError::Invalid(d) => *d,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if let Some(call) = script
            .as_ref()
            .and_then(|_| template_call(&source_name, &text))
        {
            attribute_template_steps(&mut pipeline, &call);
        }
        guard_deploy(&mut pipeline, &info);
        Ok(pipeline)
    })
}

/// The deploy-time check: a service whose pipeline pushes an image deploys only an image
/// that verifies. isect puts the check first in its deploy stage, so no script can leave
/// it out.
fn guard_deploy(pipeline: &mut Pipeline, info: &ServiceInfo) {
    let pushes = pipeline.stages.get("image").is_some_and(|s| {
        s.steps
            .iter()
            .any(|step| matches!(step.kind, StepKind::ImagePush { .. }))
    });
    let Some(deploy) = pipeline.stages.get_mut("deploy") else {
        return;
    };
    if !pushes {
        return;
    }
    let declared_at = deploy
        .steps
        .first()
        .map_or_else(DeclaredAt::default, |s| s.declared_at.clone());
    let options = StepOptions {
        cache: false,
        side_effects: true,
        ..StepOptions::default()
    };
    deploy.steps.insert(
        0,
        Arc::new(DeclaredStep {
            serial: 0,
            name: "verify_image".into(),
            kind: StepKind::ImageVerify {
                pushed: crate::stdlib::image::pushed_record(&info.out),
                verify_key: info.image.verify_key.clone(),
            },
            options,
            declared_at,
        }),
    );
}

/// Where the script calls a template's `pipeline(...)`: steps the template declared are
/// reported there, with the template's own line kept as context.
fn template_call(file: &str, text: &str) -> Option<DeclaredAt> {
    text.lines().enumerate().find_map(|(index, line)| {
        let code = line.split("//").next().unwrap_or("");
        let byte = code.find("::pipeline(")?;
        let start = code[..byte]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        Some(DeclaredAt {
            file: file.to_string(),
            line: index + 1,
            column: code[..start].chars().count() + 1,
            template: None,
        })
    })
}

fn attribute_template_steps(pipeline: &mut Pipeline, call: &DeclaredAt) {
    for stage in pipeline.stages.values_mut() {
        for step in &mut stage.steps {
            if step.declared_at.file.starts_with("stdlib/") {
                let mut moved = (**step).clone();
                moved.declared_at = DeclaredAt {
                    template: Some(step.declared_at.to_string()),
                    ..call.clone()
                };
                *step = Arc::new(moved);
            }
        }
    }
}

enum StageError {
    Eval(Box<rhai::EvalAltResult>),
    Invalid(Box<Diagnostic>),
}

fn collect_stage(
    engine: &Engine,
    ast: &AST,
    info: &ServiceInfo,
    name: &str,
    value: Dynamic,
) -> Result<Option<StageDef>, StageError> {
    let default_needs = LIFECYCLE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, needs)| needs.iter().map(|s| (*s).to_string()).collect())
        .unwrap_or_default();
    let mut stage = StageDef {
        name: name.to_string(),
        needs: default_needs,
        part_of: None,
        needs_declared: false,
        parallel: false,
        steps: Vec::new(),
    };
    let body = if let Some(spec) = value.clone().try_cast::<StageSpec>() {
        if let Some(needs) = spec.needs {
            stage.needs = needs;
            stage.needs_declared = true;
        }
        stage.part_of = spec.part_of;
        stage.parallel = spec.parallel;
        spec.body
    } else {
        value
    };
    if body.is_unit() {
        return Ok(None);
    }
    stage.steps = steps_of(engine, ast, info, name, body)?;
    Ok(Some(stage))
}

fn steps_of(
    engine: &Engine,
    ast: &AST,
    info: &ServiceInfo,
    stage: &str,
    body: Dynamic,
) -> Result<Vec<Arc<DeclaredStep>>, StageError> {
    if let Some(f) = body.clone().try_cast::<FnPtr>() {
        let (result, mut recorded) =
            context::collect_stage(|| call_stage_closure(engine, ast, &f, info));
        let returned = result.map_err(StageError::Eval)?;
        // A closure may also return the steps it declared; keep each once, in declaration order.
        for step in handles(&returned).unwrap_or_default() {
            if !recorded.iter().any(|r| r.serial == step.serial) {
                recorded.push(step);
            }
        }
        return Ok(recorded);
    }
    handles(&body).ok_or_else(|| {
        StageError::Invalid(Box::new(
            Diagnostic::error(
                "script::invalid_stage",
                format!("{}: stage `{stage}` is a {}, not a stage", info.script, body.type_name()),
            )
            .help("a stage is a closure `|svc| { ... }`, an array of steps, or stage(#{ needs: [...] }, |svc| { ... }); `()` removes it"),
        ))
    })
}

fn call_stage_closure(
    engine: &Engine,
    ast: &AST,
    f: &FnPtr,
    info: &ServiceInfo,
) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
    let arity = ast
        .iter_functions()
        .find(|d| d.name == f.fn_name())
        .map_or(1, |d| d.params.len());
    if arity == 0 {
        f.call::<Dynamic>(engine, ast, ())
    } else {
        f.call::<Dynamic>(engine, ast, (Dynamic::from_map(info.to_map()),))
    }
}

/// Step handles in a value: one handle, or an array of them.
fn handles(value: &Dynamic) -> Option<Vec<Arc<DeclaredStep>>> {
    if let Some(handle) = value.clone().try_cast::<StepHandle>() {
        return Some(vec![handle.0]);
    }
    if value.is_unit() {
        return Some(Vec::new());
    }
    let array = value.clone().try_cast::<rhai::Array>()?;
    array
        .into_iter()
        .map(|item| item.try_cast::<StepHandle>().map(|h| h.0))
        .collect()
}

fn string_list(value: &Dynamic) -> Option<Vec<String>> {
    let array = value.clone().try_cast::<rhai::Array>()?;
    array
        .into_iter()
        .map(|item| item.into_string().ok())
        .collect()
}

fn not_a_pipeline(file: &str, value: &Dynamic) -> Diagnostic {
    Diagnostic::error(
        "script::not_a_pipeline",
        format!("{file} evaluates to a {}, not a pipeline", value.type_name()),
    )
    .help("a pipeline script ends with the pipeline map, e.g. `let p = golang::pipeline(); p` or `#{ build: |svc| sh(\"make\") }`")
}
