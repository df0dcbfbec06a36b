//! Newtypes for the names users type: services and steps.

use std::fmt;

/// A service's name: the name of its folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A step's identity inside a run: `service:stage:step`. Stable across runs, so the
/// cache can tell what changed since the same step last ran.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct StepId(String);

impl StepId {
    #[must_use]
    pub fn new(service: &ServiceName, stage: &str, step: &str) -> Self {
        Self(format!("{service}:{stage}:{step}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service part.
    #[must_use]
    pub fn service(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }

    /// The stage part.
    #[must_use]
    pub fn stage(&self) -> &str {
        self.0.split(':').nth(1).unwrap_or_default()
    }

    /// The step part.
    #[must_use]
    pub fn step(&self) -> &str {
        self.0.splitn(3, ':').nth(2).unwrap_or_default()
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
