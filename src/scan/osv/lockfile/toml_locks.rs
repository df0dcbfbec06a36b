//! poetry.lock and uv.lock: `[[package]]` tables with `name` and `version`, minus the
//! first-party ones (uv's editable, virtual, directory and path sources; poetry's
//! directory and file sources). The line of a package is the line of its `name`.

use serde::Deserialize;
use toml::Spanned;

use super::{Lockfile, line_of, package};
use crate::scan::osv::{DepsError, Ecosystem};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Pkg>,
}

#[derive(Deserialize)]
struct Pkg {
    name: Spanned<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<toml::Table>,
}

fn load(rel: &str, text: &str) -> Result<Lock, DepsError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        DepsError::lockfile(rel, line, format!("not valid TOML: {}", e.message().trim()))
    })
}

pub(super) fn parse_poetry(rel: &str, text: &str, lock: &mut Lockfile) -> Result<(), DepsError> {
    for p in load(rel, text)?.package {
        let kind = p
            .source
            .as_ref()
            .and_then(|s| s.get("type"))
            .and_then(|t| t.as_str());
        if matches!(kind, Some("directory" | "file")) {
            continue;
        }
        push(rel, text, p, lock);
    }
    Ok(())
}

pub(super) fn parse_uv(rel: &str, text: &str, lock: &mut Lockfile) -> Result<(), DepsError> {
    for p in load(rel, text)?.package {
        let first_party = p.source.as_ref().is_some_and(|s| {
            ["editable", "virtual", "directory", "path"]
                .iter()
                .any(|k| s.contains_key(*k))
        });
        if !first_party {
            push(rel, text, p, lock);
        }
    }
    Ok(())
}

fn push(rel: &str, text: &str, p: Pkg, lock: &mut Lockfile) {
    let Some(version) = p.version else { return };
    let line = line_of(text, p.name.span().start);
    lock.packages.push(package(
        Ecosystem::PyPI,
        p.name.get_ref(),
        &version,
        rel,
        line,
    ));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn empty(path: &str) -> Lockfile {
        Lockfile {
            path: path.into(),
            ecosystem: Ecosystem::PyPI,
            packages: vec![],
            notes: vec![],
        }
    }

    fn got(l: &Lockfile) -> Vec<(&str, &str, usize)> {
        l.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.line))
            .collect()
    }

    #[test]
    fn poetry_lock() {
        let text = "[[package]]\nname = \"requests\"\nversion = \"2.30.0\"\ndescription = \"HTTP\"\n\n[[package]]\nname = \"mylib\"\nversion = \"0.1.0\"\n\n[package.source]\ntype = \"directory\"\nurl = \"../libs/mylib\"\n\n[[package]]\nname = \"Jinja2\"\nversion = \"3.1.2\"\n\n[metadata]\nlock-version = \"2.0\"\n";
        let mut l = empty("p/poetry.lock");
        parse_poetry("p/poetry.lock", text, &mut l).unwrap();
        assert_eq!(
            got(&l),
            vec![("requests", "2.30.0", 2), ("Jinja2", "3.1.2", 15)]
        );
    }

    #[test]
    fn uv_lock() {
        let text = "version = 1\nrequires-python = \">=3.11\"\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\n\n[[package]]\nname = \"urllib3\"\nversion = \"1.26.4\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"common\"\nversion = \"0.1.0\"\nsource = { directory = \"../libs/common\" }\n";
        let mut l = empty("u/uv.lock");
        parse_uv("u/uv.lock", text, &mut l).unwrap();
        assert_eq!(got(&l), vec![("urllib3", "1.26.4", 10)]);
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let mut l = empty("u/uv.lock");
        let e = parse_uv(
            "u/uv.lock",
            "version = 1\n\n[[package]]\nname = \"x\nversion = \"1\"\n",
            &mut l,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("u/uv.lock:4: not valid TOML"),
            "{e}"
        );
        let e =
            parse_poetry("u/poetry.lock", "[[package]]\nversion = \"1.0\"\n", &mut l).unwrap_err();
        assert!(
            e.to_string().starts_with("u/poetry.lock:1: not valid TOML"),
            "{e}"
        );
    }
}
