//! An engine-built image as an OCI image layout: `docker save`'s archive read back, each
//! layer gzip'd with the same fixed settings isect's own images use, so the image can be
//! scanned, described and pushed exactly like a daemonless one.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use bollard::Docker;
use futures_util::StreamExt;
use serde_json::json;

use super::DockerError;

/// Layer blobs bigger than this are refused rather than held in memory.
const MAX_LAYER_BYTES: u64 = 4 << 30;

/// Saves `image` (an id or `name:tag`) from the engine into the layout folder `out`,
/// tagged `tag`; returns the manifest digest.
pub async fn save_layout(
    docker: &Docker,
    image: &str,
    out: &Path,
    tag: &str,
) -> Result<String, DockerError> {
    let archive = tempfile::NamedTempFile::new().map_err(|source| DockerError::Io {
        path: std::env::temp_dir().display().to_string(),
        source,
    })?;
    {
        let mut file = archive.as_file();
        let mut stream = docker.export_image(image);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).map_err(|source| DockerError::Io {
                path: archive.path().display().to_string(),
                source,
            })?;
        }
    }
    archive_to_layout(archive.path(), out, tag)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DockerError + '_ {
    move |source| DockerError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Converts a `docker save` archive (`manifest.json`, config, `layer.tar`s) into an OCI
/// layout.
pub fn archive_to_layout(archive: &Path, out: &Path, tag: &str) -> Result<String, DockerError> {
    // The archive's members by name; layers are uncompressed tars.
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let mut tar = tar::Archive::new(file);
    for entry in tar.entries().map_err(io(archive))? {
        let mut entry = entry.map_err(io(archive))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(io(archive))?.display().to_string();
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(MAX_LAYER_BYTES)
            .read_to_end(&mut bytes)
            .map_err(io(archive))?;
        members.insert(name, bytes);
    }
    let bad = |what: &str| DockerError::Io {
        path: archive.display().to_string(),
        source: std::io::Error::other(format!("not a docker archive: {what}")),
    };
    let manifest: serde_json::Value = members
        .get("manifest.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| bad("no manifest.json"))?;
    let entry = &manifest[0];
    let config_name = entry["Config"].as_str().ok_or_else(|| bad("no Config"))?;
    let config = members
        .get(config_name)
        .ok_or_else(|| bad("the config is missing"))?;
    let blobs = out.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let write_blob = |bytes: &[u8]| -> Result<(String, u64), DockerError> {
        let digest = super::super::registry::sha256_digest(bytes);
        let path = blobs.join(digest.trim_start_matches("sha256:"));
        std::fs::write(&path, bytes).map_err(io(&path))?;
        Ok((digest, bytes.len() as u64))
    };
    let (config_digest, config_size) = write_blob(config)?;
    let mut layers = Vec::new();
    for layer in entry["Layers"].as_array().ok_or_else(|| bad("no Layers"))? {
        let name = layer.as_str().ok_or_else(|| bad("a layer is not a path"))?;
        let tar_bytes = members
            .get(name)
            .ok_or_else(|| bad(&format!("layer {name} is missing")))?;
        // Fixed header (no name, mtime 0, unknown OS) and level: the same layer always
        // compresses to the same blob.
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), flate2::Compression::new(6));
        gz.write_all(tar_bytes).map_err(io(out))?;
        let compressed = gz.finish().map_err(io(out))?;
        let (digest, size) = write_blob(&compressed)?;
        layers.push(json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest,
            "size": size,
        }));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": layers,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| bad(&e.to_string()))?;
    let (manifest_digest, manifest_size) = write_blob(&manifest_bytes)?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": { "org.opencontainers.image.ref.name": tag },
        }],
    });
    let index_path = out.join("index.json");
    std::fs::write(
        &index_path,
        serde_json::to_vec(&index).map_err(|e| bad(&e.to_string()))?,
    )
    .map_err(io(&index_path))?;
    let layout_path = out.join("oci-layout");
    std::fs::write(&layout_path, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io(&layout_path))?;
    Ok(manifest_digest)
}
