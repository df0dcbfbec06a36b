//! The run's secrets: `secret("…")` leaves a `${secret:REF}` marker in a step's
//! environment; keys see a salted digest of the value, the step's process sees the value,
//! and every line a step emits passes through the redactor built from all of them.
//! Process-wide, because a run resolves each secret once (a `gcloud` call is slow).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock, RwLock};

use crate::secret::{Redactor, Secret, SecretRef};

/// What `secret("REF")` returns to a script: resolved when keys are computed.
pub const MARKER_PREFIX: &str = "${secret:";

struct Vault {
    secrets: BTreeMap<String, Secret>,
}

fn vault() -> &'static Mutex<Vault> {
    static VAULT: OnceLock<Mutex<Vault>> = OnceLock::new();
    VAULT.get_or_init(|| {
        Mutex::new(Vault {
            secrets: BTreeMap::new(),
        })
    })
}

fn redactor_cell() -> &'static RwLock<Option<Redactor>> {
    static REDACTOR: OnceLock<RwLock<Option<Redactor>>> = OnceLock::new();
    REDACTOR.get_or_init(|| RwLock::new(None))
}

/// The secret references in `text`, in order.
fn references(text: &str) -> Vec<&str> {
    let mut refs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(MARKER_PREFIX) {
        let after = &rest[start + MARKER_PREFIX.len()..];
        let Some(end) = after.find('}') else { break };
        refs.push(&after[..end]);
        rest = &after[end + 1..];
    }
    refs
}

/// Whether `text` holds a secret marker.
#[must_use]
pub(crate) fn has_secret(text: &str) -> bool {
    text.contains(MARKER_PREFIX)
}

/// Resolves every secret `text` refers to (once per run), and rebuilds the redactor.
fn resolve_all(text: &str, root: &Path) -> Result<(), String> {
    let mut vault = vault()
        .lock()
        .map_err(|_| "the secret vault is poisoned".to_string())?;
    let mut added = false;
    for reference in references(text) {
        if vault.secrets.contains_key(reference) {
            continue;
        }
        let parsed = SecretRef::parse(reference).map_err(|e| e.to_string())?;
        let secret = crate::secret::resolve(&parsed, root).map_err(|e| e.to_string())?;
        vault.secrets.insert(reference.to_string(), secret);
        added = true;
    }
    if added && let Ok(mut cell) = redactor_cell().write() {
        *cell = Some(Redactor::new(vault.secrets.values()));
    }
    Ok(())
}

/// The text a key sees for an environment value: each secret replaced by its salted
/// digest, never its value.
pub(crate) fn keyed(text: &str, root: &Path, salt: &[u8; 32]) -> Result<String, String> {
    resolve_all(text, root)?;
    let vault = vault()
        .lock()
        .map_err(|_| "the secret vault is poisoned".to_string())?;
    Ok(substitute(text, |reference| {
        vault.secrets.get(reference).map(|s| {
            blake3::Hash::from_bytes(s.key_digest(salt))
                .to_hex()
                .to_string()
        })
    }))
}

/// The text a step's process sees: each secret replaced by its value.
pub(crate) fn expand(text: &str, root: &Path) -> Result<String, String> {
    resolve_all(text, root)?;
    let vault = vault()
        .lock()
        .map_err(|_| "the secret vault is poisoned".to_string())?;
    let mut missing = None;
    let out = substitute(text, |reference| {
        let value = vault.secrets.get(reference).and_then(|s| s.expose_str());
        if value.is_none() {
            missing = Some(reference.to_string());
        }
        value.map(str::to_string)
    });
    match missing {
        Some(r) => Err(format!(
            "secret {r} is not valid UTF-8: pass it to the step as a file (`file:` reference) instead"
        )),
        None => Ok(out),
    }
}

fn substitute(text: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(MARKER_PREFIX) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARKER_PREFIX.len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        match value(&after[..end]) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + MARKER_PREFIX.len() + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `line` with every secret of the run (and its encodings) replaced by `***`.
#[must_use]
pub(crate) fn redact(line: &str) -> String {
    match redactor_cell().read() {
        Ok(cell) => match cell.as_ref() {
            Some(r) => r.redact_line(line).into_owned(),
            None => line.to_string(),
        },
        Err(_) => line.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_and_substituted() {
        assert_eq!(
            references("a=${secret:env:A} b=${secret:file:x}"),
            ["env:A", "file:x"]
        );
        let out = substitute("x${secret:env:A}y", |r| Some(format!("<{r}>")));
        assert_eq!(out, "x<env:A>y");
        assert_eq!(substitute("no marker", |_| None), "no marker");
    }
}
