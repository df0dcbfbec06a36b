//! The per-workspace salt that keys secrets' cache-key digests: 32 random bytes in the
//! local cache directory, readable by the owner only, created once.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::SecretError;

/// The salt's file name inside the cache directory (e.g. `.isect/cache/secret-salt`).
pub const SALT_FILE: &str = "secret-salt";

/// The salt in `cache_dir/secret-salt`, created (mode 0600, from `/dev/urandom`) if absent.
///
/// The salt stays local: it is never part of a key, an artifact or a remote cache, so a
/// cache shared with others carries digests no one can test guesses against. The price:
/// two machines with different salts never share cache hits for steps that use secrets.
pub fn load_or_create_salt(cache_dir: &Path) -> Result<[u8; 32], SecretError> {
    let path = cache_dir.join(SALT_FILE);
    let io = |source| SecretError::Salt {
        path: path.clone(),
        source,
    };
    match read_salt(&path) {
        Ok(Some(salt)) => return Ok(salt),
        Ok(None) => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(cache_dir).map_err(io)?;
    let mut salt = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(io)?;
    // Written whole to a temporary file (0600 from tempfile) and linked into place without
    // replacing: two isect processes racing here agree on whichever salt landed first.
    let mut tmp = tempfile::NamedTempFile::new_in(cache_dir).map_err(io)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    tmp.write_all(&salt).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(salt),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            read_salt(&path)?.ok_or_else(|| io(std::io::Error::from(std::io::ErrorKind::NotFound)))
        }
        Err(e) => Err(io(e.error)),
    }
}

/// The salt at `path`, `None` if there is no file.
fn read_salt(path: &Path) -> Result<Option<[u8; 32]>, SecretError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SecretError::Salt {
                path: PathBuf::from(path),
                source,
            });
        }
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Some)
        .map_err(|_| SecretError::SaltCorrupt {
            path: PathBuf::from(path),
            len: bytes.len() as u64,
        })
}
