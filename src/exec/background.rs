//! Processes a step needs running while it runs (the services an integration test talks
//! to): each started on a free loopback port, in its own process group, waited for until
//! its health endpoint answers, and killed with its whole group when the step ends, also
//! when it fails or is cancelled, so none is ever left behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::runner::kill_group;
use crate::plan::BackgroundProcess;

struct Running {
    name: String,
    child: tokio::process::Child,
    pgid: u32,
}

/// The running processes of one step.
pub(super) struct Background {
    running: Vec<Running>,
    /// Their output, prefixed with their names.
    log: Arc<Mutex<Vec<String>>>,
}

/// `ISECT_PORT_<NAME>`: the variable a step reads a process's port from.
pub(super) fn port_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ISECT_PORT_{upper}")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Replaces `${port:name}` with the port of process `name`.
fn expand(value: &str, ports: &BTreeMap<String, u16>) -> String {
    let mut out = value.to_string();
    for (name, port) in ports {
        out = out.replace(&format!("${{port:{name}}}"), &port.to_string());
    }
    out
}

impl Background {
    /// Starts `processes` in order, each once the previous one is healthy. Returns the
    /// variables the step's commands get (`ISECT_PORT_<NAME>`), or why a process did not
    /// come up (with its output).
    pub(super) async fn start(
        processes: &[BackgroundProcess],
        root: &Path,
        base_env: &BTreeMap<String, String>,
    ) -> (Self, Result<BTreeMap<String, String>, String>) {
        let mut background = Self {
            running: Vec::new(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        let mut ports: BTreeMap<String, u16> = BTreeMap::new();
        let mut step_env = BTreeMap::new();
        for process in processes {
            let port = match free_port() {
                Ok(p) => p,
                Err(e) => {
                    return (
                        background,
                        Err(format!("no free loopback port for `{}`: {e}", process.name)),
                    );
                }
            };
            ports.insert(process.name.clone(), port);
            let mut env = base_env.clone();
            env.extend(step_env.clone());
            env.extend(
                process
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), expand(v, &ports))),
            );
            env.insert("PORT".into(), port.to_string());
            if let Err(e) = background.spawn(process, root, &env) {
                return (background, Err(e));
            }
            if let Err(e) = background.wait_ready(process, port).await {
                return (background, Err(e));
            }
            step_env.insert(port_var(&process.name), port.to_string());
        }
        (background, Ok(step_env))
    }

    fn spawn(
        &mut self,
        process: &BackgroundProcess,
        root: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let mut command = tokio::process::Command::new("sh");
        command
            .args(["-c", &process.run])
            .current_dir(root.join(&process.cwd))
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start `{}` ({}): {e}", process.name, process.run))?;
        let pgid = child.id().unwrap_or(0);
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child.stderr.take().map(|s| Box::new(s) as _),
        ]
        .into_iter()
        .flatten()
        {
            let (log, name) = (self.log.clone(), process.name.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut log) = log.lock() {
                        log.push(format!("[{name}] {line}"));
                    }
                }
            });
        }
        self.running.push(Running {
            name: process.name.clone(),
            child,
            pgid,
        });
        Ok(())
    }

    async fn wait_ready(&mut self, process: &BackgroundProcess, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(process.ready_timeout_secs);
        let running = self
            .running
            .last_mut()
            .expect("invariant: the process was just spawned");
        loop {
            if let Ok(Some(status)) = running.child.try_wait() {
                return Err(format!(
                    "`{}` exited ({status}) before it was ready",
                    running.name
                ));
            }
            if probe(port, process.health.as_deref()).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let what = process.health.as_deref().map_or_else(
                    || format!("port {port}"),
                    |h| format!("http://127.0.0.1:{port}{h}"),
                );
                return Err(format!(
                    "`{}` was not ready after {}s ({what} did not answer)",
                    process.name, process.ready_timeout_secs
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every process (SIGTERM, then SIGKILL after 2 s) and returns their output.
    pub(super) async fn stop(mut self) -> Vec<String> {
        for running in self.running.iter_mut().rev() {
            kill_group(running.pgid, libc::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(2), running.child.wait())
                .await
                .is_err()
            {
                kill_group(running.pgid, libc::SIGKILL);
                let _ = running.child.wait().await;
            }
            kill_group(running.pgid, libc::SIGKILL);
        }
        self.running.clear();
        // Let the readers take the last lines.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for running in &self.running {
            kill_group(running.pgid, libc::SIGKILL);
        }
    }
}

/// True when `port` accepts a connection and, with a health path, answers it with 200.
async fn probe(port: u16, health: Option<&str>) -> bool {
    let Ok(Ok(mut stream)) = tokio::time::timeout(
        Duration::from_millis(500),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let Some(path) = health else { return true };
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut head)).await {
        Ok(Ok(n)) => {
            let text = String::from_utf8_lossy(&head[..n]);
            text.starts_with("HTTP/1.") && text.get(9..12) == Some("200")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_placeholders() {
        assert_eq!(port_var("auth-service"), "ISECT_PORT_AUTH_SERVICE");
        let ports = BTreeMap::from([("auth".to_string(), 4100u16)]);
        assert_eq!(
            expand("http://127.0.0.1:${port:auth}/x", &ports),
            "http://127.0.0.1:4100/x"
        );
    }
}
