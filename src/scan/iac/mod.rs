//! Terraform misconfigurations: every `*.tf` under a service folder is parsed with a real
//! HCL parser (hcl-rs / hcl-edit, which keeps byte spans for line numbers), resources are
//! turned into literal values, and the core rules in `rules` run over them.
//!
//! Values are evaluated literally: a string, number, bool, list, object, a heredoc without
//! interpolation and `jsonencode({...})` are known; a variable, a reference to another
//! resource, a function call or an interpolated string is *unknown*, and a rule never
//! reports on an unknown value (it would guess). A file that does not parse fails the scan
//! with its file and line, since an unparseable file would hide its misconfigurations.

mod iam;
mod network;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::edit::Span;
use hcl::edit::structure::{Block, Body, Structure};
use hcl::{Expression, ObjectKey, TemplateExpr, TraversalOperator};

use super::finding::{Finding, Location, ScanReport, Scanner, fingerprint};

pub use rules::{RuleDef, rules};

/// Why the Terraform scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum IacError {
    /// A `.tf` file is not valid HCL.
    #[error(
        "{path}:{line}:{column}: Terraform file does not parse: {message}; fix the syntax \
         (`terraform validate` shows it) so its resources can be checked"
    )]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A file or folder could not be read.
    #[error("{path}: cannot read it: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The folder walk failed (permissions, a broken `.gitignore`).
    #[error("{path}: cannot list Terraform files: {message}")]
    Walk { path: String, message: String },
}

/// A literal value of an attribute; `Unknown` and `Ref` are what cannot be resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Unknown,
    /// A reference such as `aws_s3_bucket.logs.id` or `var.name` (its text).
    Ref(String),
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<Val>),
    Map(Obj),
}

impl Val {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Known (not a variable, a reference or a call).
    pub(crate) fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown | Self::Ref(_))
    }

    /// The items of a list (a single value counts as a list of one, as Terraform's
    /// blocks-as-attributes and IAM `Action = "*"` do).
    pub(crate) fn items(&self) -> Vec<&Val> {
        match self {
            Self::List(items) => items.iter().collect(),
            Self::Null => Vec::new(),
            other => vec![other],
        }
    }

    /// A number or a numeric string (`"22"`), as ports come either way.
    pub(crate) fn as_port(&self) -> Option<u32> {
        match self {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Self::Num(n) if *n >= 0.0 && n.fract() == 0.0 => Some(*n as u32),
            Self::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// An object: a block body or an object expression, with the line of each attribute.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Obj {
    pub fields: BTreeMap<String, Val>,
    pub lines: BTreeMap<String, usize>,
    /// The line the block starts on (0 for an object expression).
    pub line: usize,
}

impl Obj {
    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        self.fields.get(key)
    }

    /// The nested blocks (or list of objects) named `key`; `None` items are `dynamic`
    /// blocks, whose content is unknown.
    pub(crate) fn blocks(&self, key: &str) -> Vec<Option<&Obj>> {
        self.get(key).map_or_else(Vec::new, |v| {
            v.items()
                .into_iter()
                .map(|item| match item {
                    Val::Map(obj) => Some(obj),
                    _ => None,
                })
                .collect()
        })
    }

    /// The line of attribute `key`, else of the block.
    pub(crate) fn line_of(&self, key: &str) -> usize {
        self.lines.get(key).copied().unwrap_or(self.line)
    }
}

/// A `resource` or `data` block of a Terraform file.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// `resource` or `data`.
    pub block: String,
    pub kind: String,
    pub name: String,
    /// Workspace-relative path of the file.
    pub path: String,
    pub body: Obj,
}

impl Resource {
    /// `aws_s3_bucket.logs`, or `data.aws_iam_policy_document.x`.
    pub(crate) fn address(&self) -> String {
        if self.block == "data" {
            format!("data.{}.{}", self.kind, self.name)
        } else {
            format!("{}.{}", self.kind, self.name)
        }
    }
}

/// Scans every `*.tf` file under `root/dir` (honouring `.gitignore`, skipping `.terraform`).
///
/// # Errors
/// A file that does not parse (`IacError::Parse`, with file and line) or cannot be read.
pub fn scan(root: &Path, dir: &str) -> Result<ScanReport, IacError> {
    let mut resources = Vec::new();
    for file in tf_files(root, dir)? {
        let rel = rel_path(root, &file);
        let text = std::fs::read_to_string(&file).map_err(|source| IacError::Io {
            path: rel.clone(),
            source,
        })?;
        resources.extend(parse_file(&text, &rel)?);
    }
    let mut report = ScanReport::new(Scanner::Iac, "isect-iac", env!("CARGO_PKG_VERSION"));
    report.rules = rules().iter().map(|r| r.to_rule()).collect();
    for hit in rules::check_all(&resources) {
        let fp = fingerprint(&[hit.rule.id, &hit.path, &hit.address, &hit.detail]);
        let mut properties = BTreeMap::new();
        properties.insert("resource".into(), serde_json::Value::String(hit.address));
        report.findings.push(Finding {
            rule_id: hit.rule.id.to_string(),
            severity: hit.rule.severity,
            message: hit.message,
            location: Location::line(hit.path, hit.line),
            fingerprint: fp,
            properties,
        });
    }
    // Most services have no Terraform: that is not worth a note in every summary.
    let _ = resources;
    Ok(report)
}

