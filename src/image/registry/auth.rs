//! Registry credentials (environment or `~/.docker/config.json`) and the
//! `WWW-Authenticate` challenges of the distribution token flow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Environment variable holding the registry user name.
pub const USER_ENV: &str = "ISECT_REGISTRY_USER";
/// Environment variable holding the registry password or token.
pub const PASSWORD_ENV: &str = "ISECT_REGISTRY_PASSWORD";

/// How the client identifies itself to a registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials: anonymous pulls, and pushes to open registries.
    #[default]
    Anonymous,
    /// A user name and password (or token), sent as HTTP basic auth or to a token realm.
    Basic {
        /// The user name.
        user: String,
        /// The password or access token.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    // Never print a password, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => write!(f, "Anonymous"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
        }
    }
}

impl Credentials {
    /// Credentials for `registry`: `ISECT_REGISTRY_USER`/`ISECT_REGISTRY_PASSWORD` when both
    /// are set, else the `auths` entry of the Docker config (`$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`), else anonymous. Credential helpers are not consulted.
    pub fn discover(registry: &str) -> Credentials {
        if let (Ok(user), Ok(password)) = (std::env::var(USER_ENV), std::env::var(PASSWORD_ENV))
            && !user.is_empty()
        {
            return Credentials::Basic { user, password };
        }
        docker_config_path()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| from_docker_config(&bytes, registry))
            .unwrap_or_default()
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(Path::new(&dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker/config.json"))
}

/// Reads the `auths` map of a Docker config: keys are hosts, optionally with a scheme and
/// path (`https://index.docker.io/v1/`); values hold `auth` = base64(`user:password`).
pub(crate) fn from_docker_config(bytes: &[u8], registry: &str) -> Option<Credentials> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        auth: Option<String>,
    }
    let config: Config = serde_json::from_slice(bytes).ok()?;
    let wanted = normalize_host(registry);
    config.auths.iter().find_map(|(key, entry)| {
        if normalize_host(key) != wanted {
            return None;
        }
        let decoded = STANDARD.decode(entry.auth.as_deref()?.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        })
    })
}

fn normalize_host(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key);
    // Docker Hub is filed under several names.
    match host {
        "index.docker.io" | "docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=…`: send the user and password on every request.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`: fetch a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a challenge; parameters are `key="value"` pairs, and quoted values may hold commas
/// (`scope="repository:a:pull,push"`).
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

/// The token from a token endpoint's JSON: `token`, or OAuth2's `access_token`.
pub(crate) fn token_from_response(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:platform/auth:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:platform/auth:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn reads_docker_config_auths() {
        let auth = STANDARD.encode("ci:s3cret");
        let cfg = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#
        );
        let want = Credentials::Basic {
            user: "ci".into(),
            password: "s3cret".into(),
        };
        assert_eq!(
            from_docker_config(cfg.as_bytes(), "registry-1.docker.io"),
            Some(want.clone())
        );
        assert_eq!(
            from_docker_config(cfg.as_bytes(), "127.0.0.1:5000"),
            Some(want.clone())
        );
        assert_eq!(from_docker_config(cfg.as_bytes(), "ghcr.io"), None);
        assert!(!format!("{want:?}").contains("s3cret"));
    }

    #[test]
    fn token_json_shapes() {
        assert_eq!(
            token_from_response(br#"{"token":"a"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            token_from_response(br#"{"access_token":"b"}"#).as_deref(),
            Some("b")
        );
        assert_eq!(token_from_response(br#"{"token":""}"#), None);
    }
}
