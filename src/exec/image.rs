//! Image steps: write the OCI layout (from files, a Dockerfile or Debian packages) into a
//! temporary folder and swap it in, so a failed build leaves the last good image; describe
//! it with a CycloneDX SBOM; push, attach and sign it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::actions::{Action, Outcome};
use crate::image::{inspect, oci, registry, sbom, sign};
use crate::plan::{ImageRuntime, ImageSource};

/// The SBOM beside a service's layout (`<out>/image/sbom.cdx.json`).
#[must_use]
pub(crate) fn sbom_path(layout: &Path) -> PathBuf {
    layout.with_file_name("sbom.cdx.json")
}

/// What `image::push` left: the pushed reference, for `isect image verify` and deploys
/// (`<out>/image/pushed.json`, beside the layout).
fn pushed_path(layout: &Path) -> PathBuf {
    layout.with_file_name("pushed.json")
}

impl Action<'_> {
    pub(super) async fn image(
        mut self,
        source: &ImageSource,
        runtime: &ImageRuntime,
        out: &str,
        tag: &str,
    ) -> Outcome {
        let root = self.root().to_path_buf();
        let layout = root.join(out);
        let parent = layout.parent().unwrap_or(&root).to_path_buf();
        if let Err(e) = std::fs::create_dir_all(&parent) {
            return self.fail(format!("cannot create {}: {e}", parent.display()), None);
        }
        let staging = match tempfile::Builder::new()
            .prefix(".image-")
            .tempdir_in(&parent)
        {
            Ok(dir) => dir,
            Err(e) => {
                return self.fail(
                    format!("cannot create a folder in {}: {e}", parent.display()),
                    None,
                );
            }
        };
        let built = match source {
            ImageSource::Files { base, files } => {
                let spec = files_spec(&root, base.as_deref(), files, runtime, tag);
                let dir = staging.path().to_path_buf();
                blocking(move || spec.and_then(|s| oci::build(&s, &dir).map_err(|e| e.to_string())))
                    .await
            }
            ImageSource::Debian { packages } => {
                let dir = staging.path().to_path_buf();
                let packages = packages.clone();
                let runtime = runtime.clone();
                let tag = tag.to_string();
                let cache = root.join(".isect/cache/debs");
                let (lines, result) = blocking_with_log(move |log| {
                    debian_image(&dir, &packages, &runtime, &tag, &cache, log)
                })
                .await;
                for line in lines {
                    self.emit(line);
                }
                result
            }
            ImageSource::Dockerfile { .. } => {
                self.dockerfile(source, runtime, tag, staging.path()).await
            }
        };
        let built = match built {
            Ok(b) => b,
            Err(e) => return self.fail(e, None),
        };
        // Swap the new layout in only now: a failed build never leaves half an image.
        let _ = std::fs::remove_dir_all(&layout);
        if let Err(e) = std::fs::rename(staging.path(), &layout) {
            return self.fail(format!("cannot move the image into {out}: {e}"), None);
        }
        let sbom_file = sbom_path(&layout);
        let layout_for_sbom = layout.clone();
        let tag_owned = tag.to_string();
        let sbom_result = blocking(move || {
            let contents = inspect::inspect_layout(&layout_for_sbom).map_err(|e| e.to_string())?;
            let bom = sbom::cyclonedx(
                &tag_owned,
                &contents.manifest_digest,
                &contents,
                &contents.layers,
                0,
            );
            crate::cache::write_memo(&sbom_file, sbom::to_json(&bom).as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", sbom_file.display()))?;
            Ok(contents.packages.len())
        })
        .await;
        let packages = match sbom_result {
            Ok(n) => n,
            Err(e) => return self.fail(format!("cannot describe the image: {e}"), None),
        };
        self.emit(format!(
            "image {} ({} layer{}, {}), SBOM with {packages} package{}",
            built.manifest_digest,
            built.layers.len(),
            if built.layers.len() == 1 { "" } else { "s" },
            human(built.size),
            if packages == 1 { "" } else { "s" }
        ));
        let short = built
            .manifest_digest
            .trim_start_matches("sha256:")
            .get(..12)
            .unwrap_or_default()
            .to_string();
        self.succeed(Some(format!(
            "sha256:{short} {}, {packages} packages",
            human(built.size)
        )))
    }

    /// Pushes the layout, attaches its SBOM and signs it, unless the registry has it all.
    pub(super) async fn push(
        mut self,
        layout: &str,
        repository: &str,
        signing_key: Option<&str>,
        script: &str,
    ) -> Outcome {
        let root = self.root().to_path_buf();
        let layout_dir = root.join(layout);
        let image = match oci::read_layout(&layout_dir) {
            Ok(i) => i,
            Err(e) => return self.fail(format!("no image to push: {e}"), None),
        };
        let service = self.step().service.clone();
        let commit = git_commit(&root);
        let short = image.manifest_digest.trim_start_matches("sha256:")[..12].to_string();
        let mut tags = vec![format!("sha256-{short}")];
        if let Some(c) = &commit {
            tags.insert(0, c.chars().take(12).collect());
        }
        let reference = match registry::Reference::parse(&format!("{repository}:{}", tags[0])) {
            Ok(r) => r,
            Err(e) => {
                return self.fail(format!("`[image] registry` gives {repository}: {e}"), None);
            }
        };
        let client = match registry::RegistryClient::for_reference(&reference, false) {
            Ok(c) => c.with_credentials(registry::Credentials::discover(&reference.registry)),
            Err(e) => return self.fail(e.to_string(), None),
        };
        let repo = reference.repository.clone();
        let report = match client.push_layout(&layout_dir, &repo, &tags).await {
            Ok(r) => r,
            Err(e) => return self.fail(format!("push to {repository} failed: {e}"), None),
        };
        let pinned = reference.with_digest(&report.digest);
        self.emit(if report.already_present {
            format!(
                "{pinned}: already in the registry; tags {}",
                tags.join(", ")
            )
        } else {
            format!(
                "{pinned}: pushed {} blob(s), {} already there; tags {}",
                report.blobs_uploaded,
                report.blobs_skipped,
                tags.join(", ")
            )
        });
        if let Ok(sbom_bytes) = std::fs::read(sbom_path(&layout_dir)) {
            let present = report.already_present
                && client
                    .attachments(&repo, &report.digest, registry::AttachmentKind::Sbom)
                    .await
                    .is_ok_and(|a| !a.is_empty());
            if !present && let Err(e) = client.attach_sbom(&repo, &report.digest, &sbom_bytes).await
            {
                return self.fail(format!("cannot attach the SBOM: {e}"), None);
            }
        }
        let key_path = std::env::var(crate::env_vars::EnvVars::ISECT_SIGNING_KEY)
            .ok()
            .or_else(|| signing_key.map(str::to_string));
        let signed = match key_path {
            None => {
                self.emit("not signed: no `[image] signing_key` in isect.toml (deploys refuse unsigned images)".into());
                false
            }
            Some(path) => {
                let key = match sign::SigningKey::load(&resolve(&root, &path)) {
                    Ok(k) => k,
                    Err(e) => return self.fail(e.to_string(), None),
                };
                let already = report.already_present
                    && sign::verify_image(&client, &pinned, &key.public_key())
                        .await
                        .is_ok();
                if already {
                    self.emit("already signed with this key".into());
                } else {
                    let provenance = provenance(&root, &service, script, commit.as_deref(), &image);
                    if let Err(e) = sign::sign_image(&client, &pinned, &key, &provenance).await {
                        return self.fail(format!("cannot sign {pinned}: {e}"), None);
                    }
                    self.emit(format!(
                        "signed {pinned} with key {}",
                        key.public_key().key_id()
                    ));
                }
                true
            }
        };
        let record = serde_json::json!({
            "reference": pinned.to_string(),
            "digest": report.digest,
            "tags": tags,
            "signed": signed,
        });
        let _ = crate::cache::write_memo(
            &pushed_path(&layout_dir),
            format!("{record:#}\n").as_bytes(),
        );
        let what = if report.already_present {
            "already there"
        } else {
            "pushed"
        };
        self.succeed(Some(format!(
            "{what}: {}@sha256:{short}{}",
            repository,
            if signed { ", signed" } else { ", unsigned" }
        )))
    }
}

