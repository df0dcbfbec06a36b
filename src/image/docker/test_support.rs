//! Test gates and fixtures shared by the engine tests: skip (or fail under
//! ISECT_REQUIRE_DOCKER=1) when no engine or no apt, and a busybox base built once.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::Path;

use bollard::Docker;

use crate::image::debian;

/// Whether CI demands the engine (and apt): a skip there is a failure.
fn required() -> bool {
    std::env::var("ISECT_REQUIRE_DOCKER").as_deref() == Ok("1")
}

/// The engine, or None after printing why the test is skipped.
pub(crate) async fn engine_or_skip(test: &str) -> Option<Docker> {
    match super::connect().await {
        Ok(docker) => Some(docker),
        Err(e) if required() => panic!("{test}: ISECT_REQUIRE_DOCKER=1 but {e}"),
        Err(e) => {
            eprintln!("{test}: skipped: no Docker Engine ({e})");
            None
        }
    }
}

/// Whether apt can resolve and fetch Debian packages here; prints why not.
pub(crate) fn apt_or_skip(test: &str) -> bool {
    match debian::resolve(&["busybox-static"]) {
        Ok(_) => true,
        Err(e) if required() => panic!("{test}: ISECT_REQUIRE_DOCKER=1 but apt is not usable: {e}"),
        Err(e) => {
            eprintln!("{test}: skipped: apt is not usable ({e})");
            false
        }
    }
}

/// The .deb cache tests share across runs.
pub(crate) fn deb_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/isect-test-debs")
}

static BUSYBOX: tokio::sync::Mutex<Option<String>> = tokio::sync::Mutex::const_new(None);

/// A base with a shell: busybox-static from Debian, its applets linked in /bin, imported
/// into the engine once per test run. Returns its image id.
pub(crate) async fn busybox_image(docker: &Docker) -> String {
    let mut cached = BUSYBOX.lock().await;
    if let Some(id) = cached.as_ref() {
        return id.clone();
    }
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    debian::assemble_rootfs(&["busybox-static"], &rootfs, &deb_cache(), |_| {}).unwrap();
    // The static busybox runs on the host too: ask it for its applets.
    let out = std::process::Command::new(rootfs.join("bin/busybox"))
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8(out.stdout).unwrap().lines() {
        let link = rootfs.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link).unwrap();
        }
    }
    let mut tar = Vec::new();
    debian::rootfs_tar(&rootfs, &mut tar).unwrap();
    let id = super::import_rootfs(
        docker,
        tar,
        "isect-test/busybox:latest",
        &["ENV PATH=/bin", "CMD [\"/bin/sh\"]"],
    )
    .await
    .unwrap();
    *cached = Some(id.clone());
    id
}
