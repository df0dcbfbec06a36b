//! Shared test support: `TestWorkspace` (a workspace in its own tempdir, and the `isect`
//! binary run in it), `RunOutput` (what a run printed and how it ended, with assertions that
//! show both streams on failure), the summary-table parser, and the small Go workspace
//! fixture most tests start from.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A workspace in its own tempdir. The workspace is `<tempdir>/ws`, so a test can keep files
/// next to it (`outside`) that are no input of any step.
pub(crate) struct TestWorkspace {
    /// Removed (with the workspace) when the test ends.
    _tempdir: tempfile::TempDir,
    root: PathBuf,
}

impl Default for TestWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl TestWorkspace {
    /// An empty workspace folder (no isect.toml yet).
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("isect-it-")
            .tempdir()
            .expect("create tempdir");
        let base = dir.path().canonicalize().expect("canonical tempdir");
        let root = base.join("ws");
        std::fs::create_dir_all(&root).expect("create workspace folder");
        Self {
            _tempdir: dir,
            root,
        }
    }

    /// The workspace root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the workspace.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// A path in the tempdir, outside the workspace (no step sees it as an input).
    pub(crate) fn outside(&self, rel: &str) -> PathBuf {
        self.root
            .parent()
            .expect("workspace has a parent")
            .join(rel)
    }

    /// Writes a file of the workspace, creating its folders.
    pub(crate) fn file(&self, rel: &str, text: &str) -> &Self {
        write(&self.path(rel), text);
        self
    }

    /// Writes an executable file (at any absolute path, e.g. `outside(...)`).
    pub(crate) fn executable(&self, path: &Path, text: &str) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        write(path, text);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod +x");
        self
    }

    /// Reads a file of the workspace.
    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    /// The `isect` binary with cwd = the workspace, plain logs, no colours, and no
    /// inherited `ISECT_*` settings.
    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_isect"));
        cmd.current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env("CI", "1")
            .env_remove("ISECT_CACHE_DIR")
            .env_remove("ISECT_STDLIB_DIR")
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs `isect ARGS` in the workspace.
    pub(crate) fn run<I, S>(&self, args: I) -> RunOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd();
        cmd.args(args);
        RunOutput::of(cmd)
    }

    /// Runs `isect ARGS` after `configure` adjusted the command (env, cwd, ...).
    pub(crate) fn run_with<I, S>(&self, args: I, configure: impl FnOnce(&mut Command)) -> RunOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd();
        cmd.args(args);
        configure(&mut cmd);
        RunOutput::of(cmd)
    }

    /// The default cache folder.
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.path(".isect/cache")
    }

    /// Step id → cache key, from `isect plan --stage STAGE --json SELECT...`.
    pub(crate) fn plan_keys(&self, stage: &str, select: &[&str]) -> BTreeMap<String, String> {
        self.plan_json(stage, select)["steps"]
            .as_array()
            .expect("plan has steps")
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().expect("step id").to_string(),
                    s["key"].as_str().expect("step key").to_string(),
                )
            })
            .collect()
    }

    /// `isect plan --stage STAGE --json SELECT...`, parsed.
    pub(crate) fn plan_json(&self, stage: &str, select: &[&str]) -> serde_json::Value {
        let mut args = vec!["plan", "--stage", stage, "--json"];
        args.extend_from_slice(select);
        let out = self.run(&args);
        out.assert_success();
        serde_json::from_str(&out.stdout())
            .unwrap_or_else(|e| panic!("plan --json is not JSON: {e}\n{}", out.dump()))
    }

    /// The action record file of a cache key.
    pub(crate) fn record_path(&self, key: &str) -> PathBuf {
        self.cache_dir()
            .join("ac")
            .join(&key[..2])
            .join(format!("{key}.json"))
    }

    /// The blob file of a content digest.
    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        self.cache_dir().join("cas").join(&digest[..2]).join(digest)
    }
}

/// A running `isect`, started with `spawn`.
pub(crate) struct Running {
    command: String,
    child: std::process::Child,
}

