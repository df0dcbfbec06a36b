//! Test helpers: a throwaway Debian `docker-registry` on a free loopback port, and tiny
//! OCI layouts built by hand.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::sha256_digest;

const BINARY: &str = "/usr/bin/docker-registry";

/// A running registry, killed when dropped.
pub(crate) struct TestRegistry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub(crate) addr: String,
    _dir: tempfile::TempDir,
}

impl TestRegistry {
    /// Starts a registry (refusing writes when `readonly`); `None` (after printing why) when the binary is missing, unless
    /// `ISECT_REQUIRE_REGISTRY=1`, which makes that a failure.
    pub(crate) fn start(readonly: bool) -> Option<TestRegistry> {
        if !Path::new(BINARY).exists() {
            if std::env::var("ISECT_REQUIRE_REGISTRY").as_deref() == Ok("1") {
                panic!(
                    "ISECT_REQUIRE_REGISTRY=1 but {BINARY} is missing (apt-get install docker-registry)"
                );
            }
            eprintln!("skipped: docker-registry not installed (apt-get install docker-registry)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let maintenance = if readonly {
            "  maintenance:\n    readonly:\n      enabled: true\n"
        } else {
            ""
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{maintenance}http:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let reg = TestRegistry {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&reg.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {}",
                reg.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(reg)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a one-layer OCI image layout whose layer holds `content`; returns the manifest
/// digest.
pub(crate) fn write_layout(dir: &Path, content: &[u8]) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = sha256_digest(data);
        std::fs::write(blobs.join(&d[7..]), data).unwrap();
        (d, data.len())
    };
    let (layer, layer_size) = put(content);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    });
    let (config, config_size) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let (digest, size) = put(&manifest_bytes);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size}],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    digest
}
