//! `isect cache stats|gc|clean`.

use super::session::Session;
use super::{CacheCommand, GlobalArgs, print_stdout};
use crate::cache::LocalStore;
use crate::error::{Error, ExitStatus, Result};
use crate::report::human_bytes;

/// The shared cache the workspace is configured with, if any.
fn remote_description(session: &Session) -> Option<String> {
    let config = &session.workspace.config.cache;
    crate::cache::RemoteSettings::from_env(config.remote.as_deref(), config.read_only)
        .ok()
        .flatten()
        .and_then(|s| crate::cache::RemoteCache::open(s).ok())
        .map(|r| r.describe())
}

pub(crate) fn cache(global: &GlobalArgs, command: &CacheCommand) -> Result<ExitStatus> {
    let session = Session::open(global)?;
    let dir = session.cache_dir();
    let store = LocalStore::open(&dir)
        .map_err(|e| Error::infra(format!("cannot open the cache folder {}", dir.display()), e))?;
    match command {
        CacheCommand::Stats => {
            let s = store.stats();
            let rate = if s.hits + s.misses > 0 {
                #[allow(clippy::cast_precision_loss)]
                let r = s.hits as f64 * 100.0 / (s.hits + s.misses) as f64;
                format!("{r:.1}%")
            } else {
                "-".into()
            };
            print_stdout(&format!(
                "cache:      {}\nentries:    {} step results, {} manifests\ncontent:    {} blobs, {}\nruns:       {} ({} hits: {} local, {} remote; {} misses; hit rate {rate})\n",
                s.dir,
                s.records,
                s.manifests,
                s.blobs,
                human_bytes(s.blob_bytes),
                s.runs,
                s.hits,
                s.hits.saturating_sub(s.remote_hits),
                s.remote_hits,
                s.misses
            ));
            if let Some(remote) = remote_description(&session) {
                print_stdout(&format!(
                    "remote:     {remote}: {} hits, {} misses, {} errors, {} published\n",
                    s.remote_hits, s.remote_misses, s.remote_errors, s.remote_published
                ));
            }
        }
        CacheCommand::Gc { max_size } => {
            let (records, blobs) = store
                .gc(*max_size)
                .map_err(|e| Error::infra("cache garbage collection failed", e))?;
            let s = store.stats();
            print_stdout(&format!(
                "removed {records} step results and {blobs} blobs; {} in {} blobs remain\n",
                human_bytes(s.blob_bytes),
                s.blobs
            ));
        }
        CacheCommand::Clean => {
            store
                .clean()
                .map_err(|e| Error::infra("cannot clean the cache", e))?;
            print_stdout(&format!("removed every entry of {}\n", dir.display()));
        }
    }
    Ok(ExitStatus::Success)
}
