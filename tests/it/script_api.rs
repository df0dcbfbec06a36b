//! The script API as a pipeline author uses it: custom steps, stage closures, declared
//! inputs and outputs, timeouts, custom stages, cache switches, `depends_on`, and the Go
//! template's test step (failures and the coverage gate).

use std::time::{Duration, Instant};

use crate::common::{TestWorkspace, go_workspace, line_count, rhai_str, script_workspace};

/// A workspace with one service, `tool`, and an outside log the test's script writes to.
fn tool_workspace() -> (TestWorkspace, std::path::PathBuf, String) {
    let ws = script_workspace(&[("tool", "#{}\n")]);
    let log = ws.outside("log.txt");
    let quoted = rhai_str(&log.display().to_string());
    (ws, log, quoted)
}

#[test]
fn custom_step_runs_its_commands_in_order_and_is_keyed_on_its_declared_inputs() {
    let (ws, log, log_path) = tool_workspace();
    ws.file("services/tool/notes.md", "not an input\n").file(
        "pipelines/tool.rhai",
        &format!(
            "#{{\n    build: |svc| {{\n        step(\"pair\", #{{ inputs: [\"input.txt\"] }}, || {{\n            sh(\"echo a >> {log_path}\");\n            sh(\"echo b >> {log_path}\");\n        }});\n    }},\n}}\n"
        ),
    );
    let first = ws.run(["build", "tool"]);
    first.assert_success().assert_all("ok");
    assert_eq!(first.rows().len(), 1, "{}", first.dump());
    first.row("tool:build:pair");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "a\nb\n");

    ws.file("services/tool/notes.md", "still not an input\n");
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");

    ws.file("services/tool/input.txt", "changed\n");
    let rerun = ws.run(["build", "tool"]);
    rerun.assert_success().assert_all("ok");
    assert!(
        rerun
            .row("tool:build:pair")
            .note
            .contains("services/tool/input.txt changed"),
        "{}",
        rerun.dump()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "a\nb\na\nb\n");
}

#[test]
fn stage_closure_receives_the_service() {
    let (ws, log, log_path) = tool_workspace();
    ws.file(
        "pipelines/tool.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo \" + svc.name + \" \" + svc.dir + \" $ISECT_SERVICE >> {log_path}\"); }} }}\n"
        ),
    );
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "tool services/tool tool\n"
    );
}

#[test]
fn declared_outputs_are_restored_from_the_cache_and_are_not_inputs() {
    let (ws, log, log_path) = tool_workspace();
    ws.file(
        "pipelines/tool.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo ran >> {log_path}; mkdir -p out && date +%s%N > out/stamp.txt\", #{{ outputs: [\"out/stamp.txt\"] }}); }} }}\n"
        ),
    );
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    let stamp = ws.read("services/tool/out/stamp.txt");
    // The output lies under the step's default inputs (the service folder), yet it is not one.
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");

    std::fs::remove_file(ws.path("services/tool/out/stamp.txt")).unwrap();
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");
    assert_eq!(ws.read("services/tool/out/stamp.txt"), stamp);

    // A changed output is put back too.
    ws.file("services/tool/out/stamp.txt", "tampered\n");
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");
    assert_eq!(ws.read("services/tool/out/stamp.txt"), stamp);
    assert_eq!(line_count(&log), 1, "the step ran again");
}

#[test]
fn step_timeout_fails_the_step() {
    let (ws, _log, _) = tool_workspace();
    ws.file(
        "pipelines/tool.rhai",
        "#{ build: |svc| { sh(\"sleep 30\", #{ timeout: 1 }); } }\n",
    );
    let started = Instant::now();
    let out = ws.run(["build", "tool"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout did not stop the step: {:?}",
        started.elapsed()
    );
    out.assert_failure(1);
    let row = out.row("tool:build:sh");
    assert_eq!(row.status, "failed");
    assert!(row.note.contains("timed out after 1s"), "{}", out.dump());
}

#[test]
fn custom_stage_part_of_test_runs_with_test_and_alone_with_run() {
    let (ws, log, log_path) = tool_workspace();
    ws.file(
        "pipelines/tool.rhai",
        &format!(
            "let p = #{{\n    build: |svc| {{ sh(\"echo build >> {log_path}\"); }},\n    test: |svc| {{ sh(\"echo test >> {log_path}\"); }},\n}};\np.lint = stage(#{{ needs: [\"build\"], part_of: \"test\" }}, |svc| sh(\"echo lint >> {log_path}\"));\np\n"
        ),
    );
    let test = ws.run(["test", "tool"]);
    test.assert_success().assert_statuses(&[
        ("tool:build:sh", "ok"),
        ("tool:test:sh", "ok"),
        ("tool:lint:sh", "ok"),
    ]);
    assert_eq!(test.rows().len(), 3, "{}", test.dump());
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines[0], "build", "build runs first: {lines:?}");
    lines.sort();
    assert_eq!(lines, ["build", "lint", "test"]);

    let run = ws.run(["run", "tool", "lint"]);
    run.assert_success()
        .assert_statuses(&[("tool:build:sh", "cached"), ("tool:lint:sh", "cached")]);
    assert_eq!(run.rows().len(), 2, "{}", run.dump());
}

