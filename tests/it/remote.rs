//! The shared cache through the binary: one workspace fills it, a clean one (another
//! folder, no local cache) hits every step; tampered and unsigned entries are refused and
//! rebuilt; a server that is gone is a warning, never a failed build; read-only writes
//! nothing. A folder (`file://`) and a real WebDAV server (Debian's nginx) serve it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{TestWorkspace, walk};

const HMAC_KEY: &str = "8f1c2a9e4b7d6053a1f2e3d4c5b6a79881726354a5b6c7d8e9f0a1b2c3d4e5f6";

/// A workspace of three steps over one service: two chained builds and a test.
fn workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("services/app/src/main.txt", "hello\n")
        .file(
            "pipelines/app.rhai",
            r#"#{
    build: |svc| {
        sh("mkdir -p out && cp src/main.txt out/app.txt", #{ name: "compile", outputs: ["out/app.txt"] });
        sh("cat out/app.txt out/app.txt > out/bundle.txt", #{ name: "bundle", inputs: ["src/**"], outputs: ["out/bundle.txt"] });
    },
    test: |svc| { sh("grep -q hello out/bundle.txt", #{ name: "check", inputs: ["src/**"] }); },
}
"#,
        );
    ws
}

fn run_with_remote(
    ws: &TestWorkspace,
    url: &str,
    extra: &[(&str, &str)],
) -> crate::common::RunOutput {
    ws.run_with(["test", "app", "--no-progress"], |c| {
        c.env("ISECT_REMOTE_CACHE", url)
            .env("ISECT_CACHE_HMAC_KEY", HMAC_KEY)
            .env_remove("ISECT_CACHE_READONLY");
        for (k, v) in extra {
            c.env(k, v);
        }
    })
}

fn remote_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
}

#[test]
fn a_clean_workspace_hits_every_step_in_the_shared_cache() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let first = workspace();
    run_with_remote(&first, &url, &[])
        .assert_success()
        .assert_all("ok");
    assert!(
        !remote_files(shared.path()).is_empty(),
        "nothing was published"
    );

    let second = workspace();
    let hit = run_with_remote(&second, &url, &[]);
    hit.assert_success().assert_all("cached");
    for row in hit.rows() {
        assert!(row.note.contains("from the remote cache"), "{}", hit.dump());
    }
    assert_eq!(second.read("services/app/out/bundle.txt"), "hello\nhello\n");
    second
        .run_with(["cache", "stats"], |c| {
            c.env("ISECT_REMOTE_CACHE", &url)
                .env("ISECT_CACHE_HMAC_KEY", HMAC_KEY);
        })
        .assert_success()
        .assert_stdout_contains("3 remote");
}

#[test]
fn tampered_and_unsigned_entries_are_refused_and_rebuilt() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    run_with_remote(&workspace(), &url, &[]).assert_success();

    // Every stored blob gets one byte changed: whatever names them is refused.
    for blob in walk(&shared.path().join("cas")) {
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes.push(b'!');
        std::fs::write(&blob, bytes).unwrap();
    }
    // (A blob the new workspace already made and verified itself, such as an empty log, is
    // used from its own cache: content addressing makes that safe.)
    let tampered = run_with_remote(&workspace(), &url, &[]);
    tampered.assert_success();
    tampered.assert_statuses(&[("app:build:compile", "ok"), ("app:build:bundle", "ok")]);
    tampered.assert_stderr_contains("remote cache");

    // An entry without its signature is refused too.
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    run_with_remote(&workspace(), &url, &[]).assert_success();
    for entry in walk(&shared.path().join("ac")) {
        let mut envelope: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
        envelope.as_object_mut().unwrap().remove("sig");
        std::fs::write(&entry, envelope.to_string()).unwrap();
    }
    let unsigned = run_with_remote(&workspace(), &url, &[]);
    unsigned.assert_success().assert_all("ok");
    unsigned.assert_stderr_contains("unsigned");
    unsigned.assert_stderr_contains("remote cache");
}

