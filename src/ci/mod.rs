//! CI configuration generators (`isect ci …`): the services and stages to run in, YAML out —
//! a Cloud Build config, Cloud Build triggers, and the equivalent GitHub Actions workflow.
//! Pure data in, text out: no I/O, no workspace or plan types. The CLI builds a [`CiInput`]
//! from the plan and isect.toml and writes the text where it belongs.

mod cloudbuild;
mod github;
#[cfg(test)]
mod tests;
mod triggers;

pub use cloudbuild::{CLOUDBUILD_FILE, cloudbuild};
pub use github::{GITHUB_WORKFLOW_FILE, github};
pub use triggers::triggers;

/// The builder image every Cloud Build step runs in (`ci/builder.Dockerfile`).
pub const DEFAULT_BUILDER_IMAGE: &str = "europe-docker.pkg.dev/$PROJECT_ID/ci/isect-builder:latest";
/// Cloud Build's machine when [`CiInput::machine_type`] is unset: 8 vCPUs, because independent
/// services' steps run side by side.
pub const DEFAULT_MACHINE_TYPE: &str = "E2_HIGHCPU_8";
/// The variable that makes the remote cache read-only (pull requests must not write it).
pub const CACHE_READONLY_ENV: &str = "ISECT_CACHE_READONLY";
/// The standard stages, in lifecycle order; custom stages sort after them.
pub const LIFECYCLE: [&str; 4] = ["build", "test", "scan", "image"];

/// One service: its stages and the stages of other services they wait for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CiService {
    /// The service's name (`auth-service`).
    pub name: String,
    /// Its stages in lifecycle order (`build`, `test`, `scan`, `image`, then custom ones).
    pub stages: Vec<String>,
    /// Stages of other services that one of its stages needs.
    pub needs: Vec<CiNeed>,
    /// The repository its image stage pushes to, when it has one
    /// (`europe-docker.pkg.dev/$PROJECT_ID/platform/auth-service`).
    pub image: Option<String>,
}

/// A cross-service edge: `stage` of the service waits for `on_stage` of `on_service`
/// (auth-service's `image` on python-base's `image`, the base it is built on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiNeed {
    /// The dependent stage, of the service that holds this need.
    pub stage: String,
    /// The service depended on.
    pub on_service: String,
    /// Its stage that must finish first.
    pub on_stage: String,
}

impl CiNeed {
    /// `stage` waits for `on_service`'s `on_stage`.
    #[must_use]
    pub fn new(stage: &str, on_service: &str, on_stage: &str) -> Self {
        Self {
            stage: stage.into(),
            on_service: on_service.into(),
            on_stage: on_stage.into(),
        }
    }
}

/// How CI reaches the shared cache (and other settings every step needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// Plain variables for every step, in Cloud Build syntax (`$PROJECT_ID` allowed), e.g.
    /// `ISECT_REMOTE_CACHE=gs://$PROJECT_ID-isect-cache/isect`.
    pub env: Vec<(String, String)>,
    /// The variable set to `true` on pull-request builds, so they read the cache but never
    /// write it; `None` leaves the cache writable everywhere.
    pub readonly_env: Option<String>,
    /// Variables whose values come from a secret store.
    pub secrets: Vec<SecretEnv>,
}

impl Default for CacheSpec {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            readonly_env: Some(CACHE_READONLY_ENV.into()),
            secrets: Vec::new(),
        }
    }
}

/// A variable filled from Secret Manager (Cloud Build) or repository secrets (GitHub).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    /// The variable's name (`ISECT_SIGNING_KEY`).
    pub env: String,
    /// The Secret Manager secret (`isect-signing-key`, read at `versions/latest`) or a full
    /// version name (`projects/…/secrets/…/versions/3`). On GitHub, the repository secret of
    /// the same name in upper snake case (`ISECT_SIGNING_KEY`).
    pub secret: String,
    /// The stages whose steps get it; empty for every step. Keeping a signing key to the
    /// `image` steps keeps it away from code that tests run.
    pub stages: Vec<String>,
}

