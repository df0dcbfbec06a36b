//! The step cache as a user sees it: what a second run does, which edits invalidate which
//! steps, and how a damaged or shared cache behaves.

use std::time::{Duration, SystemTime};

use crate::common::{
    GoSpy, Running, age_files, blake3_hex, go_steps, go_workspace, line_count, rhai_str,
    script_workspace, set_mtime, walk,
};

#[test]
fn second_run_caches_every_step_and_spawns_no_process() {
    let ws = go_workspace();
    let side_effect = ws.outside("side-effect.log");
    ws.file("services/tool/input.txt", "v1\n").file(
        "pipelines/tool.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo ran >> {}\"); }} }}\n",
            rhai_str(&side_effect.display().to_string())
        ),
    );
    let spy = GoSpy::build(&ws);

    let first = ws.run_with(["build", "--all"], |c| {
        c.env("PATH", spy.path());
    });
    first.assert_success().assert_all("ok");
    assert_eq!(first.rows().len(), 4, "{}", first.dump());
    assert_eq!(first.row("tool:build:sh").note, "first run");
    assert_eq!(line_count(&side_effect), 1);
    let calls_after_first = spy.calls();
    assert!(
        calls_after_first.iter().any(|c| c.starts_with("build")),
        "the spy saw no `go build`, so it cannot prove anything: {calls_after_first:?}"
    );

    let second = ws.run_with(["build", "--all"], |c| {
        c.env("PATH", spy.path());
    });
    second.assert_success().assert_all("cached");
    assert_eq!(second.rows().len(), 4, "{}", second.dump());
    second.assert_stdout_contains("4 steps: 0 ran, 4 cached, 0 failed, 0 skipped");
    assert!(
        !second.stderr().contains(" running"),
        "a step ran on the second run\n{}",
        second.dump()
    );
    second.assert_stderr_contains("= tool:build:sh cached");
    assert_eq!(
        line_count(&side_effect),
        1,
        "the sh step ran again on the second run"
    );
    let new_calls: Vec<String> = spy.calls()[calls_after_first.len()..].to_vec();
    assert!(
        new_calls.is_empty(),
        "a fully cached run still spawned go: {new_calls:?}"
    );
}

#[test]
fn touching_a_file_without_changing_its_content_keeps_steps_cached() {
    let ws = go_workspace();
    // Old enough for the file index to trust what it records.
    age_files(ws.root(), Duration::from_secs(3600));
    ws.run(["test", "solo"]).assert_success().assert_all("ok");
    let main = ws.path("services/solo/main.go");

    // A fresh mtime: too young for the index to trust, so the file is hashed again.
    set_mtime(&main, SystemTime::now());
    ws.run(["test", "solo"])
        .assert_success()
        .assert_all("cached");

    // An old but different mtime: the recorded stat no longer matches.
    set_mtime(&main, SystemTime::now() - Duration::from_secs(600));
    ws.run(["test", "solo"])
        .assert_success()
        .assert_all("cached");

    let explain = ws.run(["explain", "solo", "test"]);
    explain.assert_success();
    assert!(
        !explain.stdout().contains("would run"),
        "{}",
        explain.dump()
    );
}

#[test]
fn changing_one_byte_reruns_that_service_and_its_dependents_only() {
    let ws = go_workspace();
    age_files(ws.root(), Duration::from_secs(3600));
    ws.run(["test", "--all"]).assert_success().assert_all("ok");

    // Same size, and the old mtime put back: only the content (and ctime) differ.
    let main = ws.path("services/solo/main.go");
    let mtime = std::fs::metadata(&main).unwrap().modified().unwrap();
    let text = ws.read("services/solo/main.go");
    let edited = text.replacen("prints the answer", "Prints the answer", 1);
    assert_eq!(edited.len(), text.len());
    assert_ne!(edited, text);
    ws.file("services/solo/main.go", &edited);
    set_mtime(&main, mtime);

    let run = ws.run(["test", "--all"]);
    run.assert_success();
    for id in go_steps("solo") {
        assert_eq!(run.status(&id), "ok", "{id}\n{}", run.dump());
    }
    for id in go_steps("api").iter().chain(&go_steps("web")) {
        assert_eq!(run.status(id), "cached", "{id}\n{}", run.dump());
    }
    assert!(
        run.row("solo:build:go_build")
            .note
            .contains("services/solo/main.go changed"),
        "{}",
        run.dump()
    );
}

#[test]
fn go_steps_depend_only_on_the_files_they_compile() {
    let ws = go_workspace();
    ws.run(["test", "solo"]).assert_success().assert_all("ok");

    // Not a Go source, not embedded: no Go step reads it.
    ws.file("services/solo/README.md", "# solo\n");
    ws.run(["test", "solo"])
        .assert_success()
        .assert_all("cached");

    // A test file is compiled by go vet and go test, never into the binary.
    let test = ws.read("services/solo/main_test.go");
    ws.file(
        "services/solo/main_test.go",
        &format!("{test}\n// TestAnswer checks the answer.\n"),
    );
    let run = ws.run(["test", "solo"]);
    run.assert_success()
        .assert_statuses(&[("solo:test:go_vet", "ok"), ("solo:test:go_test", "ok")]);
    assert_eq!(
        run.status("solo:build:go_build"),
        "cached",
        "editing a _test.go file rebuilt the binary\n{}",
        run.dump()
    );
}

