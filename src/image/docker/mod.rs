//! Builds images through the Docker Engine (with bollard): connects with a message that
//! says how to start the engine, streams a build context, reports the build's output line
//! by line, names the failing instruction, and imports, tags, removes and runs images.

mod bases;
mod context;
mod dockerfile;
mod save;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, ImportImageOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

pub use bases::{BaseError, check_bases};
pub use context::{BuildContext, ContextError, DockerIgnore};
pub use dockerfile::{
    Base, Dockerfile, DockerfileError, ImageRef, Instruction, Stage, parse_dockerfile,
    parse_dockerfile_with_args, read_dockerfile,
};
pub use save::{archive_to_layout, save_layout};

/// Where bollard looks when DOCKER_HOST is unset.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// What can go wrong talking to the Docker Engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answered.
    #[error(
        "the Docker Engine is not reachable at {host}: {detail}\n  {}",
        if *from_env {
            "DOCKER_HOST points there: start the engine it names, or fix or unset DOCKER_HOST"
        } else {
            "start it (`sudo systemctl start docker`, or `sudo service docker start`), or set DOCKER_HOST to a running engine"
        }
    )]
    Unreachable {
        /// The address tried (DOCKER_HOST, or the default socket).
        host: String,
        /// What the connection said.
        detail: String,
        /// Whether DOCKER_HOST named the address.
        from_env: bool,
    },
    /// The Dockerfile does not parse.
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    /// A `FROM` is not an approved base.
    #[error(transparent)]
    Base(#[from] BaseError),
    /// The build context could not be made.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The build failed; `instruction` is the step that failed, when known.
    #[error("{}", build_failed_message(.dockerfile, .line, .instruction, .message))]
    BuildFailed {
        /// The Dockerfile, workspace-relative.
        dockerfile: String,
        /// 1-based line of the failing instruction, when it could be mapped.
        line: Option<usize>,
        /// The failing instruction as the engine printed it (`RUN exit 3`).
        instruction: Option<String>,
        /// The engine's error.
        message: String,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Any other answer from the engine.
    #[error("Docker Engine: {0}")]
    Engine(#[from] bollard::errors::Error),
}

fn build_failed_message(
    dockerfile: &str,
    line: &Option<usize>,
    instruction: &Option<String>,
    message: &str,
) -> String {
    match (line, instruction) {
        (Some(l), Some(i)) => format!("{dockerfile}:{l}: `{i}` failed: {message}"),
        (None, Some(i)) => format!("{dockerfile}: `{i}` failed: {message}"),
        _ => format!("{dockerfile}: build failed: {message}"),
    }
}

/// Connects to the engine named by DOCKER_HOST (or the default socket) and pings it.
pub async fn connect() -> Result<Docker, DockerError> {
    match std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        Some(host) => connect_to(&host, true).await,
        None => connect_to(DEFAULT_HOST, false).await,
    }
}

/// Connects to the engine at `host` (`unix:///…`, `tcp://…`) and pings it; `from_env`
/// says whether DOCKER_HOST named it, for the message.
pub async fn connect_to(host: &str, from_env: bool) -> Result<Docker, DockerError> {
    let unreachable = |detail: String| DockerError::Unreachable {
        host: host.to_string(),
        detail,
        from_env,
    };
    let docker = Docker::connect_with_host(host).map_err(|e| unreachable(e.to_string()))?;
    // A socket that exists but whose daemon hangs must not hang the step.
    match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer within 10s".into())),
    }
}

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Names to tag the result with (`repo:tag`).
    pub tags: Vec<String>,
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    /// The stage to stop at (`--target`).
    pub target: Option<String>,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// Ignore the engine's layer cache.
    pub no_cache: bool,
    /// When set, every external `FROM` must be one of these (see [`check_bases`]).
    pub approved_bases: Option<Vec<String>>,
}

/// A built image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:…`.
    pub image_id: String,
    /// The tags it was given.
    pub tags: Vec<String>,
}

