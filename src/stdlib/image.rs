//! `image::*`: the image stage's steps. An image is an OCI layout in the service's output
//! folder (`<out>/image/oci`), made from files (daemonless, reproducible), a Dockerfile
//! (the Docker Engine), or Debian packages (a base); `image::scan` checks what it contains,
//! `image::push` sends it to `[image] registry`, attaches its SBOM and signs it.

use std::collections::BTreeMap;

use rhai::Map;
use rhai::plugin::*;

use crate::plan::{ImageRuntime, ImageSource, ScanCheck, StepKind};
use crate::scan::Severity;
use crate::stdlib::context::{self, ScriptError, ServiceInfo, StepHandle};
use crate::stdlib::options;

/// The layout folder of a service's image, workspace-relative.
#[must_use]
pub fn layout_dir(out: &str) -> String {
    format!("{out}/image/oci")
}

/// Where `image::push` records what it pushed (the reference by digest), workspace-relative:
/// what `isect image verify SERVICE` and the deploy-time check read.
#[must_use]
pub fn pushed_record(out: &str) -> String {
    format!("{out}/image/pushed.json")
}

/// The runtime options every image function takes.
const RUNTIME_KEYS: &[&str] = &[
    "entrypoint",
    "cmd",
    "env",
    "user",
    "workdir",
    "ports",
    "labels",
];

