//! Every family of user error: exit code 1, its `error[code]` on stderr, where it is
//! (`--> file:line:col`, the line, a caret) and the hint that fixes it.

use crate::common::{RunOutput, go_workspace, script_workspace};

/// Asserts a user error: exit code 1, `error[code]` on stderr, nothing on stdout.
#[track_caller]
fn assert_user_error(out: &RunOutput, code: &str) {
    out.assert_failure(1);
    out.assert_stderr_contains(&format!("error[{code}]: "));
    assert!(
        out.stdout().is_empty(),
        "a user error printed data on stdout\n{}",
        out.dump()
    );
}

/// Asserts that stderr points at `file:line:col`, shows `source_line`, and puts a caret
/// under column `col` of it.
#[track_caller]
fn assert_points_at(out: &RunOutput, file: &str, line: usize, col: usize, source_line: &str) {
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(" --> {file}:{line}:{col}\n")),
        "no ` --> {file}:{line}:{col}`\n{}",
        out.dump()
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let shown = lines
        .iter()
        .position(|l| l.ends_with(&format!("| {source_line}")))
        .unwrap_or_else(|| panic!("the source line is not shown\n{}", out.dump()));
    let gutter = lines[shown].find("| ").unwrap() + 2;
    let caret = lines
        .get(shown + 1)
        .and_then(|l| l.find('^'))
        .unwrap_or_else(|| panic!("no caret under the source line\n{}", out.dump()));
    assert_eq!(
        caret - gutter + 1,
        col,
        "the caret is not under column {col}\n{}",
        out.dump()
    );
}

#[test]
fn syntax_error_points_at_file_line_and_column() {
    let ws = go_workspace();
    let bad = "let p = golang::pipeline(#{ coverage_min: 80.0 );";
    ws.file(
        "pipelines/solo.rhai",
        &format!("import \"isect/golang\" as golang;\n{bad}\np\n"),
    );
    let out = ws.run(["build", "solo"]);
    assert_user_error(&out, "script::syntax");
    let col = bad.find(')').unwrap() + 1;
    assert_points_at(&out, "pipelines/solo.rhai", 2, col, bad);
}

#[test]
fn unknown_stdlib_function_suggests_the_nearest_name() {
    let ws = go_workspace();
    let bad = "#{ build: |svc| { golang::buidl(); } }";
    ws.file(
        "pipelines/solo.rhai",
        &format!("import \"isect/golang\" as golang;\n{bad}\n"),
    );
    let out = ws.run(["build", "solo"]);
    assert_user_error(&out, "script::unknown_function");
    out.assert_stderr_contains("golang::buidl")
        .assert_stderr_contains("did you mean `golang::build`");
    let col = bad.find("buidl").unwrap() + 1;
    assert_points_at(&out, "pipelines/solo.rhai", 2, col, bad);
}

#[test]
fn unknown_option_names_the_valid_one() {
    let ws = go_workspace();
    let bad = "#{ build: |svc| { golang::build(#{ tgas: [] }); } }";
    ws.file(
        "pipelines/solo.rhai",
        &format!("import \"isect/golang\" as golang;\n{bad}\n"),
    );
    let out = ws.run(["build", "solo"]);
    assert_user_error(&out, "script::unknown_option");
    out.assert_stderr_contains("unknown option `tgas` for `golang::build`")
        .assert_stderr_contains("did you mean `tags`?");
    let col = bad.find("tgas").unwrap() + 1;
    assert_points_at(&out, "pipelines/solo.rhai", 2, col, bad);
}

#[test]
fn unknown_option_of_a_template_names_the_valid_one() {
    let ws = go_workspace();
    let bad = "golang::pipeline(#{ coverage_mni: 80.0 })";
    ws.file(
        "pipelines/solo.rhai",
        &format!("import \"isect/golang\" as golang;\n{bad}\n"),
    );
    let out = ws.run(["build", "solo"]);
    assert_user_error(&out, "script::unknown_option");
    out.assert_stderr_contains("unknown option `coverage_mni` for `golang::pipeline`")
        .assert_stderr_contains("did you mean `coverage_min`?");
    let col = bad.find("coverage_mni").unwrap() + 1;
    assert_points_at(&out, "pipelines/solo.rhai", 2, col, bad);
}

#[test]
fn unknown_service_lists_the_nearest_names() {
    let ws = go_workspace();
    let out = ws.run(["build", "slo"]);
    assert_user_error(&out, "workspace::unknown_service");
    out.assert_stderr_contains("no service named `slo`")
        .assert_stderr_contains("did you mean `solo`");
}

#[test]
fn malformed_isect_toml_names_the_key_and_its_line() {
    let ws = go_workspace();
    ws.file("isect.toml", "[workspace]\nservice = [\"services/*\"]\n");
    let out = ws.run(["build", "solo"]);
    assert_user_error(&out, "config::invalid");
    out.assert_stderr_contains("isect.toml:2:")
        .assert_stderr_contains("`service`")
        .assert_stderr_contains("did you mean `services`?");
    assert_points_at(&out, "isect.toml", 2, 1, "service = [\"services/*\"]");

    ws.file("isect.toml", "[workspace]\npipelines = 3\n");
    let out = ws.run(["list"]);
    assert_user_error(&out, "config::invalid");
    out.assert_stderr_contains("expected a string");
    assert_points_at(&out, "isect.toml", 2, 13, "pipelines = 3");
}

