//! Where a secret comes from: parsing `env:`, `file:` and `gcp:` references and reading
//! them from the environment, a file, or Google Secret Manager through `gcloud`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Secret, SecretError};

/// A secret's name as a script writes it in `secret("…")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `env:NAME` or a bare `NAME`: an environment variable of the isect process.
    Env(String),
    /// `file:PATH`: a file, relative to the workspace root unless absolute; one trailing
    /// newline (`\n` or `\r\n`) is trimmed, as editors and `echo` add one.
    File(PathBuf),
    /// `gcp:SECRET` or `gcp:projects/P/secrets/S/versions/V`: Google Secret Manager.
    Gcp {
        /// The project; `None` takes `CLOUDSDK_CORE_PROJECT` or `GOOGLE_CLOUD_PROJECT`.
        project: Option<String>,
        /// The secret's id.
        secret: String,
        /// A version number or alias; `latest` when not given.
        version: String,
    },
}

impl SecretRef {
    /// Parses a reference; the error says which form was expected.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let bad = |reason: &str| SecretError::BadRef {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(bad("the path is empty"));
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("gcp:") {
            let parts: Vec<&str> = rest.split('/').collect();
            let (project, secret, version) = match parts.as_slice() {
                [secret] => (None, *secret, "latest"),
                ["projects", p, "secrets", s] => (Some(*p), *s, "latest"),
                ["projects", p, "secrets", s, "versions", v] => (Some(*p), *s, *v),
                _ => return Err(bad("a Secret Manager name has 1, 4 or 6 parts")),
            };
            if !is_gcp_id(secret) {
                return Err(bad("a secret id is letters, digits, `-` and `_`"));
            }
            if !is_gcp_id(version) {
                return Err(bad("a version is a number or an alias such as `latest`"));
            }
            if let Some(p) = project
                && !is_project_id(p)
            {
                return Err(bad("a project id is lower-case letters, digits and `-`"));
            }
            return Ok(Self::Gcp {
                project: project.map(str::to_owned),
                secret: secret.to_owned(),
                version: version.to_owned(),
            });
        }
        let var = text.strip_prefix("env:").unwrap_or(text);
        let first_ok = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(
                "an environment variable name is letters, digits and `_`",
            ));
        }
        Ok(Self::Env(var.to_owned()))
    }
}

/// Secret Manager ids and version aliases; never starting with `-`, so never a flag.
fn is_gcp_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Project ids, including legacy domain-scoped ones (`example.com:project`).
fn is_project_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
}

impl std::str::FromStr for SecretRef {
    type Err = SecretError;
    fn from_str(text: &str) -> Result<Self, SecretError> {
        Self::parse(text)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "env:{var}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
            Self::Gcp {
                project: Some(p),
                secret,
                version,
            } => write!(f, "gcp:projects/{p}/secrets/{secret}/versions/{version}"),
            Self::Gcp {
                project: None,
                secret,
                version,
            } if version == "latest" => write!(f, "gcp:{secret}"),
            Self::Gcp {
                project: None,
                secret,
                version,
            } => write!(f, "gcp:{secret} (version {version})"),
        }
    }
}

/// Reads a secret with isect's own environment and PATH.
pub fn resolve(secret: &SecretRef, root: &Path) -> Result<Secret, SecretError> {
    Resolver::default().resolve(secret, root)
}

/// How secrets are read: by default from isect's environment, with `gcloud` found on
/// its PATH. Tests (and hermetic runs) override both without touching the process.
#[derive(Clone, Default)]
pub struct Resolver {
    /// `PATH` for finding and running `gcloud`; `None` keeps isect's own.
    pub path: Option<OsString>,
    /// When set, variables (secrets and the project) are looked up here only.
    pub vars: Option<BTreeMap<String, OsString>>,
}

