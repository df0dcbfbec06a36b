//! `isect image verify|load|keygen`: check a pushed image's signature and provenance (what a
//! deploy checks), load a service's image into the Docker Engine, make a signing key.

use std::path::{Path, PathBuf};

use super::session::Session;
use super::{GlobalArgs, ImageAction, print_stdout};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, ExitStatus, Result};
use crate::image::{oci, registry, sign};

pub(crate) fn image(global: &GlobalArgs, action: &ImageAction) -> Result<ExitStatus> {
    match action {
        ImageAction::Keygen { path, kind } => keygen(path, kind),
        ImageAction::Verify { image, key } => {
            let session = Session::open(global)?;
            super::runtime()?.block_on(verify(&session, image, key.as_deref()))
        }
        ImageAction::Load { services } => {
            let session = Session::open(global)?;
            super::runtime()?.block_on(load(&session, services))
        }
    }
}

fn keygen(path: &Path, kind: &str) -> Result<ExitStatus> {
    let kind: sign::KeyKind = kind.parse().map_err(|e: String| {
        Error::user(Diagnostic::error("image::bad_key_kind", e).help("use ed25519 or ecdsa-p256"))
    })?;
    if path.exists() {
        return Err(Error::user(
            Diagnostic::error(
                "image::key_exists",
                format!("{} already exists: not overwritten", path.display()),
            )
            .help("remove it first, or choose another path"),
        ));
    }
    let (private, public) =
        sign::generate_keypair(kind).map_err(|e| Error::infra("cannot generate a key pair", e))?;
    let public_path = PathBuf::from(format!("{}.pub", path.display()));
    write_private(path, private.as_bytes())
        .and_then(|()| std::fs::write(&public_path, public))
        .map_err(|e| Error::infra(format!("cannot write {}", path.display()), e))?;
    print_stdout(&format!(
        "wrote {} (private: keep it out of the repository, e.g. in Secret Manager) and {}\n\
         set `[image] signing_key` (or $ISECT_SIGNING_KEY) and `[image] verify_key` in isect.toml\n",
        path.display(),
        public_path.display()
    ));
    Ok(ExitStatus::Success)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// The reference to check: a service's last push, or a reference as given.
fn reference_of(session: &Session, image: &str) -> Result<registry::Reference> {
    if let Some(project) = session
        .workspace
        .projects
        .values()
        .find(|p| p.name == image)
    {
        let pushed = session
            .workspace
            .root
            .join(crate::stdlib::image::pushed_record(&format!(
                ".isect/out/{}",
                project.name
            )));
        let record: serde_json::Value = std::fs::read(&pushed)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                Error::user(
                    Diagnostic::error(
                        "image::not_pushed",
                        format!("{image} has no pushed image in this workspace"),
                    )
                    .help(format!(
                        "run `isect image {image}` with `[image] registry` set, or pass an image reference"
                    )),
                )
            })?;
        let text = record["reference"].as_str().unwrap_or_default().to_string();
        return registry::Reference::parse(&text).map_err(|e| {
            Error::user(Diagnostic::error(
                "image::bad_reference",
                format!("{}: {e}", pushed.display()),
            ))
        });
    }
    registry::Reference::parse(image).map_err(|e| {
        Error::user(
            Diagnostic::error("image::bad_reference", format!("`{image}` is neither a service nor an image reference: {e}"))
                .help("e.g. `isect image verify auth-service` or `isect image verify 127.0.0.1:5000/platform/auth-service@sha256:…`"),
        )
    })
}

async fn verify(session: &Session, image: &str, key: Option<&Path>) -> Result<ExitStatus> {
    let root = &session.workspace.root;
    let key_path = match key {
        Some(k) => k.to_path_buf(),
        None => {
            let configured = session
                .workspace
                .config
                .image
                .verify_key
                .clone()
                .ok_or_else(|| {
                    Error::user(
                        Diagnostic::error("image::no_verify_key", "no public key to verify with")
                            .help("set `[image] verify_key` in isect.toml, or pass --key FILE"),
                    )
                })?;
            crate::exec::scan::resolve(root, &configured)
        }
    };
    let public = sign::PublicKey::load(&key_path)
        .map_err(|e| Error::user(Diagnostic::error("image::bad_key", e.to_string())))?;
    let reference = reference_of(session, image)?;
    let client = registry::RegistryClient::for_reference(&reference, false)
        .map_err(|e| Error::user(Diagnostic::error("image::registry", e.to_string())))?
        .with_credentials(registry::Credentials::discover(&reference.registry));
    match sign::verify_image(&client, &reference, &public).await {
        Ok(verified) => {
            let builder = verified.provenance["predicate"]["runDetails"]["builder"]["id"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            print_stdout(&format!(
                "{reference}: signed by key {} over {}; SLSA provenance from {builder}\n",
                verified.key_id, verified.digest
            ));
            Ok(ExitStatus::Success)
        }
        Err(e) => Err(Error::user(
            Diagnostic::error("image::verify_failed", format!("{reference}: {e}"))
                .note("deploys refuse an image that does not verify")
                .help("push it again with `isect image <service>` and a signing key, or check which key signed it"),
        )),
    }
}

async fn load(session: &Session, services: &[String]) -> Result<ExitStatus> {
    let root = &session.workspace.root;
    for service in services {
        let layout = root.join(format!(".isect/out/{service}/image/oci"));
        if !layout.join("index.json").is_file() {
            return Err(Error::user(
                Diagnostic::error(
                    "image::not_built",
                    format!("{service} has no image in this workspace"),
                )
                .help(format!("build it first: `isect image {service}`")),
            ));
        }
        let image = oci::read_layout(&layout)
            .map_err(|e| Error::user(Diagnostic::error("image::unreadable", e.to_string())))?;
        let tag = format!(
            "{service}:sha256-{}",
            &image.manifest_digest.trim_start_matches("sha256:")[..12]
        );
        let archive = tempfile::NamedTempFile::new()
            .map_err(|e| Error::infra("cannot create a temporary file", e))?;
        oci::write_docker_archive(&layout, &tag, archive.path())
            .map_err(|e| Error::infra(format!("cannot write {service}'s image archive"), e))?;
        load_archive(archive.path()).await?;
        print_stdout(&format!("loaded {tag} ({})\n", image.manifest_digest));
    }
    Ok(ExitStatus::Success)
}

async fn load_archive(path: &Path) -> Result<()> {
    let docker = crate::image::docker::connect().await.map_err(|e| {
        Error::user(Diagnostic::error(
            "image::docker_unreachable",
            e.to_string(),
        ))
    })?;
    crate::image::docker::load_archive(&docker, path)
        .await
        .map_err(|e| Error::user(Diagnostic::error("image::docker", e.to_string())))?;
    Ok(())
}
