//! Options maps → typed structs at the boundary. The options every step takes (inputs,
//! outputs, env, ...) are split off first; the rest must match the function's own struct,
//! whose `deny_unknown_fields` turns a typo into `script::unknown_option` with a suggestion.

use std::collections::BTreeMap;

use rhai::{Dynamic, EvalAltResult, Map, NativeCallContext};
use serde::de::DeserializeOwned;

use super::context::{ScriptError, ServiceInfo};
use crate::diagnostic::did_you_mean;
use crate::plan::{BackgroundProcess, StepOptions};
use crate::workspace::normalize_rel;

/// Keys every step function accepts.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "processes",
    "name",
    "inputs",
    "outputs",
    "env",
    "pass_env",
    "timeout",
    "cache",
    "side_effects",
];

/// For functions that take only the common options.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoOptions {}

/// The options every step takes, as a script wrote them.
#[derive(Debug, Default)]
pub(crate) struct CommonOptions {
    pub(crate) name: Option<String>,
    pub(crate) inputs: Option<Vec<String>>,
    pub(crate) outputs: Vec<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) pass_env: Vec<String>,
    pub(crate) timeout_secs: Option<u64>,
    pub(crate) cache: bool,
    pub(crate) side_effects: bool,
    pub(crate) processes: Vec<ProcessOpts>,
}

/// One entry of `processes: [...]`, as a script wrote it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessOpts {
    name: String,
    run: String,
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    health: Option<String>,
    ready_timeout: Option<u64>,
}

/// Default seconds to wait for a background process to become healthy.
const READY_TIMEOUT_SECS: u64 = 30;

impl CommonOptions {
    /// The first option set that only a whole step can have (not a command inside one).
    pub(crate) fn step_level_key(&self) -> Option<&'static str> {
        [
            ("name", self.name.is_some()),
            ("inputs", self.inputs.is_some()),
            ("outputs", !self.outputs.is_empty()),
            ("pass_env", !self.pass_env.is_empty()),
            ("cache", !self.cache),
            ("side_effects", self.side_effects),
            ("processes", !self.processes.is_empty()),
        ]
        .into_iter()
        .find_map(|(key, set)| set.then_some(key))
    }

    /// Resolves globs against the service folder into `StepOptions`; `default_inputs` when
    /// the script named none.
    pub(crate) fn into_step_options(
        self,
        svc: &ServiceInfo,
        default_inputs: Vec<String>,
    ) -> StepOptions {
        StepOptions {
            inputs: self
                .inputs
                .map_or(default_inputs, |globs| resolve_globs(svc, &globs)),
            go_module: None,
            outputs: resolve_globs(svc, &self.outputs),
            env: self.env,
            pass_env: self.pass_env,
            timeout_secs: self.timeout_secs,
            cache: self.cache,
            side_effects: self.side_effects,
            processes: self
                .processes
                .into_iter()
                .map(|p| BackgroundProcess {
                    name: p.name,
                    run: p.run,
                    cwd: p
                        .cwd
                        .map_or_else(|| svc.dir.clone(), |c| resolve_path(svc, &c)),
                    env: p.env,
                    health: p.health,
                    ready_timeout_secs: p.ready_timeout.unwrap_or(READY_TIMEOUT_SECS),
                })
                .collect(),
        }
    }
}

/// Service-relative globs → workspace-relative; `//x` is already workspace-relative.
pub(crate) fn resolve_globs(svc: &ServiceInfo, globs: &[String]) -> Vec<String> {
    globs.iter().map(|g| resolve_path(svc, g)).collect()
}

/// A service-relative path or glob → workspace-relative.
pub(crate) fn resolve_path(svc: &ServiceInfo, path: &str) -> String {
    if let Some(rooted) = path.strip_prefix("//") {
        return normalize_rel(rooted).unwrap_or_else(|| rooted.to_string());
    }
    let joined = format!("{}/{}", svc.dir, path);
    normalize_rel(&joined).unwrap_or(joined)
}

/// Splits `map` into the common options and a typed `T` for the rest.
pub(crate) fn parse<T: DeserializeOwned>(
    ctx: &NativeCallContext,
    function: &str,
    map: Map,
    own_keys: &[&str],
) -> Result<(CommonOptions, T), Box<EvalAltResult>> {
    parse_options(function, map, own_keys).map_err(|e| at_call(ctx, e))
}

/// Gives an error raised inside a native function the position of the call; rhai leaves it
/// empty when the function is called from a closure invoked through a function pointer.
pub(crate) fn at_call(ctx: &NativeCallContext, mut err: Box<EvalAltResult>) -> Box<EvalAltResult> {
    if err.position().is_none() {
        err.set_position(ctx.call_position());
    }
    err
}