#[test]
fn cache_false_and_side_effects_steps_always_run() {
    let (ws, log, log_path) = tool_workspace();
    ws.file(
        "pipelines/tool.rhai",
        &format!(
            "#{{ build: |svc| {{\n    sh(\"echo uncached >> {log_path}\", #{{ cache: false }});\n    sh(\"echo effect >> {log_path}\", #{{ side_effects: true }});\n    sh(\"echo cached >> {log_path}\");\n}} }}\n"
        ),
    );
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    let second = ws.run(["build", "tool"]);
    second.assert_success().assert_statuses(&[
        ("tool:build:sh", "ok"),
        ("tool:build:sh-2", "ok"),
        ("tool:build:sh-3", "cached"),
    ]);
    assert!(
        second.row("tool:build:sh").note.contains("cache: false"),
        "{}",
        second.dump()
    );
    assert!(
        second.row("tool:build:sh-2").note.contains("side-effect"),
        "{}",
        second.dump()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let count = |word: &str| text.lines().filter(|l| *l == word).count();
    assert_eq!(count("uncached"), 2, "{text}");
    assert_eq!(count("effect"), 2, "{text}");
    assert_eq!(count("cached"), 1, "{text}");
}

#[test]
fn no_cache_runs_every_step_even_when_cached() {
    let ws = go_workspace();
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
    let out = ws.run(["build", "solo", "--no-cache"]);
    out.assert_success().assert_all("ok");
    assert!(
        out.row("solo:build:go_build").note.contains("--no-cache"),
        "{}",
        out.dump()
    );
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
}

#[test]
fn depends_on_builds_the_other_service_first() {
    let ws = go_workspace();
    ws.file(
        "pipelines/api.rhai",
        "import \"isect/golang\" as golang;\nlet p = golang::pipeline();\np.depends_on = [\"solo\"];\np\n",
    );
    let plan = ws.plan_json("build", &["api"]);
    assert_eq!(plan["services"]["solo"], "api depends on it", "{plan}");
    let steps = plan["steps"].as_array().unwrap();
    let api = steps
        .iter()
        .find(|s| s["id"] == "api:build:go_build")
        .unwrap();
    assert_eq!(api["needs"], serde_json::json!(["solo:build:go_build"]));

    let out = ws.run(["build", "api"]);
    out.assert_success()
        .assert_statuses(&[("solo:build:go_build", "ok"), ("api:build:go_build", "ok")]);
    let stderr = out.stderr();
    let solo_done = stderr.find("+ solo:build:go_build ok").unwrap();
    let api_start = stderr.find("> api:build:go_build running").unwrap();
    assert!(solo_done < api_start, "{}", out.dump());
}

#[test]
fn coverage_gate_fails_the_test_step_below_the_minimum() {
    let ws = go_workspace();
    let script = |min: &str| {
        format!(
            "import \"isect/golang\" as golang;\ngolang::pipeline(#{{ coverage_min: {min} }})\n"
        )
    };
    ws.file("pipelines/solo.rhai", &script("80.0"));
    let out = ws.run(["test", "solo"]);
    out.assert_failure(1);
    let row = out.row("solo:test:go_test");
    assert_eq!(row.status, "failed", "{}", out.dump());
    assert!(
        row.note
            .contains("coverage 50.0% is below the minimum 80.0%"),
        "{}",
        out.dump()
    );

    ws.file("pipelines/solo.rhai", &script("40.0"));
    let out = ws.run(["test", "solo"]);
    out.assert_success();
    let row = out.row("solo:test:go_test");
    assert_eq!(row.status, "ok");
    assert!(
        row.note.contains("coverage 50.0% (min 40.0%)"),
        "{}",
        out.dump()
    );
}

#[test]
fn failing_go_test_is_named_and_every_plain_log_line_names_its_step() {
    let ws = go_workspace();
    let test = ws.read("services/solo/main_test.go");
    ws.file(
        "services/solo/main_test.go",
        &test.replace("answer() != 42", "answer() != 41"),
    );
    let out = ws.run(["test", "solo"]);
    out.assert_failure(1);
    let row = out.row("solo:test:go_test");
    assert_eq!(row.status, "failed");
    assert!(
        row.note
            .contains("tests failed: example.com/solo.TestAnswer"),
        "{}",
        out.dump()
    );
    let junit = ws.read(".isect/out/solo/reports/go-test.junit.xml");
    assert!(junit.contains("TestAnswer"), "{junit}");
    assert!(junit.contains("<failure"), "{junit}");

    // Plain logs: every line of the step's output says which step it belongs to.
    let stderr = out.stderr();
    let start = stderr
        .find("> solo:test:go_test running")
        .expect("the test step started");
    let end = stderr
        .find("x solo:test:go_test FAILED")
        .expect("it failed");
    let body = &stderr[start..end];
    let unprefixed: Vec<&str> = body
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("solo:test:go_test | "))
        .collect();
    assert!(
        body.contains("answer() is not 42"),
        "the failure message is not shown\n{}",
        out.dump()
    );
    assert!(
        unprefixed.is_empty(),
        "log lines without their step's prefix: {unprefixed:?}\n{}",
        out.dump()
    );
}

