//! The top-level error and its category, which decides the exit code:
//! a user-side failure (script, config, failed step) exits 1 and prints diagnostics only;
//! isect failing itself (IO, Docker down, a bug) exits 2 with `isect failed` and its causes.

use std::process::ExitCode;

use crate::diagnostic::Diagnostic;

/// Who has to act: the user (fix a script, a config, a test) or isect's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    User,
    Infra,
}

/// Everything that can end a command early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more mistakes in the user's scripts, config or arguments.
    #[error("{}", render_all(.0))]
    User(Vec<Diagnostic>),
    /// Steps ran and some failed; the summary already said which.
    #[error("{failed} step(s) failed")]
    StepsFailed { failed: usize },
    /// isect could not do its job: IO, a missing engine, a bug.
    #[error("{message}")]
    Infra {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::render)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// A user error from one diagnostic.
    #[must_use]
    pub fn user(diagnostic: Diagnostic) -> Self {
        Self::User(vec![diagnostic])
    }

    /// An infrastructure error with a cause.
    pub fn infra(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Infra {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// An infrastructure error without a cause.
    pub fn infra_msg(message: impl Into<String>) -> Self {
        Self::Infra {
            message: message.into(),
            source: None,
        }
    }

    /// Which side has to act.
    #[must_use]
    pub fn category(&self) -> Category {
        match self {
            Self::User(_) | Self::StepsFailed { .. } => Category::User,
            Self::Infra { .. } => Category::Infra,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::infra("an I/O operation failed", err)
    }
}

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done.
    Success,
    /// A user-side failure: script, config, arguments or a failed step.
    Failure,
    /// isect itself failed.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

/// A `Result` whose error is isect's top-level [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
