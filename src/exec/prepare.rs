//! Before anything runs: every step's manifest and key. One walk of the workspace, digests
//! from the file index (hashing on all cores only what changed), toolchains probed once,
//! Go inputs from a memoised `go list`, upstream keys folded in plan order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use crate::cache::{
    CACHE_VERSION, Digest, FileIndex, FileTree, GlobMatcher, LocalStore, Manifest, StepKey,
    diff_manifests, inputs_digest,
};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::lang;
use crate::plan::{Plan, ScanCheck, Step, StepKind, Toolchain};
use crate::workspace::Workspace;

/// Keys and manifests of a plan's steps, by step index.
#[derive(Debug)]
pub struct Prepared {
    pub manifests: Vec<Manifest>,
    pub keys: Vec<StepKey>,
}

/// Computes every step's manifest and key.
pub fn prepare(
    plan: &Plan,
    workspace: &Workspace,
    store: &LocalStore,
    tree: &FileTree,
    index: &Mutex<FileIndex>,
) -> Result<Prepared> {
    let root = &workspace.root;
    let excluded = output_files(plan, tree)?;
    let toolchains = identify_toolchains(plan, store)?;

    let mut step_inputs: Vec<Vec<usize>> = Vec::with_capacity(plan.steps.len());
    let mut go_lists: BTreeMap<(String, bool), BTreeSet<String>> = BTreeMap::new();
    for step in &plan.steps {
        let matchers = compile(&step.options.inputs, step)?;
        let mut files: Vec<usize> = tree
            .matching(&matchers)
            .into_iter()
            .filter(|&i| !excluded[i])
            .collect();
        if let Some(module) = &step.options.go_module {
            // A build reads no test files; vet and test read them too.
            let list = (
                module.clone(),
                !matches!(step.kind, StepKind::GoBuild { .. }),
            );
            if !go_lists.contains_key(&list) {
                let listed = go_inputs(workspace, store, tree, index, module, list.1)?;
                go_lists.insert(list.clone(), listed);
            }
            files.extend(go_lists[&list].iter().filter_map(|rel| tree.find(rel)));
            files.sort_unstable();
            files.dedup();
        }
        step_inputs.push(files);
    }
    let mut all: Vec<usize> = step_inputs.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    tree.prefetch(&all, index)
        .map_err(|e| Error::infra("cannot hash the workspace's files", e))?;

    // Every step's input list and its digest, on all cores: that is most of a key's bytes.
    let listed = crate::par::par_map(&step_inputs, |files| {
        let mut inputs = Vec::with_capacity(files.len());
        for &f in files {
            let digest = tree
                .digest(f, index)
                .map_err(|e| Error::infra(format!("cannot read {}", tree.entries()[f].rel), e))?;
            inputs.push((tree.entries()[f].rel.clone(), digest));
        }
        let digest = inputs_digest(&inputs);
        Ok::<_, Error>((inputs, digest))
    });

    let mut databases: BTreeMap<String, String> = BTreeMap::new();
    let mut salt: Option<[u8; 32]> = None;
    let mut manifests: Vec<Manifest> = Vec::with_capacity(plan.steps.len());
    let mut keys: Vec<StepKey> = Vec::with_capacity(plan.steps.len());
    for ((i, step), listed) in plan.steps.iter().enumerate().zip(listed) {
        let (inputs, inputs_digest) = listed?;
        let mut env = BTreeMap::new();
        for (name, value) in &step.options.env {
            env.insert(name.clone(), Digest::of(value.as_bytes()));
        }
        // A secret's value changes the key through a salted digest, never in clear.
        for text in secret_texts(step) {
            let salt = match &salt {
                Some(s) => *s,
                None => {
                    let loaded = crate::secret::load_or_create_salt(store.dir())
                        .map_err(|e| Error::infra("cannot read the secret salt", e))?;
                    salt = Some(loaded);
                    loaded
                }
            };
            let keyed = super::vault::keyed(text, root, &salt).map_err(|e| {
                Error::user(
                    Diagnostic::error(
                        "secret::unresolved",
                        format!("step {} needs a secret isect cannot read: {e}", step.id),
                    )
                    .note(format!("declared at {}", step.declared_at)),
                )
            })?;
            env.insert(format!("secret:{text}"), Digest::of(keyed.as_bytes()));
        }
        for name in &step.options.pass_env {
            // Unset and empty are different environments.
            let digest = std::env::var_os(name).map_or_else(
                || Digest::of(b"\0unset"),
                |v| Digest::of(v.as_encoded_bytes()),
            );
            env.insert(name.clone(), digest);
        }
        let deps = plan.deps[i]
            .iter()
            .map(|&d| (plan.steps[d].id.to_string(), keys[d]))
            .collect();
        let manifest = Manifest {
            cache_version: CACHE_VERSION,
            step_id: step.id.to_string(),
            kind: step.kind.name().to_string(),
            impl_version: step.kind.impl_version(),
            options: options_json(step),
            inputs,
            toolchain: tool_identity(
                step,
                root,
                step.kind.toolchain().and_then(|t| toolchains.get(&t)),
                &mut databases,
            ),
            env,
            deps,
        };
        keys.push(manifest.key_with(inputs_digest));
        manifests.push(manifest);
    }
    Ok(Prepared { manifests, keys })
}

