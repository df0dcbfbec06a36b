//! Embedding isect's engine: load a workspace, evaluate one service's pipeline and print
//! the steps it declares, without running anything.
//!
//! ```sh
//! cargo run --example embed_engine -- auth-service
//! ```

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let service = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "auth-service".into());
    let root = isect::workspace::find_root(Path::new("."))?;
    let workspace = isect::workspace::Workspace::load(&root)?;
    let engine = isect::engine::build_engine(&root.join(&workspace.config.workspace.pipelines));
    let project = workspace.service(&service)?;
    let pipeline =
        isect::engine::evaluate_service(&engine, &workspace, project).map_err(|diagnostics| {
            anyhow::anyhow!(
                diagnostics
                    .iter()
                    .map(|d| d.render())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
    let mut out = String::new();
    for (name, stage) in &pipeline.stages {
        out.push_str(&format!("{name} (needs: {})\n", stage.needs.join(", ")));
        for step in &stage.steps {
            out.push_str(&format!(
                "  {:<12} {:<10} declared at {}\n",
                step.name,
                step.kind.name(),
                step.declared_at
            ));
        }
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}
