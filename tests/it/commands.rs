//! The commands around a run: plan, list, graph, cache stats|gc|clean, doctor.

use crate::common::{GoSpy, go_workspace, line_count, rhai_str};

#[test]
fn plan_json_on_a_built_workspace_says_every_step_is_cached_and_runs_nothing() {
    let ws = go_workspace();
    let side_effect = ws.outside("side-effect.log");
    ws.file("services/tool/input.txt", "v1\n").file(
        "pipelines/tool.rhai",
        &format!(
            "#{{\n    build: |svc| {{ sh(\"echo built >> {path}\"); }},\n    test: |svc| {{ sh(\"echo tested >> {path}\"); }},\n}}\n",
            path = rhai_str(&side_effect.display().to_string())
        ),
    );
    let spy = GoSpy::build(&ws);
    let with_spy = |c: &mut std::process::Command| {
        c.env("PATH", spy.path());
    };
    // Before the build, the plan says what would run and why.
    let before = ws.run_with(["plan", "--stage", "test", "--json", "--all"], with_spy);
    before.assert_success();
    let doc: serde_json::Value = serde_json::from_str(&before.stdout()).unwrap();
    for step in doc["steps"].as_array().unwrap() {
        assert_eq!(step["cached"], false, "{step}");
        assert_eq!(step["reason"], "first run", "{step}");
    }
    ws.run_with(["test", "--all"], with_spy).assert_success();
    assert_eq!(line_count(&side_effect), 2);
    let calls = spy.calls().len();

    let plan = ws.run_with(["plan", "--stage", "test", "--json", "--all"], with_spy);
    plan.assert_success();
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout())
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", plan.dump()));
    assert_eq!(doc["stage"], "test");
    let steps = doc["steps"].as_array().unwrap();
    // 3 Go services × (go_build, go_vet, go_test) + the tool's build and test steps.
    assert_eq!(steps.len(), 11, "{}", plan.dump());
    for step in steps {
        assert_eq!(step["cached"], true, "{step}");
        assert!(
            step["key"].as_str().is_some_and(|k| k.len() == 64),
            "{step}"
        );
    }
    assert_eq!(line_count(&side_effect), 2, "plan ran an sh step");
    assert_eq!(
        spy.calls().len(),
        calls,
        "plan spawned go: {:?}",
        &spy.calls()[calls..]
    );
    assert!(!plan.stderr().contains("running"), "{}", plan.dump());

    ws.run(["plan", "--stage", "test", "--all"])
        .assert_success()
        .assert_stdout_contains("11 steps: 11 cached, 0 to run");
}

#[test]
fn list_says_which_services_use_the_template() {
    let ws = go_workspace();
    ws.file(
        "pipelines/solo.rhai",
        "import \"isect/golang\" as golang;\ngolang::pipeline(#{ coverage_min: 10.0 })\n",
    );
    let out = ws.run(["list"]);
    out.assert_success();
    let stdout = out.stdout();
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} is not listed\n{}", out.dump()))
            .to_string()
    };
    let api = line("api");
    assert!(api.contains("golang"), "{api}");
    assert!(api.contains("build,image,scan,test"), "{api}");
    assert!(
        api.contains("template isect/golang (no pipelines/api.rhai)"),
        "{api}"
    );
    let solo = line("solo");
    assert!(solo.contains("pipelines/solo.rhai"), "{solo}");
    assert!(!solo.contains("template"), "{solo}");
    assert!(stdout.contains("libraries:"), "{}", out.dump());
    assert!(stdout.contains("libs/go/common"), "{}", out.dump());
}

