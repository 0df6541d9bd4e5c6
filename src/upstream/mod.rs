//! Upstream indexes cached through a group: pages, files, the name guard and the cache.
//!
//! A top-level group may name upstream indexes. Its group index (and its subgroups') answers a
//! name that no project under it ever published, and no rule keeps, from those upstreams:
//! pages cached and revalidated (`pages`), files fetched once, verified and kept (`files`).
//! That rule, not client flags, is what defeats dependency confusion.

pub mod eviction;
pub mod fetch;
pub mod files;
pub mod pages;
pub mod parse;
pub mod rules;
pub mod view;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::{Error, Result};

/// Page and metadata requests under way at once; more wait their turn. Each runs on a thread
/// of its own, never on the blocking pool the database work shares: a slow or hung upstream
/// must not slow down anyone's index pages. Each ends within its timeout.
const MAX_FETCHES: usize = 32;
/// File downloads under way at once. A download lasts as long as bytes keep coming, so
/// downloads have slots of their own and can never keep pages waiting.
const MAX_DOWNLOADS: usize = 128;
/// File downloads one top-level group's upstreams may have under way at once: an upstream that
/// trickles bytes forever holds its slots, and must not hold every group's.
const MAX_GROUP_DOWNLOADS: usize = 16;
/// The header naming the Wheelhouse servers an upstream request came through, this one's
/// instance added. A group whose upstream leads back to this server (its own index, another
/// group's, or through other Wheelhouses) would otherwise ask itself again and again, each
/// asking holding a slot, until every slot is taken; a request that has been here already
/// never goes upstream.
pub const VIA_HEADER: &str = "wheelhouse-via";
/// More hops than this is taken for a loop too.
const MAX_HOPS: usize = 8;
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
    /// Pages and metadata (bounded in time).
    fetch_slots: Arc<Semaphore>,
    /// File downloads (bounded only by the idle timeout), overall and per top-level group.
    download_slots: Arc<Semaphore>,
    group_download_slots: std::sync::Mutex<std::collections::HashMap<i64, Arc<Semaphore>>>,
    /// This process's name in [`VIA_HEADER`]: random, so that it says nothing of the server.
    instance: String,
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
            download_slots: Arc::new(Semaphore::new(MAX_DOWNLOADS)),
            group_download_slots: Default::default(),
            resting: Default::default(),
            instance: instance_id(),
        }
    }

    /// The [`VIA_HEADER`] to send upstream for a request that arrived with `incoming`; `None`
    /// when that request came through this server already (a loop) or through too many.
    pub fn via(&self, incoming: Option<&str>) -> Option<String> {
        let mut hops: Vec<&str> = incoming
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        if hops.len() >= MAX_HOPS || hops.contains(&self.instance.as_str()) {
            return None;
        }
        hops.push(&self.instance);
        Some(hops.join(", "))
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

    /// A download slot for an upstream of the top-level group `group_id`: one of the group's
    /// own, then one of all; both held until the download ends.
    async fn download_slot(
        &self,
        group_id: i64,
    ) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let group_slots = self
            .group_download_slots
            .lock()
            .expect("download slots poisoned")
            .entry(group_id)
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_GROUP_DOWNLOADS)))
            .clone();
        let group = group_slots.acquire_owned().await.map_err(Error::internal)?;
        let all = self
            .download_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        Ok((group, all))
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

/// 64 random bits in hex (a clock reading if the OS has no randomness: it need only differ
/// between servers that ask each other).
fn instance_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = (crate::db::now_millis() as u64).to_le_bytes();
    }
    hex::encode(bytes)
}

/// Starts upstream work on a thread of its own, holding `slot` (its permits) until the work
/// ends, even if the request that started it has gone.
fn spawn_fetch<S: Send + 'static>(slot: S, work: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name("upstream-fetch".into())
        .spawn(move || {
            let _slot = slot;
            work();
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_came_through_here_never_goes_upstream_again() {
        let (here, there) = (
            Upstreams::new(1, None, false),
            Upstreams::new(1, None, false),
        );
        let first = here.via(None).unwrap();
        assert_eq!(first, here.instance);
        let onward = there.via(Some(&first)).unwrap();
        assert_eq!(onward, format!("{}, {}", here.instance, there.instance));
        assert_eq!(here.via(Some(&onward)), None, "a loop through two servers");
        assert_eq!(here.via(Some(&first)), None, "a loop through one");
        let long = ["x"; MAX_HOPS].join(", ");
        assert_eq!(there.via(Some(&long)), None, "too many hops");
    }
}
