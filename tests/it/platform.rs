//! The sample platform as users meet it: the real services of this repository copied into a
//! temporary workspace, `--affected` on a git history, and the gateway's integration stage.

use std::path::Path;
use std::process::Command;

use crate::common::{TestWorkspace, go_workspace};

/// Copies `rel` (a file or folder of this repository) into the workspace, skipping build
/// leftovers.
fn copy_from_repo(ws: &TestWorkspace, rel: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if source.is_file() {
        std::fs::create_dir_all(ws.path(rel).parent().unwrap()).unwrap();
        std::fs::copy(&source, ws.path(rel)).unwrap();
        return;
    }
    for entry in walkdir::WalkDir::new(&source)
        .into_iter()
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some(".isect" | "dist" | "__pycache__")
            )
        })
    {
        let entry = entry.unwrap();
        let target = ws
            .path(rel)
            .join(entry.path().strip_prefix(&source).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn git(ws: &TestWorkspace, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(ws.root())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The processes whose command line mentions `needle` (the workspace path).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{}: {cmdline}", name.to_string_lossy()));
        }
    }
    found
}

#[test]
fn affected_since_a_commit_selects_exactly_the_dependents_of_a_changed_library() {
    let ws = go_workspace();
    git(&ws, &["init", "-q", "-b", "main"]);
    git(&ws, &["add", "-A"]);
    git(&ws, &["commit", "-qm", "base"]);
    let lib = ws.read("libs/go/common/common.go");
    ws.file(
        "libs/go/common/common.go",
        &format!("{lib}\n// a comment\n"),
    );
    git(&ws, &["commit", "-qam", "change the library"]);

    let out = ws.run(["build", "--affected", "--since", "HEAD~1"]);
    out.assert_success();
    let services: Vec<String> = out
        .rows()
        .iter()
        .map(|r| r.id.split(':').next().unwrap().to_string())
        .collect();
    assert!(
        services.contains(&"api".to_string()) && services.contains(&"web".to_string()),
        "{}",
        out.dump()
    );
    assert!(
        !services.contains(&"solo".to_string()),
        "solo does not use the library\n{}",
        out.dump()
    );
    out.assert_stderr_contains(
        "selected api: uses libs/go/common (libs/go/common/common.go changed)",
    );

    // An uncommitted change in one service selects that service alone.
    ws.file(
        "services/solo/extra.go",
        "package main\n\nfunc extra() int { return 1 }\n",
    );
    let out = ws.run(["build", "--affected", "--since", "HEAD"]);
    out.assert_success();
    let services: Vec<String> = out
        .rows()
        .iter()
        .map(|r| r.id.split(':').next().unwrap().to_string())
        .collect();
    assert!(
        services.iter().all(|s| s == "solo") && !services.is_empty(),
        "{}",
        out.dump()
    );
    out.assert_stderr_contains("selected solo: services/solo/extra.go changed");
}

#[test]
fn all_leaves_out_services_without_the_stage_and_says_so() {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("services/a/input.txt", "a\n")
        .file("services/b/input.txt", "b\n")
        .file(
            "pipelines/a.rhai",
            "#{ build: |svc| sh(\"true\"), test: |svc| sh(\"true\") }\n",
        )
        .file("pipelines/b.rhai", "#{ build: |svc| sh(\"true\") }\n");
    let out = ws.run(["test", "--all"]);
    out.assert_success();
    out.assert_stderr_contains("b has no `test` stage: skipped");
    assert_eq!(out.status("a:test:sh"), "ok", "{}", out.dump());
    // Named explicitly, the missing stage is an error.
    ws.run(["test", "b"])
        .assert_failure(1)
        .assert_stderr_contains("plan::unknown_stage");
}

#[test]
fn gateway_integration_stage_runs_against_a_real_auth_service_and_leaves_nothing_running() {
    let ws = TestWorkspace::new();
    for rel in [
        "isect.toml",
        "libs/go/platform",
        "services/auth-service",
        "services/api-gateway",
        "pipelines/auth-service.rhai",
        "pipelines/api-gateway.rhai",
    ] {
        copy_from_repo(&ws, rel);
    }
    let out = ws.run(["test", "api-gateway"]);
    out.assert_success();
    assert_eq!(
        out.status("api-gateway:integration:gateway-auth"),
        "ok",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.status("auth-service:build:go_build"),
        "ok",
        "{}",
        out.dump()
    );
    // The stage ran the gateway's integration tests for real (they skip without isect's ports).
    let log = out.stderr();
    assert!(
        log.contains("api-gateway:integration:gateway-auth | ok"),
        "{}",
        out.dump()
    );
    let root = ws.root().display().to_string();
    assert!(
        processes_mentioning(&root).is_empty(),
        "left running: {:?}",
        processes_mentioning(&root)
    );

    // The integration step depends on auth-service's build: a change there reruns it, and
    // leaves the gateway's own build cached.
    let token = ws.read("services/auth-service/internal/token/token.go");
    ws.file(
        "services/auth-service/internal/token/token.go",
        &format!("{token}\n// touched\n"),
    );
    let out = ws.run(["test", "api-gateway"]);
    out.assert_success();
    assert_eq!(
        out.status("api-gateway:build:go_build"),
        "cached",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.status("api-gateway:integration:gateway-auth"),
        "ok",
        "{}",
        out.dump()
    );
}

#[test]
fn a_platform_go_service_image_runs_in_the_docker_engine_and_answers_on_healthz() {
    if !crate::common::docker_available(
        "a_platform_go_service_image_runs_in_the_docker_engine_and_answers_on_healthz",
    ) {
        return;
    }
    let ws = TestWorkspace::new();
    for rel in [
        "libs/go/platform",
        "services/asset-inventory",
        "pipelines/asset-inventory.rhai",
        "security",
    ] {
        copy_from_repo(&ws, rel);
    }
    // The platform's settings without its registry: this test builds and runs, it does not push.
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("isect.toml")).unwrap();
    let without_image: String = config.split("\n[image]").next().unwrap().to_string();
    ws.file("isect.toml", &without_image);
    let built = ws.run(["image", "asset-inventory"]);
    built.assert_success();
    assert_eq!(
        built.status("asset-inventory:image:image"),
        "ok",
        "{}",
        built.dump()
    );
    let tag = crate::common::load_image(&ws, "asset-inventory");
    crate::common::healthz_of_image(&tag, "isect-it-inventory").unwrap_or_else(|log| {
        panic!("asset-inventory did not answer on /healthz; its log:\n{log}")
    });
}
