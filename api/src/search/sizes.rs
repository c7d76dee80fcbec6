//! Workspace sizes the vector search counted, kept for a minute. The size
//! only chooses the plan (exact scan up to a cap, HNSW above it), and
//! counting a workspace's chunks up to the cap read one index entry per
//! chunk on every search: about a tenth of a 1,000-row VECTOR search's
//! statement, and more the larger the workspace. A size up to a minute
//! old can pick the other plan: a workspace that just grew past the cap is
//! still scanned exactly (slower, still exact), one that deletions just
//! took below it is still searched through the index (the recall of a
//! large workspace).

use std::{
    num::NonZeroUsize,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// How long a counted size is used.
pub const TTL: Duration = Duration::from_secs(60);
/// Workspaces remembered at most (about 64 bytes each), least recently
/// searched forgotten first.
pub const CAPACITY: usize = 10_000;

/// Counted sizes by workspace id. Only workspaces the caller could read are
/// ever counted (the search statement counts after row-level security found
/// the workspace), and a size is used only after the same check.
pub struct WorkspaceSizes {
    sizes: Mutex<lru::LruCache<Uuid, (i64, Instant)>>,
    ttl: Duration,
}

impl Default for WorkspaceSizes {
    fn default() -> Self {
        Self::new(NonZeroUsize::new(CAPACITY).expect("capacity"), TTL)
    }
}

impl WorkspaceSizes {
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        Self {
            sizes: Mutex::new(lru::LruCache::new(capacity)),
            ttl,
        }
    }

    /// The workspace's size when counted less than [`TTL`] ago.
    pub fn get(&self, workspace_id: Uuid) -> Option<i64> {
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        match sizes.get(&workspace_id) {
            Some((size, at)) if at.elapsed() < self.ttl => Some(*size),
            Some(_) => {
                sizes.pop(&workspace_id);
                None
            }
            None => None,
        }
    }

    /// Remembers a size the search statement just counted.
    pub fn put(&self, workspace_id: Uuid, size: i64) {
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        sizes.put(workspace_id, (size, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_is_used_until_it_expires() {
        let ws = Uuid::now_v7();
        let fresh = WorkspaceSizes::default();
        assert_eq!(fresh.get(ws), None);
        fresh.put(ws, 1_000);
        assert_eq!(fresh.get(ws), Some(1_000));
        fresh.put(ws, 10_001);
        assert_eq!(fresh.get(ws), Some(10_001));

        let expired = WorkspaceSizes::new(NonZeroUsize::new(4).expect("4"), Duration::ZERO);
        expired.put(ws, 1_000);
        assert_eq!(expired.get(ws), None);
    }

    #[test]
    fn the_least_recently_searched_is_forgotten_first() {
        let sizes = WorkspaceSizes::new(NonZeroUsize::new(2).expect("2"), TTL);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        sizes.put(a, 1);
        sizes.put(b, 2);
        assert_eq!(sizes.get(a), Some(1));
        sizes.put(c, 3);
        assert_eq!((sizes.get(a), sizes.get(b), sizes.get(c)), (Some(1), None, Some(3)));
    }
}
