//! Real storage servers on 127.0.0.1 for the remote cache tests: Debian's nginx with
//! WebDAV, and redis-server, each on a free port with its data in a temporary folder,
//! killed when dropped. A missing binary skips the test unless ISECT_REQUIRE_REMOTE_CACHE=1.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stopped on drop.
pub(super) struct Server {
    child: Option<Child>,
    /// The cache URL for it.
    pub(super) url: String,
    /// Where its files are (WebDAV), for listing and tampering by hand.
    pub(super) data: Option<PathBuf>,
    state: tempfile::TempDir,
}

fn find(binary: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(binary))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("ISECT_REQUIRE_REMOTE_CACHE").as_deref() != Ok("1"),
            "{binary} is required (ISECT_REQUIRE_REMOTE_CACHE=1): apt-get install {package}"
        );
        eprintln!("skipped: {binary} not installed (apt-get install {package})");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// nginx serving WebDAV (PUT/DELETE/MKCOL) from the repo's template config.
    pub(super) fn nginx() -> Option<Self> {
        let nginx = find("nginx", "nginx-light")?;
        let state = tempfile::tempdir().unwrap();
        let data = state.path().join("data");
        std::fs::create_dir_all(data.join("cache")).unwrap();
        let port = free_port();
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote/nginx-webdav.conf");
        let conf = std::fs::read_to_string(template)
            .unwrap()
            .replace("@PORT@", &port.to_string())
            .replace("@ROOT@", &data.display().to_string())
            .replace("@STATE@", &state.path().display().to_string());
        let conf_path = state.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = Command::new(nginx);
        cmd.arg("-e")
            .arg(state.path().join("error.log"))
            .arg("-p")
            .arg(state.path())
            .arg("-c")
            .arg(&conf_path);
        // As root, workers would drop to `nobody`, who cannot write the 0700 temp folder.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-g", "user root;"]);
        }
        let url = format!("webdav+http://127.0.0.1:{port}/cache");
        Some(Self::start(cmd, port, url, Some(data.join("cache")), state))
    }

    /// redis-server with no persistence.
    pub(super) fn redis() -> Option<Self> {
        let redis = find("redis-server", "redis-server")?;
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(redis);
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(state.path());
        let url = format!("redis://127.0.0.1:{port}/0");
        Some(Self::start(cmd, port, url, None, state))
    }

    fn start(
        mut cmd: Command,
        port: u16,
        url: String,
        data: Option<PathBuf>,
        state: tempfile::TempDir,
    ) -> Self {
        let log = std::fs::File::create(state.path().join("server.out")).unwrap();
        // Its own process group, so `stop` also ends nginx's workers, which outlive a
        // killed master and keep serving.
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                let out = std::fs::read_to_string(state.path().join("server.out"));
                let err = std::fs::read_to_string(state.path().join("error.log"));
                panic!("{url} exited ({status}): {out:?} {err:?}");
            }
            assert!(Instant::now() < deadline, "{url} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            url,
            data,
            state,
        }
    }

    /// Kills the server now (the "stopped mid-run" scenario).
    pub(super) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill has no memory preconditions; -pid is the group we made.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = &self.state;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every file under `dir`, relative, sorted.
pub(super) fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

/// A server that accepts connections and never answers: a hung remote.
pub(super) fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            if held.len() > 64 {
                break;
            }
        }
    });
    (port, handle)
}