impl Running {
    /// Starts `cmd` with both streams captured.
    pub(crate) fn spawn(mut cmd: Command) -> Self {
        let command = describe(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn isect");
        Self { command, child }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the end, at most `limit`; `None` (and the process killed) when it takes longer.
    pub(crate) fn wait_timeout(mut self, limit: Duration) -> Option<RunOutput> {
        let started = Instant::now();
        loop {
            if self.child.try_wait().expect("try_wait").is_some() {
                return Some(self.wait());
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the end.
    pub(crate) fn wait(self) -> RunOutput {
        let output = self.child.wait_with_output().expect("wait for isect");
        RunOutput {
            command: self.command,
            output,
        }
    }
}

fn describe(cmd: &Command) -> String {
    format!(
        "isect {}",
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent folders");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Sets a file's modification time.
pub(crate) fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("cannot set the mtime of {}: {e}", path.display()));
}

/// Sets the mtime of every file under `dir` to `age` ago, so the file index trusts them
/// (it does not trust entries younger than 2 s).
pub(crate) fn age_files(dir: &Path, age: Duration) {
    let time = SystemTime::now() - age;
    for entry in walk(dir) {
        set_mtime(&entry, time);
    }
}

/// Every file under `dir`, recursively, sorted.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The number of lines of a file (0 when it does not exist).
pub(crate) fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// The blake3 hex digest of a file's content.
pub(crate) fn blake3_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    blake3::hash(&bytes).to_hex().to_string()
}

/// One row of the end-of-run summary table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// `service:stage:step`.
    pub(crate) id: String,
    /// ok / cached / failed / skipped.
    pub(crate) status: String,
    /// The note column: the rerun reason, the result line, the error.
    pub(crate) note: String,
}

/// What one isect run printed, and how it ended.
pub(crate) struct RunOutput {
    pub(crate) command: String,
    pub(crate) output: std::process::Output,
}

impl RunOutput {
    /// Runs `cmd` to completion.
    pub(crate) fn of(mut cmd: Command) -> Self {
        let command = describe(&cmd);
        let output = cmd.output().expect("spawn isect");
        Self { command, output }
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit code (`None` when killed by a signal).
    pub(crate) fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Both streams, for failure messages.
    pub(crate) fn dump(&self) -> String {
        format!(
            "`{}` exited with {:?}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.command,
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }

    /// Panics, showing both streams, unless the run exited 0.
    #[track_caller]
    pub(crate) fn assert_success(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "expected success\n{}",
            self.dump()
        );
        self
    }

    /// Panics, showing both streams, unless the run exited with `code`.
    #[track_caller]
    pub(crate) fn assert_failure(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}\n{}",
            self.dump()
        );
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub(crate) fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub(crate) fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.dump()
        );
        self
    }

    /// The rows of the summary table on stdout.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let stdout = self.stdout();
        let mut lines = stdout.lines();
        let Some(header) = lines.next() else {
            return Vec::new();
        };
        if !header.starts_with("service") {
            return Vec::new();
        }
        // Columns are padded to the header's widths: the note starts where "note" does.
        let note_at = header.rfind("note").unwrap_or(header.len());
        let mut rows = Vec::new();
        for line in lines {
            if line.trim().is_empty() {
                break;
            }
            let at = note_at.min(line.len());
            if !line.is_char_boundary(at) {
                continue;
            }
            let (columns, note) = line.split_at(at);
            let parts: Vec<&str> = columns.split_whitespace().collect();
            let [service, stage, step, status, ..] = parts.as_slice() else {
                continue;
            };
            rows.push(Row {
                id: format!("{service}:{stage}:{step}"),
                status: (*status).to_string(),
                note: note.trim().to_string(),
            });
        }
        rows
    }

    /// The summary row of step `id`; panics (showing the output) when there is none.
    #[track_caller]
    pub(crate) fn row(&self, id: &str) -> Row {
        self.rows()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no summary row for {id}\n{}", self.dump()))
    }

    /// The status of step `id` in the summary.
    #[track_caller]
    pub(crate) fn status(&self, id: &str) -> String {
        self.row(id).status
    }

    /// Panics unless every step of the summary (at least one) has `status`.
    #[track_caller]
    pub(crate) fn assert_all(&self, status: &str) -> &Self {
        let rows = self.rows();
        assert!(!rows.is_empty(), "no summary rows\n{}", self.dump());
        for row in &rows {
            assert_eq!(
                row.status,
                status,
                "{} is {} instead of {status}\n{}",
                row.id,
                row.status,
                self.dump()
            );
        }
        self
    }

