//! Tests against the Docker Engine; each skips with a printed reason when none is
//! reachable, unless ISECT_REQUIRE_DOCKER=1.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use bollard::query_parameters::DownloadFromContainerOptions;

use super::test_support::{apt_or_skip, busybox_image, engine_or_skip};
use super::*;

const FIXTURE: &str = "tests/fixtures/docker/multistage";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The fixture's files, as a step's inputs would list them.
fn fixture_context() -> BuildContext {
    let ws = workspace();
    let files: Vec<PathBuf> = walkdir::WalkDir::new(ws.join(FIXTURE))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&ws).unwrap().to_path_buf())
        .collect();
    BuildContext::new(
        &ws,
        Path::new(FIXTURE),
        &Path::new(FIXTURE).join("Dockerfile"),
        files,
    )
    .unwrap()
}

/// A context of one Dockerfile, written to a temp workspace.
fn dockerfile_context(dir: &Path, text: &str) -> BuildContext {
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
    BuildContext::new(dir, Path::new(""), Path::new("Dockerfile"), ["Dockerfile"]).unwrap()
}

/// The paths under `path` in a container made from `image` (never started: scratch
/// images have nothing to run).
async fn files_in(docker: &Docker, image: &str, path: &str) -> Vec<String> {
    let body = ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(vec!["/none".into()]),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .unwrap()
        .id;
    let mut tar = Vec::new();
    let opts = DownloadFromContainerOptions { path: path.into() };
    let mut stream = docker.download_from_container(&id, Some(opts));
    while let Some(chunk) = stream.next().await {
        tar.extend_from_slice(&chunk.unwrap());
    }
    docker
        .remove_container(&id, None::<RemoveContainerOptions>)
        .await
        .unwrap();
    let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .filter(|p| !p.ends_with('/'))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn multistage_from_scratch_with_args_target_labels_and_dockerignore() {
    let Some(docker) = engine_or_skip("multistage_from_scratch").await else {
        return;
    };
    let ctx = fixture_context();
    let options = BuildOptions {
        tags: vec![
            "isect-test/multistage:final".into(),
            "isect-test/multistage:second-tag".into(),
        ],
        build_args: BTreeMap::from([("GREETING".into(), "bonjour".into())]),
        target: Some("final".into()),
        labels: BTreeMap::from([("org.isect.step".into(), "image:build".into())]),
        approved_bases: Some(vec![]),
        ..Default::default()
    };
    let mut lines = Vec::new();
    let built = build(&docker, &ctx, &options, |l| lines.push(l))
        .await
        .unwrap();
    assert!(built.image_id.starts_with("sha256:"), "{built:?}");
    assert!(lines.iter().any(|l| l.starts_with("Step 1/")), "{lines:?}");

    let inspect = docker
        .inspect_image("isect-test/multistage:second-tag")
        .await
        .unwrap();
    assert_eq!(inspect.id.as_deref(), Some(built.image_id.as_str()));
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(
        labels.get("org.isect.greeting").map(String::as_str),
        Some("bonjour")
    );
    assert_eq!(
        labels.get("org.isect.step").map(String::as_str),
        Some("image:build")
    );

    // the target stage stops before `extra`; .dockerignore kept the secrets out
    let files = files_in(&docker, &built.image_id, "/srv").await;
    assert_eq!(
        files,
        [
            "srv/data/keep.txt",
            "srv/data/secret-ok.txt",
            "srv/data/sub/deep.txt",
            "srv/greeting.txt"
        ]
    );

    // the last stage by default, and the same context again hits the engine's cache
    let all = build(&docker, &ctx, &BuildOptions::default(), |_| {})
        .await
        .unwrap();
    assert!(
        files_in(&docker, &all.image_id, "/srv")
            .await
            .contains(&"srv/extra.txt".to_string())
    );
    let mut cached = Vec::new();
    build(&docker, &ctx, &BuildOptions::default(), |l| cached.push(l))
        .await
        .unwrap();
    assert!(
        cached.iter().any(|l| l.contains("Using cache")),
        "{cached:?}"
    );

    let e = build(
        &docker,
        &ctx,
        &BuildOptions {
            target: Some("nope".into()),
            ..Default::default()
        },
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("no stage named \"nope\""), "{e}");
    remove(&docker, &all.image_id).await.unwrap();
    remove(&docker, "isect-test/multistage:final")
        .await
        .unwrap();
    remove(&docker, "isect-test/multistage:second-tag")
        .await
        .unwrap();
}

#[tokio::test]
async fn run_steps_and_a_failing_instruction_named_with_its_line() {
    let Some(docker) = engine_or_skip("failing_run").await else {
        return;
    };
    if !apt_or_skip("failing_run") {
        return;
    }
    let base = busybox_image(&docker).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "ARG BASE={base}\nFROM $BASE AS build\nRUN echo building > /built.txt && \\\n    cat /built.txt\n\nRUN exit 3\nRUN echo never\n"
    );
    let ctx = dockerfile_context(dir.path(), &text);
    let mut lines = Vec::new();
    // A bare image id is a digest: it can be approved.
    let options = BuildOptions {
        approved_bases: Some(vec![base.clone()]),
        ..Default::default()
    };
    let e = build(&docker, &ctx, &options, |l| lines.push(l))
        .await
        .unwrap_err();
    let DockerError::BuildFailed {
        line,
        instruction,
        message,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(*line, Some(6), "{e}");
    assert_eq!(instruction.as_deref(), Some("RUN exit 3"));
    assert!(message.contains("returned a non-zero code: 3"), "{message}");
    assert!(
        e.to_string()
            .starts_with("Dockerfile:6: `RUN exit 3` failed"),
        "{e}"
    );
    assert!(
        lines.iter().any(|l| l == "building"),
        "the RUN output reaches the step log: {lines:?}"
    );

    // a passing RUN, and run_once on the result
    let text = format!("FROM {base}\nRUN echo built > /built.txt\n");
    let ctx = dockerfile_context(dir.path(), &text);
    let built = build(&docker, &ctx, &BuildOptions::default(), |_| {})
        .await
        .unwrap();
    let (code, out) = run_once(
        &docker,
        &built.image_id,
        &["sh", "-c", "cat /built.txt; exit 7"],
    )
    .await
    .unwrap();
    assert_eq!((code, out.as_str()), (7, "built\n"));
    remove(&docker, &built.image_id).await.unwrap();
}

#[tokio::test]
async fn a_syntax_error_and_an_unapproved_base_never_reach_the_engine() {
    let Some(docker) = engine_or_skip("syntax_error").await else {
        return;
    };
    let ws = workspace();
    let dir = Path::new("tests/fixtures/docker/syntax-error");
    let ctx = BuildContext::new(&ws, dir, &dir.join("Dockerfile"), Vec::<PathBuf>::new()).unwrap();
    let e = build(&docker, &ctx, &BuildOptions::default(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(e, DockerError::Dockerfile(DockerfileError { line: 3, .. })),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("tests/fixtures/docker/syntax-error/Dockerfile:3: unknown instruction COPPY"),
        "{e}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let ctx = dockerfile_context(
        tmp.path(),
        "FROM scratch AS a\nFROM debian:12\nCOPY --from=a / /\n",
    );
    let approved = vec![format!("isect/python-base@sha256:{}", "a".repeat(64))];
    let options = BuildOptions {
        approved_bases: Some(approved.clone()),
        ..Default::default()
    };
    let e = build(&docker, &ctx, &options, |_| {}).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("Dockerfile:2: base image not approved: debian:12 is not pinned by digest"),
        "{msg}"
    );
    assert!(
        msg.contains("2 | FROM debian:12") && msg.contains(&approved[0]),
        "{msg}"
    );
}

#[tokio::test]
async fn load_tag_and_remove() {
    let Some(docker) = engine_or_skip("load_archive").await else {
        return;
    };
    if !apt_or_skip("load_archive") {
        return;
    }
    let base = busybox_image(&docker).await;
    tag(&docker, &base, "isect-test/loaded:v1").await.unwrap();
    // `docker save` the tagged image, drop the tag, and load it back
    let mut archive = Vec::new();
    let mut stream = docker.export_image("isect-test/loaded:v1");
    while let Some(chunk) = stream.next().await {
        archive.extend_from_slice(&chunk.unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.tar");
    std::fs::write(&path, archive).unwrap();
    docker
        .remove_image("isect-test/loaded:v1", None::<RemoveImageOptions>, None)
        .await
        .unwrap();
    let loaded = load_archive(&docker, &path).await.unwrap();
    assert_eq!(loaded, ["isect-test/loaded:v1"]);
    assert_eq!(
        docker
            .inspect_image("isect-test/loaded:v1")
            .await
            .unwrap()
            .id,
        Some(base)
    );
    docker
        .remove_image("isect-test/loaded:v1", None::<RemoveImageOptions>, None)
        .await
        .unwrap();
    let e = load_archive(&docker, &dir.path().join("missing.tar"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing.tar"), "{e}");
}

#[tokio::test]
async fn an_unreachable_engine_says_where_and_how_to_start_it() {
    let e = connect_to("unix:///nonexistent.sock", true)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("the Docker Engine is not reachable at unix:///nonexistent.sock"),
        "{msg}"
    );
    assert!(msg.contains("DOCKER_HOST points there"), "{msg}");
    let e = connect_to("unix:///nonexistent.sock", false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sudo systemctl start docker"), "{e}");
}
