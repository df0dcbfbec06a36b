//! The `docker load` archive of a layout's image: `manifest.json` (Config, RepoTags,
//! Layers) for Docker before 25, plus `oci-layout` and `index.json` so the same tar is
//! also an OCI layout archive. The blobs keep their layout paths; layers stay gzip'd,
//! which `docker load` accepts. Written as reproducibly as the layers themselves.

use std::collections::BTreeSet;
use std::io::BufWriter;
use std::path::Path;

use oci_spec::image::{ANNOTATION_REF_NAME, ImageIndexBuilder, MediaType};

use super::{LayerBuilder, OciError, Result, canonical_json, read_layout};

/// The annotation Docker ≥ 25 and containerd read for an image's full name.
const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// Writes the image of the layout `layout_dir` as a `docker load -i` archive at `out_tar`,
/// tagged `image_ref` (`:latest` is added when it has no tag).
pub fn write_docker_archive(layout_dir: &Path, image_ref: &str, out_tar: &Path) -> Result<()> {
    let image = read_layout(layout_dir)?;
    let repo_tag = with_tag(image_ref);
    let rel = |digest: &str| format!("blobs/{}", digest.replacen(':', "/", 1));

    let mut tar = LayerBuilder::new();
    let mut blobs = BTreeSet::new();
    blobs.insert(image.manifest_digest.clone());
    blobs.insert(image.config_digest.clone());
    for layer in &image.layers {
        blobs.insert(layer.descriptor.digest().to_string());
    }
    for digest in &blobs {
        tar.add_file(super::blob_path(layout_dir, digest), &rel(digest))?;
    }

    let manifest = serde_json::json!([{
        "Config": rel(&image.config_digest),
        "RepoTags": [repo_tag],
        "Layers": image.layers.iter().map(|l| rel(l.descriptor.digest().as_ref())).collect::<Vec<_>>(),
    }]);
    tar.add_bytes(
        "manifest.json",
        canonical_json(&manifest, Path::new("manifest.json"))?,
        0o644,
    )?;

    let tag = repo_tag.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut entry = oci_spec::image::Descriptor::new(
        image.manifest_media_type.clone(),
        image.manifest_size,
        image.manifest.config().digest().clone(),
    );
    entry.set_digest(image.manifest_digest.parse()?);
    entry.set_annotations(Some(
        [
            (ANNOTATION_IMAGE_NAME.to_owned(), repo_tag.clone()),
            (ANNOTATION_REF_NAME.to_owned(), tag.to_owned()),
        ]
        .into(),
    ));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![entry])
        .build()?;
    tar.add_bytes(
        "index.json",
        canonical_json(&index, Path::new("index.json"))?,
        0o644,
    )?;
    tar.add_bytes("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;

    let err = |source| OciError::Write {
        path: out_tar.to_path_buf(),
        source,
    };
    if let Some(parent) = out_tar.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let file = std::fs::File::create(out_tar).map_err(err)?;
    let mut out = tar.write_tar(BufWriter::with_capacity(1 << 20, file))?;
    std::io::Write::flush(&mut out).map_err(err)
}

/// `name` → `name:latest`; names with a tag or a digest are kept.
fn with_tag(image_ref: &str) -> String {
    let last = image_ref.rsplit('/').next().unwrap_or(image_ref);
    if last.contains(':') || last.contains('@') {
        image_ref.to_owned()
    } else {
        format!("{image_ref}:latest")
    }
}
