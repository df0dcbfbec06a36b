//! The step graph of one command: the requested stage of each selected service, the stages
//! it needs (and those declared `part_of` them), the builds of services it depends on, and
//! an edge from each step to the one before it in its stage. Cycles are reported with
//! their path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::step::Step;
use crate::diagnostic::{Diagnostic, nearest};
use crate::engine::{Pipeline, StageDef};
use crate::workspace::{ServiceName, StepId};

/// Stages of the lifecycle that a later issue implements; asking for one that a pipeline
/// does not define says so plainly.
const NOT_YET_IMPLEMENTED: &[&str] = &["image", "deploy"];

/// A stage of a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StageRef {
    pub service: String,
    pub stage: String,
}

/// Steps in dependency order, with edges.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// `deps[i]`: indices of the steps step `i` waits for (all smaller than `i`).
    pub deps: Vec<Vec<usize>>,
    /// Why each service is in the plan (asked for, or needed by another).
    pub services: BTreeMap<String, String>,
    /// Selected services left out because their pipeline has no such stage.
    pub skipped: Vec<String>,
}

/// Why a plan could not be built.
#[derive(Debug)]
pub struct PlanError(pub Vec<Diagnostic>);

impl Plan {
    /// Plans `stage` for each of `targets`. `pipelines` holds every evaluated pipeline that
    /// may be needed (targets and the services they depend on).
    ///
    /// With `skip_missing` (for `--all` and `--affected`), a target whose pipeline lacks the
    /// stage is left out (and listed in `skipped`) instead of being an error.
    pub fn build(
        pipelines: &BTreeMap<String, Pipeline>,
        targets: &[String],
        stage: &str,
        skip_missing: bool,
    ) -> Result<Self, PlanError> {
        let mut builder = Builder {
            pipelines,
            order: Vec::new(),
            visiting: Vec::new(),
            done: BTreeSet::new(),
            errors: Vec::new(),
            reasons: BTreeMap::new(),
        };
        let mut skipped = Vec::new();
        for target in targets {
            if skip_missing
                && pipelines
                    .get(target)
                    .is_some_and(|p| !p.stages.contains_key(stage))
            {
                skipped.push(target.clone());
                continue;
            }
            builder
                .reasons
                .entry(target.clone())
                .or_insert_with(|| "selected".into());
            builder.visit(
                &StageRef {
                    service: target.clone(),
                    stage: stage.to_string(),
                },
                true,
            );
        }
        if !builder.errors.is_empty() {
            return Err(PlanError(builder.errors));
        }
        let order = builder.order;
        let reasons = builder.reasons;
        let mut plan = Self::from_stage_order(pipelines, &order, reasons);
        plan.skipped = skipped;
        Ok(plan)
    }

    fn from_stage_order(
        pipelines: &BTreeMap<String, Pipeline>,
        order: &[(StageRef, Vec<StageRef>)],
        services: BTreeMap<String, String>,
    ) -> Self {
        let mut plan = Self {
            services,
            ..Self::default()
        };
        // The step(s) that mark the end of each planned stage: its last step, or, for an
        // empty stage, the ends of what it needs.
        let mut ends: BTreeMap<StageRef, Vec<usize>> = BTreeMap::new();
        for (stage_ref, needs) in order {
            let mut before: Vec<usize> = needs
                .iter()
                .flat_map(|n| ends.get(n).cloned().unwrap_or_default())
                .collect();
            before.sort_unstable();
            before.dedup();
            let def = &pipelines[&stage_ref.service].stages[&stage_ref.stage];
            let service = ServiceName::new(&stage_ref.service);
            let mut used_names: BTreeMap<String, usize> = BTreeMap::new();
            let mut parallel_ends = Vec::new();
            for declared in &def.steps {
                let count = used_names.entry(declared.name.clone()).or_insert(0);
                *count += 1;
                let name = if *count == 1 {
                    declared.name.clone()
                } else {
                    format!("{}-{count}", declared.name)
                };
                let index = plan.steps.len();
                plan.steps.push(Step {
                    id: StepId::new(&service, &stage_ref.stage, &name),
                    service: stage_ref.service.clone(),
                    stage: stage_ref.stage.clone(),
                    name,
                    kind: declared.kind.clone(),
                    options: declared.options.clone(),
                    out_dir: format!(".isect/out/{}", stage_ref.service),
                    declared_at: declared.declared_at.clone(),
                });
                if def.parallel {
                    plan.deps.push(before.clone());
                    parallel_ends.push(index);
                } else {
                    plan.deps.push(std::mem::replace(&mut before, vec![index]));
                }
            }
            if def.parallel && !parallel_ends.is_empty() {
                before = parallel_ends;
            }
            ends.insert(stage_ref.clone(), before);
        }
        plan
    }

    /// Indices of every step that depends on `index`, directly or not.
    #[must_use]
    pub fn dependents(&self, index: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        for (i, deps) in self.deps.iter().enumerate() {
            if deps.iter().any(|d| *d == index || out.contains(d)) {
                out.insert(i);
            }
        }
        out
    }
}

