//! Everything besides files that is part of a step's key: declared env values, passed-through
//! env vars, step options and the toolchain's identity. Each change reruns the step, and
//! `isect explain` (before the rerun) and the summary note (after) name the reason.

use crate::common::{RunOutput, TestWorkspace, go_workspace, rhai_str, script_workspace};

/// `isect explain SERVICE STAGE`, asserting it names `reason` under "would run".
#[track_caller]
fn assert_explains(explain: &RunOutput, step: &str, reason: &str) {
    explain.assert_success();
    let text = explain.stdout();
    let section = text
        .split_once(step)
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("explain does not list {step}\n{}", explain.dump()));
    let section = section.split("\n\n").next().unwrap_or(section);
    assert!(
        section.contains("would run:") && section.contains(&format!("- {reason}")),
        "explain does not say `{reason}` for {step}\n{}",
        explain.dump()
    );
}

fn sh_pipeline(command: &str, options: &str) -> String {
    format!(
        "#{{ build: |svc| {{ sh(\"{}\", {options}); }} }}\n",
        rhai_str(command)
    )
}

/// A workspace with one service, `tool`, whose pipeline the test writes.
fn tool_workspace() -> TestWorkspace {
    script_workspace(&[("tool", "#{}\n")])
}

#[test]
fn changing_a_declared_env_value_reruns_the_step() {
    let ws = tool_workspace();
    let log = ws.outside("greetings.log");
    let command = format!("echo $GREETING >> {}", log.display());
    ws.file(
        "pipelines/tool.rhai",
        &sh_pipeline(&command, "#{ env: #{ GREETING: \"hello\" } }"),
    );
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");

    ws.file(
        "pipelines/tool.rhai",
        &sh_pipeline(&command, "#{ env: #{ GREETING: \"bye\" } }"),
    );
    assert_explains(
        &ws.run(["explain", "tool", "build"]),
        "tool:build:sh",
        "env GREETING changed",
    );
    let run = ws.run(["build", "tool"]);
    run.assert_success().assert_all("ok");
    assert!(
        run.row("tool:build:sh")
            .note
            .contains("env GREETING changed"),
        "{}",
        run.dump()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello\nbye\n");
}

#[test]
fn changing_a_passed_env_var_reruns_the_step() {
    let ws = tool_workspace();
    let log = ws.outside("tokens.log");
    ws.file(
        "pipelines/tool.rhai",
        &sh_pipeline(
            &format!("echo $ISECT_IT_TOKEN >> {}", log.display()),
            "#{ pass_env: [\"ISECT_IT_TOKEN\"] }",
        ),
    );
    let with_token = |value: &'static str| {
        move |c: &mut std::process::Command| {
            c.env("ISECT_IT_TOKEN", value);
        }
    };
    ws.run_with(["build", "tool"], with_token("one"))
        .assert_success()
        .assert_all("ok");
    ws.run_with(["build", "tool"], with_token("one"))
        .assert_success()
        .assert_all("cached");

    assert_explains(
        &ws.run_with(["explain", "tool", "build"], with_token("two")),
        "tool:build:sh",
        "env ISECT_IT_TOKEN changed",
    );
    let run = ws.run_with(["build", "tool"], with_token("two"));
    run.assert_success().assert_all("ok");
    assert!(
        run.row("tool:build:sh")
            .note
            .contains("env ISECT_IT_TOKEN changed"),
        "{}",
        run.dump()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
}

#[test]
fn changing_a_step_option_reruns_that_step_only() {
    let ws = go_workspace();
    let script = |min: &str| {
        format!(
            "import \"isect/golang\" as golang;\ngolang::pipeline(#{{ coverage_min: {min} }})\n"
        )
    };
    ws.file("pipelines/solo.rhai", &script("10.0"));
    ws.run(["test", "solo"]).assert_success().assert_all("ok");

    ws.file("pipelines/solo.rhai", &script("20.0"));
    assert_explains(
        &ws.run(["explain", "solo", "test"]),
        "solo:test:go_test",
        "options changed: coverage_min 10.0 → 20.0",
    );
    let run = ws.run(["test", "solo"]);
    run.assert_success().assert_statuses(&[
        ("solo:build:go_build", "cached"),
        ("solo:test:go_vet", "cached"),
        ("solo:test:go_test", "ok"),
    ]);
    assert!(
        run.row("solo:test:go_test")
            .note
            .contains("options changed: coverage_min 10.0 → 20.0"),
        "{}",
        run.dump()
    );
}

#[test]
fn changing_an_sh_command_reruns_the_step() {
    let ws = tool_workspace();
    let log = ws.outside("words.log");
    let command = |word: &str| format!("echo {word} >> {}", log.display());
    ws.file("pipelines/tool.rhai", &sh_pipeline(&command("one"), "#{}"));
    ws.run(["build", "tool"]).assert_success().assert_all("ok");

    ws.file("pipelines/tool.rhai", &sh_pipeline(&command("two"), "#{}"));
    assert_explains(
        &ws.run(["explain", "tool", "build"]),
        "tool:build:sh",
        "options changed: commands",
    );
    let run = ws.run(["build", "tool"]);
    run.assert_success().assert_all("ok");
    assert!(
        run.row("tool:build:sh").note.contains("options changed"),
        "{}",
        run.dump()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
}

#[test]
fn changing_the_toolchain_version_reruns_language_steps() {
    let ws = go_workspace();
    let version = ws.outside("fake-go-version");
    std::fs::write(&version, "a").unwrap();
    let bin = ws.outside("fake-go-bin");
    ws.executable(
        &bin.join("go"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then\n  echo \"go version go1.19.8-it$(cat {}) linux/amd64\"\n  exit 0\nfi\nexec {} \"$@\"\n",
            version.display(),
            crate::common::real_go().display()
        ),
    );
    let path = crate::common::path_with_first(&bin);
    let with_path = |c: &mut std::process::Command| {
        c.env("PATH", &path);
    };
    ws.run_with(["build", "solo"], with_path)
        .assert_success()
        .assert_all("ok");
    ws.run_with(["build", "solo"], with_path)
        .assert_success()
        .assert_all("cached");

    std::fs::write(&version, "b").unwrap();
    assert_explains(
        &ws.run_with(["explain", "solo", "build"], with_path),
        "solo:build:go_build",
        "toolchain changed: go version go1.19.8-ita linux/amd64 → go version go1.19.8-itb linux/amd64",
    );
    let run = ws.run_with(["build", "solo"], with_path);
    run.assert_success().assert_all("ok");
    assert!(
        run.row("solo:build:go_build")
            .note
            .contains("toolchain changed"),
        "{}",
        run.dump()
    );
}
