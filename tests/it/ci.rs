//! `isect ci`: the configs it writes for the workspace's real graph validate against the
//! SchemaStore schemas for Cloud Build and GitHub workflows, and follow the graph.

use std::path::Path;

use crate::common::TestWorkspace;

fn schema(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn assert_valid(schema_file: &str, yaml: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_norway::from_str(yaml).unwrap();
    let validator = jsonschema::validator_for(&schema(schema_file)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid against {schema_file}:\n{}\n{yaml}",
        errors.join("\n")
    );
    value
}

/// Two services, one on a base another service builds.
fn workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file(
        "isect.toml",
        "[environments.dev]\nbranch = \"develop\"\n[environments.production]\nbranch = \"main\"\nrequires_approval = true\n[image]\nregistry = \"europe-docker.pkg.dev/acme/platform\"\n",
    )
    .file("services/api/input.txt", "api\n")
    .file("services/base/input.txt", "base\n")
    .file(
        "pipelines/base.rhai",
        "#{ image: stage(#{ needs: [] }, |svc| { sh(\"echo base\"); }) }\n",
    )
    .file(
        "pipelines/api.rhai",
        "#{ build: |svc| { sh(\"echo build\"); }, test: |svc| { sh(\"echo test\"); },\n   image: stage(#{ needs: [\"test\", \"base:image\"] }, [image::push()]) }\n",
    );
    ws
}

#[test]
fn cloudbuild_follows_the_graph_and_validates_against_the_schema() {
    let ws = workspace();
    ws.run(["ci", "cloudbuild"]).assert_success();
    let config = assert_valid("cloudbuild.schema.json", &ws.read("cloudbuild.yaml"));
    let steps = config["steps"].as_array().unwrap();
    let step = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id}"))
            .clone()
    };
    assert_eq!(step("api:build")["waitFor"], serde_json::json!(["-"]));
    let waits: Vec<String> = step("api:image")["waitFor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(waits.contains(&"api:test".to_string()), "{waits:?}");
    assert!(waits.contains(&"base:image".to_string()), "{waits:?}");
    assert_eq!(
        step("api:test")["args"],
        serde_json::json!(["run", "api", "test", "--no-progress"])
    );
}

#[test]
fn github_workflow_and_triggers_follow_the_environments() {
    let ws = workspace();
    ws.run(["ci", "github"]).assert_success();
    let workflow = assert_valid(
        "github-workflow.schema.json",
        &ws.read(".github/workflows/isect.yml"),
    );
    // The matrix is the plan job's output: the affected services.
    let matrix = workflow["jobs"]["build"]["strategy"]["matrix"]
        .as_str()
        .unwrap_or_default();
    assert!(
        matrix.contains("fromJSON(needs.plan.outputs.matrix)"),
        "{workflow}"
    );
    assert!(
        workflow.to_string().contains("isect ci matrix --affected"),
        "{workflow}"
    );

    let triggers = ws.run(["ci", "triggers", "--repo", "acme/platform", "-o", "-"]);
    triggers.assert_success();
    let docs: Vec<serde_json::Value> = triggers
        .stdout()
        .split("\n---")
        .filter(|d| d.contains("name"))
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect();
    let production = docs
        .iter()
        .find(|d| d.to_string().contains("^main$"))
        .expect("a trigger for main");
    assert_eq!(
        production["approvalConfig"]["approvalRequired"], true,
        "{production}"
    );
    let dev = docs
        .iter()
        .find(|d| d.to_string().contains("^develop$"))
        .expect("a trigger for develop");
    assert!(dev["approvalConfig"].is_null(), "{dev}");

    ws.run(["ci", "matrix", "api"])
        .assert_success()
        .assert_stdout_contains("{\"service\":[\"api\"]}");
}

#[test]
fn under_github_actions_failures_are_annotated_and_the_run_is_summarised() {
    let ws = crate::common::script_workspace(&[(
        "tool",
        "#{ build: |svc| { sh(\"echo compiling; exit 3\"); } }\n",
    )]);
    let summary_file = ws.outside("step-summary.md");
    let out = ws.run_with(["build", "tool"], |c| {
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_REPOSITORY", "acme/platform")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_STEP_SUMMARY", &summary_file);
    });
    out.assert_failure(1);
    out.assert_stdout_contains("::error file=pipelines/tool.rhai,line=1,");
    out.assert_stdout_contains("title=isect%3A tool%3Abuild%3Ash failed::");
    let page = std::fs::read_to_string(&summary_file).unwrap();
    assert!(page.contains("| tool | build | sh | failed |"), "{page}");
}

#[test]
fn the_ci_run_is_recorded_in_the_results() {
    let ws = crate::common::script_workspace(&[("tool", "#{ build: |svc| { sh(\"true\"); } }\n")]);
    let out = ws.run_with(["build", "tool", "--json"], |c| {
        c.env("BUILD_ID", "b-123").env("PROJECT_ID", "acme-ci");
    });
    out.assert_success();
    let finished = out
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e.to_string().contains("\"ci\""))
        .unwrap_or_else(|| panic!("no CI run in the events:\n{}", out.stdout()));
    let text = finished.to_string();
    assert!(text.contains("\"provider\":\"cloud-build\""), "{text}");
    assert!(text.contains("\"run_id\":\"b-123\""), "{text}");
}

#[test]
fn triggers_need_a_repository_as_owner_slash_name() {
    let ws = workspace();
    for repo in ["acme", "acme/", "/platform", "acme/platform/extra"] {
        let out = ws.run(["ci", "triggers", "--repo", repo]);
        out.assert_failure(1);
        out.assert_stderr_contains(&format!("`{repo}` is not owner/name"));
        out.assert_stderr_contains("--repo acme/platform");
    }
    assert!(
        !ws.path("cloudbuild-triggers.yaml").exists(),
        "nothing is written on a bad --repo"
    );
}
