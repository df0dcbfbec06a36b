//! Tests of the daemonless image writer: reproducibility across workspaces, the layer tar's
//! normalisation, base reuse, layout reading, and `docker load` + `docker run` when an
//! engine is reachable.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::*;

/// A source workspace: a binary, an asset tree with a symlink and a hardlink.
fn workspace(dir: &Path, reversed: bool, age_secs: u64, payload: &[u8]) {
    let files: Vec<(&str, &[u8])> = vec![
        ("bin/server", payload),
        ("assets/index.html", b"<h1>hi</h1>\n"),
        ("assets/css/site.css", b"body{}\n"),
        ("assets/z.txt", b"z\n"),
    ];
    let order: Vec<_> = if reversed {
        files.into_iter().rev().collect()
    } else {
        files
    };
    for (rel, data) in order {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        let f = fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
    }
    let server = dir.join("bin/server");
    fs::set_permissions(
        &server,
        fs::Permissions::from_mode(if reversed { 0o700 } else { 0o775 }),
    )
    .unwrap();
    fs::set_permissions(
        dir.join("assets/z.txt"),
        fs::Permissions::from_mode(if reversed { 0o600 } else { 0o664 }),
    )
    .unwrap();
    std::os::unix::fs::symlink("index.html", dir.join("assets/home.html")).unwrap();
    fs::hard_link(dir.join("assets/z.txt"), dir.join("assets/y.txt")).unwrap();
    if reversed {
        // A different owner, where we may chown (as root); ignored elsewhere.
        let _ = std::os::unix::fs::chown(&server, Some(1234), Some(1234));
    }
}

fn spec_for(dir: &Path) -> ImageSpec {
    let mut layer = LayerBuilder::new()
        .mtime(1_700_000_000)
        .created_by("COPY server /app/server");
    layer
        .add_file(dir.join("bin/server"), "/app/server")
        .unwrap();
    layer.add_tree(dir.join("assets"), "/srv/assets").unwrap();
    layer
        .add_symlink("/usr/local/bin/server", "/app/server")
        .unwrap();
    ImageSpec {
        layers: vec![layer],
        entrypoint: Some(vec!["/app/server".into()]),
        env: vec!["PORT=8080".into(), "MODE=prod".into()],
        workdir: Some("/app".into()),
        user: Some("65532:65532".into()),
        exposed_ports: vec!["9090/tcp".into(), "8080/tcp".into()],
        labels: [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]
        .into(),
        source: Some("https://example.com/repo".into()),
        revision: Some("abc123".into()),
        created: 1_700_000_000,
        tag: Some("example.com/auth:1.0".into()),
        ..ImageSpec::default()
    }
}

fn build_in(tmp: &Path, reversed: bool, age: u64, payload: &[u8]) -> BuiltImage {
    let src = tmp.join("src");
    workspace(&src, reversed, age, payload);
    build(&spec_for(&src), &tmp.join("out")).unwrap()
}

#[test]
fn same_inputs_in_two_workspaces_give_the_same_digest() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let nested = b.path().join("deeper/elsewhere");
    let one = build_in(a.path(), false, 10, b"binary v1");
    let two = build_in(&nested, true, 99_999, b"binary v1");
    assert_eq!(one.manifest_digest, two.manifest_digest);
    assert_eq!(one.config_digest, two.config_digest);
    assert_eq!(one.size, two.size);
    let index = |p: &Path| fs::read(p.join("out/index.json")).unwrap();
    assert_eq!(index(a.path()), index(&nested));
}

#[test]
fn one_changed_byte_changes_the_digest() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = build_in(a.path(), false, 10, b"binary v1");
    let two = build_in(b.path(), false, 10, b"binary v2");
    assert_ne!(one.manifest_digest, two.manifest_digest);
    assert_ne!(one.layers[0].digest(), two.layers[0].digest());
}

#[test]
fn layer_tar_is_sorted_owned_by_root_with_fixed_mtime() {
    let tmp = tempfile::tempdir().unwrap();
    workspace(tmp.path(), true, 50, b"bin");
    let _socket = std::os::unix::net::UnixListener::bind(tmp.path().join("assets/sock")).unwrap();
    let spec = spec_for(tmp.path());
    let tar = spec.layers[0].write_tar(Vec::new()).unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let path = String::from_utf8(entry.path_bytes().to_vec()).unwrap();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{path}");
        assert_eq!(h.mtime().unwrap(), 1_700_000_000, "{path}");
        assert_eq!(h.username().unwrap(), Some(""), "{path}");
        assert_eq!(h.groupname().unwrap(), Some(""), "{path}");
        let kind = h.entry_type();
        let mode = h.mode().unwrap();
        match path.as_str() {
            "app/server" | "srv/assets/" | "app/" => assert_eq!(mode, 0o755, "{path}"),
            "srv/assets/z.txt" | "srv/assets/y.txt" => {
                assert_eq!(mode, 0o644);
                assert!(kind.is_file(), "hardlinks become regular files");
            }
            "srv/assets/home.html" => {
                assert!(kind.is_symlink());
                assert_eq!(h.link_name().unwrap().unwrap(), Path::new("index.html"));
            }
            _ => {}
        }
        assert!(
            kind.is_file() || kind.is_dir() || kind.is_symlink(),
            "{path}: {kind:?}"
        );
        seen.push(path);
    }
    let expected = [
        "app/",
        "app/server",
        "srv/",
        "srv/assets/",
        "srv/assets/css/",
        "srv/assets/css/site.css",
        "srv/assets/home.html",
        "srv/assets/index.html",
        "srv/assets/y.txt",
        "srv/assets/z.txt",
        "usr/",
        "usr/local/",
        "usr/local/bin/",
        "usr/local/bin/server",
    ];
    assert_eq!(
        seen, expected,
        "sorted, parents implicit, the socket skipped"
    );
}