impl Action<'_> {
    /// The deploy-time check: the pushed image must verify, or nothing is deployed.
    pub(super) async fn verify(self, pushed: &str, verify_key: Option<&str>) -> Outcome {
        let root = self.root().to_path_buf();
        let Ok(record) = std::fs::read(root.join(pushed)) else {
            return self.fail(
                format!(
                    "no pushed image to deploy ({pushed} is missing): the image stage pushes it"
                ),
                None,
            );
        };
        let reference = serde_json::from_slice::<serde_json::Value>(&record)
            .ok()
            .and_then(|v| v["reference"].as_str().map(str::to_string))
            .and_then(|r| registry::Reference::parse(&r).ok());
        let Some(reference) = reference else {
            return self.fail(format!("{pushed} does not name an image"), None);
        };
        let Some(key) = verify_key else {
            return self.fail(
                "deploys verify images: set `[image] verify_key` in isect.toml to the signing key's public half".into(),
                None,
            );
        };
        let public = match sign::PublicKey::load(&resolve(&root, key)) {
            Ok(k) => k,
            Err(e) => return self.fail(e.to_string(), None),
        };
        let client = match registry::RegistryClient::for_reference(&reference, false) {
            Ok(c) => c.with_credentials(registry::Credentials::discover(&reference.registry)),
            Err(e) => return self.fail(e.to_string(), None),
        };
        match sign::verify_image(&client, &reference, &public).await {
            Ok(v) => self.succeed(Some(format!(
                "{} signed by {}",
                reference,
                v.key_id.get(..19).unwrap_or(&v.key_id)
            ))),
            Err(e) => self.fail(format!("refusing to deploy {reference}: {e}"), None),
        }
    }
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the image builder crashed: {e}")))
}