/// Builds `context` on the engine. The Dockerfile is parsed first (a syntax error never
/// reaches the engine) and its bases checked when `approved_bases` is set; every output
/// line goes to `on_line`; a failure names the failing instruction and its line.
pub async fn build(
    docker: &Docker,
    context: &BuildContext,
    options: &BuildOptions,
    mut on_line: impl FnMut(String),
) -> Result<BuiltImage, DockerError> {
    let df = parse_dockerfile_with_args(context.dockerfile_text(), &options.build_args).map_err(
        |e| DockerfileError {
            path: context.dockerfile_path().to_string(),
            ..e
        },
    )?;
    let df = Dockerfile {
        path: context.dockerfile_path().to_string(),
        ..df
    };
    if let Some(approved) = &options.approved_bases {
        check_bases(&df, approved)?;
    }
    if let Some(target) = &options.target
        && !df
            .stages
            .iter()
            .any(|s| s.name.as_deref() == Some(target.to_ascii_lowercase().as_str()))
    {
        let line = df.stages.last().map_or(1, |s| s.line);
        return Err(DockerfileError {
            path: df.path.clone(),
            line,
            text: df.stages.last().map(|s| s.text.clone()).unwrap_or_default(),
            message: format!("no stage named {target:?} to stop at (--target)"),
        }
        .into());
    }
    let to_map = |m: &BTreeMap<String, String>| {
        (!m.is_empty()).then(|| m.clone().into_iter().collect::<HashMap<_, _>>())
    };
    let opts = BuildImageOptions {
        dockerfile: context.dockerfile().to_string(),
        t: options.tags.first().cloned(),
        nocache: options.no_cache,
        rm: true,
        forcerm: true,
        buildargs: to_map(&options.build_args),
        labels: to_map(&options.labels),
        target: options.target.clone().unwrap_or_default(),
        ..Default::default()
    };
    let body = bollard::body_full(context.tar().to_vec().into());
    let mut stream = docker.build_image(opts, None, Some(body));
    let mut image_id = None;
    // The classic builder prints `Step N/M : INSTRUCTION` before running each step.
    let mut last_step: Option<String> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        if let Some(step) =
                            line.strip_prefix("Step ").and_then(|s| s.split_once(" : "))
                        {
                            last_step = Some(step.1.trim().to_string());
                        }
                        if let Some(id) = line.strip_prefix("Successfully built ") {
                            image_id.get_or_insert_with(|| id.trim().to_string());
                        }
                        on_line(line.to_string());
                    }
                }
                if let Some(id) = info.aux.and_then(|a| a.id) {
                    image_id = Some(id);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                on_line(error.clone());
                return Err(failed(&df, last_step, error));
            }
            Err(e) => return Err(failed(&df, last_step, e.to_string())),
        }
    }
    let Some(mut image_id) = image_id else {
        return Err(failed(
            &df,
            last_step,
            "the engine reported no image id".into(),
        ));
    };
    if !image_id.starts_with("sha256:") {
        // `Successfully built <short id>`: ask for the full one.
        image_id = docker
            .inspect_image(&image_id)
            .await?
            .id
            .unwrap_or(image_id);
    }
    for t in options.tags.iter().skip(1) {
        tag(docker, &image_id, t).await?;
    }
    Ok(BuiltImage {
        image_id,
        tags: options.tags.clone(),
    })
}

/// A build failure, mapped to the Dockerfile line of the last step the engine started.
fn failed(df: &Dockerfile, step: Option<String>, message: String) -> DockerError {
    let line = step.as_deref().and_then(|s| {
        let norm = |t: &str| {
            t.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        };
        let wanted = norm(s);
        // The engine prints the instruction with ARGs unexpanded and continuations joined.
        df.instructions
            .iter()
            .find(|i| norm(&format!("{} {}", i.keyword, i.args)) == wanted)
            .or_else(|| {
                let keyword = s
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                df.instructions
                    .iter()
                    .find(|i| i.keyword == keyword && wanted.starts_with(&norm(&i.text)))
            })
            .map(|i| i.line)
    });
    DockerError::BuildFailed {
        dockerfile: df.path.clone(),
        line,
        instruction: step,
        message: message.trim().to_string(),
    }
}

