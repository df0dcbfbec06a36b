//! `isect ci cloudbuild`: the workspace's step graph as a cloudbuild.yaml — one step per
//! service and stage, each `isect run SERVICE STAGE` in the builder image, with `waitFor`
//! edges so that independent services run side by side.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CiInput, DEFAULT_MACHINE_TYPE, comment, is_google_registry, to_yaml};

/// Where `isect ci cloudbuild` writes, and where triggers look for it.
pub const CLOUDBUILD_FILE: &str = "cloudbuild.yaml";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Build {
    steps: Vec<Step>,
    timeout: String,
    options: Options,
    substitutions: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available_secrets: Option<AvailableSecrets>,
    tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    id: String,
    name: String,
    entrypoint: String,
    args: Vec<String>,
    wait_for: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secret_env: Vec<String>,
    timeout: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Options {
    machine_type: String,
    logging: &'static str,
    // Lets `_BRANCH: ${BRANCH_NAME}` default to the built-in (triggers force this on anyway;
    // `gcloud builds submit` does not).
    dynamic_substitutions: bool,
    // A trigger may pass substitutions this file does not use without failing the build.
    substitution_option: &'static str,
    env: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AvailableSecrets {
    secret_manager: Vec<SecretVersion>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretVersion {
    version_name: String,
    env: String,
}

/// One step before ordering: its id, service, stage and the ids it waits for.
struct Node<'a> {
    id: String,
    service: &'a super::CiService,
    stage: &'a str,
    needs: Vec<String>,
}

/// The step id of a service's stage (`auth-service:test`), as `waitFor` names it.
pub(crate) fn step_id(service: &str, stage: &str) -> String {
    format!("{service}:{stage}")
}

/// The steps with their edges: each stage waits for the service's previous stage, so its
/// gates hold (no image is pushed after a failed test or scan), and for the stages of other
/// services it needs. Needs on steps this build does not have (a service left out by
/// `--affected`) are dropped: `isect run` builds such needs itself, from the cache.
fn nodes(input: &CiInput) -> Vec<Node<'_>> {
    let mut ids: Vec<String> = Vec::new();
    for service in &input.services {
        ids.extend(service.stages.iter().map(|st| step_id(&service.name, st)));
    }
    let mut out = Vec::new();
    for service in &input.services {
        for (i, stage) in service.stages.iter().enumerate() {
            let mut needs = Vec::new();
            if i > 0 {
                needs.push(step_id(&service.name, &service.stages[i - 1]));
            }
            for need in service.needs.iter().filter(|n| &n.stage == stage) {
                let id = step_id(&need.on_service, &need.on_stage);
                if ids.contains(&id) && !needs.contains(&id) {
                    needs.push(id);
                }
            }
            out.push(Node {
                id: step_id(&service.name, stage),
                service,
                stage,
                needs,
            });
        }
    }
    out
}

/// Orders the steps so that each comes after those it waits for (Cloud Build only accepts
/// `waitFor` ids of earlier steps), keeping the input order otherwise. The plan is acyclic;
/// were it not, the steps left are appended with their backward edges dropped.
fn ordered(mut pending: Vec<Node<'_>>) -> Vec<Node<'_>> {
    let mut done: Vec<Node<'_>> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|n| n.needs.iter().all(|d| done.iter().any(|x| &x.id == d)));
        match ready {
            Some(i) => done.push(pending.remove(i)),
            None => {
                for mut node in pending.drain(..) {
                    node.needs.retain(|d| done.iter().any(|x| &x.id == d));
                    done.push(node);
                }
            }
        }
    }
    done
}

/// Quotes `word` for bash when it holds anything but safe characters.
fn sh_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@=+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The step's entrypoint and arguments. An image step that pushes to Google's registries
/// first takes an access token from the metadata server: isect's registry client reads
/// `ISECT_REGISTRY_USER`/`ISECT_REGISTRY_PASSWORD` or a Docker config, and the builder image
/// has no credential helper. `$$` is Cloud Build's escape for a literal `$`.
fn command(service: &super::CiService, stage: &str) -> (String, Vec<String>) {
    let run = ["run", service.name.as_str(), stage, "--no-progress"];
    let pushes_to_google =
        stage == "image" && service.image.as_deref().is_some_and(is_google_registry);
    if !pushes_to_google {
        return (
            "isect".into(),
            run.iter().map(ToString::to_string).collect(),
        );
    }
    let token = "python3 -c 'import json, urllib.request as r; \
        q = r.Request(\"http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token\", \
        headers={\"Metadata-Flavor\": \"Google\"}); print(json.load(r.urlopen(q))[\"access_token\"])'";
    let isect: Vec<String> = run.iter().map(|w| sh_quote(w)).collect();
    let script = format!(
        "token=\"$$({token})\"\n\
         export ISECT_REGISTRY_USER=oauth2accesstoken ISECT_REGISTRY_PASSWORD=\"$$token\"\n\
         exec isect {}",
        isect.join(" ")
    );
    ("bash".into(), vec!["-eu".into(), "-c".into(), script])
}

/// The cloudbuild.yaml for `input`'s services (see the module doc).
///
/// Variables every step gets: `CI=true`, `ISECT_BRANCH` and `ISECT_COMMIT` (from the
/// `_BRANCH` and `_COMMIT` substitutions, which default to the trigger's built-ins and can
/// be given to `gcloud builds submit`, where built-ins are empty), `ISECT_ENV` (the target
/// environment, `_ISECT_ENV`, set by the triggers), the cache's variables, and the
/// read-only switch (`_CACHE_READONLY`, `false` unless a build passes `true`).
#[must_use]
pub fn cloudbuild(input: &CiInput) -> String {
    let step_timeout = input.step_timeout_secs.min(input.timeout_secs);
    let mut steps: Vec<Step> = ordered(nodes(input))
        .into_iter()
        .map(|node| {
            let (entrypoint, args) = command(node.service, node.stage);
            let secret_env = (input.cache.secrets.iter())
                .filter(|s| s.applies_to(node.stage))
                .map(|s| s.env.clone())
                .collect();
            Step {
                id: node.id,
                name: input.builder_image.clone(),
                entrypoint,
                args,
                // `-` starts a step at once; an empty list would wait for every earlier step.
                wait_for: if node.needs.is_empty() {
                    vec!["-".into()]
                } else {
                    node.needs
                },
                secret_env,
                timeout: format!("{step_timeout}s"),
            }
        })
        .collect();
    if steps.is_empty() {
        // Nothing affected: Cloud Build refuses a build without steps, and evaluating every
        // pipeline is a cheap check worth running on any change.
        steps.push(Step {
            id: "check".into(),
            name: input.builder_image.clone(),
            entrypoint: "isect".into(),
            args: vec!["check".into()],
            wait_for: vec!["-".into()],
            secret_env: Vec::new(),
            timeout: format!("{step_timeout}s"),
        });
    }

    let mut substitutions = BTreeMap::new();
    substitutions.insert("_BRANCH", "${BRANCH_NAME}".to_string());
    substitutions.insert("_COMMIT", "${COMMIT_SHA}".to_string());
    substitutions.insert("_ISECT_ENV", String::new());
    let mut env = vec![
        "CI=true".to_string(),
        "ISECT_BRANCH=$_BRANCH".into(),
        "ISECT_COMMIT=$_COMMIT".into(),
        "ISECT_ENV=$_ISECT_ENV".into(),
    ];
    if let Some(var) = &input.cache.readonly_env {
        substitutions.insert("_CACHE_READONLY", "false".into());
        env.push(format!("{var}=$_CACHE_READONLY"));
    }
    env.extend(input.cache.env.iter().map(|(k, v)| format!("{k}={v}")));

    let available_secrets = (!input.cache.secrets.is_empty()).then(|| AvailableSecrets {
        secret_manager: (input.cache.secrets.iter())
            .map(|s| SecretVersion {
                version_name: if s.secret.starts_with("projects/") {
                    s.secret.clone()
                } else {
                    format!("projects/$PROJECT_ID/secrets/{}/versions/latest", s.secret)
                },
                env: s.env.clone(),
            })
            .collect(),
    });

    let build = Build {
        steps,
        timeout: format!("{}s", input.timeout_secs),
        options: Options {
            machine_type: (input.machine_type.clone())
                .unwrap_or_else(|| DEFAULT_MACHINE_TYPE.into()),
            logging: "CLOUD_LOGGING_ONLY",
            dynamic_substitutions: true,
            substitution_option: "ALLOW_LOOSE",
            env,
        },
        substitutions,
        available_secrets,
        tags: vec!["isect".into()],
    };
    format!("{}{}", header(input), to_yaml(&build))
}

/// The file's opening comment, with the images the build pushes.
///
/// There is deliberately no `images:` list. Cloud Build pushes that list from the worker's
/// Docker daemon after the last step, but isect builds images without a daemon and its image
/// steps push them over the registry API, tagged `<commit12>` and `sha256-<digest12>`, signed
/// and with SBOM and provenance attached. Listed images would not exist in the daemon
/// (failing the build), and `docker load`ing them first would re-push an unsigned manifest
/// under the same tag. `$SHORT_SHA` (7 characters) does not match isect's tags either.
fn header(input: &CiInput) -> String {
    let mut lines = vec![
        "Generated by `isect ci cloudbuild`: regenerate it rather than edit it.",
        "One step per service and stage (`isect run SERVICE STAGE` in the isect builder image);",
        "`waitFor` follows the step graph, so independent services build side by side.",
        "Images are pushed by the image steps themselves (tags <commit12> and sha256-<digest12>,",
        "signed, with SBOM and provenance), not through `images:`, which pushes from the worker's",
        "Docker daemon, where isect's daemonless images never are.",
    ];
    let images: Vec<String> = (input.services.iter())
        .filter(|s| s.stages.iter().any(|st| st == "image"))
        .filter_map(|s| s.image.as_ref().map(|i| format!("  {i}")))
        .collect();
    if !images.is_empty() {
        lines.push("Pushed to:");
        lines.extend(images.iter().map(String::as_str));
    }
    comment(&lines)
}