#[test]
fn background_processes_serve_the_step_and_are_killed_when_it_ends() {
    let (ws, log, log_path) = tool_workspace();
    let pids = ws.outside("server.pids");
    let pids_path = rhai_str(&pids.display().to_string());
    ws.file(
        "services/tool/client.py",
        "import os, urllib.request\nport = os.environ[\"ISECT_PORT_WEB\"]\nprint(urllib.request.urlopen(f\"http://127.0.0.1:{port}/\").status)\n",
    );
    let script = |tail: &str| {
        format!(
            "#{{ build: |svc| {{\n    step(\"talk\", #{{\n        processes: [#{{ name: \"web\", run: \"echo $$ >> {pids_path}; exec python3 -m http.server $PORT --bind 127.0.0.1\", health: \"/\" }}],\n    }}, || {{\n        sh(\"python3 client.py >> {log_path}{tail}\");\n    }});\n}} }}\n"
        )
    };
    ws.file("pipelines/tool.rhai", &script(""));
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "200\n");

    // Whatever the outcome: a failing step stops its processes too.
    ws.file("pipelines/tool.rhai", &script("; exit 1"));
    let failed = ws.run(["build", "tool"]);
    failed.assert_failure(1);
    assert_eq!(failed.status("tool:build:talk"), "failed");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "200\n200\n");

    let started: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect();
    assert_eq!(started.len(), 2, "{started:?}");
    std::thread::sleep(Duration::from_millis(200));
    let alive: Vec<i32> = started
        .iter()
        .copied()
        .filter(|&p| crate::common::process_alive(p))
        .collect();
    for &pid in &alive {
        // SAFETY: kill(2) touches no memory; the pid is a server this test started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    assert!(
        alive.is_empty(),
        "background processes outlived their step: {alive:?}"
    );
}

#[test]
fn commands_inside_a_custom_step_take_their_own_env_and_reject_step_options() {
    let script = |value: &str| {
        format!(
            "#{{ build: |svc| step(\"greet\", #{{}}, || {{\n    sh(\"echo \\\"$GREETING\\\" > greeting.txt\", #{{ env: #{{ GREETING: \"{value}\" }} }});\n}}) }}\n"
        )
    };
    let ws = script_workspace(&[("tool", &script("hello"))]);
    ws.run(["build", "tool"]).assert_success();
    assert_eq!(ws.read("services/tool/greeting.txt"), "hello\n");
    // The command's env is part of the step's key.
    ws.file("pipelines/tool.rhai", &script("bonjour"));
    let out = ws.run(["build", "tool"]);
    out.assert_success();
    assert_eq!(out.status("tool:build:greet"), "ok", "{}", out.dump());
    assert_eq!(ws.read("services/tool/greeting.txt"), "bonjour\n");
    // What is cached belongs to the step, not to one of its commands.
    ws.file(
        "pipelines/tool.rhai",
        "#{ build: |svc| step(\"greet\", #{}, || {\n    sh(\"true\", #{ inputs: [\"src/**\"] });\n}) }\n",
    );
    ws.run(["build", "tool"])
        .assert_failure(1)
        .assert_stderr_contains("error[script::option_on_command]: option `inputs` of `sh` has no effect inside step(...)")
        .assert_stderr_contains("--> pipelines/tool.rhai:2:");
}