/// Loads a `docker save` archive (`docker load`); returns what the engine loaded
/// (`name:tag` or `sha256:…` per image).
pub async fn load_archive(docker: &Docker, tar_path: &Path) -> Result<Vec<String>, DockerError> {
    let bytes = std::fs::read(tar_path).map_err(|source| DockerError::Io {
        path: tar_path.display().to_string(),
        source,
    })?;
    let mut stream = docker.import_image(
        ImportImageOptions::default(),
        bollard::body_full(bytes.into()),
        None,
    );
    let mut loaded = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item?;
        for text in [info.stream, info.status].into_iter().flatten() {
            for line in text.lines() {
                let line = line.trim();
                if let Some(r) = line
                    .strip_prefix("Loaded image ID: ")
                    .or_else(|| line.strip_prefix("Loaded image: "))
                {
                    loaded.push(r.trim().to_string());
                }
            }
        }
    }
    Ok(loaded)
}

/// Imports a root filesystem tar as a one-layer image (`docker import`), tagged
/// `reference` (`repo:tag`); `changes` are Dockerfile lines applied to its config
/// (`CMD ["/bin/sh"]`, `ENV PATH=…`). Returns the image id.
pub async fn import_rootfs(
    docker: &Docker,
    rootfs_tar: Vec<u8>,
    reference: &str,
    changes: &[&str],
) -> Result<String, DockerError> {
    let r = ImageRef::parse(reference);
    let opts = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(r.name.clone()),
        tag: Some(r.tag.clone().unwrap_or_else(|| "latest".into())),
        changes: changes.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    let mut stream = docker.create_image(
        Some(opts),
        Some(bollard::body_full(rootfs_tar.into())),
        None,
    );
    while let Some(item) = stream.next().await {
        item?;
    }
    let name = format!("{}:{}", r.name, r.tag.unwrap_or_else(|| "latest".into()));
    Ok(docker.inspect_image(&name).await?.id.unwrap_or_default())
}

/// Gives `image` (name or id) the name `reference` (`repo[:tag]`).
pub async fn tag(docker: &Docker, image: &str, reference: &str) -> Result<(), DockerError> {
    let r = ImageRef::parse(reference);
    let opts = TagImageOptions {
        repo: Some(r.name),
        tag: r.tag,
    };
    docker.tag_image(image, Some(opts)).await?;
    Ok(())
}

/// Removes an image (name or id), forcefully, with its untagged parents.
pub async fn remove(docker: &Docker, image: &str) -> Result<(), DockerError> {
    let opts = RemoveImageOptions {
        force: true,
        noprune: false,
        ..Default::default()
    };
    docker.remove_image(image, Some(opts), None).await?;
    Ok(())
}

/// Runs `cmd` once in a fresh container of `image` and returns its exit code and its
/// stdout and stderr together; the container is removed afterwards.
pub async fn run_once(
    docker: &Docker,
    image: &str,
    cmd: &[&str],
) -> Result<(i64, String), DockerError> {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(cmd.iter().map(|c| c.to_string()).collect()),
        network_disabled: Some(true),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await?
        .id;
    let result = run_created(docker, &id).await;
    let rm = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    let removed = docker.remove_container(&id, Some(rm)).await;
    let out = result?;
    removed?;
    Ok(out)
}

async fn run_created(docker: &Docker, id: &str) -> Result<(i64, String), DockerError> {
    docker.start_container(id, None).await?;
    let mut code = 0;
    let mut wait = docker.wait_container(id, None);
    while let Some(item) = wait.next().await {
        match item {
            Ok(r) => code = r.status_code,
            Err(bollard::errors::Error::DockerContainerWaitError { code: c, .. }) => code = c,
            Err(e) => return Err(e.into()),
        }
    }
    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut logs = docker.logs(id, Some(opts));
    let mut output = String::new();
    while let Some(item) = logs.next().await {
        output.push_str(&item?.to_string());
    }
    Ok((code, output))
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
pub(crate) mod test_support;