fn tf_files(root: &Path, dir: &str) -> Result<Vec<PathBuf>, IacError> {
    let base = root.join(dir);
    let mut files = Vec::new();
    let walk = ignore::WalkBuilder::new(&base)
        .require_git(false)
        // Downloaded modules and providers are not the service's code.
        .filter_entry(|e| e.file_name() != ".terraform")
        .build();
    for entry in walk {
        let entry = entry.map_err(|e| IacError::Walk {
            path: dir.to_string(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tf") && path.is_file() {
            files.push(path.to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}

fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Parses one file's text into its `resource` and `data` blocks.
pub(crate) fn parse_file(text: &str, rel: &str) -> Result<Vec<Resource>, IacError> {
    let body: Body = text
        .parse()
        .map_err(|e: hcl::edit::parser::Error| IacError::Parse {
            path: rel.to_string(),
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_string(),
        })?;
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    for structure in body.iter() {
        let Structure::Block(block) = structure else {
            continue;
        };
        let ident = block.ident.as_str();
        if (ident == "resource" || ident == "data") && block.labels.len() == 2 {
            out.push(Resource {
                block: ident.to_string(),
                kind: block.labels[0].as_str().to_string(),
                name: block.labels[1].as_str().to_string(),
                path: rel.to_string(),
                body: block_obj(block, &lines),
            });
        }
    }
    Ok(out)
}

/// Byte offset → 1-based line.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    fn line(&self, offset: Option<usize>) -> usize {
        offset.map_or(0, |o| self.0.partition_point(|&start| start <= o))
    }
}

fn block_obj(block: &Block, lines: &LineIndex) -> Obj {
    let mut obj = Obj {
        line: lines.line(block.span().map(|s| s.start)),
        ..Obj::default()
    };
    for structure in block.body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let key = attr.key.as_str().to_string();
                obj.lines
                    .insert(key.clone(), lines.line(attr.span().map(|s| s.start)));
                obj.fields
                    .insert(key, to_val(&Expression::from(attr.value.clone())));
            }
            Structure::Block(nested) => {
                // A `dynamic "ingress"` block's content depends on its `for_each`: unknown.
                let (key, val) = if nested.ident.as_str() == "dynamic" {
                    let label = nested.labels.first().map_or("", |l| l.as_str());
                    (label.to_string(), Val::Unknown)
                } else {
                    (
                        nested.ident.as_str().to_string(),
                        Val::Map(block_obj(nested, lines)),
                    )
                };
                match obj.fields.entry(key) {
                    std::collections::btree_map::Entry::Occupied(mut e) => match e.get_mut() {
                        Val::List(items) => items.push(val),
                        other => *other = Val::List(vec![other.clone(), val]),
                    },
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(Val::List(vec![val]));
                    }
                }
            }
        }
    }
    obj
}

/// Evaluates an expression literally (see the module doc).
pub(crate) fn to_val(expr: &Expression) -> Val {
    match expr {
        Expression::Null => Val::Null,
        Expression::Bool(b) => Val::Bool(*b),
        Expression::Number(n) => n.as_f64().map_or(Val::Unknown, Val::Num),
        Expression::String(s) => Val::Str(s.clone()),
        Expression::Array(items) => Val::List(items.iter().map(to_val).collect()),
        Expression::Object(map) => {
            let mut obj = Obj::default();
            for (key, value) in map {
                let key = match key {
                    ObjectKey::Identifier(id) => id.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    _ => continue,
                };
                obj.fields.insert(key, to_val(value));
            }
            Val::Map(obj)
        }
        Expression::TemplateExpr(t) => {
            let raw = match t.as_ref() {
                TemplateExpr::QuotedString(s) => s.as_str(),
                TemplateExpr::Heredoc(h) => h.template.as_str(),
            };
            if raw.contains("${") || raw.contains("%{") {
                Val::Unknown
            } else {
                Val::Str(raw.to_string())
            }
        }
        Expression::Variable(v) => Val::Ref(v.as_str().to_string()),
        Expression::Traversal(t) => {
            let mut text = match &t.expr {
                Expression::Variable(v) => v.as_str().to_string(),
                _ => return Val::Unknown,
            };
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(id) => {
                        text.push('.');
                        text.push_str(id.as_str());
                    }
                    _ => text.push_str("[*]"),
                }
            }
            Val::Ref(text)
        }
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            // jsonencode's argument is the policy document itself; to*() only convert.
            match (name, call.args.as_slice()) {
                ("jsonencode" | "tolist" | "toset" | "tostring", [arg])
                    if call.name.namespace.is_empty() =>
                {
                    to_val(arg)
                }
                _ => Val::Unknown,
            }
        }
        Expression::Parenthesis(inner) => to_val(inner),
        _ => Val::Unknown,
    }
}

/// A `Val` as JSON, for IAM policy documents; unknown parts become `null`.
pub(crate) fn to_json(val: &Val) -> serde_json::Value {
    match val {
        Val::Unknown | Val::Ref(_) | Val::Null => serde_json::Value::Null,
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Num(n) => serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into),
        Val::Str(s) => serde_json::Value::String(s.clone()),
        Val::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Val::Map(obj) => serde_json::Value::Object(
            obj.fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}
