//! Approved bases: every `FROM` an outside image must pin, by digest, a base that
//! isect.toml approves.

use std::fmt;

use super::dockerfile::{Base, Dockerfile, ImageRef, is_sha256};

/// A `FROM` that is not an approved base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BaseError {
    /// The Dockerfile.
    pub path: String,
    /// 1-based line of the `FROM`.
    pub line: usize,
    /// The `FROM` line as written.
    pub text: String,
    /// Why it is refused.
    pub reason: String,
    /// The approved bases, from isect.toml.
    pub approved: Vec<String>,
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: base image not approved: {}\n    {} | {}",
            self.path, self.line, self.reason, self.line, self.text
        )?;
        if self.approved.is_empty() {
            write!(
                f,
                "\n  no base is approved: list bases by digest in isect.toml"
            )
        } else {
            write!(f, "\n  approved bases (use one, pinned by @sha256:…):")?;
            for a in &self.approved {
                write!(f, "\n    {a}")?;
            }
            Ok(())
        }
    }
}

/// Checks that every stage starting from an outside image pins an approved base by
/// digest. `approved` holds `name@sha256:<hex>` or bare `sha256:<hex>` (a local image id);
/// a `FROM` matches an entry when their digests are equal: a digest names the content, so
/// a tag alone is refused (tags move). `scratch` and earlier stages need no approval.
pub fn check_bases(dockerfile: &Dockerfile, approved: &[String]) -> Result<(), BaseError> {
    let digests: Vec<String> = approved
        .iter()
        .filter_map(|a| {
            let r = ImageRef::parse(a.trim());
            r.digest.filter(|d| is_sha256(d))
        })
        .collect();
    for stage in &dockerfile.stages {
        let Base::Image(image) = &stage.base else {
            continue;
        };
        let refuse = |reason: String| BaseError {
            path: dockerfile.path.clone(),
            line: stage.line,
            text: stage.text.clone(),
            reason,
            approved: approved.to_vec(),
        };
        match &image.digest {
            None => {
                return Err(refuse(format!(
                    "{} is not pinned by digest (tags move; pin it as name@sha256:…)",
                    image.raw
                )));
            }
            Some(d) if !digests.contains(d) => {
                return Err(refuse(format!("{} is not in the approved list", image.raw)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
