//! `isect doctor`: which toolchains the workspace needs, which were found (with versions),
//! what to install for the missing ones, and whether the Docker Engine answers.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use super::session::Session;
use super::{GlobalArgs, print_stdout};
use crate::error::{ExitStatus, Result};
use crate::lang::toolchain;
use crate::plan::Toolchain;
use crate::workspace::Language;

pub(crate) async fn doctor(global: &GlobalArgs) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let needed: BTreeSet<Toolchain> = session
        .workspace
        .projects
        .values()
        .filter_map(|p| p.language)
        .map(|l| match l {
            Language::Golang => Toolchain::Go,
            Language::Python => Toolchain::Python,
            Language::Node => Toolchain::Node,
        })
        .collect();
    let mut out = String::new();
    let mut missing = 0;
    for tool in [Toolchain::Go, Toolchain::Python, Toolchain::Node] {
        let need = if needed.contains(&tool) {
            "needed"
        } else {
            "not needed"
        };
        let memo = std::env::temp_dir().join(format!("isect-doctor-{}.json", std::process::id()));
        match toolchain::identify(tool, &memo) {
            Ok(version) => {
                let path = toolchain::which(tool.program())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "ok       {:<8} {version} ({path}; {need})",
                    tool.program()
                );
            }
            Err(err) => {
                if needed.contains(&tool) {
                    missing += 1;
                }
                let _ = writeln!(
                    out,
                    "missing  {:<8} {err} ({need})\n         {}",
                    tool.program(),
                    tool.install_hint()
                );
            }
        }
        let _ = std::fs::remove_file(memo);
    }
    if needed.contains(&Toolchain::Python) {
        let probe = std::process::Command::new("python3")
            .args(["-c", "import pytest, coverage"])
            .output();
        if probe.is_ok_and(|o| o.status.success()) {
            let _ = writeln!(out, "ok       pytest   pytest and coverage import");
        } else {
            missing += 1;
            let _ = writeln!(
                out,
                "missing  pytest   python3 cannot import pytest and coverage\n         pip install pytest coverage"
            );
        }
    }
    let _ = writeln!(out, "{}", docker_status().await);
    print_stdout(&out);
    Ok(if missing == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

async fn docker_status() -> String {
    let docker = match bollard::Docker::connect_with_defaults() {
        Ok(d) => d,
        Err(e) => {
            return format!(
                "missing  docker   {e}\n         start the Docker Engine (`systemctl start docker`) or point DOCKER_HOST at it"
            );
        }
    };
    match tokio::time::timeout(Duration::from_secs(3), docker.version()).await {
        Ok(Ok(v)) => format!("ok       docker   Docker Engine {} (API {})", v.version.unwrap_or_default(), v.api_version.unwrap_or_default()),
        Ok(Err(e)) => format!("missing  docker   the Docker Engine did not answer: {e}\n         start it (`systemctl start docker` or `dockerd`) or check DOCKER_HOST"),
        Err(_) => "missing  docker   the Docker Engine did not answer within 3s\n         check that dockerd runs and DOCKER_HOST points at it".into(),
    }
}