#[test]
fn changing_the_shared_library_reruns_only_the_services_that_import_it() {
    let ws = go_workspace();
    ws.run(["test", "--all"]).assert_success().assert_all("ok");

    let lib = ws.read("libs/go/common/common.go");
    ws.file(
        "libs/go/common/common.go",
        &format!("{lib}\n// Farewell says goodbye.\nfunc Farewell() string {{ return \"bye\" }}\n"),
    );

    let explain = ws.run(["explain", "api"]);
    explain.assert_success();
    let text = explain.stdout();
    assert!(text.contains("api:build:go_build"), "{}", explain.dump());
    assert!(text.contains("would run"), "{}", explain.dump());
    assert!(
        text.contains("- libs/go/common/common.go changed"),
        "{}",
        explain.dump()
    );
    let solo = ws.run(["explain", "solo"]);
    solo.assert_success();
    assert!(!solo.stdout().contains("would run"), "{}", solo.dump());
    assert!(solo.stdout().contains("cached"), "{}", solo.dump());

    let run = ws.run(["test", "--all"]);
    run.assert_success();
    for id in go_steps("api").iter().chain(&go_steps("web")) {
        assert_eq!(run.status(id), "ok", "{id}\n{}", run.dump());
    }
    for id in go_steps("solo") {
        assert_eq!(run.status(&id), "cached", "{id}\n{}", run.dump());
    }
    for service in ["api", "web"] {
        let note = run.row(&format!("{service}:build:go_build")).note;
        assert!(
            note.contains("libs/go/common/common.go changed"),
            "{note}\n{}",
            run.dump()
        );
    }
}

#[test]
fn changing_a_library_package_reruns_only_the_services_that_import_that_package() {
    let ws = go_workspace();
    // `web` also imports the library's second package, `extra`; `api` does not.
    ws.file(
        "libs/go/common/extra/extra.go",
        "// Package extra is used by web only.\npackage extra\n\n// N is a number.\nfunc N() int { return 1 }\n",
    );
    let web = ws.read("services/web/main.go");
    ws.file(
        "services/web/main.go",
        &web.replace(
            "\"example.com/common\"\n",
            "\"example.com/common\"\n\t\"example.com/common/extra\"\n",
        )
        .replace(
            "fmt.Println(message())",
            "fmt.Println(message(), extra.N())",
        ),
    );
    ws.run(["test", "--all"]).assert_success().assert_all("ok");

    ws.file(
        "libs/go/common/extra/extra.go",
        "// Package extra is used by web only.\npackage extra\n\n// N is a number.\nfunc N() int { return 2 }\n",
    );
    let run = ws.run(["test", "--all"]);
    run.assert_success();
    for id in go_steps("web") {
        assert_eq!(run.status(&id), "ok", "{id}\n{}", run.dump());
    }
    for id in go_steps("api").iter().chain(&go_steps("solo")) {
        assert_eq!(run.status(id), "cached", "{id}\n{}", run.dump());
    }
    assert!(
        run.row("web:build:go_build")
            .note
            .contains("libs/go/common/extra/extra.go changed"),
        "{}",
        run.dump()
    );
}

#[test]
fn corrupted_output_blob_is_detected_rerun_and_repaired() {
    let ws = go_workspace();
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
    let output = ws.path(".isect/out/solo/bin/solo");
    let digest = blake3_hex(&output);
    let blob = ws.blob_path(&digest);
    assert!(blob.is_file(), "the built binary is not stored in cas/");

    std::fs::write(&blob, b"not the go binary").unwrap();
    std::fs::remove_file(&output).unwrap();

    let second = ws.run(["build", "solo"]);
    second.assert_success();
    second.assert_statuses(&[("solo:build:go_build", "ok")]);
    let warning = second
        .stderr()
        .lines()
        .find(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no warning about the corrupt blob\n{}", second.dump()));
    assert!(
        warning.contains("solo:build:go_build") && warning.contains("corrupt"),
        "{warning}"
    );
    let ran = std::process::Command::new(&output)
        .output()
        .expect("run the rebuilt binary");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "42\n");

    // Repaired: the stored blob matches its name again ...
    let blob = ws.blob_path(&blake3_hex(&output));
    assert_eq!(
        blake3_hex(&blob),
        blake3_hex(&output),
        "the repaired blob is still corrupt"
    );
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
    // ... and restoring from it works.
    std::fs::remove_file(&output).unwrap();
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
    let ran = std::process::Command::new(&output)
        .output()
        .expect("run the restored binary");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "42\n");
}

