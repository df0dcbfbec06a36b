//! `isect check`, `isect list`, `isect graph`: what the workspace holds, without running.

use std::fmt::Write as _;

use super::session::Session;
use super::{GlobalArgs, GraphCommand, ListCommand, print_stdout};
use crate::error::{ExitStatus, Result};
use crate::workspace::ProjectKind;

/// Evaluates every pipeline; errors are reported as diagnostics.
pub(crate) fn check(global: &GlobalArgs) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let pipelines = session.all_pipelines()?;
    let steps: usize = pipelines
        .values()
        .map(|p| p.stages.values().map(|s| s.steps.len()).sum::<usize>())
        .sum();
    print_stdout(&format!(
        "{} pipelines OK ({steps} steps declared)\n",
        pipelines.len()
    ));
    Ok(ExitStatus::Success)
}

/// Services with language, pipeline source and stages; then libraries.
pub(crate) fn list(global: &GlobalArgs, command: &ListCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let pipelines = session.all_pipelines()?;
    let ws = &session.workspace;
    let mut rows = Vec::new();
    for service in ws.services() {
        let pipeline = pipelines.get(&service.name);
        let source = match pipeline {
            Some(p) if p.script.is_some() => p.script.clone().unwrap_or_default(),
            Some(p) if p.template.is_some() => {
                format!(
                    "template isect/{} (no {})",
                    p.template.as_deref().unwrap_or(""),
                    ws.pipeline_path(&service.name)
                )
            }
            _ => format!(
                "none: no {} and no language detected",
                ws.pipeline_path(&service.name)
            ),
        };
        let stages: Vec<String> = pipeline
            .map(|p| p.stages.keys().cloned().collect())
            .unwrap_or_default();
        rows.push(serde_json::json!({
            "name": service.name,
            "dir": service.dir,
            "language": service.language.map(|l| l.as_str()),
            "pipeline": source,
            "stages": stages,
            "depends_on": service.depends_on.keys().collect::<Vec<_>>(),
        }));
    }
    if command.json {
        print_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ));
        return Ok(ExitStatus::Success);
    }
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<24}  pipeline",
        "service", "language", "stages"
    );
    for row in &rows {
        let stages: Vec<&str> = row["stages"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<24}  {}",
            row["name"].as_str().unwrap_or(""),
            row["language"].as_str().unwrap_or("-"),
            stages.join(","),
            row["pipeline"].as_str().unwrap_or("")
        );
    }
    let libs: Vec<_> = ws
        .projects
        .values()
        .filter(|p| p.kind == ProjectKind::Library)
        .collect();
    if !libs.is_empty() {
        let _ = writeln!(out, "\nlibraries:");
        for lib in libs {
            let _ = writeln!(
                out,
                "  {:<32} {}",
                lib.dir,
                lib.language.map_or("-", |l| l.as_str())
            );
        }
    }
    print_stdout(&out);
    Ok(ExitStatus::Success)
}

/// Services and libraries with their edges, as text or Graphviz dot.
pub(crate) fn graph(global: &GlobalArgs, command: &GraphCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let pipelines = session.all_pipelines()?;
    let ws = &session.workspace;
    let mut edges: Vec<(String, String, String)> = Vec::new();
    for project in ws.projects.values() {
        let from = label(project.kind, &project.name, &project.dir);
        for (dep, why) in &project.depends_on {
            let target = &ws.projects[dep];
            edges.push((
                from.clone(),
                label(target.kind, &target.name, &target.dir),
                why.clone(),
            ));
        }
    }
    for pipeline in pipelines.values() {
        for dep in &pipeline.depends_on {
            edges.push((
                pipeline.service.clone(),
                dep.clone(),
                "pipeline depends_on".into(),
            ));
        }
    }
    let mut out = String::new();
    if command.dot {
        let _ = writeln!(out, "digraph isect {{\n  rankdir=LR;");
        for project in ws.projects.values() {
            let shape = if project.kind == ProjectKind::Service {
                "box"
            } else {
                "ellipse"
            };
            let _ = writeln!(
                out,
                "  \"{}\" [shape={shape}];",
                label(project.kind, &project.name, &project.dir)
            );
        }
        for (from, to, why) in &edges {
            let _ = writeln!(out, "  \"{from}\" -> \"{to}\" [label=\"{why}\"];");
        }
        let _ = writeln!(out, "}}");
    } else {
        for project in ws.projects.values() {
            let from = label(project.kind, &project.name, &project.dir);
            let kind = if project.kind == ProjectKind::Service {
                "service"
            } else {
                "library"
            };
            let _ = writeln!(
                out,
                "{from} ({kind}, {})",
                project.language.map_or("-", |l| l.as_str())
            );
            for (_, to, why) in edges.iter().filter(|(f, _, _)| *f == from) {
                let _ = writeln!(out, "  -> {to}  ({why})");
            }
        }
    }
    print_stdout(&out);
    Ok(ExitStatus::Success)
}

fn label(kind: ProjectKind, name: &str, dir: &str) -> String {
    if kind == ProjectKind::Service {
        name.to_string()
    } else {
        dir.to_string()
    }
}