#[test]
fn read_only_reads_but_never_writes() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("file://{}", shared.path().display());
    let ws = workspace();
    run_with_remote(&ws, &url, &[("ISECT_CACHE_READONLY", "1")])
        .assert_success()
        .assert_all("ok");
    assert!(
        remote_files(shared.path()).is_empty(),
        "read-only wrote {:?}",
        remote_files(shared.path())
    );
}

#[test]
fn a_shared_cache_must_be_signed() {
    let ws = workspace();
    let out = ws.run_with(["test", "app"], |c| {
        c.env("ISECT_REMOTE_CACHE", "file:///tmp/isect-unsigned-cache")
            .env_remove("ISECT_CACHE_HMAC_KEY")
            .env_remove("ISECT_CACHE_SIGNING_KEY")
            .env_remove("ISECT_CACHE_VERIFY_KEY");
    });
    out.assert_failure(1);
    out.assert_stderr_contains("must be signed");
}

/// Debian's nginx serving WebDAV on a free port, stopped on drop (with its workers).
struct Dav {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Dav {
    fn start() -> Option<Self> {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/cache")).unwrap();
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote/nginx-webdav.conf"),
        )
        .unwrap();
        let config = template
            .replace("@PORT@", &port.to_string())
            .replace("@ROOT@", &dir.path().join("data").display().to_string())
            .replace("@STATE@", &dir.path().display().to_string());
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(nginx);
        command
            .args(["-c", dir.path().join("nginx.conf").to_str().unwrap(), "-p"])
            .arg(dir.path());
        // As root, nginx's workers drop to `nobody`, who cannot write the test's folders.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            command.args(["-g", "user root;"]);
        }
        let child = command
            .process_group(0)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            port,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("webdav+http://127.0.0.1:{}/cache", self.port)
    }

    fn stop(&mut self) {
        // nginx's workers outlive a killed master: stop the whole group.
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Dav {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn a_webdav_cache_is_shared_and_a_stopped_server_is_only_a_warning() {
    let Some(mut dav) = Dav::start() else {
        assert!(
            std::env::var_os("ISECT_REQUIRE_REMOTE_CACHE").is_none_or(|v| v != "1"),
            "nginx is not installed, and ISECT_REQUIRE_REMOTE_CACHE=1"
        );
        eprintln!("skipped: nginx not installed (apt-get install nginx-light)");
        return;
    };
    let url = dav.url();
    run_with_remote(&workspace(), &url, &[])
        .assert_success()
        .assert_all("ok");
    run_with_remote(&workspace(), &url, &[])
        .assert_success()
        .assert_all("cached");

    dav.stop();
    let gone = run_with_remote(&workspace(), &url, &[]);
    gone.assert_success().assert_all("ok");
    gone.assert_stderr_contains("remote cache");
}

#[test]
fn a_server_that_stops_mid_run_costs_misses_and_a_warning_not_the_build() {
    let Some(dav) = Dav::start() else {
        assert!(
            std::env::var_os("ISECT_REQUIRE_REMOTE_CACHE").is_none_or(|v| v != "1"),
            "nginx is not installed, and ISECT_REQUIRE_REMOTE_CACHE=1"
        );
        eprintln!("skipped: nginx not installed (apt-get install nginx-light)");
        return;
    };
    // The first step stops the server (its whole process group); the steps after it
    // publish into nothing.
    let ws = workspace();
    ws.file(
        "pipelines/app.rhai",
        &format!(
            r#"#{{
    build: |svc| {{
        sh("kill -9 -{pgid}; sleep 0.2; mkdir -p out && cp src/main.txt out/app.txt", #{{ name: "compile", outputs: ["out/app.txt"] }});
        sh("cat out/app.txt out/app.txt > out/bundle.txt", #{{ name: "bundle", inputs: ["src/**"], outputs: ["out/bundle.txt"] }});
    }},
    test: |svc| {{ sh("grep -q hello out/bundle.txt", #{{ name: "check", inputs: ["src/**"] }}); }},
}}
"#,
            pgid = dav.child.id()
        ),
    );
    let out = run_with_remote(&ws, &dav.url(), &[]);
    out.assert_success().assert_all("ok");
    out.assert_stderr_contains("remote cache");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", dav.port)).is_err(),
        "the server was still up"
    );
}
