//! The content-addressed step cache. A step's key is blake3 over everything that can change
//! its result (`key.rs`); results live in a local store of blobs and action records written
//! atomically (`store.rs`); input files are found by one walk of the workspace per run and
//! hashed only when their stat changed (`tree.rs`, `index.rs`).
//! Must not run steps (that is `exec`) or print (that is `report`).

mod digest;
mod index;
mod key;
pub mod remote;
mod store;
mod tree;
mod walk;

pub use digest::{Digest, hash_file};
pub use index::FileIndex;
pub use index::Stat;
pub use key::{CACHE_VERSION, Manifest, StepKey, diff_manifests, inputs_digest};
pub use remote::{RemoteCache, RemoteCounters, RemoteError, RemoteSettings, Signing};
pub use store::{
    ActionRecord, CacheStats, LocalStore, OutputEntry, RestoreError, write_atomic as write_memo,
};
pub use tree::{FileEntry, FileTree, GlobMatcher};
