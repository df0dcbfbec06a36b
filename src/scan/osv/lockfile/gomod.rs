//! go.mod (Go ≥ 1.17 lists every module the build needs, indirect ones included):
//! `require` lines and blocks, with `replace` applied (a local path makes the module
//! first-party, so it is skipped; another module version is matched instead).

use super::{Lockfile, package};
use crate::scan::osv::{DepsError, Ecosystem};

/// A `replace` directive: `old [v] => new [v]`.
struct Replace {
    old: String,
    old_version: Option<String>,
    new: String,
    new_version: Option<String>,
}

pub(super) fn parse(rel: &str, text: &str, lock: &mut Lockfile) -> Result<(), DepsError> {
    let mut requires: Vec<(String, String, usize)> = Vec::new();
    let mut replaces: Vec<Replace> = Vec::new();
    let mut block: Option<(String, usize)> = None;
    let mut go_version: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split("//").next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (verb, args) = match &block {
            Some(_) if line == ")" => {
                block = None;
                continue;
            }
            Some((verb, _)) => (verb.clone(), line),
            None => {
                let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some((verb.to_string(), n));
                    continue;
                }
                (verb.to_string(), rest)
            }
        };
        let fields: Vec<&str> = args
            .split_whitespace()
            .map(|f| f.trim_matches('"'))
            .collect();
        match verb.as_str() {
            "module" | "toolchain" | "exclude" | "retract" | "godebug" | "tool" | "ignore" => {}
            "go" => go_version = fields.first().map(|s| (*s).to_string()),
            "require" => match fields.as_slice() {
                [path, version] if version.starts_with('v') => {
                    requires.push(((*path).to_string(), (*version).to_string(), n));
                }
                _ => {
                    return Err(DepsError::lockfile(
                        rel,
                        n,
                        format!("expected `require <module> <vX.Y.Z>`, found `{args}`"),
                    ));
                }
            },
            "replace" => {
                let Some(arrow) = fields.iter().position(|f| *f == "=>") else {
                    return Err(DepsError::lockfile(
                        rel,
                        n,
                        format!("expected `replace <module> => <target>`, found `{args}`"),
                    ));
                };
                let (left, right) = fields.split_at(arrow);
                let right = &right[1..];
                if left.is_empty() || left.len() > 2 || right.is_empty() || right.len() > 2 {
                    return Err(DepsError::lockfile(
                        rel,
                        n,
                        format!(
                            "expected `replace <module> [version] => <target> [version]`, found `{args}`"
                        ),
                    ));
                }
                let r = Replace {
                    old: left[0].to_string(),
                    old_version: left.get(1).map(|v| (*v).to_string()),
                    new: right[0].to_string(),
                    new_version: right.get(1).map(|v| (*v).to_string()),
                };
                replaces.push(r);
            }
            other => {
                return Err(DepsError::lockfile(
                    rel,
                    n,
                    format!("unknown go.mod directive `{other}`"),
                ));
            }
        }
    }
    if let Some((verb, n)) = block {
        return Err(DepsError::lockfile(
            rel,
            n,
            format!("`{verb} (` block is never closed"),
        ));
    }
    if let Some(v) = &go_version
        && crate::scan::osv::version::compare(Ecosystem::Go, v, "1.17") == std::cmp::Ordering::Less
    {
        lock.notes.push(format!(
            "{rel} declares go {v}: before Go 1.17 go.mod does not list indirect dependencies, so they are not checked"
        ));
    }
    for (path, version, line) in requires {
        // a versioned replace wins over a blanket one, as in the go command
        let r = replaces
            .iter()
            .find(|r| r.old == path && r.old_version.as_deref() == Some(version.as_str()))
            .or_else(|| {
                replaces
                    .iter()
                    .find(|r| r.old == path && r.old_version.is_none())
            });
        match r {
            Some(r) if r.new_version.is_none() => {} // a local folder: first-party code
            Some(r) => {
                let nv = r.new_version.as_deref().unwrap_or_default();
                lock.packages
                    .push(package(Ecosystem::Go, &r.new, nv, rel, line));
            }
            None => lock
                .packages
                .push(package(Ecosystem::Go, &path, &version, rel, line)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lock(text: &str) -> Result<Lockfile, DepsError> {
        let mut l = Lockfile {
            path: "s/go.mod".into(),
            ecosystem: Ecosystem::Go,
            packages: vec![],
            notes: vec![],
        };
        parse("s/go.mod", text, &mut l).map(|()| l)
    }

    #[test]
    fn requires_replaces_and_lines() {
        let l = lock(
            "module example.com/s\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/net v0.7.0 // indirect\n\tgolang.org/x/text v0.3.2\n\texample.com/lib v0.0.0\n\tgithub.com/old/mod v1.0.0\n)\n\nrequire golang.org/x/crypto v0.0.0-20220112180741-5e0467b6c7ce\n\nreplace example.com/lib => ../lib\nreplace github.com/old/mod v1.0.0 => github.com/new/mod v1.2.0\n",
        )
        .unwrap();
        let got: Vec<(&str, &str, usize)> = l
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("golang.org/x/net", "v0.7.0", 6),
                ("golang.org/x/text", "v0.3.2", 7),
                ("github.com/new/mod", "v1.2.0", 9),
                (
                    "golang.org/x/crypto",
                    "v0.0.0-20220112180741-5e0467b6c7ce",
                    12
                ),
            ]
        );
        assert!(l.notes.is_empty());
        assert_eq!(lock("module m\ngo 1.16\n").unwrap().notes.len(), 1);
    }

    #[test]
    fn malformed_go_mod_names_the_line() {
        let e = lock("module m\n\nrequire (\n\tgolang.org/x/net\n)\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s/go.mod:4: expected `require"), "{e}");
        let e = lock("module m\nrequire (\n\ta v1.0.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s/go.mod:2: `require (` block is never closed"),
            "{e}"
        );
        let e = lock("module m\nfrobnicate x\n").unwrap_err().to_string();
        assert!(e.starts_with("s/go.mod:2: unknown go.mod directive"), "{e}");
    }
}
