//! `isect ci cloudbuild|triggers|github|matrix`: the workspace's pipelines as CI
//! configuration, from the same evaluated scripts a developer runs, so CI runs exactly
//! `isect run SERVICE STAGE` for what the graph holds.

use std::path::Path;

use super::session::Session;
use super::{CiArgs, CiCommand, GlobalArgs, SelectArgs, print_stdout};
use crate::ci::{self, CiInput, CiNeed, CiService, EnvTrigger, RepoSpec};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, ExitStatus, Result};
use crate::plan::StepKind;

pub(crate) fn ci(global: &GlobalArgs, command: &CiCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    match command {
        CiCommand::Cloudbuild(args) => {
            let input = input(&session, args)?;
            write(&session, args, ci::CLOUDBUILD_FILE, &ci::cloudbuild(&input))
        }
        CiCommand::Github(args) => {
            let input = input(&session, args)?;
            write(
                &session,
                args,
                ci::GITHUB_WORKFLOW_FILE,
                &ci::github(&input),
            )
        }
        CiCommand::Triggers { args, repo } => {
            let Some((owner, name)) = repo.split_once('/').filter(|(owner, name)| {
                !owner.is_empty() && !name.is_empty() && !name.contains('/')
            }) else {
                return Err(Error::user(
                    Diagnostic::error("ci::bad_repo", format!("`{repo}` is not owner/name"))
                        .help("e.g. --repo acme/platform"),
                ));
            };
            let input = input(&session, args)?;
            let repo = RepoSpec {
                owner: owner.to_string(),
                name: name.to_string(),
            };
            write(
                &session,
                args,
                "cloudbuild-triggers.yaml",
                &ci::triggers(&input, &repo),
            )
        }
        CiCommand::Matrix { select } => {
            let names = selected(&session, select)?;
            let json = serde_json::json!({ "service": names });
            print_stdout(&format!("{json}\n"));
            Ok(ExitStatus::Success)
        }
    }
}

/// The selected services; `--all` when nothing is named (CI configs cover the workspace).
fn selected(session: &Session, select: &SelectArgs) -> Result<Vec<String>> {
    let mut select = select.clone();
    if select.services.is_empty() && !select.affected {
        select.all = true;
    }
    Ok(session
        .select(&select)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

fn input(session: &Session, args: &CiArgs) -> Result<CiInput> {
    let names = selected(session, &args.select)?;
    let pipelines = session.pipelines(&names)?;
    let config = &session.workspace.config;
    let mut services = Vec::new();
    for name in &names {
        let Some(pipeline) = pipelines.get(name) else {
            continue;
        };
        let stages: Vec<String> = ci::LIFECYCLE
            .iter()
            .filter(|s| pipeline.stages.contains_key(**s))
            .map(|s| (*s).to_string())
            .collect();
        let mut needs = Vec::new();
        for (stage, def) in &pipeline.stages {
            for need in &def.needs {
                if let Some((service, on)) = need.split_once(':') {
                    needs.push(CiNeed::new(stage, service, on));
                }
            }
        }
        let pushes = pipeline.stages.get("image").is_some_and(|s| {
            s.steps
                .iter()
                .any(|step| matches!(step.kind, StepKind::ImagePush { .. }))
        });
        let image = config
            .image
            .registry
            .as_ref()
            .filter(|_| pushes)
            .map(|r| format!("{}/{name}", r.trim_end_matches('/')));
        services.push(CiService {
            name: name.clone(),
            stages,
            needs,
            image,
        });
    }
    let mut input = CiInput {
        services,
        environments: config
            .environments
            .iter()
            .map(|(name, env)| EnvTrigger {
                name: name.clone(),
                branch: env.branch.clone(),
                requires_approval: env.requires_approval,
            })
            .collect(),
        machine_type: args.machine_type.clone(),
        ..CiInput::default()
    };
    if let Some(builder) = &args.builder {
        input.builder_image.clone_from(builder);
    }
    Ok(input)
}

fn write(session: &Session, args: &CiArgs, default: &str, text: &str) -> Result<ExitStatus> {
    match args.output.as_deref() {
        Some(p) if p == Path::new("-") => {
            print_stdout(text);
        }
        other => {
            let path = other.map_or_else(
                || session.workspace.root.join(default),
                |p| session.cwd.join(p),
            );
            crate::cache::write_memo(&path, text.as_bytes())
                .map_err(|e| Error::infra(format!("cannot write {}", path.display()), e))?;
            print_stdout(&format!("wrote {}\n", path.display()));
        }
    }
    Ok(ExitStatus::Success)
}
