//! `Manifest`: everything a step's result depends on, and `StepKey`, its blake3 hash.
//! The manifest is saved with each run so `isect explain` can say what changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// Bumped when the key's layout or meaning changes; old entries then stop matching.
pub const CACHE_VERSION: u32 = 3;

/// A step's action key.
pub type StepKey = Digest;

/// The inputs of a step's key, kept so two runs can be compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub cache_version: u32,
    pub step_id: String,
    /// Step kind (`go_build`, `exec`, ...).
    pub kind: String,
    pub impl_version: u32,
    /// Canonical JSON of the step's options (its kind's fields, outputs, flags).
    pub options: String,
    /// Workspace-relative input paths, sorted, with their content digests.
    pub inputs: Vec<(Arc<str>, Digest)>,
    /// `go version` and the like, when the step uses a toolchain.
    pub toolchain: Option<String>,
    /// Declared environment variable → digest of its value (values never stored in clear).
    pub env: BTreeMap<String, Digest>,
    /// Upstream step id → its key.
    pub deps: BTreeMap<String, Digest>,
}

impl Manifest {
    /// The key: blake3 over every field, each length-prefixed so no two manifests collide
    /// by shifting bytes between fields. The step id is not part of it: identical work in
    /// two places shares one result.
    #[must_use]
    pub fn key(&self) -> StepKey {
        self.key_with(inputs_digest(&self.inputs))
    }

    /// The key, given `inputs_digest(&self.inputs)` computed beforehand.
    #[must_use]
    pub fn key_with(&self, inputs: Digest) -> StepKey {
        let mut h = blake3::Hasher::new();
        h.update(b"isect-step-key\0");
        h.update(&self.cache_version.to_le_bytes());
        field(&mut h, self.kind.as_bytes());
        h.update(&self.impl_version.to_le_bytes());
        field(&mut h, self.options.as_bytes());
        h.update(&inputs.0);
        field(&mut h, self.toolchain.as_deref().unwrap_or("").as_bytes());
        h.update(&(self.env.len() as u64).to_le_bytes());
        for (name, digest) in &self.env {
            field(&mut h, name.as_bytes());
            h.update(&digest.0);
        }
        h.update(&(self.deps.len() as u64).to_le_bytes());
        for digest in self.deps.values() {
            h.update(&digest.0);
        }
        Digest(*h.finalize().as_bytes())
    }
}

/// The digest of a step's input list: the bulk of its key's bytes (200 files a step, 100,000
/// in all on the large benchmark tree), hashed apart so steps can hash theirs in parallel.
#[must_use]
pub fn inputs_digest(inputs: &[(Arc<str>, Digest)]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(&(inputs.len() as u64).to_le_bytes());
    for (path, digest) in inputs {
        field(&mut h, path.as_bytes());
        h.update(&digest.0);
    }
    Digest(*h.finalize().as_bytes())
}

fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// What changed from `old` to `new`, most telling first, one line each.
#[must_use]
pub fn diff_manifests(old: &Manifest, new: &Manifest) -> Vec<String> {
    let mut reasons = Vec::new();
    if old.cache_version != new.cache_version
        || old.impl_version != new.impl_version
        || old.kind != new.kind
    {
        reasons.push(format!("isect's {} step implementation changed", new.kind));
    }
    if old.toolchain != new.toolchain {
        reasons.push(format!(
            "toolchain changed: {} → {}",
            old.toolchain.as_deref().unwrap_or("none"),
            new.toolchain.as_deref().unwrap_or("none")
        ));
    }
    if old.options != new.options {
        reasons.push(format!(
            "options changed: {}",
            option_diff(&old.options, &new.options)
        ));
    }
    let old_inputs: BTreeMap<&str, &Digest> = old.inputs.iter().map(|(p, d)| (&**p, d)).collect();
    let new_inputs: BTreeMap<&str, &Digest> = new.inputs.iter().map(|(p, d)| (&**p, d)).collect();
    for (path, digest) in &new_inputs {
        match old_inputs.get(path) {
            None => reasons.push(format!("{path} added")),
            Some(old_digest) if old_digest != digest => reasons.push(format!("{path} changed")),
            Some(_) => {}
        }
    }
    for path in old_inputs.keys().filter(|p| !new_inputs.contains_key(*p)) {
        reasons.push(format!("{path} removed"));
    }
    for (name, digest) in &new.env {
        match old.env.get(name) {
            None => reasons.push(format!("env {name} added")),
            Some(old_digest) if old_digest != digest => reasons.push(format!("env {name} changed")),
            Some(_) => {}
        }
    }
    for name in old.env.keys().filter(|n| !new.env.contains_key(*n)) {
        reasons.push(format!("env {name} removed"));
    }
    for (id, key) in &new.deps {
        match old.deps.get(id) {
            Some(old_key) if old_key == key => {}
            _ => reasons.push(format!("upstream step {id} changed")),
        }
    }
    reasons
}

/// The top-level option keys whose values differ, e.g. `coverage_min 80 → 90`.
fn option_diff(old: &str, new: &str) -> String {
    let parse = |s: &str| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).unwrap_or_default()
    };
    let (a, b) = (parse(old), parse(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let changes: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| {
                v.map_or_else(|| "unset".to_string(), ToString::to_string)
            };
            format!("{k} {} → {}", show(a.get(k)), show(b.get(k)))
        })
        .collect();
    if changes.is_empty() {
        "(formatting)".into()
    } else {
        changes.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            cache_version: CACHE_VERSION,
            step_id: "a:build:go_build".into(),
            kind: "go_build".into(),
            impl_version: 1,
            options: r#"{"ldflags":""}"#.into(),
            inputs: vec![("a/main.go".into(), Digest::of(b"x"))],
            toolchain: Some("go1.19".into()),
            env: BTreeMap::new(),
            deps: BTreeMap::new(),
        }
    }

    #[test]
    fn key_is_deterministic_and_sensitive() {
        let m = manifest();
        assert_eq!(m.key(), manifest().key());
        let mut other = manifest();
        other.inputs[0].1 = Digest::of(b"y");
        assert_ne!(m.key(), other.key());
        let mut renamed = manifest();
        renamed.step_id = "b:build:go_build".into();
        assert_eq!(m.key(), renamed.key(), "the step id is not part of the key");
    }

    #[test]
    fn fields_do_not_bleed_into_each_other() {
        let mut a = manifest();
        a.kind = "ab".into();
        a.options = "c".into();
        let mut b = manifest();
        b.kind = "a".into();
        b.options = "bc".into();
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn diff_names_each_change() {
        let old = manifest();
        let mut new = manifest();
        new.inputs = vec![
            ("a/main.go".into(), Digest::of(b"y")),
            ("a/util.go".into(), Digest::of(b"z")),
        ];
        new.toolchain = Some("go1.20".into());
        new.options = r#"{"ldflags":"-s"}"#.into();
        new.env.insert("TOKEN".into(), Digest::of(b"v"));
        let reasons = diff_manifests(&old, &new);
        assert_eq!(
            reasons,
            vec![
                "toolchain changed: go1.19 → go1.20",
                "options changed: ldflags \"\" → \"-s\"",
                "a/main.go changed",
                "a/util.go added",
                "env TOKEN added",
            ]
        );
    }
}