struct Builder<'a> {
    pipelines: &'a BTreeMap<String, Pipeline>,
    /// Stages in an order where needs come first, each with the stages it waits for.
    order: Vec<(StageRef, Vec<StageRef>)>,
    visiting: Vec<StageRef>,
    done: BTreeSet<StageRef>,
    errors: Vec<Diagnostic>,
    reasons: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn visit(&mut self, stage_ref: &StageRef, requested: bool) {
        if self.done.contains(stage_ref) {
            return;
        }
        if let Some(start) = self.visiting.iter().position(|s| s == stage_ref) {
            let mut cycle: Vec<String> = self.visiting[start..]
                .iter()
                .map(|s| format!("{}:{}", s.service, s.stage))
                .collect();
            cycle.push(format!("{}:{}", stage_ref.service, stage_ref.stage));
            self.errors.push(
                Diagnostic::error(
                    "plan::cycle",
                    format!("dependency cycle: {}", cycle.join(" → ")),
                )
                .help("remove one of these edges: a stage's `needs`, or a pipeline's `depends_on`"),
            );
            return;
        }
        let Some(pipeline) = self.pipelines.get(&stage_ref.service) else {
            let names: Vec<&str> = self.pipelines.keys().map(String::as_str).collect();
            self.errors.push(
                Diagnostic::error(
                    "plan::unknown_service",
                    format!("`{}` is not a service of this workspace", stage_ref.service),
                )
                .help(format!(
                    "nearest names: {}",
                    nearest(&stage_ref.service, names, 3).join(", ")
                )),
            );
            return;
        };
        let Some(def) = pipeline.stages.get(&stage_ref.stage) else {
            if requested {
                self.errors.push(missing_stage(pipeline, &stage_ref.stage));
            }
            return;
        };
        self.visiting.push(stage_ref.clone());
        let mut waits_for = Vec::new();
        for need in expand_needs(pipeline, def) {
            // `other-service:build` is a stage of another service.
            if let Some((service, stage)) = need.split_once(':') {
                let need_ref = StageRef {
                    service: service.to_string(),
                    stage: stage.to_string(),
                };
                self.reasons.entry(service.to_string()).or_insert_with(|| {
                    format!("{}:{} needs it", stage_ref.service, stage_ref.stage)
                });
                self.visit(&need_ref, true);
                waits_for.push(need_ref);
                continue;
            }
            let need_ref = StageRef {
                service: stage_ref.service.clone(),
                stage: need.clone(),
            };
            if !pipeline.stages.contains_key(&need) {
                if def.needs_declared {
                    self.errors.push(missing_stage(pipeline, &need));
                }
                continue;
            }
            self.visit(&need_ref, false);
            waits_for.push(need_ref);
        }
        // A stage with nothing of its own to wait for waits for the builds of the services
        // the pipeline depends on.
        if waits_for.is_empty() {
            for dep in &pipeline.depends_on {
                self.reasons
                    .entry(dep.clone())
                    .or_insert_with(|| format!("{} depends on it", stage_ref.service));
                let dep_ref = StageRef {
                    service: dep.clone(),
                    stage: "build".into(),
                };
                if self
                    .pipelines
                    .get(dep)
                    .is_some_and(|p| p.stages.contains_key("build"))
                {
                    self.visit(&dep_ref, false);
                    waits_for.push(dep_ref);
                } else if !self.pipelines.contains_key(dep) {
                    self.visit(&dep_ref, true);
                }
            }
        }
        self.visiting.pop();
        self.done.insert(stage_ref.clone());
        self.order.push((stage_ref.clone(), waits_for));
        // Stages declared `part_of` this one run whenever it does.
        let part_of: Vec<String> = pipeline
            .stages
            .values()
            .filter(|s| s.part_of.as_deref() == Some(&stage_ref.stage))
            .map(|s| s.name.clone())
            .collect();
        for extra in part_of {
            self.visit(
                &StageRef {
                    service: stage_ref.service.clone(),
                    stage: extra,
                },
                false,
            );
        }
    }
}

/// A stage's needs, plus every stage declared `part_of` one of them.
fn expand_needs(pipeline: &Pipeline, def: &StageDef) -> Vec<String> {
    let mut needs: Vec<String> = def.needs.clone();
    for need in &def.needs {
        for other in pipeline.stages.values() {
            if other.part_of.as_deref() == Some(need.as_str())
                && other.name != def.name
                && !needs.contains(&other.name)
            {
                needs.push(other.name.clone());
            }
        }
    }
    needs
}

fn missing_stage(pipeline: &Pipeline, stage: &str) -> Diagnostic {
    let file = pipeline.script.clone().unwrap_or_else(|| {
        format!(
            "the {} template",
            pipeline.template.as_deref().unwrap_or("default")
        )
    });
    if NOT_YET_IMPLEMENTED.contains(&stage) {
        return Diagnostic::error(
            "plan::stage_not_implemented",
            format!("the `{stage}` stage is not implemented yet: {file} for `{}` does not define it", pipeline.service),
        )
        .note(format!("isect {} ships the build and test stages; the stdlib's {stage} steps come in a later release", env!("CARGO_PKG_VERSION")))
        .help(format!("define your own in the pipeline: `p.{stage} = |svc| {{ sh(\"...\"); }};`"));
    }
    let stages: Vec<&str> = pipeline.stages.keys().map(String::as_str).collect();
    Diagnostic::error(
        "plan::unknown_stage",
        format!("service `{}` has no stage `{stage}`", pipeline.service),
    )
    .help(format!("its stages are: {}", stages.join(", ")))
}
