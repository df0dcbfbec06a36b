//! requirements.txt: `name==version` pins (extras, markers after `;` and `--hash`
//! options allowed), `-r` includes followed relative to the including file; editable
//! and local installs are first-party, and anything not pinned with `==` cannot be
//! matched and is counted in a note.

use std::collections::HashSet;
use std::path::Path;

use super::{Lockfile, join_rel, package, read};
use crate::scan::osv::{DepsError, Ecosystem};

pub(super) fn parse(root: &Path, rel: &str) -> Result<Lockfile, DepsError> {
    let mut lock = Lockfile {
        path: rel.to_string(),
        ecosystem: Ecosystem::PyPI,
        packages: Vec::new(),
        notes: Vec::new(),
    };
    let mut unpinned = Vec::new();
    let mut seen = HashSet::new();
    parse_file(root, rel, &mut lock, &mut unpinned, &mut seen)?;
    if !unpinned.is_empty() {
        lock.notes.push(format!(
            "{rel}: {} requirement(s) not pinned with `==` cannot be checked: {}",
            unpinned.len(),
            unpinned.join(", ")
        ));
    }
    Ok(lock)
}

fn parse_file(
    root: &Path,
    rel: &str,
    lock: &mut Lockfile,
    unpinned: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<(), DepsError> {
    if !seen.insert(rel.to_string()) {
        return Ok(()); // an include cycle, or a file included twice
    }
    let text = read(root, rel)?;
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        // a comment is `#` at the start or after whitespace (a URL fragment is not one)
        let cut = raw
            .char_indices()
            .find(|(j, c)| *c == '#' && (*j == 0 || raw[..*j].ends_with(char::is_whitespace)))
            .map_or(raw.len(), |(j, _)| j);
        let content = &raw[..cut];
        if let Some(head) = content.trim_end().strip_suffix('\\') {
            logical.push_str(head);
            logical.push(' ');
            continue;
        }
        logical.push_str(content);
        let line = std::mem::take(&mut logical);
        entry(root, rel, start, line.trim(), lock, unpinned, seen)?;
    }
    if !logical.trim().is_empty() {
        entry(root, rel, start, logical.trim(), lock, unpinned, seen)?;
    }
    Ok(())
}

fn entry(
    root: &Path,
    rel: &str,
    n: usize,
    line: &str,
    lock: &mut Lockfile,
    unpinned: &mut Vec<String>,
    seen: &mut HashSet<String>,
) -> Result<(), DepsError> {
    if line.is_empty() {
        return Ok(());
    }
    if line.starts_with('-') {
        let (opt, value) = line
            .split_once(|c: char| c == '=' || c.is_whitespace())
            .map_or((line, ""), |(o, v)| (o, v.trim()));
        if matches!(opt, "-r" | "--requirement") {
            let Some(inc) = join_rel(rel, value) else {
                return Err(DepsError::lockfile(
                    rel,
                    n,
                    format!("`{value}` is outside the workspace"),
                ));
            };
            if !root.join(&inc).is_file() {
                return Err(DepsError::lockfile(
                    rel,
                    n,
                    format!("included file `{value}` does not exist"),
                ));
            }
            return parse_file(root, &inc, lock, unpinned, seen);
        }
        return Ok(()); // -e (first-party), -c, -i, --index-url, -f, --hash…
    }
    // a local path or an archive is not a registry package
    if line.starts_with(['.', '/']) || (line.contains("://") && !line.contains('@')) {
        return Ok(());
    }
    let req = line.split(';').next().unwrap_or_default();
    let req = req.split(" --").next().unwrap_or_default().trim();
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(req.len());
    let name = &req[..name_end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(DepsError::lockfile(
            rel,
            n,
            format!("`{line}` is not a requirement (expected `name==version`)"),
        ));
    }
    let mut rest = req[name_end..].trim_start();
    if rest.starts_with('[') {
        let Some(close) = rest.find(']') else {
            return Err(DepsError::lockfile(
                rel,
                n,
                format!("unclosed extras in `{line}`"),
            ));
        };
        rest = rest[close + 1..].trim_start();
    }
    let spec: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    let pin = spec
        .strip_prefix("===")
        .or_else(|| spec.strip_prefix("=="))
        .filter(|v| !v.is_empty() && !v.contains([',', '*', '<', '>', '!', '~', '=']));
    match pin {
        Some(version) => lock
            .packages
            .push(package(Ecosystem::PyPI, name, version, rel, n)),
        None => unpinned.push(name.to_string()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pins_includes_and_unpinned() {
        let dir = tempfile::tempdir().unwrap();
        let svc = dir.path().join("svc");
        std::fs::create_dir_all(&svc).unwrap();
        std::fs::write(
            svc.join("requirements.txt"),
            "# comment\n-e ../libs/x\n-r base.txt\nRequests[socks]==2.30.0 ; python_version >= \"3.8\" \\\n    --hash=sha256:abc\nflask>=2.0\njinja2 == 3.1.2  # pinned\n--index-url https://pypi.org/simple\nhttpx @ https://example.com/httpx.whl\nurllib3===1.26.4\n",
        )
        .unwrap();
        std::fs::write(
            svc.join("base.txt"),
            "\n\nPyYAML==5.3.1\n-r requirements.txt\n",
        )
        .unwrap();
        let l = parse(dir.path(), "svc/requirements.txt").unwrap();
        let got: Vec<(&str, &str, &str, usize)> = l
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.file.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("PyYAML", "5.3.1", "svc/base.txt", 3),
                ("Requests", "2.30.0", "svc/requirements.txt", 4),
                ("jinja2", "3.1.2", "svc/requirements.txt", 7),
                ("urllib3", "1.26.4", "svc/requirements.txt", 10),
            ]
        );
        assert_eq!(l.notes.len(), 1);
        assert!(
            l.notes[0].contains("2 requirement(s)") && l.notes[0].contains("flask, httpx"),
            "{:?}",
            l.notes
        );
    }

    #[test]
    fn bad_requirement_and_missing_include_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "ok==1.0\n\n==2.0\n").unwrap();
        let e = parse(dir.path(), "requirements.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("requirements.txt:3: `==2.0` is not a requirement"),
            "{e}"
        );
        std::fs::write(dir.path().join("requirements.txt"), "-r nope.txt\n").unwrap();
        let e = parse(dir.path(), "requirements.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("requirements.txt:1: included file `nope.txt` does not exist"),
            "{e}"
        );
    }
}