impl SecretEnv {
    /// Whether steps of `stage` get this secret.
    #[must_use]
    pub fn applies_to(&self, stage: &str) -> bool {
        self.stages.is_empty() || self.stages.iter().any(|s| s == stage)
    }

    /// The GitHub repository secret holding it (`isect-signing-key` → `ISECT_SIGNING_KEY`).
    #[must_use]
    pub fn github_secret(&self) -> String {
        let base = self
            .secret
            .rsplit("/secrets/")
            .next()
            .unwrap_or(&self.secret);
        let base = base.split('/').next().unwrap_or(base);
        base.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// An environment of isect.toml and the branch that deploys to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvTrigger {
    /// The environment's name (`dev`, `staging`, `production`).
    pub name: String,
    /// Its branch; `None` takes the platform's convention ([`default_branch`]).
    pub branch: Option<String>,
    /// Builds for it wait for a person's approval.
    pub requires_approval: bool,
}

impl EnvTrigger {
    /// The branch that builds this environment, if any.
    #[must_use]
    pub fn branch(&self) -> Option<&str> {
        self.branch
            .as_deref()
            .or_else(|| default_branch(&self.name))
    }
}

/// The platform's branch for an environment without one in isect.toml: develop → dev,
/// staging → staging, main → production.
#[must_use]
pub fn default_branch(environment: &str) -> Option<&'static str> {
    match environment {
        "dev" | "development" => Some("develop"),
        "staging" | "stage" => Some("staging"),
        "production" | "prod" => Some("main"),
        _ => None,
    }
}

/// Everything a generator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiInput {
    /// The services to build (the workspace's, or the `--affected` ones).
    pub services: Vec<CiService>,
    /// The image steps run in ([`DEFAULT_BUILDER_IMAGE`]).
    pub builder_image: String,
    /// How steps reach the shared cache.
    pub cache: CacheSpec,
    /// isect.toml's environments.
    pub environments: Vec<EnvTrigger>,
    /// Cloud Build's machine type; `None` is [`DEFAULT_MACHINE_TYPE`].
    pub machine_type: Option<String>,
    /// The whole build's time limit, in seconds.
    pub timeout_secs: u64,
    /// One step's time limit, in seconds (at most `timeout_secs`).
    pub step_timeout_secs: u64,
}

impl Default for CiInput {
    fn default() -> Self {
        Self {
            services: Vec::new(),
            builder_image: DEFAULT_BUILDER_IMAGE.into(),
            cache: CacheSpec::default(),
            environments: Vec::new(),
            machine_type: None,
            timeout_secs: 3600,
            step_timeout_secs: 1200,
        }
    }
}

impl CiInput {
    /// The stages any service has, standard ones in lifecycle order, then custom ones in the
    /// order first seen.
    pub(crate) fn all_stages(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for stage in self.services.iter().flat_map(|s| &s.stages) {
            if !seen.contains(&stage.as_str()) {
                seen.push(stage);
            }
        }
        let rank = |s: &str| {
            LIFECYCLE
                .iter()
                .position(|l| *l == s)
                .unwrap_or(LIFECYCLE.len())
        };
        // A stable sort keeps custom stages in the order first seen.
        seen.sort_by_key(|s| rank(s));
        seen
    }

    /// The branches that map to an environment, in the order environments are declared.
    pub(crate) fn branches(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for branch in self.environments.iter().filter_map(EnvTrigger::branch) {
            if !out.contains(&branch) {
                out.push(branch);
            }
        }
        out
    }
}

/// The GitHub repository Cloud Build triggers watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    /// The user or organisation.
    pub owner: String,
    /// The repository.
    pub name: String,
}

/// Whether images under `repo` live in Google's registries (Artifact Registry or
/// Container Registry), where a Cloud Build step can use the build's own token.
pub(crate) fn is_google_registry(repo: &str) -> bool {
    let host = repo.split('/').next().unwrap_or_default();
    host.ends_with(".pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io")
}

/// `value` as YAML. Every generated type is plain strings, lists and string maps, which
/// always serialise.
pub(crate) fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_norway::to_string(value).expect("invariant: CI config types always serialise to YAML")
}

/// Comment lines (`# …`) for the top of a generated file.
pub(crate) fn comment(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}