#[test]
fn running_outside_a_workspace_says_how_to_make_one() {
    let ws = go_workspace();
    std::fs::remove_file(ws.path("isect.toml")).unwrap();
    let out = ws.run(["list"]);
    assert_user_error(&out, "workspace::not_found");
    out.assert_stderr_contains("isect.toml");
}

#[test]
fn missing_toolchain_says_what_to_install() {
    let ws = go_workspace();
    // A PATH with a shell and nothing else: no `go`.
    let bin = ws.outside("only-sh");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let out = ws.run_with(["build", "solo"], |c| {
        c.env("PATH", &bin);
    });
    assert_user_error(&out, "toolchain::missing");
    out.assert_stderr_contains("`go`")
        .assert_stderr_contains("solo:build:go_build")
        .assert_stderr_contains("golang-go");
}

#[test]
fn dependency_cycle_between_pipelines_is_reported() {
    let ws = go_workspace();
    for (service, other) in [("api", "web"), ("web", "api")] {
        ws.file(
            &format!("pipelines/{service}.rhai"),
            &format!(
                "import \"isect/golang\" as golang;\nlet p = golang::pipeline();\np.depends_on = [\"{other}\"];\np\n"
            ),
        );
    }
    let out = ws.run(["build", "api"]);
    assert_user_error(&out, "plan::cycle");
    out.assert_stderr_contains("api:build")
        .assert_stderr_contains("web:build");
}

#[test]
fn failed_step_shows_its_log_tail_and_the_line_that_declared_it() {
    let ws = script_workspace(&[(
        "tool",
        "// a step that fails\n#{\n    build: |svc| {\n        sh(\"echo first-line; echo boom-line; exit 3\");\n    }\n}\n",
    )]);
    let out = ws.run(["build", "tool"]);
    out.assert_failure(1);
    assert_eq!(out.status("tool:build:sh"), "failed");
    // The failure is a diagnostic; accept it on either stream (see the report).
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        all.contains("error[step::failed]: step tool:build:sh failed"),
        "{}",
        out.dump()
    );
    assert!(
        all.contains(" --> pipelines/tool.rhai:4:9"),
        "{}",
        out.dump()
    );
    assert!(
        all.contains("sh(\"echo first-line; echo boom-line; exit 3\");"),
        "{}",
        out.dump()
    );
    assert!(all.contains("exited with code 3"), "{}", out.dump());
    let tail_at = all
        .find("last lines of its log")
        .unwrap_or_else(|| panic!("no log tail\n{}", out.dump()));
    assert!(all[tail_at..].contains("boom-line"), "{}", out.dump());
    out.assert_stderr_contains("x tool:build:sh FAILED");
}

#[test]
fn build_without_a_service_outside_a_service_folder_is_an_error() {
    let ws = go_workspace();
    let out = ws.run(["build"]);
    assert_user_error(&out, "cli::no_service");
    out.assert_stderr_contains("--all");

    // Inside a service's folder, that service is the default.
    let inside = ws.run_with(["build"], |c| {
        c.current_dir(ws.path("services/solo"));
    });
    inside.assert_success().assert_all("ok");
    assert_eq!(inside.rows().len(), 1, "{}", inside.dump());
    inside.row("solo:build:go_build");
}

#[test]
fn deploy_on_a_template_pipeline_says_the_stage_is_not_implemented() {
    let ws = go_workspace();
    let out = ws.run(["run", "solo", "deploy"]);
    assert_user_error(&out, "plan::stage_not_implemented");
    out.assert_stderr_contains("`deploy`")
        .assert_stderr_contains("not implemented yet");
}

#[test]
fn unknown_stage_lists_the_stages() {
    let ws = go_workspace();
    let out = ws.run(["run", "solo", "lint"]);
    assert_user_error(&out, "plan::unknown_stage");
    out.assert_stderr_contains("build, image, scan, test");
}

#[test]
fn check_reports_every_broken_pipeline_at_once() {
    let ws = go_workspace();
    ws.file(
        "pipelines/api.rhai",
        "import \"isect/golang\" as golang;\ngolang::pipeline(#{ tgas: [] })\n",
    )
    .file(
        "pipelines/web.rhai",
        "import \"isect/golang\" as golang;\n#{ build: |svc| { golang::buidl(); } }\n",
    );
    let out = ws.run(["check"]);
    assert_user_error(&out, "script::unknown_option");
    out.assert_stderr_contains("error[script::unknown_function]")
        .assert_stderr_contains("pipelines/web.rhai:2:");

    std::fs::remove_file(ws.path("pipelines/api.rhai")).unwrap();
    std::fs::remove_file(ws.path("pipelines/web.rhai")).unwrap();
    ws.run(["check"])
        .assert_success()
        .assert_stdout_contains("3 pipelines OK (30 steps declared)");
}