/// Runs `f` on a blocking thread, collecting the lines it logs.
async fn blocking_with_log<T: Send + 'static>(
    f: impl FnOnce(&mut dyn FnMut(String)) -> Result<T, String> + Send + 'static,
) -> (Vec<String>, Result<T, String>) {
    tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let result = f(&mut |line| lines.push(line));
        (lines, result)
    })
    .await
    .unwrap_or_else(|e| (Vec::new(), Err(format!("the image builder crashed: {e}"))))
}

fn files_spec(
    root: &Path,
    base: Option<&str>,
    files: &BTreeMap<String, String>,
    runtime: &ImageRuntime,
    tag: &str,
) -> Result<oci::ImageSpec, String> {
    let mut layer = oci::LayerBuilder::new();
    for (dest, src) in files {
        let path = root.join(src);
        let added = if path.is_dir() {
            layer.add_tree(&path, dest)
        } else {
            layer.add_file(&path, dest)
        };
        added.map_err(|e| format!("{src} → {dest}: {e}"))?;
    }
    if let Some(base) = base
        && !root.join(base).join("index.json").is_file()
    {
        return Err(format!(
            "the base image {base} has not been built: its service's image stage builds it"
        ));
    }
    Ok(spec(base.map(|b| root.join(b)), vec![layer], runtime, tag))
}

fn spec(
    base: Option<PathBuf>,
    layers: Vec<oci::LayerBuilder>,
    runtime: &ImageRuntime,
    tag: &str,
) -> oci::ImageSpec {
    oci::ImageSpec {
        base,
        layers,
        entrypoint: (!runtime.entrypoint.is_empty()).then(|| runtime.entrypoint.clone()),
        cmd: (!runtime.cmd.is_empty()).then(|| runtime.cmd.clone()),
        env: runtime
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        workdir: runtime.workdir.clone(),
        user: runtime.user.clone(),
        exposed_ports: runtime.ports.clone(),
        labels: runtime.labels.clone(),
        tag: Some(tag.to_string()),
        ..oci::ImageSpec::default()
    }
}

fn debian_image(
    dir: &Path,
    packages: &[String],
    runtime: &ImageRuntime,
    tag: &str,
    cache: &Path,
    log: &mut dyn FnMut(String),
) -> Result<oci::BuiltImage, String> {
    let rootfs =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    assemble_rootfs(packages, rootfs.path(), cache, log)?;
    let mut layer = oci::LayerBuilder::new();
    layer
        .add_tree(rootfs.path(), "/")
        .map_err(|e| e.to_string())?;
    oci::build(&spec(None, vec![layer], runtime, tag), dir).map_err(|e| e.to_string())
}

