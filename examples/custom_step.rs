//! A custom step is cached exactly like a built-in one: this example writes a throwaway
//! workspace whose pipeline declares `step("checksum", ...)`, then plans it twice with the
//! `isect` binary to show the key and the cache decision.
//!
//! ```sh
//! cargo build && cargo run --example custom_step
//! ```

use std::process::Command;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    std::fs::create_dir_all(root.join("services/docs/src"))?;
    std::fs::create_dir_all(root.join("pipelines"))?;
    std::fs::write(root.join("isect.toml"), "")?;
    std::fs::write(root.join("services/docs/src/index.md"), "# Docs\n")?;
    std::fs::write(
        root.join("pipelines/docs.rhai"),
        r#"#{
    build: |svc| {
        step("checksum", #{ inputs: ["src/**"], outputs: ["out/sum.txt"] }, || {
            sh("mkdir -p out && cat src/*.md | cksum > out/sum.txt");
        });
    }
}
"#,
    )?;
    let isect = std::env::var("ISECT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/isect").to_string());
    for round in ["first build", "second build (cached)"] {
        let output = Command::new(&isect)
            .args(["build", "docs", "--no-progress"])
            .current_dir(root)
            .output()?;
        std::io::Write::write_all(&mut std::io::stdout(), format!("== {round}\n").as_bytes())?;
        std::io::Write::write_all(&mut std::io::stdout(), &output.stdout)?;
    }
    Ok(())
}