/// The environment values of a step (its own, its commands', its processes') that hold
/// secret markers.
fn secret_texts(step: &Step) -> Vec<&str> {
    let mut texts: Vec<&str> = step
        .options
        .env
        .values()
        .chain(step.options.processes.iter().flat_map(|p| p.env.values()))
        .map(String::as_str)
        .collect();
    if let StepKind::Exec { commands } = &step.kind {
        texts.extend(
            commands
                .iter()
                .flat_map(|c| c.env.values().map(String::as_str)),
        );
    }
    texts.retain(|t| super::vault::has_secret(t));
    texts.sort_unstable();
    texts.dedup();
    texts
}

/// What outside the workspace decides a step's result: its toolchain's version and, for a
/// scan, the identity of its rule set or vulnerability database.
fn tool_identity(
    step: &Step,
    root: &Path,
    toolchain: Option<&String>,
    databases: &mut BTreeMap<String, String>,
) -> Option<String> {
    let extra = match &step.kind {
        StepKind::Scan {
            check: ScanCheck::Deps { vulndb, .. } | ScanCheck::Image { vulndb, .. },
            ..
        } => Some(
            databases
                .entry(vulndb.clone())
                .or_insert_with(|| database_identity(&crate::exec::scan::resolve(root, vulndb)))
                .clone(),
        ),
        StepKind::Scan {
            check: ScanCheck::Secrets { rules: None, .. },
            ..
        } => Some(format!(
            "isect {} built-in secret rules {}",
            env!("CARGO_PKG_VERSION"),
            crate::scan::secrets::builtin_rules_digest()
        )),
        StepKind::Scan { .. } => Some(format!("isect {}", env!("CARGO_PKG_VERSION"))),
        _ => None,
    };
    match (toolchain, extra) {
        (Some(t), Some(e)) => Some(format!("{t}; {e}")),
        (t, e) => t.cloned().or(e),
    }
}

/// The OSV database's identity: the content digest of every ecosystem's `all.zip`, so an
/// import reruns every dependency scan and nothing else does.
fn database_identity(dir: &Path) -> String {
    let mut parts = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let zip = entry.path().join("all.zip");
            if let Ok(digest) = crate::cache::hash_file(&zip) {
                parts.push(format!(
                    "{}={}",
                    entry.file_name().to_string_lossy(),
                    digest.short()
                ));
            }
        }
    }
    parts.sort();
    if parts.is_empty() {
        format!("osv database {}: none", dir.display())
    } else {
        format!("osv database {}", parts.join(" "))
    }
}

/// The folders a plan's steps can read from: the literal prefixes of their input globs and,
/// for Go steps, the module and the libraries it uses. The run walks only these.
#[must_use]
pub fn walk_roots(plan: &Plan, workspace: &Workspace) -> Vec<String> {
    let mut roots = BTreeSet::new();
    for step in &plan.steps {
        for glob in &step.options.inputs {
            if let Ok(matcher) = GlobMatcher::new(glob) {
                roots.insert(matcher.prefix().to_string());
            }
        }
        if let Some(module) = &step.options.go_module {
            roots.insert(module.clone());
            roots.extend(workspace.transitive_deps(module));
        }
    }
    roots.into_iter().collect()
}

/// The step's normalised options: its kind's fields plus the flags that change its result.
fn options_json(step: &Step) -> String {
    let mut value = serde_json::to_value(&step.kind).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("outputs".into(), step.options.outputs.clone().into());
        map.insert("side_effects".into(), step.options.side_effects.into());
        if !step.options.processes.is_empty() {
            map.insert(
                "processes".into(),
                serde_json::to_value(&step.options.processes).unwrap_or_default(),
            );
        }
    }
    value.to_string()
}

fn compile(globs: &[String], step: &Step) -> Result<Vec<GlobMatcher>> {
    globs
        .iter()
        .map(|g| {
            GlobMatcher::new(g).map_err(|e| {
                Error::user(
                    Diagnostic::error(
                        "script::invalid_glob",
                        format!("step {} has an invalid glob `{g}`: {e}", step.id),
                    )
                    .note(format!("declared at {}", step.declared_at))
                    .help("globs use `*` within a folder and `**` across folders"),
                )
            })
        })
        .collect()
}

