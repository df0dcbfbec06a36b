//! The workspace walk: every file under the folders a run's steps can read, with its stat,
//! on all cores. Folders are listed with getdents (their type comes with the listing), files
//! are stat'ed once. `.gitignore` files are honoured, including those above a walk root;
//! dot-folders, `node_modules`, `__pycache__` and `target` are never entered.
//! Written for speed: a no-op run is mostly this walk (see bench/).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::index::Stat;
use super::tree::FileEntry;
use crate::workspace::skip_dir;

/// The .gitignore files in force in a folder, nearest last.
type Rules = Arc<Vec<Arc<Gitignore>>>;

struct Job {
    /// Absolute folder.
    dir: PathBuf,
    /// Workspace-relative folder (`""` for the root).
    rel: String,
    rules: Rules,
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Jobs taken and not finished: when zero and the queue is empty, the walk is over.
    busy: usize,
}

/// Walks the folders `roots` (workspace-relative; `""` is the whole workspace; a root that
/// is a file is stat'ed alone). Roots inside other roots are walked once, so no file comes
/// twice. The files come nearly sorted by path: in runs, one per folder.
pub(crate) fn walk(root: &Path, roots: &[String]) -> std::io::Result<Vec<FileEntry>> {
    let mut roots: Vec<String> = roots
        .iter()
        .map(|r| r.trim_end_matches('/').to_string())
        .collect();
    roots.sort();
    roots.dedup();
    let roots: Vec<String> = roots
        .iter()
        .filter(|r| {
            !roots.iter().any(|other| {
                other != *r && (other.is_empty() || r.starts_with(&format!("{other}/")))
            })
        })
        .cloned()
        .collect();

    let mut files = Vec::new();
    let mut jobs = VecDeque::new();
    for rel in roots {
        let abs = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&rel)
        };
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            continue;
        };
        let rules = rules_above(root, &rel);
        if ignored(&rules, &abs, meta.is_dir()) || rel.split('/').any(skip_dir) {
            continue;
        }
        if meta.is_dir() {
            jobs.push_back(Job {
                dir: abs,
                rel,
                rules,
            });
        } else if meta.is_file() {
            files.push(FileEntry {
                rel: Arc::from(rel),
                stat: Stat::of(&meta),
            });
        }
    }
    let queue = Arc::new((Mutex::new(Queue { jobs, busy: 0 }), Condvar::new()));
    let found = Mutex::new(vec![files]);
    let threads = crate::cores().clamp(1, 8);
    std::thread::scope(|scope| {
        // The calling thread walks too: one thread fewer to start and wake.
        for _ in 1..threads {
            let (queue, found) = (queue.clone(), &found);
            scope.spawn(move || worker(&queue, found));
        }
        worker(&queue, &found);
    });
    let mut chunks = found
        .into_inner()
        .map_err(|_| std::io::Error::other("a walker thread panicked"))?;
    // Each chunk is one folder's files, sorted; in the order of their first paths, they make
    // a list that is sorted but where a folder's files and its sub-folders' interleave.
    chunks.retain(|c| !c.is_empty());
    chunks.sort_unstable_by(|a, b| a[0].rel.cmp(&b[0].rel));
    Ok(chunks.into_iter().flatten().collect())
}

fn worker(queue: &(Mutex<Queue>, Condvar), found: &Mutex<Vec<Vec<FileEntry>>>) {
    let (lock, wake) = queue;
    let mut local = Vec::new();
    loop {
        let job = {
            let Ok(mut q) = lock.lock() else { return };
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    q.busy += 1;
                    break Some(job);
                }
                if q.busy == 0 {
                    break None;
                }
                q = match wake.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        let Some(job) = job else { break };
        let mut files = Vec::new();
        let children = list(&job, &mut files);
        if !files.is_empty() {
            local.push(files);
        }
        // Wake the others only when there is work for them, or the walk is over.
        let wake_others = match lock.lock() {
            Ok(mut q) => {
                q.busy -= 1;
                let new_work = !children.is_empty();
                q.jobs.extend(children);
                new_work || (q.busy == 0 && q.jobs.is_empty())
            }
            Err(_) => true,
        };
        if wake_others {
            wake.notify_all();
        }
    }
    wake.notify_all();
    if let Ok(mut f) = found.lock() {
        f.append(&mut local);
    }
}

/// Lists one folder: files go to `out` sorted by name, sub-folders are returned as jobs.
fn list(job: &Job, out: &mut Vec<FileEntry>) -> Vec<Job> {
    let Ok(read) = std::fs::read_dir(&job.dir) else {
        return Vec::new();
    };
    let entries: Vec<std::fs::DirEntry> = read.filter_map(Result::ok).collect();
    let rules = if entries.iter().any(|e| e.file_name() == ".gitignore") {
        let mut chain = (*job.rules).clone();
        if let Some(gitignore) = load(&job.dir) {
            chain.push(Arc::new(gitignore));
        }
        Arc::new(chain)
    } else {
        job.rules.clone()
    };
    let mut subdirs = Vec::new();
    // One buffer for every path of the folder: a file costs one allocation, its `Arc<str>`.
    let mut rel = job.rel.clone();
    if !rel.is_empty() {
        rel.push('/');
    }
    let base = rel.len();
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        rel.truncate(base);
        rel.push_str(name);
        // Most folders have no .gitignore in force: then no absolute path is built.
        let is_ignored = |is_dir| !rules.is_empty() && ignored(&rules, &entry.path(), is_dir);
        if kind.is_dir() {
            if !skip_dir(name) && !is_ignored(true) {
                subdirs.push(Job {
                    dir: entry.path(),
                    rel: rel.clone(),
                    rules: rules.clone(),
                });
            }
        } else if kind.is_file()
            && !is_ignored(false)
            && let Ok(meta) = entry.metadata()
        {
            out.push(FileEntry {
                rel: Arc::from(rel.as_str()),
                stat: Stat::of(&meta),
            });
        }
    }
    out.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    subdirs
}

fn load(dir: &Path) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(dir);
    builder.add(dir.join(".gitignore"));
    builder.build().ok()
}

/// The .gitignore files from the workspace root down to the parent of `rel`.
fn rules_above(root: &Path, rel: &str) -> Rules {
    let mut chain = Vec::new();
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    for index in 0..parts.len() {
        if dir.join(".gitignore").is_file()
            && let Some(gitignore) = load(&dir)
        {
            chain.push(Arc::new(gitignore));
        }
        if index + 1 < parts.len() {
            dir.push(parts[index]);
        }
    }
    Arc::new(chain)
}

/// Whether the nearest .gitignore that has an opinion ignores `path`.
fn ignored(rules: &Rules, path: &Path, is_dir: bool) -> bool {
    for gitignore in rules.iter().rev() {
        match gitignore.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}