#[test]
fn graph_shows_the_library_edge() {
    let ws = go_workspace();
    let out = ws.run(["graph"]);
    out.assert_success();
    let stdout = out.stdout();
    let edges_of = |name: &str| -> Vec<String> {
        let mut lines = stdout
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{name} (")));
        assert!(
            lines.next().is_some(),
            "{name} is not in the graph\n{stdout}"
        );
        lines
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(
        edges_of("api"),
        vec!["-> libs/go/common  (go.mod replace)"],
        "{stdout}"
    );
    assert_eq!(
        edges_of("web"),
        vec!["-> libs/go/common  (go.mod replace)"],
        "{stdout}"
    );
    assert!(edges_of("solo").is_empty(), "{stdout}");
    assert!(
        stdout.contains("libs/go/common (library, golang)"),
        "{stdout}"
    );

    let dot = ws.run(["graph", "--dot"]);
    dot.assert_success()
        .assert_stdout_contains("digraph isect {")
        .assert_stdout_contains("\"api\" -> \"libs/go/common\"")
        .assert_stdout_contains("\"web\" -> \"libs/go/common\"");
    assert!(!dot.stdout().contains("\"solo\" ->"), "{}", dot.dump());
}

#[test]
fn cache_stats_counts_hits_and_misses() {
    let ws = go_workspace();
    ws.run(["test", "solo"]).assert_success().assert_all("ok");
    ws.run(["test", "solo"])
        .assert_success()
        .assert_all("cached");
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
    let stats = ws.run(["cache", "stats"]);
    stats
        .assert_success()
        .assert_stdout_contains("3 step results")
        .assert_stdout_contains(
            "runs:       3 (4 hits: 4 local, 0 remote; 3 misses; hit rate 57.1%)",
        );
}

#[test]
fn cache_clean_makes_the_next_build_rerun() {
    let ws = go_workspace();
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
    ws.run(["cache", "clean"])
        .assert_success()
        .assert_stdout_contains("removed every entry");
    assert!(!ws.cache_dir().join("ac").exists());
    assert!(!ws.cache_dir().join("cas").exists());

    let run = ws.run(["build", "solo"]);
    run.assert_success().assert_all("ok");
    assert!(
        run.row("solo:build:go_build")
            .note
            .contains("cache was cleaned"),
        "{}",
        run.dump()
    );
    ws.run(["cache", "stats"])
        .assert_success()
        .assert_stdout_contains("1 step results");
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
}

#[test]
fn cache_gc_removes_results_that_do_not_fit() {
    let ws = go_workspace();
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
    // A generous limit keeps the result.
    ws.run(["cache", "gc", "--max-size", "1G"])
        .assert_success()
        .assert_stdout_contains("removed 0 step results");
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
    // The Go binary alone is larger than 1 MiB: its result goes.
    let gc = ws.run(["cache", "gc", "--max-size", "1M"]);
    gc.assert_success()
        .assert_stdout_contains("removed 1 step results");
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
}

#[test]
fn cache_dir_can_be_moved_with_isect_cache_dir() {
    let ws = go_workspace();
    let shared = ws.outside("shared-cache");
    let with_cache = |c: &mut std::process::Command| {
        c.env("ISECT_CACHE_DIR", &shared);
    };
    ws.run_with(["build", "solo"], with_cache)
        .assert_success()
        .assert_all("ok");
    assert!(
        shared.join("ac").is_dir(),
        "nothing was stored in ISECT_CACHE_DIR"
    );
    assert!(!ws.cache_dir().join("ac").exists());
    ws.run_with(["build", "solo"], with_cache)
        .assert_success()
        .assert_all("cached");
    // Without it, the workspace's own (empty) cache is used.
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
}

#[test]
fn doctor_reports_a_missing_go_with_the_install_hint() {
    let ws = go_workspace();
    let ok = ws.run(["doctor"]);
    assert!(
        ok.stdout()
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("go version")),
        "{}",
        ok.dump()
    );

    let bin = ws.outside("only-sh");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let out = ws.run_with(["doctor"], |c| {
        c.env("PATH", &bin)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    });
    out.assert_failure(1);
    assert!(
        out.stdout()
            .lines()
            .any(|l| l.starts_with("missing") && l.contains("go") && l.contains("needed")),
        "{}",
        out.dump()
    );
    out.assert_stdout_contains("golang-go");
}
