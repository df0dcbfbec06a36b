//! OCI image layouts: `build` writes one (`oci-layout`, `index.json`, `blobs/sha256/<hex>`)
//! from an [`ImageSpec`] on scratch or on a base layout whose layers are reused as they
//! are; `read_layout` reads one back (for bases, `docker load` archives and pushes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::{
    ANNOTATION_BASE_IMAGE_DIGEST, ANNOTATION_BASE_IMAGE_NAME, ANNOTATION_CREATED,
    ANNOTATION_REF_NAME, ANNOTATION_REVISION, ANNOTATION_SOURCE, Arch, Config, Descriptor, Digest,
    HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, ImageIndex, ImageIndexBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, Os, PlatformBuilder, RootFsBuilder,
};

use super::{
    Layer, LayerBuilder, OciError, Result, blob_path, canonical_json, rfc3339, sha256_digest,
    write_blob, write_file,
};

/// What to build: a base (or scratch), layers on top, and the runtime configuration.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// An OCI image layout folder to start from; `None` is `FROM scratch`.
    pub base: Option<PathBuf>,
    /// Layers added on top of the base, first to last.
    pub layers: Vec<LayerBuilder>,
    /// `ENTRYPOINT`; setting it without `cmd` clears the base's `CMD`, as Docker does.
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`.
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE` pairs; a key the base also sets is replaced in place.
    pub env: Vec<String>,
    /// `WORKDIR`.
    pub workdir: Option<String>,
    /// `USER`, e.g. `65532:65532` (nonroot).
    pub user: Option<String>,
    /// `EXPOSE`, e.g. `8080/tcp`.
    pub exposed_ports: Vec<String>,
    /// Extra labels (merged over the base's).
    pub labels: BTreeMap<String, String>,
    /// `org.opencontainers.image.source`, e.g. the repository URL.
    pub source: Option<String>,
    /// `org.opencontainers.image.revision`, e.g. the commit.
    pub revision: Option<String>,
    /// The image's creation time in seconds since the epoch (`SOURCE_DATE_EPOCH`; 0 default).
    pub created: u64,
    /// GOARCH-style architecture for scratch images (`amd64`); a base's wins.
    pub architecture: String,
    /// GOOS-style OS for scratch images (`linux`); a base's wins.
    pub os: String,
    /// The reference recorded as `org.opencontainers.image.ref.name` in `index.json`.
    pub tag: Option<String>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            base: None,
            layers: Vec::new(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            workdir: None,
            user: None,
            exposed_ports: Vec::new(),
            labels: BTreeMap::new(),
            source: None,
            revision: None,
            created: 0,
            architecture: "amd64".into(),
            os: "linux".into(),
            tag: None,
        }
    }
}

/// An image written by [`build`].
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The layout folder.
    pub layout: PathBuf,
    /// `sha256:<hex>` of the manifest: the image's identity in a registry.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the config: the image ID `docker images` shows.
    pub config_digest: String,
    /// The manifest's layer descriptors, base layers first.
    pub layers: Vec<Descriptor>,
    /// Manifest, config and layer blobs together, in bytes.
    pub size: u64,
}

/// An image read from a layout folder by [`read_layout`].
#[derive(Debug, Clone)]
pub struct LayoutImage {
    /// The layout folder.
    pub dir: PathBuf,
    /// `sha256:<hex>` of the manifest.
    pub manifest_digest: String,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
    /// The manifest's media type as `index.json` gives it.
    pub manifest_media_type: MediaType,
    /// The parsed manifest (its exact bytes are at [`LayoutImage::manifest_path`]).
    pub manifest: ImageManifest,
    /// `sha256:<hex>` of the config.
    pub config_digest: String,
    /// The parsed config.
    pub config: ImageConfiguration,
    /// The layers, base first, with their blob files.
    pub layers: Vec<LayoutLayer>,
    /// `org.opencontainers.image.ref.name` of the chosen manifest, if any.
    pub ref_name: Option<String>,
}

/// One layer of a [`LayoutImage`].
#[derive(Debug, Clone)]
pub struct LayoutLayer {
    /// The manifest's descriptor of the layer.
    pub descriptor: Descriptor,
    /// The blob file in the layout.
    pub path: PathBuf,
}

impl LayoutImage {
    /// The manifest blob's file.
    pub fn manifest_path(&self) -> PathBuf {
        blob_path(&self.dir, &self.manifest_digest)
    }

    /// The config blob's file.
    pub fn config_path(&self) -> PathBuf {
        blob_path(&self.dir, &self.config_digest)
    }
}

