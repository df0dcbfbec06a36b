//! `isect explain SERVICE [STAGE]`: for each step, whether it is cached and, if not,
//! everything that changed since its last run (files, env, toolchain, options, upstream).

use std::fmt::Write as _;

use super::run::{Planned, plan_stage};
use super::session::Session;
use super::{ExplainCommand, GlobalArgs, SelectArgs, print_stdout};
use crate::cache::Digest;
use crate::error::{ExitStatus, Result};
use crate::exec;

pub(crate) fn explain(global: &GlobalArgs, command: &ExplainCommand) -> Result<ExitStatus> {
    let stage = match &command.stage {
        Some(stage) => stage.clone(),
        None => {
            let session = Session::open(global)?;
            let pipelines = session.pipelines(std::slice::from_ref(&command.service))?;
            let has_test = pipelines
                .get(&command.service)
                .is_some_and(|p| p.stages.contains_key("test"));
            if has_test {
                "test".into()
            } else {
                "build".into()
            }
        }
    };
    let select = SelectArgs {
        services: vec![command.service.clone()],
        ..SelectArgs::default()
    };
    let Planned {
        plan,
        prepared,
        store,
        last_keys,
        ..
    } = plan_stage(global, &stage, &select)?;
    let mut out = String::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let key = prepared.keys[i];
        let cached = step.options.cache
            && !step.options.side_effects
            && matches!(store.get_record(&key), Ok(Some(_)));
        let _ = writeln!(
            out,
            "{}  [{}]  key {}",
            step.id,
            step.kind.name(),
            key.short()
        );
        let _ = writeln!(out, "  declared at {}", step.declared_at);
        if step.options.side_effects {
            let _ = writeln!(out, "  side-effecting: always runs");
        }
        if cached {
            let _ = writeln!(
                out,
                "  cached: inputs unchanged since the result was stored"
            );
        } else {
            let last = last_keys
                .get(step.id.as_str())
                .and_then(|h| Digest::from_hex(h));
            let _ = writeln!(out, "  would run:");
            for reason in exec::rerun_reasons(&store, last.as_ref(), &prepared.manifests[i]) {
                let _ = writeln!(out, "    - {reason}");
            }
        }
        let manifest = &prepared.manifests[i];
        let _ = writeln!(
            out,
            "  {} input files, toolchain {}, env [{}]",
            manifest.inputs.len(),
            manifest.toolchain.as_deref().unwrap_or("none"),
            manifest.env.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    print_stdout(&out);
    Ok(ExitStatus::Success)
}