// No deny_unknown_fields with flatten (serde does not support both): `split` checks keys.
#[derive(serde::Deserialize)]
struct FilesOpts {
    files: BTreeMap<String, String>,
    base: Option<String>,
    #[serde(flatten)]
    runtime: RuntimeOpts,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DockerfileOpts {
    #[serde(default = "dockerfile")]
    dockerfile: String,
    #[serde(default = "dot")]
    context: String,
    target: Option<String>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct DebianOpts {
    packages: Vec<String>,
    #[serde(flatten)]
    runtime: RuntimeOpts,
}

#[derive(serde::Deserialize, Default)]
struct RuntimeOpts {
    #[serde(default)]
    entrypoint: Vec<String>,
    #[serde(default)]
    cmd: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    user: Option<String>,
    workdir: Option<String>,
    #[serde(default)]
    ports: Vec<Port>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `8080` or `"8080/udp"`.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Port {
    Number(i64),
    Text(String),
}

impl From<RuntimeOpts> for ImageRuntime {
    fn from(o: RuntimeOpts) -> Self {
        Self {
            entrypoint: o.entrypoint,
            cmd: o.cmd,
            env: o.env,
            user: o.user,
            workdir: o.workdir,
            ports: o
                .ports
                .into_iter()
                .map(|p| match p {
                    Port::Number(n) => format!("{n}/tcp"),
                    Port::Text(t) if t.contains('/') => t,
                    Port::Text(t) => format!("{t}/tcp"),
                })
                .collect(),
            labels: o.labels,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanOpts {
    fail_on: Option<Severity>,
}

fn dockerfile() -> String {
    "Dockerfile".into()
}
fn dot() -> String {
    ".".into()
}

/// The `env` common option and the image's `env` share a name: inside image functions
/// `env` is the image's. Taken out before the common options are parsed.
fn take_image_env(opts: &mut Map) -> Option<rhai::Dynamic> {
    opts.remove("env")
}

fn declare_image(
    ctx: &NativeCallContext,
    svc: &ServiceInfo,
    name: Option<String>,
    default_name: &str,
    source: ImageSource,
    runtime: ImageRuntime,
    mut step_options: crate::plan::StepOptions,
) -> Result<StepHandle, Box<EvalAltResult>> {
    let out = layout_dir(&svc.out);
    step_options.outputs.push(format!("{out}/**"));
    step_options
        .outputs
        .push(format!("{}/image/sbom.cdx.json", svc.out));
    let kind = StepKind::Image {
        source,
        runtime,
        out,
        tag: svc.name.clone(),
    };
    context::declare(
        ctx,
        name.unwrap_or_else(|| default_name.into()),
        kind,
        step_options,
    )
}

fn with_env(
    ctx: &NativeCallContext,
    function: &str,
    mut opts: Map,
) -> Result<Map, Box<EvalAltResult>> {
    // Keep the image's env under a key the common parser does not claim.
    if let Some(env) = take_image_env(&mut opts) {
        if env.clone().try_cast::<Map>().is_none() {
            return Err(options::at_call(
                ctx,
                ScriptError::new(
                    "script::invalid_option",
                    format!("{function}: `env` must be a map of variables"),
                )
                .focus("env")
                .into(),
            ));
        }
        opts.insert("image_env".into(), env);
    }
    Ok(opts)
}

fn restore_env(map: &mut BTreeMap<String, rhai::Dynamic>) {
    if let Some(env) = map.remove("image_env") {
        map.insert("env".into(), env);
    }
}

fn split<T: serde::de::DeserializeOwned>(
    ctx: &NativeCallContext,
    function: &str,
    opts: Map,
    own: &[&str],
) -> Result<(options::CommonOptions, T), Box<EvalAltResult>> {
    let mut opts = with_env(ctx, function, opts)?;
    // Parse the common options from what remains, then the rest (with `env` back) as `T`.
    let own_keys: Vec<&str> = own.iter().copied().chain(["image_env"]).collect();
    let (common, mut rest) = options::parse::<BTreeMap<String, rhai::Dynamic>>(
        ctx,
        function,
        std::mem::take(&mut opts),
        &own_keys,
    )?;
    restore_env(&mut rest);
    let rest: Map = rest.into_iter().map(|(k, v)| (k.into(), v)).collect();
    let typed: T = rhai::serde::from_dynamic(&rest.into()).map_err(|e| {
        options::at_call(
            ctx,
            ScriptError::new(
                "script::invalid_option",
                format!("{function}: {}", e.to_string().trim()),
            )
            .into(),
        )
    })?;
    Ok((common, typed))
}

/// A daemonless image from files; see `image::from_files`.
fn declare_from_files(
    ctx: &NativeCallContext,
    opts: Map,
) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let own: Vec<&str> = ["files", "base"]
        .into_iter()
        .chain(RUNTIME_KEYS.iter().copied())
        .collect();
    let (common, o) = split::<FilesOpts>(ctx, "image::from_files", opts, &own)?;
    let name = common.name.clone();
    let files = o
        .files
        .into_iter()
        .map(|(dest, src)| (dest, options::resolve_path(&svc, &src)))
        .collect();
    let base = o.base.map(|b| layout_dir(&format!(".isect/out/{b}")));
    let step_options = common.into_step_options(&svc, Vec::new());
    declare_image(
        ctx,
        &svc,
        name,
        "image",
        ImageSource::Files { base, files },
        o.runtime.into(),
        step_options,
    )
}

/// The image scan; see `image::scan`.
fn declare_scan(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<ScanOpts>(ctx, "image::scan", opts, &["fail_on"])?;
    let name = common.name.clone();
    let mut step_options = common.into_step_options(&svc, Vec::new());
    step_options.outputs.push(crate::scan::report_path(
        &svc.out,
        crate::scan::Scanner::Image,
    ));
    let kind = StepKind::Scan {
        check: ScanCheck::Image {
            layout: layout_dir(&svc.out),
            vulndb: svc.scan.vulndb.clone(),
            max_age_days: svc.scan.vulndb_max_age_days,
        },
        dirs: Vec::new(),
        fail_on: o.fail_on.unwrap_or(svc.scan.fail_on),
    };
    context::declare(
        ctx,
        name.unwrap_or_else(|| "scan".into()),
        kind,
        step_options,
    )
}

/// The push; see `image::push`.
fn declare_push(ctx: &NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let Some(registry) = svc.image.registry.clone() else {
        return Err(options::at_call(
            ctx,
            ScriptError::new(
                "script::no_registry",
                "image::push needs a registry: none is set in isect.toml",
            )
            .help("add `[image] registry = \"host:port/path\"` to isect.toml")
            .into(),
        ));
    };
    let (common, _) = options::parse::<options::NoOptions>(ctx, "image::push", Map::new(), &[])?;
    let mut step_options = common.into_step_options(&svc, Vec::new());
    step_options.side_effects = true;
    let kind = StepKind::ImagePush {
        layout: layout_dir(&svc.out),
        repository: format!("{}/{}", registry.trim_end_matches('/'), svc.name),
        signing_key: svc.image.signing_key.clone(),
        script: svc.script.clone(),
    };
    context::declare(ctx, "push".into(), kind, step_options)
}

/// A standard service's image stage; see `image::service`.
fn declare_service(
    ctx: &NativeCallContext,
    mut opts: Map,
) -> Result<context::StageSpec, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let invalid = |key: &str, what: &str| {
        options::at_call(
            ctx,
            ScriptError::new(
                "script::invalid_option",
                format!("image::service: `{key}` must be {what}"),
            )
            .focus(key.to_string())
            .into(),
        )
    };
    let push = match opts.remove("push") {
        None => true,
        Some(v) => v.as_bool().map_err(|_| invalid("push", "true or false"))?,
    };
    let scan_gate = opts.remove("fail_on");
    let mut merged = service_defaults(&svc);
    for (k, v) in opts {
        merged.insert(k, v);
    }
    // `base: ()` builds on scratch.
    if merged.get("base").is_some_and(rhai::Dynamic::is_unit) {
        merged.remove("base");
    }
    let base = merged.get("base").map(ToString::to_string);
    let mut steps = rhai::Array::new();
    steps.push(rhai::Dynamic::from(declare_from_files(ctx, merged)?));
    let mut scan_opts = Map::new();
    if let Some(gate) = scan_gate {
        scan_opts.insert("fail_on".into(), gate);
    }
    steps.push(rhai::Dynamic::from(declare_scan(ctx, scan_opts)?));
    if push && svc.image.registry.is_some() {
        steps.push(rhai::Dynamic::from(declare_push(ctx)?));
    }
    let mut needs: Vec<String> = ["build", "test", "scan"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    if let Some(base) = base {
        needs.push(format!("{base}:image"));
    }
    Ok(context::StageSpec {
        needs: Some(needs),
        part_of: None,
        parallel: false,
        body: steps.into(),
        declared_at: context::call_site(ctx),
    })
}

/// The language's image: Go's binary on scratch, Python's packages on `python-base`, Node's
/// server and build output on `node-base`; a nonroot user, `PORT=8080`.
fn service_defaults(svc: &ServiceInfo) -> Map {
    let mut files = Map::new();
    let mut env = Map::new();
    env.insert("PORT".into(), "8080".into());
    let mut m = Map::new();
    let entrypoint: Vec<String> = match svc.language.as_deref() {
        Some("golang") => {
            let bin = format!("/usr/local/bin/{}", svc.name);
            files.insert(
                bin.clone().into(),
                format!("//{}/bin/{}", svc.out, svc.name).into(),
            );
            vec![bin]
        }
        Some("python") => {
            let package = svc.name.replace('-', "_");
            files.insert(format!("/app/{package}").into(), package.clone().into());
            for dep in &svc.deps {
                let name = dep.rsplit('/').next().unwrap_or(dep);
                files.insert(
                    format!("/app/{name}").into(),
                    format!("//{dep}/{name}").into(),
                );
            }
            env.insert("PYTHONPATH".into(), "/app".into());
            env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
            m.insert("base".into(), "python-base".into());
            vec![
                "python3.11".into(),
                "-m".into(),
                format!("{package}.server"),
            ]
        }
        Some("node") => {
            files.insert("/app".into(), ".".into());
            m.insert("base".into(), "node-base".into());
            m.insert("workdir".into(), "/app".into());
            vec!["node".into(), "server.mjs".into()]
        }
        _ => Vec::new(),
    };
    m.insert("files".into(), files.into());
    m.insert("env".into(), env.into());
    m.insert(
        "entrypoint".into(),
        entrypoint
            .into_iter()
            .map(rhai::Dynamic::from)
            .collect::<rhai::Array>()
            .into(),
    );
    m.insert("user".into(), "65532:65532".into());
    m.insert(
        "ports".into(),
        vec![rhai::Dynamic::from("8080/tcp".to_string())].into(),
    );
    m
}

/// The `image` namespace.
#[export_module]
pub mod module {
    use rhai::Map;

    use super::{
        DebianOpts, DockerfileOpts, RUNTIME_KEYS, declare_from_files, declare_image, declare_push,
        declare_scan, declare_service, split,
    };
    use crate::plan::ImageSource;
    use crate::stdlib::context::{self, StageSpec, StepHandle};
    use crate::stdlib::options;

    /// A daemonless, reproducible image: `files` (path in the image → file or folder,
    /// relative to the service folder or `//` the workspace) as one layer on `base` (a
    /// service whose image stage builds a base, e.g. `"python-base"`) or on scratch.
    ///
    /// ```rhai
    /// image::from_files(#{
    ///     files: #{ "/server": "//" + svc.out + "/bin/auth-service" },
    ///     entrypoint: ["/server"], user: "65532:65532", ports: [8080],
    /// });
    /// ```
    #[rhai_fn(return_raw)]
    pub fn from_files(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_from_files(&ctx, opts)
    }

    /// A Dockerfile built by the Docker Engine: the context is the step's inputs (the
    /// service folder by default, minus `.dockerignore`); every external `FROM` must be in
    /// `[image] approved_bases`, pinned by digest.
    ///
    /// ```rhai
    /// image::dockerfile(#{ target: "runtime", build_args: #{ VERSION: "1.2.3" } });
    /// ```
    #[rhai_fn(name = "dockerfile", return_raw)]
    pub fn dockerfile_with(
        ctx: NativeCallContext,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let (common, o) = options::parse::<DockerfileOpts>(
            &ctx,
            "image::dockerfile",
            opts,
            &["dockerfile", "context", "target", "build_args", "labels"],
        )?;
        let name = common.name.clone();
        let context_dir = options::resolve_path(&svc, &o.context);
        let step_options = common.into_step_options(&svc, vec![format!("{context_dir}/**")]);
        let source = ImageSource::Dockerfile {
            dockerfile: options::resolve_path(&svc, &o.dockerfile),
            context: context_dir,
            target: o.target,
            build_args: o.build_args,
            approved_bases: svc.image.approved_bases.clone(),
        };
        let runtime = crate::plan::ImageRuntime {
            labels: o.labels,
            ..Default::default()
        };
        declare_image(&ctx, &svc, name, "image", source, runtime, step_options)
    }

    /// `image::dockerfile` with the service's `Dockerfile`.
    #[rhai_fn(return_raw)]
    pub fn dockerfile(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        dockerfile_with(ctx, Map::new())
    }

    /// A distroless-style base: Debian `packages` and what they depend on, unpacked into one
    /// layer, with a nonroot user (65532) and the packages' status for scanners.
    ///
    /// ```rhai
    /// image::debian(#{ packages: ["python3.11-minimal"], env: #{ LANG: "C.UTF-8" } });
    /// ```
    #[rhai_fn(return_raw)]
    pub fn debian(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        let svc = context::current_service()?;
        let own: Vec<&str> = std::iter::once("packages")
            .chain(RUNTIME_KEYS.iter().copied())
            .collect();
        let (common, o) = split::<DebianOpts>(&ctx, "image::debian", opts, &own)?;
        let name = common.name.clone();
        let step_options = common.into_step_options(&svc, Vec::new());
        declare_image(
            &ctx,
            &svc,
            name,
            "base",
            ImageSource::Debian {
                packages: o.packages,
            },
            o.runtime.into(),
            step_options,
        )
    }

    /// The image stage of a standard service: its image from the language's defaults
    /// (override any of `files`, `base`, `entrypoint`, `cmd`, `env`, `user`, `workdir`,
    /// `ports`, `labels`), `image::scan` (`fail_on`), and `image::push` when
    /// `[image] registry` is set (`push: false` leaves it out). Go: the binary on scratch;
    /// Python: its packages on `python-base`; Node: the service folder on `node-base`.
    ///
    /// ```rhai
    /// p.image = image::service(#{ env: #{ PORT: "9090" }, ports: [9090] });
    /// ```
    #[rhai_fn(name = "service", return_raw)]
    pub fn service_with(
        ctx: NativeCallContext,
        opts: Map,
    ) -> Result<StageSpec, Box<EvalAltResult>> {
        declare_service(&ctx, opts)
    }

    /// `image::service` with the language's defaults.
    #[rhai_fn(name = "service", return_raw)]
    pub fn service(ctx: NativeCallContext) -> Result<StageSpec, Box<EvalAltResult>> {
        declare_service(&ctx, Map::new())
    }

    /// The packages inside the service's image (Go modules in binaries, Python dist-info,
    /// dpkg status) against the OSV database, with the scan stage's gate and SARIF.
    #[rhai_fn(name = "scan", return_raw)]
    pub fn scan_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_scan(&ctx, opts)
    }

    /// `image::scan` with the workspace's gate.
    #[rhai_fn(return_raw)]
    pub fn scan(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_scan(&ctx, Map::new())
    }

    /// Pushes the image to `[image] registry`/<service>, tagged with the git commit and its
    /// digest, attaches its SBOM and signs it (with `[image] signing_key`) with SLSA
    /// provenance. Never skipped by its key; when the registry already has the image and
    /// its signature, nothing is uploaded.
    #[rhai_fn(return_raw)]
    pub fn push(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_push(&ctx)
    }
}
