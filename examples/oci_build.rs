//! Daemonless build of a `FROM scratch` image of one static binary: writes an OCI image
//! layout and prints one JSON line `{digest, config_digest, size, seconds}`
//! (bench/image_build.py reads it).
//!
//! ```sh
//! cargo run --release --example oci_build -- <binary> <out-dir> [--tag REF] [--docker-archive TAR] [--level 0-9]
//! ```
//!
//! The image is `COPY <binary> /server`, `ENTRYPOINT ["/server"]`, user 65532:65532, with
//! SOURCE_DATE_EPOCH (or 0) as its time, and gzip level 1 (the library's default) unless
//! `--level`. `--docker-archive` also writes a `docker load` tar.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use isect::image::oci::{ImageSpec, LayerBuilder, build, write_docker_archive};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: oci_build <binary> <out-dir> [--tag REF] [--docker-archive TAR] [--level 0-9]";
    let (Some(binary), Some(out)) = (args.get(1), args.get(2)) else {
        anyhow::bail!(usage);
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let tag = flag("--tag");
    let level = flag("--level").map(|l| l.parse()).transpose()?;
    let archive = flag("--docker-archive").map(PathBuf::from);
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);

    let start = Instant::now();
    let mut layer = LayerBuilder::new()
        .mtime(epoch)
        .created_by("COPY server /server");
    if let Some(level) = level {
        layer = layer.compression_level(level);
    }
    layer.add_file(binary, "/server")?;
    let spec = ImageSpec {
        layers: vec![layer],
        entrypoint: Some(vec!["/server".into()]),
        user: Some("65532:65532".into()),
        created: epoch,
        tag: tag.clone(),
        ..ImageSpec::default()
    };
    let out = PathBuf::from(out);
    let image = build(&spec, &out)?;
    if let Some(archive) = &archive {
        write_docker_archive(&out, tag.as_deref().unwrap_or("isect/oci-build"), archive)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "digest": image.manifest_digest,
        "config_digest": image.config_digest,
        "size": image.size,
        "seconds": seconds,
    });
    writeln!(std::io::stdout(), "{line}")?;
    Ok(())
}