/// Builds `spec` into the OCI image layout folder `out_dir` (created if missing; existing
/// blobs are kept, `index.json` is replaced by one naming only this image).
pub fn build(spec: &ImageSpec, out_dir: &Path) -> Result<BuiltImage> {
    let base = spec.base.as_deref().map(read_layout).transpose()?;
    let mut layers: Vec<Descriptor> = Vec::new();
    if let Some(base) = &base {
        for layer in &base.layers {
            copy_blob(
                &layer.path,
                &blob_path(out_dir, layer.descriptor.digest().as_ref()),
            )?;
            layers.push(layer.descriptor.clone());
        }
    }
    let new_layers = write_layers(&spec.layers, out_dir)?;
    for layer in &new_layers {
        layers.push(Descriptor::new(
            MediaType::ImageLayerGzip,
            layer.size,
            digest(&layer.digest)?,
        ));
    }

    let config = image_config(spec, base.as_ref(), &new_layers)?;
    let config_bytes = canonical_json(&config, &out_dir.join("config"))?;
    let config_digest = write_blob(out_dir, &config_bytes)?;
    let config_desc = Descriptor::new(
        MediaType::ImageConfig,
        config_bytes.len() as u64,
        digest(&config_digest)?,
    );

    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(layers.clone());
    if let Some(base) = &base {
        let mut notes = std::collections::HashMap::new();
        notes.insert(
            ANNOTATION_BASE_IMAGE_DIGEST.to_owned(),
            base.manifest_digest.clone(),
        );
        if let Some(name) = &base.ref_name {
            notes.insert(ANNOTATION_BASE_IMAGE_NAME.to_owned(), name.clone());
        }
        manifest = manifest.annotations(notes);
    }
    let manifest_bytes = canonical_json(&manifest.build()?, &out_dir.join("manifest"))?;
    let manifest_digest = write_blob(out_dir, &manifest_bytes)?;

    let platform = PlatformBuilder::default()
        .architecture(config.architecture().clone())
        .os(config.os().clone())
        .build()?;
    let mut entry = Descriptor::new(
        MediaType::ImageManifest,
        manifest_bytes.len() as u64,
        digest(&manifest_digest)?,
    );
    entry.set_platform(Some(platform));
    if let Some(tag) = &spec.tag {
        entry.set_annotations(Some([(ANNOTATION_REF_NAME.to_owned(), tag.clone())].into()));
    }
    let index: ImageIndex = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![entry])
        .build()?;
    let index_path = out_dir.join("index.json");
    write_file(&index_path, &canonical_json(&index, &index_path)?)?;
    write_file(
        &out_dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let size = layers.iter().map(Descriptor::size).sum::<u64>()
        + config_bytes.len() as u64
        + manifest_bytes.len() as u64;
    Ok(BuiltImage {
        layout: out_dir.to_path_buf(),
        manifest_digest,
        config_digest,
        layers,
        size,
    })
}