impl fmt::Debug for Resolver {
    // Variables may hold secrets: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("path", &self.path)
            .field(
                "vars",
                &self.vars.as_ref().map(|v| v.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl Resolver {
    fn var(&self, name: &str) -> Option<OsString> {
        match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var_os(name),
        }
    }

    /// Reads `secret`; `file:` paths are relative to `root`. An empty value is an error.
    pub fn resolve(&self, secret: &SecretRef, root: &Path) -> Result<Secret, SecretError> {
        let name = secret.to_string();
        let value = match secret {
            SecretRef::Env(var) => self
                .var(var)
                .ok_or_else(|| SecretError::EnvUnset {
                    name: name.clone(),
                    var: var.clone(),
                })?
                .into_vec(),
            SecretRef::File(path) => read_file(&name, &root.join(path))?,
            SecretRef::Gcp {
                project,
                secret: id,
                version,
            } => {
                let project = match project {
                    Some(p) => p.clone(),
                    None => ["CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT"]
                        .iter()
                        .filter_map(|v| self.var(v))
                        .find(|p| !p.is_empty())
                        .and_then(|p| p.into_string().ok())
                        .ok_or_else(|| SecretError::NoProject { name: name.clone() })?,
                };
                self.gcloud_access(&name, &project, id, version)?
            }
        };
        // Built first so the value is zeroed even when it is rejected.
        let secret = Secret::new(name, value);
        if secret.expose().is_empty() {
            return Err(SecretError::Empty {
                name: secret.name().to_owned(),
            });
        }
        Ok(secret)
    }

    /// `gcloud secrets versions access VERSION --secret=S --project=P --quiet`, stdout kept
    /// byte for byte. gcloud writes the payload as text: a payload that is not UTF-8 may
    /// come out altered (its documentation suggests `--out-file` for binary secrets).
    fn gcloud_access(
        &self,
        name: &str,
        project: &str,
        secret: &str,
        version: &str,
    ) -> Result<Vec<u8>, SecretError> {
        let mut cmd = Command::new("gcloud");
        cmd.args(["secrets", "versions", "access", version])
            .arg(format!("--secret={secret}"))
            .arg(format!("--project={project}"))
            .arg("--quiet")
            .stdin(Stdio::null());
        // Command looks the program up on the PATH it is given.
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        let output = cmd.output().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SecretError::GcloudMissing {
                    name: name.to_owned(),
                }
            } else {
                SecretError::GcloudSpawn {
                    name: name.to_owned(),
                    source,
                }
            }
        })?;
        if output.status.success() {
            return Ok(output.stdout);
        }
        // Whatever came out on stdout is dropped unread: it may be a partial payload.
        drop(Secret::new(name, output.stdout));
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(SecretError::GcloudFailed {
            name: name.to_owned(),
            status: output.status.to_string(),
            hint: gcloud_hint(&stderr, project, secret),
            stderr,
        })
    }
}

/// A file secret's bytes with one trailing newline trimmed.
fn read_file(name: &str, path: &Path) -> Result<Vec<u8>, SecretError> {
    let mut value = std::fs::read(path).map_err(|source| SecretError::File {
        name: name.to_owned(),
        path: path.to_path_buf(),
        source,
    })?;
    if value.ends_with(b"\n") {
        value.pop();
        if value.ends_with(b"\r") {
            value.pop();
        }
    }
    Ok(value)
}

/// The fix for the failures people hit most, from gcloud's error text.
fn gcloud_hint(stderr: &str, project: &str, secret: &str) -> String {
    if stderr.contains("PERMISSION_DENIED") {
        format!(
            "; grant the account isect runs as `roles/secretmanager.secretAccessor` on the secret: \
             gcloud secrets add-iam-policy-binding {secret} --project={project} \
             --member=serviceAccount:ACCOUNT --role=roles/secretmanager.secretAccessor"
        )
    } else if stderr.contains("NOT_FOUND") {
        format!(
            "; check the secret id, version and project: gcloud secrets list --project={project}"
        )
    } else if stderr.contains("UNAUTHENTICATED")
        || stderr.contains("gcloud auth login")
        || stderr.contains("active account")
    {
        "; authenticate first: `gcloud auth login` locally, or a service account or workload \
         identity federation in CI"
            .to_owned()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests;