    /// Panics unless each listed step has the given status.
    #[track_caller]
    pub(crate) fn assert_statuses(&self, expected: &[(&str, &str)]) -> &Self {
        for (id, status) in expected {
            let row = self.row(id);
            assert_eq!(
                row.status,
                *status,
                "{id} is {} instead of {status}\n{}",
                row.status,
                self.dump()
            );
        }
        self
    }
}

/// The three steps the Go template declares for a service.
pub(crate) fn go_steps(service: &str) -> [String; 3] {
    [
        format!("{service}:build:go_build"),
        format!("{service}:test:go_vet"),
        format!("{service}:test:go_test"),
    ]
}

const COMMON_GO_MOD: &str = "module example.com/common\n\ngo 1.19\n";

const COMMON_GO: &str = r#"// Package common is shared by the api and web services.
package common

// Greet says hello to name.
func Greet(name string) string {
	return "hello " + name
}
"#;

const COMMON_TEST_GO: &str = r#"package common

import "testing"

func TestGreet(t *testing.T) {
	if got := Greet("x"); got != "hello x" {
		t.Fatalf("Greet(x) = %q", got)
	}
}
"#;

fn user_go_mod(service: &str) -> String {
    format!(
        "module example.com/{service}\n\ngo 1.19\n\nrequire example.com/common v0.0.0\n\nreplace example.com/common => ../../libs/go/common\n"
    )
}

const USER_MAIN_GO: &str = r#"package main

import (
	"fmt"

	"example.com/common"
)

func message() string {
	return common.Greet("world")
}

func main() {
	fmt.Println(message())
}
"#;

const USER_TEST_GO: &str = r#"package main

import "testing"

func TestMessage(t *testing.T) {
	if got := message(); got != "hello world" {
		t.Fatalf("message() = %q", got)
	}
}
"#;

const SOLO_GO_MOD: &str = "module example.com/solo\n\ngo 1.19\n";

const SOLO_MAIN_GO: &str = r#"// Command solo prints the answer.
package main

import "fmt"

func answer() int {
	return 42
}

func main() {
	fmt.Println(answer())
}
"#;

const SOLO_TEST_GO: &str = r#"package main

import "testing"

func TestAnswer(t *testing.T) {
	if answer() != 42 {
		t.Fatal("answer() is not 42")
	}
}
"#;

/// A small Go workspace: an empty isect.toml (the defaults), the shared library
/// `libs/go/common` (module `example.com/common`), two services using it through a
/// `replace` (`api`, `web`) and one that does not (`solo`). No pipeline scripts: every
/// service uses the Go template (build: go_build; test: go_vet, go_test).
pub(crate) fn go_workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("libs/go/common/go.mod", COMMON_GO_MOD)
        .file("libs/go/common/common.go", COMMON_GO)
        .file("libs/go/common/common_test.go", COMMON_TEST_GO);
    for service in ["api", "web"] {
        ws.file(&format!("services/{service}/go.mod"), &user_go_mod(service))
            .file(&format!("services/{service}/main.go"), USER_MAIN_GO)
            .file(&format!("services/{service}/main_test.go"), USER_TEST_GO);
    }
    ws.file("services/solo/go.mod", SOLO_GO_MOD)
        .file("services/solo/main.go", SOLO_MAIN_GO)
        .file("services/solo/main_test.go", SOLO_TEST_GO);
    ws
}

/// A workspace without languages: one folder per service under `services/`, each with an
/// `input.txt` and the given pipeline script.
pub(crate) fn script_workspace(services: &[(&str, &str)]) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "");
    for (name, script) in services {
        ws.file(&format!("services/{name}/input.txt"), &format!("{name}\n"))
            .file(&format!("pipelines/{name}.rhai"), script);
    }
    ws
}

/// The real `go` binary (symlinks resolved), found on PATH.
pub(crate) fn real_go() -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH is set");
    std::env::split_paths(&path)
        .map(|d| d.join("go"))
        .find(|p| p.is_file())
        .expect("go is on PATH")
        .canonicalize()
        .expect("canonical go path")
}

/// PATH with `dir` first.
pub(crate) fn path_with_first(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("join PATH")
}

/// Escapes text for a double-quoted Rhai string literal.
pub(crate) fn rhai_str(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Is process `pid` still running? A zombie (exited, not yet reaped) counts as gone.
pub(crate) fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // `pid (comm) S ...`: the state follows the last `)`.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("?");
            state != "Z" && state != "X"
        }
    }
}

