//! Running steps: failures are never cached, an interrupt leaves no process behind, and
//! fail-fast versus `--keep-going`.

use std::time::{Duration, Instant};

use crate::common::{Running, line_count, process_alive, rhai_str, script_workspace};

#[test]
fn failing_step_is_not_cached_and_runs_again_until_fixed() {
    let ws = script_workspace(&[("tool", "#{}\n")]);
    let attempts = ws.outside("attempts.log");
    ws.file(
        "pipelines/tool.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo attempt >> {}; test -f ready.txt\"); }} }}\n",
            rhai_str(&attempts.display().to_string())
        ),
    );

    let first = ws.run(["build", "tool"]);
    first.assert_failure(1);
    assert_eq!(first.status("tool:build:sh"), "failed");
    assert_eq!(line_count(&attempts), 1);
    let key = ws.plan_keys("build", &["tool"])["tool:build:sh"].clone();
    assert!(
        !ws.record_path(&key).exists(),
        "a failed step left an action record"
    );
    let plan = ws.plan_json("build", &["tool"]);
    assert_eq!(plan["steps"][0]["cached"], false, "{plan}");

    let second = ws.run(["build", "tool"]);
    second.assert_failure(1);
    assert_eq!(second.status("tool:build:sh"), "failed");
    second.assert_stderr_contains("> tool:build:sh running");
    assert_eq!(
        line_count(&attempts),
        2,
        "the failed step was not run again"
    );

    ws.file("services/tool/ready.txt", "");
    let fixed = ws.run(["build", "tool"]);
    fixed.assert_success().assert_all("ok");
    assert_eq!(line_count(&attempts), 3);
    ws.run(["build", "tool"])
        .assert_success()
        .assert_all("cached");
    assert_eq!(line_count(&attempts), 3);
}

/// Kills the recorded processes if a failed assertion would otherwise leave them running.
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if process_alive(pid) {
                // SAFETY: kill(2) touches no memory; the pids are processes this test started.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Starts a long step, sends `signal` to isect, and checks that isect exits promptly and
/// non-zero and that no process of the step is left.
fn signal_during_a_long_step_leaves_no_process_alive(signal: i32) {
    let ws = script_workspace(&[("slow", "#{}\n")]);
    let pids = ws.outside("pids");
    let pids_path = rhai_str(&pids.display().to_string());
    ws.file(
        "pipelines/slow.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo $$ >> {pids_path}; sleep 60 & echo $! >> {pids_path}; sleep 61 & echo $! >> {pids_path}; wait\"); }} }}\n"
        ),
    );
    let isect = Running::spawn({
        let mut c = ws.cmd();
        c.args(["build", "slow"]);
        c
    });
    let started = Instant::now();
    while line_count(&pids) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the step did not start its processes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let recorded: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect();
    let _guard = KillOnDrop(recorded.clone());
    for &pid in &recorded {
        assert!(process_alive(pid), "process {pid} is not running yet");
    }

    let pid = i32::try_from(isect.id()).unwrap();
    let signalled = Instant::now();
    // SAFETY: kill(2) touches no memory; the pid is the isect this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let out = isect
        .wait_timeout(Duration::from_secs(15))
        .expect("isect did not exit within 15 s of the signal");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "isect took {:?} to exit after the signal",
        signalled.elapsed()
    );
    assert!(
        !out.output.status.success(),
        "an interrupted run exited 0\n{}",
        out.dump()
    );
    // Give a dying process group a moment; the assertion is about what is left after it.
    std::thread::sleep(Duration::from_millis(200));
    let alive: Vec<i32> = recorded
        .iter()
        .copied()
        .filter(|&p| process_alive(p))
        .collect();
    assert!(
        alive.is_empty(),
        "processes of the interrupted step are still alive: {alive:?}\n{}",
        out.dump()
    );
}

#[test]
fn sigint_during_a_long_step_leaves_no_process_alive_and_exits_promptly() {
    signal_during_a_long_step_leaves_no_process_alive(libc::SIGINT);
}