/// Writes the layers, in parallel when there are several (compression dominates).
fn write_layers(layers: &[LayerBuilder], out_dir: &Path) -> Result<Vec<Layer>> {
    if layers.len() <= 1 {
        return layers.iter().map(|l| l.write(out_dir)).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = layers
            .iter()
            .map(|l| scope.spawn(move || l.write(out_dir)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The config: the base's, with the spec's settings, layers and history on top.
fn image_config(
    spec: &ImageSpec,
    base: Option<&LayoutImage>,
    layers: &[Layer],
) -> Result<ImageConfiguration> {
    let created = rfc3339(spec.created);
    let base_config = base.map(|b| &b.config);
    let mut run: Config = base_config
        .and_then(|c| c.config().clone())
        .unwrap_or_default();
    if let Some(entrypoint) = &spec.entrypoint {
        run.set_entrypoint(Some(entrypoint.clone()));
        run.set_cmd(None);
    }
    if let Some(cmd) = &spec.cmd {
        run.set_cmd(Some(cmd.clone()));
    }
    let mut env = run.env().clone().unwrap_or_default();
    for pair in &spec.env {
        let key = pair.split('=').next().unwrap_or(pair);
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => slot.clone_from(pair),
            None => env.push(pair.clone()),
        }
    }
    run.set_env((!env.is_empty()).then_some(env));
    if spec.workdir.is_some() {
        run.set_working_dir(spec.workdir.clone());
    }
    if spec.user.is_some() {
        run.set_user(spec.user.clone());
    }
    let mut ports = run.exposed_ports().clone().unwrap_or_default();
    ports.extend(spec.exposed_ports.iter().cloned());
    ports.sort();
    ports.dedup();
    run.set_exposed_ports((!ports.is_empty()).then_some(ports));
    let mut labels: BTreeMap<String, String> = run
        .labels()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(spec.labels.clone());
    labels.insert(ANNOTATION_CREATED.to_owned(), created.clone());
    if let Some(source) = &spec.source {
        labels.insert(ANNOTATION_SOURCE.to_owned(), source.clone());
    }
    if let Some(revision) = &spec.revision {
        labels.insert(ANNOTATION_REVISION.to_owned(), revision.clone());
    }
    run.set_labels(Some(labels.into_iter().collect()));

    let mut diff_ids = base_config
        .map(|c| c.rootfs().diff_ids().clone())
        .unwrap_or_default();
    let mut history = base_config
        .and_then(|c| c.history().clone())
        .unwrap_or_default();
    for layer in layers {
        diff_ids.push(layer.diff_id.clone());
        let line = layer
            .created_by
            .clone()
            .unwrap_or_else(|| "isect layer".to_owned());
        history.push(
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(line)
                .comment("isect")
                .build()?,
        );
    }
    let (arch, os) = match base_config {
        Some(c) => (c.architecture().clone(), c.os().clone()),
        None => (
            Arch::from(spec.architecture.as_str()),
            Os::from(spec.os.as_str()),
        ),
    };
    Ok(ImageConfigurationBuilder::default()
        .created(created)
        .architecture(arch)
        .os(os)
        .config(run)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids)
                .build()?,
        )
        .history(history)
        .build()?)
}

/// Reads the linux/amd64 (or only, or platform-less) image of a layout folder, checking the
/// manifest's and config's digests and that every layer blob is there with its size.
pub fn read_layout(dir: &Path) -> Result<LayoutImage> {
    let bad = |path: PathBuf, reason: String| OciError::Layout { path, reason };
    let marker = dir.join("oci-layout");
    if !marker.is_file() {
        return Err(bad(marker, "the oci-layout file is missing".into()));
    }
    let index_path = dir.join("index.json");
    let mut index: ImageIndex = read_json(&index_path)?;
    let mut chosen = None;
    // Follow nested indexes (multi-platform images) a few levels down.
    for _ in 0..4 {
        let pick = pick_manifest(index.manifests())
            .ok_or_else(|| {
                bad(
                    index_path.clone(),
                    "no linux/amd64 image in the index".into(),
                )
            })?
            .clone();
        if *pick.media_type() != MediaType::ImageIndex {
            chosen = Some(pick);
            break;
        }
        let (bytes, path) = read_blob(dir, pick.digest().as_ref())?;
        index = serde_json::from_slice(&bytes).map_err(|source| OciError::Json { path, source })?;
    }
    let entry = chosen.ok_or_else(|| bad(index_path, "indexes nested too deeply".into()))?;
    let manifest_digest = entry.digest().to_string();
    let (bytes, path) = read_blob(dir, &manifest_digest)?;
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|source| OciError::Json { path, source })?;
    let config_digest = manifest.config().digest().to_string();
    let (bytes, path) = read_blob(dir, &config_digest)?;
    let config: ImageConfiguration =
        serde_json::from_slice(&bytes).map_err(|source| OciError::Json { path, source })?;
    let mut layers = Vec::new();
    for descriptor in manifest.layers() {
        let path = blob_path(dir, descriptor.digest().as_ref());
        let len = std::fs::metadata(&path)
            .map_err(|source| OciError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        if len != descriptor.size() {
            let reason = format!(
                "layer blob is {len} bytes, the manifest says {}",
                descriptor.size()
            );
            return Err(bad(path, reason));
        }
        layers.push(LayoutLayer {
            descriptor: descriptor.clone(),
            path,
        });
    }
    Ok(LayoutImage {
        dir: dir.to_path_buf(),
        manifest_size: entry.size(),
        manifest_media_type: entry.media_type().clone(),
        ref_name: entry
            .annotations()
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_REF_NAME).cloned()),
        manifest_digest,
        manifest,
        config_digest,
        config,
        layers,
    })
}

/// The first descriptor for linux/amd64, or without a platform.
fn pick_manifest(manifests: &[Descriptor]) -> Option<&Descriptor> {
    manifests.iter().find(|d| match d.platform() {
        None => true,
        Some(p) => *p.architecture() == Arch::Amd64 && *p.os() == Os::Linux,
    })
}

/// A small blob's bytes, checked against its digest.
fn read_blob(dir: &Path, digest: &str) -> Result<(Vec<u8>, PathBuf)> {
    let path = blob_path(dir, digest);
    let bytes = std::fs::read(&path).map_err(|source| OciError::Read {
        path: path.clone(),
        source,
    })?;
    let actual = sha256_digest(&bytes);
    if actual != digest {
        let reason = format!("its content hashes to {actual}, not {digest}");
        return Err(OciError::Layout { path, reason });
    }
    Ok((bytes, path))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| OciError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| OciError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Reuses a base blob: a hard link when on the same filesystem, else a copy.
fn copy_blob(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        return Ok(());
    }
    let err = |source| OciError::Write {
        path: to.to_path_buf(),
        source,
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(err)?;
    }
    Ok(())
}

fn digest(s: &str) -> Result<Digest> {
    Ok(Digest::from_str(s)?)
}
