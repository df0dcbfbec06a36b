//! `isect ci github`: the GitHub Actions workflow equivalent to the Cloud Build config (the
//! backup CI): a `plan` job that picks the affected services, then a `build` job with one
//! matrix entry per service that runs its stages in the isect builder image.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{CiInput, comment, is_google_registry, to_yaml};

/// Where `isect ci github` writes.
pub const GITHUB_WORKFLOW_FILE: &str = ".github/workflows/isect.yml";

type Map = BTreeMap<String, String>;

#[derive(Serialize)]
struct Workflow {
    name: &'static str,
    on: On,
    permissions: Map,
    concurrency: Concurrency,
    defaults: Defaults,
    env: Map,
    jobs: Jobs,
}

#[derive(Serialize)]
struct On {
    push: Push,
    pull_request: Map,
}

#[derive(Serialize)]
struct Push {
    branches: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Concurrency {
    group: &'static str,
    cancel_in_progress: &'static str,
}

#[derive(Serialize)]
struct Defaults {
    run: RunDefaults,
}

#[derive(Serialize)]
struct RunDefaults {
    shell: &'static str,
}

#[derive(Serialize)]
struct Jobs {
    plan: Job,
    build: Job,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Job {
    #[serde(skip_serializing_if = "Option::is_none")]
    needs: Option<&'static str>,
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    condition: Option<&'static str>,
    runs_on: &'static str,
    container: Container,
    timeout_minutes: u64,
    #[serde(skip_serializing_if = "Map::is_empty")]
    permissions: Map,
    #[serde(skip_serializing_if = "Map::is_empty")]
    outputs: Map,
    #[serde(skip_serializing_if = "Option::is_none")]
    strategy: Option<Strategy>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    env: Map,
    steps: Vec<Step>,
}

#[derive(Serialize, Clone)]
struct Container {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<Credentials>,
}

#[derive(Serialize, Clone)]
struct Credentials {
    username: &'static str,
    password: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Strategy {
    fail_fast: bool,
    matrix: &'static str,
}

#[derive(Serialize, Default)]
struct Step {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uses: Option<&'static str>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    with: Map,
    #[serde(skip_serializing_if = "Map::is_empty")]
    env: Map,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<String>,
}

/// The same registry credentials pull the builder image and push service images.
const REGISTRY_USER: &str = "${{ secrets.ISECT_REGISTRY_USER }}";
const REGISTRY_PASSWORD: &str = "${{ secrets.ISECT_REGISTRY_PASSWORD }}";

/// The plan job's script. `isect ci matrix` prints `{"service":[…]}` on one line; a push
/// compares with the commit before it, a pull request with its base, and a new branch (no
/// commit before) builds everything.
const PLAN_SCRIPT: &str = r#"if [ -n "${ISECT_SINCE:-}" ] && [ "$ISECT_SINCE" != 0000000000000000000000000000000000000000 ]; then
  matrix="$(isect ci matrix --affected --since "$ISECT_SINCE")"
else
  matrix="$(isect ci matrix --all)"
fi
echo "matrix=$matrix" >> "$GITHUB_OUTPUT"
"#;

/// Cloud Build's `$PROJECT_ID` becomes a repository variable on GitHub.
fn github_value(value: &str) -> String {
    value
        .replace("${PROJECT_ID}", "${{ vars.GCP_PROJECT_ID }}")
        .replace("$PROJECT_ID", "${{ vars.GCP_PROJECT_ID }}")
}

fn map(pairs: &[(&str, &str)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn checkout() -> Step {
    Step {
        name: "checkout".into(),
        uses: Some("actions/checkout@v4"),
        // Full history: `--affected` diffs against an earlier commit.
        with: map(&[("fetch-depth", "0")]),
        ..Step::default()
    }
}

/// The condition under which the matrix entry runs `stage`: the services that have it (a
/// base image has no test stage), and for `image`, pushes only — pull requests must not
/// publish or sign images, and forks get no secrets.
fn stage_condition(input: &CiInput, stage: &str) -> Option<String> {
    let with: Vec<&str> = (input.services.iter())
        .filter(|s| s.stages.iter().any(|st| st == stage))
        .map(|s| s.name.as_str())
        .collect();
    let mut parts = Vec::new();
    if with.len() < input.services.len() {
        let list = serde_json::to_string(&with)
            .unwrap_or_default()
            .replace('\'', "''");
        parts.push(format!("contains(fromJSON('{list}'), matrix.service)"));
    }
    if stage == "image" {
        parts.push("github.event_name == 'push'".into());
    }
    (!parts.is_empty()).then(|| parts.join(" && "))
}

fn stage_steps(input: &CiInput, stage: &str) -> Vec<Step> {
    let mut env: Map = (input.cache.secrets.iter())
        .filter(|s| s.applies_to(stage))
        .map(|s| {
            (
                s.env.clone(),
                format!("${{{{ secrets.{} }}}}", s.github_secret()),
            )
        })
        .collect();
    if stage == "image" {
        env.insert("ISECT_REGISTRY_USER".into(), REGISTRY_USER.into());
        env.insert("ISECT_REGISTRY_PASSWORD".into(), REGISTRY_PASSWORD.into());
    }
    let condition = stage_condition(input, stage);
    let mut steps = vec![Step {
        name: stage.into(),
        condition: condition.clone(),
        env,
        run: Some(format!("isect run \"$SERVICE\" {stage} --no-progress")),
        ..Step::default()
    }];
    // Scan stages leave SARIF; upload it even when their gate failed, which is when it matters.
    if stage == "scan" || stage == "image" {
        let sarif = format!(".isect/reports/{stage}.sarif");
        let mut upload = format!("always() && hashFiles('{sarif}') != ''");
        if let Some(c) = &condition {
            upload = format!("{upload} && {c}");
        }
        steps.push(Step {
            name: format!("upload {stage} findings"),
            condition: Some(upload),
            uses: Some("github/codeql-action/upload-sarif@v3"),
            with: map(&[
                ("sarif_file", &sarif),
                (
                    "category",
                    &format!("isect-${{{{ matrix.service }}}}-{stage}"),
                ),
            ]),
            ..Step::default()
        });
    }
    steps
}

/// The workflow for `input` (see the module doc). Pull requests read the remote cache but
/// never write it (`ISECT_CACHE_READONLY`); `.isect/cache` is kept between runs with
/// actions/cache; SARIF goes to code scanning. Secrets come from repository secrets of the
/// same name ([`super::SecretEnv::github_secret`]), `$PROJECT_ID` from the `GCP_PROJECT_ID`
/// repository variable.
#[must_use]
pub fn github(input: &CiInput) -> String {
    let container = Container {
        image: github_value(&input.builder_image),
        credentials: is_google_registry(&input.builder_image).then_some(Credentials {
            username: REGISTRY_USER,
            password: REGISTRY_PASSWORD,
        }),
    };

    let mut env = map(&[
        ("CI", "true"),
        ("ISECT_BRANCH", "${{ github.head_ref || github.ref_name }}"),
        (
            "ISECT_COMMIT",
            "${{ github.event.pull_request.head.sha || github.sha }}",
        ),
    ]);
    if let Some(var) = &input.cache.readonly_env {
        env.insert(
            var.clone(),
            "${{ github.event_name == 'pull_request' }}".into(),
        );
    }
    for (k, v) in &input.cache.env {
        env.insert(k.clone(), github_value(v));
    }

    let plan = Job {
        needs: None,
        condition: None,
        runs_on: "ubuntu-latest",
        container: container.clone(),
        timeout_minutes: 10,
        permissions: Map::new(),
        outputs: map(&[("matrix", "${{ steps.affected.outputs.matrix }}")]),
        strategy: None,
        env: Map::new(),
        steps: vec![
            checkout(),
            Step {
                name: "affected services".into(),
                id: Some("affected"),
                env: map(&[(
                    "ISECT_SINCE",
                    "${{ github.event.pull_request.base.sha || github.event.before }}",
                )]),
                run: Some(PLAN_SCRIPT.into()),
                ..Step::default()
            },
        ],
    };

    let mut steps = vec![
        checkout(),
        Step {
            name: "isect cache".into(),
            uses: Some("actions/cache@v4"),
            with: map(&[
                ("path", ".isect/cache"),
                ("key", "isect-${{ matrix.service }}-${{ github.sha }}"),
                ("restore-keys", "isect-${{ matrix.service }}-"),
            ]),
            ..Step::default()
        },
    ];
    for stage in input.all_stages() {
        steps.extend(stage_steps(input, stage));
    }
    let build = Job {
        needs: Some("plan"),
        // An empty matrix is an error on GitHub: skip the job when nothing is affected.
        condition: Some("${{ fromJSON(needs.plan.outputs.matrix).service[0] != null }}"),
        runs_on: "ubuntu-latest",
        container,
        timeout_minutes: input.timeout_secs.div_ceil(60),
        permissions: map(&[
            ("actions", "read"),
            ("contents", "read"),
            ("security-events", "write"),
        ]),
        outputs: Map::new(),
        strategy: Some(Strategy {
            fail_fast: false,
            matrix: "${{ fromJSON(needs.plan.outputs.matrix) }}",
        }),
        env: map(&[("SERVICE", "${{ matrix.service }}")]),
        steps,
    };

    let branches = input.branches();
    let workflow = Workflow {
        name: "isect",
        on: On {
            push: Push {
                branches: if branches.is_empty() {
                    vec!["main".into()]
                } else {
                    branches.iter().map(ToString::to_string).collect()
                },
            },
            pull_request: Map::new(),
        },
        permissions: map(&[("contents", "read")]),
        concurrency: Concurrency {
            group: "isect-${{ github.ref }}",
            cancel_in_progress: "${{ github.event_name == 'pull_request' }}",
        },
        defaults: Defaults {
            run: RunDefaults { shell: "bash" },
        },
        env,
        jobs: Jobs { plan, build },
    };
    let head = comment(&[
        "Generated by `isect ci github`: regenerate it rather than edit it. The backup of the",
        "Cloud Build config: the same `isect run SERVICE STAGE` in the same builder image.",
        "Needs the repository secrets ISECT_REGISTRY_USER and ISECT_REGISTRY_PASSWORD (pull the",
        "builder image, push images) and the variable GCP_PROJECT_ID where `$PROJECT_ID` was used.",
    ]);
    format!("{head}{}", to_yaml(&workflow))
}