/// Per file of the tree, whether it matches any step's declared outputs: outputs are never
/// inputs, or a build would invalidate itself. A flag per file, since every input of every
/// step is checked against it (100,000 lookups on the large benchmark tree).
fn output_files(plan: &Plan, tree: &FileTree) -> Result<Vec<bool>> {
    let mut out = vec![false; tree.entries().len()];
    for step in &plan.steps {
        for i in tree.matching(&compile(&step.options.outputs, step)?) {
            out[i] = true;
        }
    }
    Ok(out)
}

fn identify_toolchains(plan: &Plan, store: &LocalStore) -> Result<BTreeMap<Toolchain, String>> {
    let needed: BTreeSet<Toolchain> = plan
        .steps
        .iter()
        .filter_map(|s| s.kind.toolchain())
        .collect();
    let memo = store.memo_path("", "toolchains.json");
    let mut found = BTreeMap::new();
    for toolchain in needed {
        match lang::toolchain::identify(toolchain, &memo) {
            Ok(version) => {
                found.insert(toolchain, version);
            }
            Err(lang::toolchain::ToolchainError::Missing { .. }) if toolchain.optional() => {
                // Part of the key, so installing the tool later reruns what it would check.
                found.insert(toolchain, format!("{toolchain}: not installed"));
            }
            Err(err) => {
                let users: Vec<String> = plan
                    .steps
                    .iter()
                    .filter(|s| s.kind.toolchain() == Some(toolchain))
                    .map(|s| s.id.to_string())
                    .take(3)
                    .collect();
                return Err(Error::user(
                    Diagnostic::error("toolchain::missing", format!("{err}: needed by {}", users.join(", ")))
                        .help(toolchain.install_hint())
                        .note("`isect doctor` lists every toolchain the workspace needs and what was found"),
                ));
            }
        }
    }
    Ok(found)
}

/// The workspace files a Go module's packages and tests are built from, via `go list`,
/// memoised by the content of every file under the module and its local dependencies.
fn go_inputs(
    workspace: &Workspace,
    store: &LocalStore,
    tree: &FileTree,
    index: &Mutex<FileIndex>,
    module: &str,
    tests: bool,
) -> Result<BTreeSet<String>> {
    let mut dirs = vec![module.to_string()];
    dirs.extend(workspace.transitive_deps(module));
    let mut files: Vec<usize> = Vec::new();
    for dir in &dirs {
        files.extend(tree.range(&format!("{dir}/")));
    }
    files.sort_unstable();
    files.dedup();
    tree.prefetch(&files, index)
        .map_err(|e| Error::infra("cannot hash Go sources", e))?;
    let mut hasher = blake3::Hasher::new();
    for &f in &files {
        let digest = tree
            .digest(f, index)
            .map_err(|e| Error::infra("cannot hash Go sources", e))?;
        hasher.update(tree.entries()[f].rel.as_bytes());
        hasher.update(&[0]);
        hasher.update(&digest.0);
    }
    let fingerprint = hasher.finalize().to_hex().to_string();
    let suffix = if tests { "-test" } else { "" };
    let memo = store.memo_path("golist", &format!("{fingerprint}{suffix}.json"));
    if let Some(list) = std::fs::read(&memo)
        .ok()
        .and_then(|b| serde_json::from_slice::<BTreeSet<String>>(&b).ok())
    {
        return Ok(list);
    }
    let list = run_go_list(&workspace.root, module, tests)?;
    if let Ok(bytes) = serde_json::to_vec(&list) {
        let _ = crate::cache::write_memo(&memo, &bytes);
    }
    Ok(list)
}

fn run_go_list(root: &Path, module: &str, tests: bool) -> Result<BTreeSet<String>> {
    let args = lang::golang::list_args(tests);
    let output = std::process::Command::new("go")
        .args(&args)
        .current_dir(root.join(module))
        .output()
        .map_err(|e| Error::infra(format!("cannot run `go list` in {module}"), e))?;
    if !output.status.success() {
        return Err(Error::user(
            Diagnostic::error("golang::list_failed", format!("`go list` failed in {module}"))
                .note(String::from_utf8_lossy(&output.stderr).trim().to_string())
                .help("check go.mod: every required module must be available offline or replaced by a local path"),
        ));
    }
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    lang::golang::parse_list(&output.stdout, &root, tests)
        .map_err(|e| Error::infra("cannot parse `go list -json` output", e))
}

/// Why a step must run: what changed since the last run of the same step in this workspace.
#[must_use]
pub fn rerun_reasons(
    store: &LocalStore,
    last_key: Option<&StepKey>,
    manifest: &Manifest,
) -> Vec<String> {
    let Some(last) = last_key else {
        return vec!["first run".into()];
    };
    if *last == manifest.key() {
        return vec!["no cached result (the last run failed, or the cache was cleaned)".into()];
    }
    match store.get_manifest(last) {
        Some(old) => {
            let reasons = diff_manifests(&old, manifest);
            if reasons.is_empty() {
                vec!["inputs changed".into()]
            } else {
                reasons
            }
        }
        None => vec!["the last run's manifest is no longer in the cache".into()],
    }
}
