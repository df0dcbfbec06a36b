//! Running one process: in its own process group (so the whole tree can be ended), with
//! stdout and stderr merged line by line into the step's log and streamed as events,
//! a timeout, and cancellation. Whatever happens, the group is killed before returning,
//! so no step leaves a process behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    /// Exited with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// Killed because it ran past its timeout.
    TimedOut(Duration),
    /// Killed because the run was cancelled.
    Cancelled,
    /// Could not be started.
    SpawnFailed(String),
}

impl ProcessEnd {
    #[must_use]
    pub fn success(&self) -> bool {
        *self == Self::Exited(Some(0))
    }

    /// A short description for the summary.
    #[must_use]
    pub fn describe(&self, program: &str) -> String {
        match self {
            Self::Exited(Some(code)) => format!("`{program}` exited with code {code}"),
            Self::Exited(None) => format!("`{program}` was killed by a signal"),
            Self::TimedOut(d) => format!("`{program}` timed out after {}s", d.as_secs()),
            Self::Cancelled => "cancelled".into(),
            Self::SpawnFailed(e) => format!("could not start `{program}`: {e}"),
        }
    }
}

/// Sends a signal to a whole process group.
pub(super) fn kill_group(pgid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid signals the process group; it touches no memory.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Runs `spec`, sending each output line to `lines`; stops early when `cancel` turns true.
pub async fn run_process(
    spec: &ProcessSpec,
    lines: mpsc::UnboundedSender<String>,
    mut cancel: watch::Receiver<bool>,
) -> ProcessEnd {
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return ProcessEnd::SpawnFailed(e.to_string()),
    };
    let pgid = child.id().unwrap_or(0);
    let out = child
        .stdout
        .take()
        .map(|s| tokio::spawn(forward(s, lines.clone())));
    let err = child.stderr.take().map(|s| tokio::spawn(forward(s, lines)));
    let timeout = async {
        match spec.timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let end = tokio::select! {
        status = child.wait() => ProcessEnd::Exited(status.ok().and_then(|s| s.code())),
        () = timeout => ProcessEnd::TimedOut(spec.timeout.unwrap_or_default()),
        () = cancelled(&mut cancel) => ProcessEnd::Cancelled,
    };
    if !matches!(end, ProcessEnd::Exited(_)) {
        kill_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(2), child.wait())
            .await
            .is_err()
        {
            kill_group(pgid, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }
    // Anything the step started and left running dies with it.
    kill_group(pgid, libc::SIGKILL);
    for task in [out, err].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    end
}

/// Resolves once `cancel` is true.
pub(super) async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    while !*cancel.borrow_and_update() {
        if cancel.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn forward(stream: impl AsyncRead + Unpin, lines: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buffer);
                let _ = lines.send(line.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
}