#[test]
fn truncated_action_record_is_detected_rerun_and_repaired() {
    let ws = go_workspace();
    ws.run(["build", "solo"]).assert_success().assert_all("ok");
    let key = ws.plan_keys("build", &["solo"])["solo:build:go_build"].clone();
    let record = ws.record_path(&key);
    let bytes = std::fs::read(&record).expect("the step's action record exists");
    std::fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();

    let second = ws.run(["build", "solo"]);
    second.assert_success();
    second.assert_statuses(&[("solo:build:go_build", "ok")]);
    let warning = second
        .stderr()
        .lines()
        .find(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no warning about the truncated record\n{}", second.dump()));
    assert!(warning.contains("solo:build:go_build"), "{warning}");

    let repaired: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).expect("the record was written again"))
            .expect("the repaired record is JSON");
    assert_eq!(repaired["key"], key.as_str());
    ws.run(["build", "solo"])
        .assert_success()
        .assert_all("cached");
}

#[test]
fn concurrent_builds_with_one_cache_both_succeed_and_leave_it_consistent() {
    let ws = go_workspace();
    let first = Running::spawn({
        let mut c = ws.cmd();
        c.args(["test", "--all"]);
        c
    });
    let second = Running::spawn({
        let mut c = ws.cmd();
        c.args(["test", "--all"]);
        c
    });
    let first = first.wait();
    let second = second.wait();
    first.assert_success();
    second.assert_success();
    for run in [&first, &second] {
        assert_eq!(run.rows().len(), 9, "{}", run.dump());
        for row in run.rows() {
            assert!(
                row.status == "ok" || row.status == "cached",
                "{} is {}\n{}",
                row.id,
                row.status,
                run.dump()
            );
        }
    }

    ws.run(["test", "--all"])
        .assert_success()
        .assert_all("cached");

    let blobs = walk(&ws.cache_dir().join("cas"));
    assert!(!blobs.is_empty());
    for blob in blobs {
        let name = blob.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            blake3_hex(&blob),
            name,
            "{} does not match its name",
            blob.display()
        );
    }
    let records = walk(&ws.cache_dir().join("ac"));
    assert_eq!(records.len(), 9, "{records:?}");
    for record in records {
        let bytes = std::fs::read(&record).unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
            "{} is not valid JSON",
            record.display()
        );
    }
    for output in ["api", "web", "solo"] {
        let bin = ws.path(&format!(".isect/out/{output}/bin/{output}"));
        assert!(bin.is_file(), "{} is missing", bin.display());
    }
}

#[test]
fn two_checkouts_building_at_once_share_one_cache_dir() {
    let first = go_workspace();
    let second = go_workspace();
    let shared = first.outside("shared-cache");
    let start = |ws: &crate::common::TestWorkspace| {
        let mut c = ws.cmd();
        c.args(["test", "--all"]).env("ISECT_CACHE_DIR", &shared);
        Running::spawn(c)
    };
    let (a, b) = (start(&first), start(&second));
    a.wait().assert_success();
    b.wait().assert_success();
    assert!(
        !first.cache_dir().join("ac").exists() && !second.cache_dir().join("ac").exists(),
        "a workspace cache was used despite ISECT_CACHE_DIR"
    );
    for ws in [&first, &second] {
        ws.run_with(["test", "--all"], |c| {
            c.env("ISECT_CACHE_DIR", &shared);
        })
        .assert_success()
        .assert_all("cached");
        let bin = ws.path(".isect/out/solo/bin/solo");
        let ran = std::process::Command::new(&bin)
            .output()
            .expect("run the solo binary");
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "42\n");
    }
    for blob in walk(&shared.join("cas")) {
        let name = blob.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            blake3_hex(&blob),
            name,
            "{} does not match its name",
            blob.display()
        );
    }
}

#[test]
fn a_no_op_run_reads_no_input_file_again() {
    let ws = crate::common::script_workspace(&[(
        "tool",
        "#{ build: |svc| sh(\"cat input.txt > out.txt\", #{ outputs: [\"out.txt\"] }) }\n",
    )]);
    for i in 0..50 {
        ws.file(&format!("services/tool/src/f{i}.txt"), &format!("{i}\n"));
    }
    // Files younger than 2 s are not trusted to the index (the racy-git rule): age them.
    crate::common::age_files(ws.root(), std::time::Duration::from_secs(60));
    ws.run(["build", "tool"]).assert_success();
    for round in 0..3 {
        let out = ws.run(["build", "tool", "-vv"]);
        out.assert_success().assert_all("cached");
        assert!(
            out.stderr().contains("files to hash: 0") && !out.stderr().contains("files to hash: 5"),
            "round {round}: a no-op run hashed files again\n{}",
            out.dump()
        );
    }
}

#[test]
fn a_steps_declared_outputs_are_never_its_inputs() {
    // `**` covers the service folder, out/ included: the copy the step writes must not
    // count as an input, or every build would invalidate the next.
    let ws = script_workspace(&[(
        "tool",
        "#{ build: |svc| { sh(\"mkdir -p out && cp input.txt out/copy.txt\", #{ inputs: [\"**\"], outputs: [\"out/copy.txt\"] }); } }\n",
    )]);
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");
    ws.file("services/tool/input.txt", "changed\n");
    ws.run(["build", "tool"]).assert_success().assert_all("ok");
    assert_eq!(ws.read("services/tool/out/copy.txt"), "changed\n");
}