fn parse_options<T: DeserializeOwned>(
    function: &str,
    map: Map,
    own_keys: &[&str],
) -> Result<(CommonOptions, T), Box<EvalAltResult>> {
    let mut own = Map::new();
    let mut common = CommonOptions {
        cache: true,
        ..CommonOptions::default()
    };
    for (key, value) in map {
        match key.as_str() {
            "name" => common.name = Some(string(function, &key, value)?),
            "inputs" => common.inputs = Some(strings(function, &key, value)?),
            "outputs" => common.outputs = strings(function, &key, value)?,
            "pass_env" => common.pass_env = strings(function, &key, value)?,
            "env" => common.env = string_map(function, &key, value)?,
            "timeout" => common.timeout_secs = Some(duration_secs(function, value)?),
            "cache" => common.cache = boolean(function, &key, value)?,
            "side_effects" => common.side_effects = boolean(function, &key, value)?,
            "processes" => {
                common.processes = rhai::serde::from_dynamic(&value).map_err(|e| {
                    let text = e.to_string();
                    Box::<EvalAltResult>::from(
                        ScriptError::new(
                            "script::invalid_option",
                            format!(
                                "option `processes` of `{function}`: {}",
                                text.split(" (line ").next().unwrap_or(&text)
                            ),
                        )
                        .help("each process is #{ name, run, cwd, env, health, ready_timeout }"),
                    )
                })?;
            }
            _ => {
                own.insert(key, value);
            }
        }
    }
    let typed = typed(function, own, own_keys)?;
    Ok((common, typed))
}

/// Parses `map` into `T`, with `script::unknown_option` / `script::invalid_option` errors.
pub(crate) fn typed<T: DeserializeOwned>(
    function: &str,
    map: Map,
    own_keys: &[&str],
) -> Result<T, Box<EvalAltResult>> {
    rhai::serde::from_dynamic::<T>(&Dynamic::from_map(map))
        .map_err(|err| option_error(function, &err, own_keys))
}

fn option_error(function: &str, err: &EvalAltResult, own_keys: &[&str]) -> Box<EvalAltResult> {
    let text = err.to_string();
    let text = text.split(" (line ").next().unwrap_or(&text).to_string();
    let mut valid: Vec<&str> = own_keys.iter().chain(COMMON_KEYS).copied().collect();
    valid.sort_unstable();
    if let Some(field) = text
        .split("unknown field `")
        .nth(1)
        .and_then(|s| s.split('`').next())
    {
        let mut error = ScriptError::new(
            "script::unknown_option",
            format!("unknown option `{field}` for `{function}`"),
        )
        .help(format!("valid options: {}", valid.join(", ")))
        .focus(field);
        if let Some(close) = did_you_mean(field, valid.iter().copied()) {
            error = error.label(format!("did you mean `{close}`?"));
        }
        return error.into();
    }
    ScriptError::new(
        "script::invalid_option",
        format!("invalid options for `{function}`: {text}"),
    )
    .help(format!("valid options: {}", valid.join(", ")))
    .into()
}

fn invalid(function: &str, key: &str, expected: &str, value: &Dynamic) -> Box<EvalAltResult> {
    ScriptError::new(
        "script::invalid_option",
        format!(
            "option `{key}` of `{function}` must be {expected}, not {}",
            value.type_name()
        ),
    )
    .into()
}

fn string(function: &str, key: &str, value: Dynamic) -> Result<String, Box<EvalAltResult>> {
    value
        .clone()
        .into_string()
        .map_err(|_| invalid(function, key, "a string", &value))
}

fn boolean(function: &str, key: &str, value: Dynamic) -> Result<bool, Box<EvalAltResult>> {
    value
        .as_bool()
        .map_err(|_| invalid(function, key, "true or false", &value))
}

/// An array of strings (a single string is accepted as a one-element array).
pub(crate) fn strings(
    function: &str,
    key: &str,
    value: Dynamic,
) -> Result<Vec<String>, Box<EvalAltResult>> {
    if value.is_string() {
        return Ok(vec![value.into_string().unwrap_or_default()]);
    }
    let Some(array) = value.clone().try_cast::<rhai::Array>() else {
        return Err(invalid(function, key, "an array of strings", &value));
    };
    array
        .into_iter()
        .map(|item| string(function, key, item))
        .collect()
}

fn string_map(
    function: &str,
    key: &str,
    value: Dynamic,
) -> Result<BTreeMap<String, String>, Box<EvalAltResult>> {
    let Some(map) = value.clone().try_cast::<Map>() else {
        return Err(invalid(function, key, "a map of strings", &value));
    };
    map.into_iter()
        .map(|(k, v)| Ok((k.to_string(), v.to_string())))
        .collect()
}

/// Seconds, from a number or a string like `90s`, `5m`, `1h`.
pub(crate) fn duration_secs(function: &str, value: Dynamic) -> Result<u64, Box<EvalAltResult>> {
    if let Ok(n) = value.as_int() {
        return u64::try_from(n)
            .map_err(|_| invalid(function, "timeout", "a positive number of seconds", &value));
    }
    if let Ok(f) = value.as_float()
        && f > 0.0
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(f.ceil() as u64);
    }
    if let Some(text) = value
        .clone()
        .into_string()
        .ok()
        .and_then(|s| parse_duration(&s))
    {
        return Ok(text);
    }
    Err(invalid(
        function,
        "timeout",
        "seconds or a duration like \"90s\", \"5m\", \"1h\"",
        &value,
    ))
}

/// `90`, `90s`, `5m`, `1h` → seconds.
#[must_use]
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => Some(n * 60),
        "h" => Some(n * 3600),
        _ => None,
    }
}