#[test]
fn sigterm_during_a_long_step_leaves_no_process_alive_and_exits_promptly() {
    signal_during_a_long_step_leaves_no_process_alive(libc::SIGTERM);
}

/// `aaa` fails at its first step; `bbb` is independent and records each step it runs.
fn failing_and_independent_services() -> (crate::common::TestWorkspace, std::path::PathBuf) {
    let ws = script_workspace(&[("aaa", "#{}\n"), ("bbb", "#{}\n")]);
    let ran = ws.outside("ran.log");
    let ran_path = rhai_str(&ran.display().to_string());
    ws.file(
        "pipelines/aaa.rhai",
        &format!(
            "#{{ build: |svc| {{\n    sh(\"echo aaa-boom; exit 1\");\n    sh(\"echo aaa-2 >> {ran_path}\");\n}} }}\n"
        ),
    )
    .file(
        "pipelines/bbb.rhai",
        &format!(
            "#{{ build: |svc| {{\n    sh(\"echo bbb-1 >> {ran_path}\");\n    sh(\"echo bbb-2 >> {ran_path}\");\n}} }}\n"
        ),
    );
    (ws, ran)
}

#[test]
fn fail_fast_skips_independent_services_after_a_failure() {
    let (ws, ran) = failing_and_independent_services();
    let run = ws.run(["build", "--all", "--jobs", "1"]);
    run.assert_failure(1).assert_statuses(&[
        ("aaa:build:sh", "failed"),
        ("aaa:build:sh-2", "skipped"),
        ("bbb:build:sh", "skipped"),
        ("bbb:build:sh-2", "skipped"),
    ]);
    assert!(
        run.row("bbb:build:sh").note.contains("aaa:build:sh failed"),
        "{}",
        run.dump()
    );
    assert_eq!(line_count(&ran), 0, "a step ran after the failure");
}

#[test]
fn keep_going_runs_independent_services_after_a_failure() {
    let (ws, ran) = failing_and_independent_services();
    let run = ws.run(["build", "--all", "--jobs", "1", "--keep-going"]);
    run.assert_failure(1).assert_statuses(&[
        ("aaa:build:sh", "failed"),
        ("aaa:build:sh-2", "skipped"),
        ("bbb:build:sh", "ok"),
        ("bbb:build:sh-2", "ok"),
    ]);
    assert!(
        run.row("aaa:build:sh-2")
            .note
            .contains("needs aaa:build:sh"),
        "{}",
        run.dump()
    );
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "bbb-1\nbbb-2\n");
}

#[test]
fn run_timeout_stops_the_run_kills_its_processes_and_reports_each_step_once() {
    let ws = script_workspace(&[("slow", "#{}\n")]);
    let pids = ws.outside("pids");
    let pids_path = rhai_str(&pids.display().to_string());
    ws.file(
        "pipelines/slow.rhai",
        &format!(
            "#{{ build: |svc| {{ sh(\"echo $$ >> {pids_path}; sleep 60 & echo $! >> {pids_path}; wait\"); }} }}\n"
        ),
    );
    let started = Instant::now();
    let out = ws.run(["build", "slow", "--timeout", "2s"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "--timeout 2s took {:?}",
        started.elapsed()
    );
    let recorded: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().expect("a pid"))
        .collect();
    let _guard = KillOnDrop(recorded.clone());
    assert_eq!(recorded.len(), 2, "the step did not start\n{}", out.dump());
    out.assert_failure(1)
        .assert_stderr_contains("error[run::timeout]");
    assert_eq!(out.status("slow:build:sh"), "skipped");
    let alive: Vec<i32> = recorded
        .iter()
        .copied()
        .filter(|&p| process_alive(p))
        .collect();
    assert!(alive.is_empty(), "still alive: {alive:?}");
    let reported = out
        .stderr()
        .lines()
        .filter(|l| l.starts_with("- slow:build:sh skipped"))
        .count();
    assert_eq!(
        reported,
        1,
        "the stopped step is reported {reported} times in the log\n{}",
        out.dump()
    );
}