fn provenance(
    root: &Path,
    service: &str,
    script: &str,
    commit: Option<&str>,
    image: &oci::LayoutImage,
) -> sign::Provenance {
    let now = crate::image::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let script_sha256 = std::fs::read(root.join(script)).ok().map(|b| {
        registry::sha256_digest(&b)
            .trim_start_matches("sha256:")
            .to_string()
    });
    sign::Provenance {
        service: service.to_string(),
        stage: "image".into(),
        script: script.to_string(),
        script_sha256,
        source_uri: git_remote(root).unwrap_or_else(|| format!("file://{}", root.display())),
        commit: commit.unwrap_or("unknown").to_string(),
        inputs: image
            .layers
            .iter()
            .map(|l| sign::ProvenanceInput {
                uri: format!("layer:{}", l.descriptor.digest()),
                sha256: l
                    .descriptor
                    .digest()
                    .to_string()
                    .trim_start_matches("sha256:")
                    .to_string(),
            })
            .collect(),
        builder_id: format!(
            "https://isect.dev/builders/local@{}",
            env!("CARGO_PKG_VERSION")
        ),
        invocation_id: format!("{service}-{now}"),
        started_on: now.clone(),
        finished_on: now,
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn git_commit(root: &Path) -> Option<String> {
    std::env::var(crate::env_vars::EnvVars::ISECT_COMMIT)
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(root, &["rev-parse", "HEAD"]))
}

fn git_remote(root: &Path) -> Option<String> {
    git(root, &["remote", "get-url", "origin"]).map(|u| format!("git+{u}"))
}

fn resolve(root: &Path, path: &str) -> PathBuf {
    super::scan::resolve(root, path)
}

fn human(bytes: u64) -> String {
    crate::report::human_bytes(bytes)
}

fn assemble_rootfs(
    packages: &[String],
    dest: &Path,
    cache: &Path,
    log: &mut dyn FnMut(String),
) -> Result<(), String> {
    crate::image::debian::assemble_rootfs(packages, dest, cache, |l: String| log(l))
        .map(|report| {
            log(format!(
                "{} Debian packages, {} downloaded, {} unpacked",
                report.packages.len(),
                report.downloaded,
                human(report.size)
            ));
        })
        .map_err(|e| e.to_string())
}

impl Action<'_> {
    /// A Dockerfile through the Docker Engine, then saved as an OCI layout in `dir`.
    async fn dockerfile(
        &mut self,
        source: &ImageSource,
        runtime: &ImageRuntime,
        tag: &str,
        dir: &Path,
    ) -> Result<oci::BuiltImage, String> {
        let ImageSource::Dockerfile {
            context,
            dockerfile,
            target,
            build_args,
            approved_bases,
        } = source
        else {
            return Err("not a Dockerfile image".into());
        };
        let root = self.root().to_path_buf();
        let docker = crate::image::docker::connect()
            .await
            .map_err(|e| e.to_string())?;
        let inputs = context_files(&root, context);
        let build_context = crate::image::docker::BuildContext::new(
            &root,
            Path::new(context),
            Path::new(dockerfile),
            inputs,
        )
        .map_err(|e| e.to_string())?;
        let options = crate::image::docker::BuildOptions {
            tags: vec![format!("isect/{tag}:latest")],
            build_args: build_args.clone(),
            target: target.clone(),
            labels: runtime.labels.clone(),
            no_cache: false,
            approved_bases: Some(approved_bases.clone()),
        };
        let mut lines = Vec::new();
        let built = crate::image::docker::build(&docker, &build_context, &options, |l| {
            lines.push(l);
        })
        .await;
        for line in lines {
            self.emit(line);
        }
        let built = built.map_err(|e| e.to_string())?;
        crate::image::docker::save_layout(&docker, &built.image_id, dir, tag)
            .await
            .map_err(|e| e.to_string())?;
        let image = oci::read_layout(dir).map_err(|e| e.to_string())?;
        let size = std::fs::read_dir(dir.join("blobs/sha256"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        Ok(oci::BuiltImage {
            layout: dir.to_path_buf(),
            manifest_digest: image.manifest_digest,
            config_digest: image.config_digest,
            layers: image.layers.into_iter().map(|l| l.descriptor).collect(),
            size,
        })
    }
}

/// The files under the build context, workspace-relative (`.dockerignore` is applied by the
/// context itself; `.git` and isect's own folder never go to the engine).
fn context_files(root: &Path, context: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root.join(context))
        .into_iter()
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some(".git" | ".isect" | "node_modules")
            )
        })
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.path().strip_prefix(root).ok().map(Path::to_path_buf))
        .collect()
}
