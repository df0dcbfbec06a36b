//! `scan::*`: the scan stage's steps, one per scanner. Each starts from the workspace's
//! `[scan]` settings (gate, rule file, baseline, database, licence lists), which a script
//! can override per step. Inputs: the service's folder and the libraries it ships, plus the
//! rule and baseline files; the database's identity is added when keys are computed.

use rhai::Map;
use rhai::plugin::*;

use crate::plan::{ScanCheck, StepKind, StepOptions};
use crate::scan::Severity;
use crate::stdlib::context::{self, ServiceInfo, StepHandle};
use crate::stdlib::options;

/// Options every scan function takes besides the common ones.
pub(crate) const SCAN_KEYS: &[&str] = &["fail_on"];

/// The folders a scan reads: the service and the workspace libraries it uses.
fn scanned_dirs(svc: &ServiceInfo) -> Vec<String> {
    std::iter::once(svc.dir.clone())
        .chain(svc.deps.iter().cloned())
        .collect()
}

/// The step: inputs default to the scanned folders (plus `extra_inputs`), and the
/// scanner's reports are its outputs, so a cached scan still leaves its SARIF behind.
fn scan_step(
    svc: &ServiceInfo,
    mut options: StepOptions,
    check: ScanCheck,
    fail_on: Option<Severity>,
    extra_inputs: &[Option<String>],
) -> (String, StepKind, StepOptions) {
    let scanner = check.scanner();
    options
        .inputs
        .extend(extra_inputs.iter().flatten().cloned());
    options
        .outputs
        .push(crate::scan::report_path(&svc.out, scanner));
    let kind = StepKind::Scan {
        check,
        dirs: scanned_dirs(svc),
        fail_on: fail_on.unwrap_or(svc.scan.fail_on),
    };
    (scanner.as_str().to_string(), kind, options)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GateOpts {
    fail_on: Option<Severity>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsOpts {
    fail_on: Option<Severity>,
    rules: Option<String>,
    baseline: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseOpts {
    fail_on: Option<Severity>,
    allow: Option<Vec<String>>,
    deny: Option<Vec<String>>,
}

fn declare_secrets(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<SecretsOpts>(
        ctx,
        "scan::secrets",
        opts,
        &["fail_on", "rules", "baseline"],
    )?;
    let resolve = |p: Option<String>| p.map(|p| options::resolve_path(&svc, &p));
    let rules = resolve(o.rules).or_else(|| svc.scan.secrets.rules.clone());
    let baseline = resolve(o.baseline).or_else(|| svc.scan.secrets.baseline.clone());
    let name = common.name.clone();
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    let check = ScanCheck::Secrets {
        rules: rules.clone(),
        baseline: baseline.clone(),
    };
    let (default_name, kind, step_options) =
        scan_step(&svc, step_options, check, o.fail_on, &[rules, baseline]);
    context::declare(ctx, name.unwrap_or(default_name), kind, step_options)
}

fn declare_deps(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<GateOpts>(ctx, "scan::deps", opts, SCAN_KEYS)?;
    let name = common.name.clone();
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    let check = ScanCheck::Deps {
        vulndb: svc.scan.vulndb.clone(),
        max_age_days: svc.scan.vulndb_max_age_days,
    };
    let (default_name, kind, step_options) = scan_step(&svc, step_options, check, o.fail_on, &[]);
    context::declare(ctx, name.unwrap_or(default_name), kind, step_options)
}

fn declare_sast(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<GateOpts>(ctx, "scan::sast", opts, SCAN_KEYS)?;
    let name = common.name.clone();
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    let check = ScanCheck::Sast {
        language: svc.language.clone(),
    };
    let (default_name, kind, step_options) = scan_step(&svc, step_options, check, o.fail_on, &[]);
    context::declare(ctx, name.unwrap_or(default_name), kind, step_options)
}

fn declare_licenses(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) =
        options::parse::<LicenseOpts>(ctx, "scan::licenses", opts, &["fail_on", "allow", "deny"])?;
    let name = common.name.clone();
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    let check = ScanCheck::Licenses {
        allow: o.allow.unwrap_or_else(|| svc.scan.licenses.allow.clone()),
        deny: o.deny.unwrap_or_else(|| svc.scan.licenses.deny.clone()),
    };
    let (default_name, kind, step_options) = scan_step(&svc, step_options, check, o.fail_on, &[]);
    context::declare(ctx, name.unwrap_or(default_name), kind, step_options)
}

fn declare_iac(ctx: &NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
    let svc = context::current_service()?;
    let (common, o) = options::parse::<GateOpts>(ctx, "scan::iac", opts, SCAN_KEYS)?;
    let name = common.name.clone();
    let step_options = common.into_step_options(&svc, svc.tree_globs());
    let (default_name, kind, step_options) =
        scan_step(&svc, step_options, ScanCheck::Iac, o.fail_on, &[]);
    context::declare(ctx, name.unwrap_or(default_name), kind, step_options)
}

/// The `scan` namespace.
#[export_module]
pub mod module {
    use rhai::{Array, Dynamic, Map};

    use super::{declare_deps, declare_iac, declare_licenses, declare_sast, declare_secrets};
    use crate::stdlib::context::{self, ScriptError, StageSpec, StepHandle};
    use crate::stdlib::options;

    /// Secrets in the service's files: gitleaks-format rules (the built-in set, or
    /// `[scan.secrets] rules`), minus the baseline's accepted fingerprints.
    ///
    /// ```rhai
    /// scan::secrets(#{ fail_on: "medium", baseline: "//security/secrets-baseline.toml" });
    /// ```
    #[rhai_fn(name = "secrets", return_raw)]
    pub fn secrets_with(
        ctx: NativeCallContext,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_secrets(&ctx, opts)
    }

    /// `scan::secrets` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn secrets(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        secrets_with(ctx, Map::new())
    }

    /// Vulnerable dependencies: the service's lockfiles against the OSV database
    /// (`[scan] vulndb`).
    ///
    /// ```rhai
    /// scan::deps(#{ fail_on: "critical" });
    /// ```
    #[rhai_fn(name = "deps", return_raw)]
    pub fn deps_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_deps(&ctx, opts)
    }

    /// `scan::deps` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn deps(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        deps_with(ctx, Map::new())
    }

    /// Static analysis: the language's analyser (`go vet` for Go, bandit for Python) and
    /// isect's own rules (TLS verification off, shell commands built from input, ...).
    ///
    /// ```rhai
    /// scan::sast(#{ fail_on: "medium" });
    /// ```
    #[rhai_fn(name = "sast", return_raw)]
    pub fn sast_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_sast(&ctx, opts)
    }

    /// `scan::sast` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn sast(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        sast_with(ctx, Map::new())
    }

    /// Licences of the service's dependencies against `[scan.licenses]` allow and deny
    /// lists (SPDX identifiers); a script may replace either list.
    ///
    /// ```rhai
    /// scan::licenses(#{ deny: ["AGPL-3.0-only"] });
    /// ```
    #[rhai_fn(name = "licenses", return_raw)]
    pub fn licenses_with(
        ctx: NativeCallContext,
        opts: Map,
    ) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_licenses(&ctx, opts)
    }

    /// `scan::licenses` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn licenses(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        licenses_with(ctx, Map::new())
    }

    /// Terraform misconfigurations: public buckets, 0.0.0.0/0 on admin ports, unencrypted
    /// storage, IAM wildcards.
    ///
    /// ```rhai
    /// scan::iac(#{ fail_on: "medium" });
    /// ```
    #[rhai_fn(name = "iac", return_raw)]
    pub fn iac_with(ctx: NativeCallContext, opts: Map) -> Result<StepHandle, Box<EvalAltResult>> {
        declare_iac(&ctx, opts)
    }

    /// `scan::iac` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn iac(ctx: NativeCallContext) -> Result<StepHandle, Box<EvalAltResult>> {
        iac_with(ctx, Map::new())
    }

    /// Every scanner, as a `scan` stage whose steps run at once. `fail_on` sets every gate;
    /// a scanner's own key takes its options, or `false` to leave it out.
    ///
    /// ```rhai
    /// p.scan = scan::all(#{ fail_on: "high", deps: #{ fail_on: "critical" }, iac: false });
    /// ```
    #[rhai_fn(name = "all", return_raw)]
    pub fn all_with(ctx: NativeCallContext, opts: Map) -> Result<StageSpec, Box<EvalAltResult>> {
        type Declare = fn(&NativeCallContext, Map) -> Result<StepHandle, Box<EvalAltResult>>;
        const SCANNERS: [(&str, Declare); 5] = [
            ("secrets", declare_secrets),
            ("deps", declare_deps),
            ("sast", declare_sast),
            ("licenses", declare_licenses),
            ("iac", declare_iac),
        ];
        let known: Vec<&str> = std::iter::once("fail_on")
            .chain(SCANNERS.iter().map(|(n, _)| *n))
            .collect();
        if let Some(unknown) = opts.keys().find(|k| !known.contains(&k.as_str())) {
            let mut error = ScriptError::new(
                "script::unknown_option",
                format!("scan::all has no option `{unknown}`"),
            )
            .focus(unknown.to_string());
            if let Some(close) = crate::diagnostic::did_you_mean(unknown, known.iter().copied()) {
                error = error.help(format!("did you mean `{close}`?"));
            }
            return Err(options::at_call(&ctx, error.into()));
        }
        let fail_on = opts.get("fail_on").cloned();
        let mut steps = Array::new();
        for (key, declare) in SCANNERS {
            let mut own = match opts.get(key) {
                None => Map::new(),
                Some(v) if v.as_bool() == Ok(false) => continue,
                Some(v) => v.clone().try_cast::<Map>().ok_or_else(|| {
                    options::at_call(
                        &ctx,
                        ScriptError::new(
                            "script::invalid_option",
                            format!("scan::all: `{key}` must be a map of options or `false`"),
                        )
                        .focus(key)
                        .into(),
                    )
                })?,
            };
            if let Some(gate) = &fail_on
                && !own.contains_key("fail_on")
            {
                own.insert("fail_on".into(), gate.clone());
            }
            steps.push(Dynamic::from(declare(&ctx, own)?));
        }
        Ok(StageSpec {
            needs: None,
            part_of: None,
            parallel: true,
            body: steps.into(),
            declared_at: context::call_site(&ctx),
        })
    }

    /// `scan::all` with the workspace's settings.
    #[rhai_fn(return_raw)]
    pub fn all(ctx: NativeCallContext) -> Result<StageSpec, Box<EvalAltResult>> {
        all_with(ctx, Map::new())
    }
}