#[test]
fn gzip_header_has_no_mtime_and_a_fixed_os() {
    let tmp = tempfile::tempdir().unwrap();
    let mut layer = LayerBuilder::new();
    layer.add_bytes("/a", "x", 0o644).unwrap();
    let written = layer.write(tmp.path()).unwrap();
    let blob = fs::read(blob_path(tmp.path(), &written.digest)).unwrap();
    assert_eq!(&blob[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(blob[3], 0, "no FNAME");
    assert_eq!(&blob[4..8], &[0, 0, 0, 0], "mtime 0");
    assert_eq!(blob[9], 255, "OS unknown");
    assert_eq!(written.size, blob.len() as u64);
    assert_eq!(written.digest, sha256_digest(&blob));
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(blob.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(written.diff_id, sha256_digest(&tar));
}

#[test]
fn config_and_layout_are_what_registries_and_docker_expect() {
    let tmp = tempfile::tempdir().unwrap();
    let built = build_in(tmp.path(), false, 1, b"x");
    let out = tmp.path().join("out");
    assert_eq!(
        fs::read_to_string(out.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let image = read_layout(&out).unwrap();
    assert_eq!(image.manifest_digest, built.manifest_digest);
    assert_eq!(image.ref_name.as_deref(), Some("example.com/auth:1.0"));
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(image.config_path()).unwrap()).unwrap();
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["Entrypoint"][0], "/app/server");
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "9090/tcp": {}})
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.revision"],
        "abc123"
    );
    assert_eq!(
        config["history"][0]["created_by"],
        "COPY server /app/server"
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    let raw = fs::read_to_string(image.config_path()).unwrap();
    assert!(
        raw.find(r#""a":"1""#).unwrap() < raw.find(r#""b":"2""#).unwrap(),
        "labels sorted"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(image.manifest_path()).unwrap()).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
}

#[test]
fn a_base_layouts_layers_are_reused_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let mut base_layer = LayerBuilder::new().created_by("debian rootfs");
    base_layer
        .add_bytes("/etc/passwd", "root:x:0:0::/root:/sbin/nologin\n", 0o644)
        .unwrap();
    base_layer.add_dir("/tmp").unwrap();
    let base_spec = ImageSpec {
        layers: vec![base_layer],
        env: vec!["PATH=/usr/bin:/bin".into(), "LANG=C.UTF-8".into()],
        cmd: Some(vec!["/bin/sh".into()]),
        tag: Some("bases/python:3.12".into()),
        ..ImageSpec::default()
    };
    let base = build(&base_spec, &tmp.path().join("base")).unwrap();

    let mut app = LayerBuilder::new();
    app.add_bytes("/app/main.py", "print('hi')\n", 0o644)
        .unwrap();
    let spec = ImageSpec {
        base: Some(tmp.path().join("base")),
        layers: vec![app],
        entrypoint: Some(vec!["python3".into(), "/app/main.py".into()]),
        env: vec!["PATH=/venv/bin:/usr/bin:/bin".into()],
        ..ImageSpec::default()
    };
    let built = build(&spec, &tmp.path().join("app")).unwrap();
    assert_eq!(built.layers.len(), 2);
    assert_eq!(built.layers[0], base.layers[0]);
    let image = read_layout(&tmp.path().join("app")).unwrap();
    assert!(image.layers[0].path.is_file());
    let run = image.config.config().clone().unwrap();
    assert_eq!(
        run.env().clone().unwrap(),
        ["PATH=/venv/bin:/usr/bin:/bin", "LANG=C.UTF-8"]
    );
    assert_eq!(run.cmd(), &None, "ENTRYPOINT clears the base's CMD");
    assert_eq!(image.config.history().as_ref().unwrap().len(), 2);
    let base_image = read_layout(&tmp.path().join("base")).unwrap();
    assert_eq!(
        image.config.rootfs().diff_ids()[0],
        base_image.config.rootfs().diff_ids()[0]
    );
    let notes = image.manifest.annotations().clone().unwrap();
    assert_eq!(
        notes["org.opencontainers.image.base.digest"],
        base.manifest_digest
    );
    assert_eq!(
        notes["org.opencontainers.image.base.name"],
        "bases/python:3.12"
    );
}

#[test]
fn a_tampered_or_incomplete_layout_is_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let built = build_in(tmp.path(), false, 1, b"x");
    let out = tmp.path().join("out");
    let config = blob_path(&out, &built.config_digest);
    fs::write(&config, b"{}").unwrap();
    let err = read_layout(&out).unwrap_err().to_string();
    assert!(
        err.contains(&built.config_digest[7..]) && err.contains("hashes to"),
        "{err}"
    );
    fs::remove_file(out.join("oci-layout")).unwrap();
    let err = read_layout(&out).unwrap_err().to_string();
    assert!(err.contains("oci-layout"), "{err}");
}

