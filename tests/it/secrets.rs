//! `secret(...)` through the binary: a step sees the value, nothing isect prints or keeps
//! does (nor its base64, hex or URL-encoded forms), a changed secret reruns the step, and
//! Secret Manager is reached through `gcloud` (a recorded fake here: no cloud is reachable).

use std::path::Path;

use base64::Engine as _;

use crate::common::{TestWorkspace, path_with_first, walk};

const TOKEN: &str = "s3cr3t-Value/with+chars=";

/// A step that prints its secret in every encoding a careless script might.
fn leaky_workspace(reference: &str) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("services/svc/input.txt", "svc\n")
        .file(
            "pipelines/svc.rhai",
            &format!(
                r#"#{{ build: |svc| {{
    step("leak", #{{ env: #{{ TOKEN: secret("{reference}") }} }}, || {{
        sh("echo raw=$TOKEN; printf %s \"$TOKEN\" | base64; printf %s \"$TOKEN\" | xxd -p -c 256; python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ[\"TOKEN\"], safe=\"\"))'");
    }});
}} }}
"#
            ),
        );
    ws
}

fn encodings(secret: &str) -> Vec<String> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    vec![
        secret.to_string(),
        base64::engine::general_purpose::STANDARD.encode(secret),
        hex,
        "s3cr3t-Value%2Fwith%2Bchars%3D".to_string(),
    ]
}

fn assert_nothing_leaks(ws: &TestWorkspace, text: &str, secret: &str) {
    for form in encodings(secret) {
        assert!(!text.contains(&form), "`{form}` was printed:\n{text}");
        let leaked: Vec<String> = walk(&ws.path(".isect"))
            .into_iter()
            .filter(|p| {
                std::fs::read(p).is_ok_and(|b| b.windows(form.len()).any(|w| w == form.as_bytes()))
            })
            .map(|p| p.display().to_string())
            .collect();
        assert!(leaked.is_empty(), "`{form}` reached {leaked:?}");
    }
}

#[test]
fn a_secret_reaches_the_step_and_nothing_else() {
    let ws = leaky_workspace("env:DEPLOY_TOKEN");
    let run = ws.run_with(
        ["build", "svc", "--output-logs", "full", "--no-progress"],
        |c| {
            c.env("DEPLOY_TOKEN", TOKEN);
        },
    );
    run.assert_success();
    let dump = run.dump();
    assert!(
        dump.contains("raw=***"),
        "the step did not run with it:\n{dump}"
    );
    assert_nothing_leaks(&ws, &dump, TOKEN);

    // The same secret: cached. Another value: the step runs again, and says why without it.
    let same = ws.run_with(["build", "svc"], |c| {
        c.env("DEPLOY_TOKEN", TOKEN);
    });
    same.assert_success();
    assert_eq!(same.status("svc:build:leak"), "cached");
    let rotated = ws.run_with(["build", "svc", "--no-progress"], |c| {
        c.env("DEPLOY_TOKEN", "another-secret-value");
    });
    rotated.assert_success();
    assert_eq!(rotated.status("svc:build:leak"), "ok");
    assert_nothing_leaks(&ws, &rotated.dump(), "another-secret-value");
}

#[test]
fn an_unset_secret_names_itself_and_runs_nothing() {
    let ws = leaky_workspace("env:DEPLOY_TOKEN");
    let out = ws.run_with(["build", "svc"], |c| {
        c.env_remove("DEPLOY_TOKEN");
    });
    out.assert_failure(1);
    out.assert_stderr_contains("DEPLOY_TOKEN");
    assert!(
        !out.dump().contains("raw="),
        "the step ran:\n{}",
        out.dump()
    );
}

#[test]
fn secret_manager_is_read_through_gcloud() {
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gcloud");
    let ws = leaky_workspace("gcp:db-password");
    let run = ws.run_with(
        ["build", "svc", "--output-logs", "full", "--no-progress"],
        |c| {
            c.env("PATH", path_with_first(&fake))
                .env("CLOUDSDK_CORE_PROJECT", "acme-prod");
        },
    );
    run.assert_success();
    let dump = run.dump();
    assert!(dump.contains("raw=***"), "{dump}");
    // The recorded payload of projects/acme-prod/secrets/db-password/versions/latest.
    assert_nothing_leaks(&ws, &dump, "hunter2-p@ss/w+rd=");

    let denied = leaky_workspace("gcp:api-token");
    let out = denied.run_with(["build", "svc"], |c| {
        c.env("PATH", path_with_first(&fake))
            .env("CLOUDSDK_CORE_PROJECT", "acme-prod");
    });
    out.assert_failure(1);
    out.assert_stderr_contains("PERMISSION_DENIED");
    out.assert_stderr_contains("secretmanager.secretAccessor");
}
