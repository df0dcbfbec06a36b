//! Every environment variable isect reads or sets, in one place (uv's `EnvVars`).

/// Names of environment variables isect reads or sets.
pub struct EnvVars;

impl EnvVars {
    /// Overrides the cache directory from isect.toml.
    pub const ISECT_CACHE_DIR: &'static str = "ISECT_CACHE_DIR";
    /// Loads `stdlib/*.rhai` from this folder instead of the copies embedded in the binary.
    pub const ISECT_STDLIB_DIR: &'static str = "ISECT_STDLIB_DIR";
    /// Set by `.ci/run`: tests that need the Docker Engine fail instead of skipping.
    pub const ISECT_REQUIRE_DOCKER: &'static str = "ISECT_REQUIRE_DOCKER";
    /// Set for every step: the absolute workspace root.
    pub const ISECT_WORKSPACE: &'static str = "ISECT_WORKSPACE";
    /// Set for every step: the service's absolute output folder.
    pub const ISECT_OUT: &'static str = "ISECT_OUT";
    /// Set for every step: the service's name.
    pub const ISECT_SERVICE: &'static str = "ISECT_SERVICE";
    /// The commit being built, when the checkout has no `.git` (Cloud Build sets it from
    /// `$COMMIT_SHA`): image tags and provenance use it.
    pub const ISECT_COMMIT: &'static str = "ISECT_COMMIT";
    /// Private key images are signed with; overrides `[image] signing_key`.
    pub const ISECT_SIGNING_KEY: &'static str = "ISECT_SIGNING_KEY";
    /// Any value: plain logs, no progress bars.
    pub const CI: &'static str = "CI";
    /// Any value: no colours.
    pub const NO_COLOR: &'static str = "NO_COLOR";
    /// Log filter for isect's own tracing output.
    pub const RUST_LOG: &'static str = "RUST_LOG";
}