#[test]
fn paths_outside_the_image_are_refused() {
    let mut layer = LayerBuilder::new();
    assert!(layer.add_bytes("/app/../etc/passwd", "x", 0o644).is_err());
    assert!(layer.add_dir("/").is_err());
    layer.add_bytes("/a", "file", 0o644).unwrap();
    layer.add_bytes("/a/b", "under a file", 0o644).unwrap();
    assert!(layer.write_tar(Vec::new()).is_err());
}

#[test]
fn docker_archive_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    build_in(tmp.path(), false, 1, b"x");
    let (one, two) = (tmp.path().join("1.tar"), tmp.path().join("2.tar"));
    write_docker_archive(&tmp.path().join("out"), "example.com/auth:1.0", &one).unwrap();
    write_docker_archive(&tmp.path().join("out"), "example.com/auth:1.0", &two).unwrap();
    assert_eq!(fs::read(&one).unwrap(), fs::read(&two).unwrap());
    let mut archive = tar::Archive::new(fs::File::open(&one).unwrap());
    let mut manifest = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new("manifest.json") {
            entry.read_to_string(&mut manifest).unwrap();
        }
    }
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "example.com/auth:1.0");
    assert_eq!(manifest[0]["Layers"].as_array().unwrap().len(), 1);
}

/// `Some(reason)` when no Docker Engine answers; panics then if ISECT_REQUIRE_DOCKER=1.
fn docker_missing() -> Option<String> {
    let reason = match Command::new("docker").arg("info").output() {
        Ok(out) if out.status.success() => return None,
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_owned(),
        Err(e) => format!("docker: {e}"),
    };
    assert!(
        std::env::var("ISECT_REQUIRE_DOCKER").as_deref() != Ok("1"),
        "no Docker Engine: {reason}"
    );
    Some(reason)
}

/// A static hello-world binary, from Go (CGO off) or `gcc -static`, or why there is none.
fn static_hello(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("hello");
    fs::write(
        dir.join("main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from isect\") }\n",
    )
    .unwrap();
    let go = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&out)
        .arg("main.go")
        .current_dir(dir)
        .env("CGO_ENABLED", "0")
        .env("GO111MODULE", "off")
        .status();
    if matches!(go, Ok(s) if s.success()) {
        return Ok(out);
    }
    fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\nint main(void){puts(\"hello from isect\");return 0;}\n",
    )
    .unwrap();
    let gcc = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(dir.join("main.c"))
        .status();
    match gcc {
        Ok(s) if s.success() => Ok(out),
        _ => Err(format!(
            "neither `go build` ({go:?}) nor `gcc -static` ({gcc:?}) worked"
        )),
    }
}

#[test]
fn docker_loads_and_runs_the_archive() {
    if let Some(reason) = docker_missing() {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: no Docker Engine ({reason})");
        }
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let hello = match static_hello(tmp.path()) {
        Ok(path) => path,
        Err(reason) => {
            assert!(
                std::env::var("ISECT_REQUIRE_DOCKER").as_deref() != Ok("1"),
                "{reason}"
            );
            #[allow(clippy::print_stderr)]
            {
                eprintln!("skipped: no static binary ({reason})");
            }
            return;
        }
    };
    let mut layer = LayerBuilder::new().created_by("COPY hello /hello");
    layer.add_file(&hello, "/hello").unwrap();
    let tag = format!("isect-oci-test/hello:{}", std::process::id());
    let spec = ImageSpec {
        layers: vec![layer],
        entrypoint: Some(vec!["/hello".into()]),
        user: Some("65532:65532".into()),
        tag: Some(tag.clone()),
        ..ImageSpec::default()
    };
    let built = build(&spec, &tmp.path().join("layout")).unwrap();
    let archive = tmp.path().join("image.tar");
    write_docker_archive(&tmp.path().join("layout"), &tag, &archive).unwrap();

    let load = Command::new("docker")
        .args(["load", "-i"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "docker load: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run = Command::new("docker")
        .args(["run", "--rm", &tag])
        .output()
        .unwrap();
    let id = Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", &tag])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    assert!(
        run.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "hello from isect"
    );
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        built.config_digest,
        "image ID = config digest"
    );
}

#[test]
fn rfc3339_of_known_epochs() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

#[test]
fn canonical_json_sorts_map_keys() {
    let map: std::collections::HashMap<&str, u8> = (0..50u8)
        .map(|i| (["a", "b", "c", "d", "e"][usize::from(i % 5)], i))
        .collect();
    let json = canonical_json(&map, Path::new("x")).unwrap();
    assert_eq!(json, br#"{"a":45,"b":46,"c":47,"d":48,"e":49}"#);
}