const SPY_GO: &str = r#"// A `go` that logs its arguments, then becomes the real go.
package main

import (
	"os"
	"strings"
	"syscall"
)

var logPath, realGo string

func main() {
	if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		f.WriteString(strings.Join(os.Args[1:], " ") + "\n")
		f.Close()
	}
	err := syscall.Exec(realGo, append([]string{realGo}, os.Args[1:]...), os.Environ())
	os.Stderr.WriteString("spy: " + err.Error() + "\n")
	os.Exit(127)
}
"#;

/// A compiled (not a script, so isect memoises its identity like the real one) `go` that
/// appends each invocation's arguments to a log, then execs the real go.
pub(crate) struct GoSpy {
    /// The folder holding the spy `go`: put it first on PATH.
    pub(crate) bin_dir: PathBuf,
    /// One line per invocation.
    pub(crate) log: PathBuf,
}

impl GoSpy {
    /// Builds the spy next to (outside) the workspace.
    pub(crate) fn build(ws: &TestWorkspace) -> Self {
        let src = ws.outside("go-spy-src");
        let bin_dir = ws.outside("go-spy-bin");
        let log = ws.outside("go-spy.log");
        write(&src.join("go.mod"), "module gospy\n\ngo 1.19\n");
        write(&src.join("main.go"), SPY_GO);
        let ldflags = format!(
            "-X main.logPath={} -X main.realGo={}",
            log.display(),
            real_go().display()
        );
        let out = Command::new(real_go())
            .args(["build", "-o"])
            .arg(bin_dir.join("go"))
            .arg(format!("-ldflags={ldflags}"))
            .arg(".")
            .current_dir(&src)
            .output()
            .expect("run go build for the spy");
        assert!(
            out.status.success(),
            "cannot build the go spy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { bin_dir, log }
    }

    /// PATH with the spy first.
    pub(crate) fn path(&self) -> std::ffi::OsString {
        path_with_first(&self.bin_dir)
    }

    /// The invocations so far, one argument line each.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// Whether an environment variable is `1` (`ISECT_REQUIRE_DOCKER`, ...).
pub(crate) fn required(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

/// Is the Docker Engine there? Prints why a test skips.
pub(crate) fn docker_available(test: &str) -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !required("ISECT_REQUIRE_DOCKER"),
            "{test}: no Docker Engine, and ISECT_REQUIRE_DOCKER=1"
        );
        eprintln!("skipped {test}: no Docker Engine (`docker info` failed)");
    }
    ok
}

/// A plain HTTP GET: the status line and body, or `None` when nothing answers.
pub(crate) fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    (!response.is_empty()).then_some(response)
}

/// `isect image load SERVICE` in `ws`: the tag the image was loaded under.
pub(crate) fn load_image(ws: &TestWorkspace, service: &str) -> String {
    let loaded = ws.run(["image", "load", service]);
    loaded.assert_success();
    loaded
        .stdout()
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no tag in `isect image load {service}`\n{}", loaded.dump()))
        .to_string()
}

/// Runs `image` in the Docker Engine with port 8080 published on loopback, polls
/// `GET /healthz` for up to 15 s and removes the container: the 200 response, or the
/// container's log.
pub(crate) fn healthz_of_image(image: &str, name: &str) -> Result<String, String> {
    let name = format!("{name}-{}", std::process::id());
    let run = Command::new("docker")
        .args([
            "run",
            "-d",
            "--rm",
            "--name",
            &name,
            "-p",
            "127.0.0.1::8080",
            image,
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).into_owned());
    }
    let port = Command::new("docker")
        .args(["port", &name, "8080/tcp"])
        .output()
        .map_err(|e| e.to_string())?;
    let addr = String::from_utf8_lossy(&port.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let started = std::time::Instant::now();
    let mut answer = None;
    while answer.is_none() && started.elapsed() < Duration::from_secs(15) {
        answer = http_get(&addr, "/healthz")
            .filter(|r| r.lines().next().is_some_and(|l| l.contains(" 200")));
        if answer.is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let logs = Command::new("docker").args(["logs", &name]).output();
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    answer.ok_or_else(|| {
        logs.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default()
    })
}
