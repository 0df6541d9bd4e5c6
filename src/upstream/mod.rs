//! Upstream indexes cached through a group: pages, files, the name guard and the cache.
//!
//! A top-level group may name upstream indexes. Its group index (and its subgroups') answers a
//! name that no project under it ever published, and no rule keeps, from those upstreams:
//! pages cached and revalidated (`pages`), files fetched once, verified and kept (`files`).
//! That rule, not client flags, is what defeats dependency confusion.

pub mod fetch;
pub mod files;
pub mod pages;
pub mod parse;
pub mod rules;
pub mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::blobs::BlobStore;
use crate::db::Db;
use crate::error::{Error, Result};

/// Upstream requests (pages, metadata, file downloads) under way at once; more wait their turn.
/// Each runs on a thread of its own, never on the blocking pool the database work shares: a
/// slow or hung upstream must not slow down anyone's index pages.
const MAX_FETCHES: usize = 32;
/// How long an upstream that failed is left alone before it is asked again.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The upstream side of the server: one HTTP client, the fetches in flight, the limits.
pub struct Upstreams {
    client: fetch::Client,
    inflight: files::InFlight,
    /// A file larger than this (the upload limit) is refused.
    max_file_bytes: u64,
    /// Upstream bytes held beyond this are evicted, least recently used first.
    cache_max_bytes: Option<u64>,
    fetch_slots: Arc<Semaphore>,
    /// Upstreams whose last request failed, and until when they are not asked again.
    resting: std::sync::Mutex<std::collections::HashMap<i64, Instant>>,
}

impl Upstreams {
    pub fn new(
        max_file_bytes: u64,
        cache_max_bytes: Option<u64>,
        allow_private_networks: bool,
    ) -> Upstreams {
        Upstreams {
            client: fetch::Client::new(allow_private_networks, max_file_bytes),
            inflight: Default::default(),
            max_file_bytes,
            cache_max_bytes,
            fetch_slots: Arc::new(Semaphore::new(MAX_FETCHES)),
            resting: Default::default(),
        }
    }

    /// Whether the upstream failed within the last [`REST_AFTER_FAILURE`]: while it rests,
    /// pages are answered from the cache at once instead of each waiting out a timeout.
    fn is_resting(&self, upstream_id: i64) -> bool {
        let mut resting = self.resting.lock().expect("resting map poisoned");
        match resting.get(&upstream_id) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                resting.remove(&upstream_id);
                false
            }
            None => false,
        }
    }

    fn rest(&self, upstream_id: i64) {
        let until = Instant::now() + REST_AFTER_FAILURE;
        self.resting
            .lock()
            .expect("resting map poisoned")
            .insert(upstream_id, until);
    }

    /// Waits for one of the [`MAX_FETCHES`] slots.
    async fn fetch_slot(&self) -> Result<OwnedSemaphorePermit> {
        self.fetch_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)
    }

    /// Runs blocking upstream work on a thread of its own once a fetch slot is free.
    async fn off_pool<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slot = self.fetch_slot().await?;
        let (sender, receiver) = oneshot::channel();
        spawn_fetch(slot, move || {
            let _ = sender.send(work());
        })?;
        receiver
            .await
            .map_err(|_| Error::internal("an upstream fetch thread stopped"))
    }
}

/// Starts upstream work on a thread of its own, holding `slot` until the work ends, even if
/// the request that started it has gone.
fn spawn_fetch(slot: OwnedSemaphorePermit, work: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name("upstream-fetch".into())
        .spawn(move || {
            let _slot = slot;
            work();
        })?;
    Ok(())
}

/// Keeps the upstream cache within its size, if it has one (after each fetch, and in `gc`).
pub fn evict(db: &Db, blobs: &BlobStore, max_bytes: Option<u64>) -> Result<usize> {
    match max_bytes {
        Some(max) => files::evict_to(&mut *db.get()?, blobs, max),
        None => Ok(0),
    }
}
