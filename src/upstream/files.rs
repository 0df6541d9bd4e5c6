//! Upstream files: fetched once per upstream and digest (single flight), verified against the
//! digest the upstream listed, stored like uploads, and streamed to every waiting client meanwhile.
//!
//! The fetch writes a temporary blob; each client reads that file as it grows. The last byte
//! is released only after the whole file matched the listed sha256, so no client ever receives
//! a complete file that fails: a bad one ends every response short (its length unmet).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use actix_web::web::{self, Bytes};
use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::Upstreams;
use super::fetch::Failure;
use super::rules::{NameDecision, NameRules};
use crate::blobs::{BlobStore, Sha256Hex};
use crate::db::upstreams::{self as store, FileRow, Upstream};
use crate::db::{Db, now_millis};
use crate::error::{Error, Result};

/// Reads of the growing file, as large as the download route's.
const CHUNK: u64 = 1 << 20;
/// Core metadata files are small; a larger one is refused.
const MAX_METADATA_BYTES: u64 = 16 << 20;
/// Metadata must arrive whole within this: it is fetched in a slot shared with pages.
const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Last use is written at most this often per blob (each write is a database commit).
const TOUCH_EVERY_MS: i64 = 3_600_000;

/// A file (or its metadata) that the group index links to and an upstream of its top-level
/// group lists, under a name the guard lets through.
#[derive(Debug)]
pub struct FilePlan {
    pub upstream: Upstream,
    pub file: FileRow,
    /// The blob to serve: the file's sha256, or its metadata's.
    pub blob: Sha256Hex,
    pub wants_metadata: bool,
    /// Whether the blob is held, and when it was last used.
    pub last_used_at: Option<i64>,
    /// The [`super::VIA_HEADER`] the upstream is sent (set by the caller that fetches).
    pub via: String,
}

/// Finds what `…/files/SHA256/FILENAME` of the group `group_id` means upstream, if anything.
/// The guard is asked again: a name published after its upstream page was cached stays private.
pub fn plan(
    conn: &Connection,
    blobs: &BlobStore,
    group_id: i64,
    sha256: &str,
    filename: &str,
    wants_metadata: bool,
) -> Result<Option<FilePlan>> {
    let root_id = store::root_of(conn, group_id)?;
    let Some((upstream, name, file)) = store::find_listed_file(conn, root_id, sha256, filename)?
    else {
        return Ok(None);
    };
    let rules = NameRules::new(store::list_rules(conn, root_id)?);
    if store::is_published(conn, root_id, &name)? || rules.decide(&name) != NameDecision::Upstream {
        return Ok(None);
    }
    let blob = if wants_metadata {
        file.metadata_sha256.as_deref()
    } else {
        Some(file.sha256.as_str())
    };
    let Some(blob) = blob.and_then(Sha256Hex::parse) else {
        return Ok(None);
    };
    let last_used_at = store::blob_cached(conn, blob.as_str())?.filter(|_| blobs.exists(&blob));
    Ok(Some(FilePlan {
        upstream,
        file,
        blob,
        wants_metadata,
        last_used_at,
        via: String::new(),
    }))
}

/// How a fetch is going, as every client reading it sees.
#[derive(Debug, Clone)]
enum Progress {
    Connecting,
    Receiving { written: u64, length: Option<u64> },
    Done { size: u64 },
    Failed(String),
}

/// One fetch in flight: the growing file and its progress.
struct Transfer {
    file: File,
    progress: watch::Receiver<Progress>,
}

/// The fetches in flight, by upstream and blob digest.
#[derive(Default, Clone)]
pub struct InFlight(Arc<Mutex<HashMap<String, Arc<Transfer>>>>);

impl InFlight {
    fn join(&self, key: &str) -> Option<Arc<Transfer>> {
        self.0
            .lock()
            .expect("in-flight map poisoned")
            .get(key)
            .cloned()
    }

    /// Registers a new fetch, unless one for the key is under way already. The entry leaves
    /// the map when the returned guard drops, whatever way the fetch ends (a panic included),
    /// so a dead fetch can never be joined.
    fn start(&self, key: &str, transfer: Arc<Transfer>) -> Option<InFlightEntry> {
        let mut map = self.0.lock().expect("in-flight map poisoned");
        if map.contains_key(key) {
            return None;
        }
        map.insert(key.to_string(), transfer);
        Some(InFlightEntry {
            map: self.clone(),
            key: key.to_string(),
        })
    }
}

struct InFlightEntry {
    map: InFlight,
    key: String,
}

impl Drop for InFlightEntry {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.0.lock() {
            map.remove(&self.key);
        }
    }
}

/// A download under way: its length if known, and the bytes as they are verified.
pub struct Streaming {
    pub length: Option<u64>,
    pub body: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = std::result::Result<Bytes, actix_web::Error>>>,
    >,
}

impl Upstreams {
    /// Marks a held blob used, at most once an hour.
    pub async fn touch(&self, db: &Db, plan: &FilePlan) -> Result<()> {
        let now = now_millis();
        if plan
            .last_used_at
            .is_some_and(|at| now - at < TOUCH_EVERY_MS)
        {
            return Ok(());
        }
        let blob = plan.blob.as_str().to_string();
        db.run(move |conn| store::touch_blob(conn, &blob, now))
            .await
    }

    /// Fetches a file not held yet, joining the fetch already under way for the same digest from the same upstream.
    pub async fn fetch_file(
        &self,
        db: &Db,
        blobs: &BlobStore,
        plan: FilePlan,
    ) -> Result<Streaming> {
        // Joined only through the same upstream: another group's upstream listing the same
        // digest may lie or stall, and its failure must not become this request's.
        let key = format!("{}:{}", plan.upstream.id, plan.blob.as_str());
        let transfer = match self.inflight.join(&key) {
            Some(transfer) => transfer,
            None => {
                let slot = self.download_slot(plan.upstream.group_id).await?;
                let temp = blobs.temp_file()?;
                let file = File::open(temp.path())?;
                let (sender, progress) = watch::channel(Progress::Connecting);
                let transfer = Arc::new(Transfer { file, progress });
                // Another request may have started the same fetch while this one waited.
                let Some(entry) = self.inflight.start(&key, transfer.clone()) else {
                    return Box::pin(self.fetch_file(db, blobs, plan)).await;
                };
                let job = Job {
                    client: self.client.clone(),
                    db: db.clone(),
                    blobs: blobs.clone(),
                    max_bytes: self.max_file_bytes,
                    cache_max_bytes: self.cache_max_bytes,
                    sender,
                };
                super::spawn_fetch(slot, move || job.run(plan, temp, entry))?;
                transfer
            }
        };
        let mut progress = transfer.progress.clone();
        let length = loop {
            match progress.borrow_and_update().clone() {
                Progress::Connecting => {}
                Progress::Receiving { length, .. } => break length,
                Progress::Done { size } => break Some(size),
                Progress::Failed(reason) => return Err(Error::bad_gateway(reason)),
            }
            if progress.changed().await.is_err() {
                return Err(Error::internal("an upstream fetch ended without a word"));
            }
        };
        Ok(Streaming {
            length,
            body: Box::pin(read_growing(transfer, progress)),
        })
    }

    /// The metadata of a file, fetched whole and verified (it is small), then held.
    pub async fn fetch_metadata(
        &self,
        db: &Db,
        blobs: &BlobStore,
        plan: FilePlan,
    ) -> Result<Vec<u8>> {
        let client = self.client.clone();
        let url = format!("{}.metadata", plan.file.url);
        let (upstream, via) = (plan.upstream.clone(), plan.via.clone());
        let bytes = self
            .off_pool(move || -> std::result::Result<Vec<u8>, Failure> {
                let (body, _) = client.open(&upstream, &url, Some(METADATA_TIMEOUT), &via)?;
                let mut bytes = Vec::new();
                body.take(MAX_METADATA_BYTES + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| {
                        Failure::other(format!("upstream {} broke off {url}: {e}", upstream.url))
                    })?;
                if bytes.len() as u64 > MAX_METADATA_BYTES {
                    return Err(Failure::other(format!(
                        "upstream {} sent metadata over 16 MiB",
                        upstream.url
                    )));
                }
                Ok(bytes)
            })
            .await?
            .map_err(|failure| Error::bad_gateway(failure.reason))?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != plan.blob.as_str() {
            return Err(Error::bad_gateway(format!(
                "upstream {} sent metadata for {} whose sha256 is {actual}, not the {} it listed",
                plan.upstream.url,
                plan.file.filename,
                plan.blob.as_str()
            )));
        }
        let (blobs, held) = (blobs.clone(), bytes.clone());
        db.run_pooled(move |db| {
            let (temp, sha) = blobs.stage_bytes(&held)?;
            let mut conn = db.get()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            blobs.persist(&tx, temp, &sha)?;
            store::record_blob(&tx, sha.as_str(), held.len() as i64, now_millis())?;
            tx.commit()?;
            Ok(())
        })
        .await?;
        Ok(bytes)
    }
}

/// The fetch itself, on a thread of its own: reading the upstream is blocking I/O that may
/// last minutes for a large file.
struct Job {
    client: super::fetch::Client,
    db: Db,
    blobs: BlobStore,
    max_bytes: u64,
    cache_max_bytes: Option<u64>,
    sender: watch::Sender<Progress>,
}

impl Job {
    fn run(self, plan: FilePlan, temp: crate::blobs::TempBlob, entry: InFlightEntry) {
        let outcome = self.fetch(&plan, temp);
        // Out of the map first: a client arriving from now on finds the blob held (or fetches
        // anew after a failure); one that joined before still sees the final progress.
        drop(entry);
        match outcome {
            Ok(size) => {
                self.sender.send_replace(Progress::Done { size });
                if let Err(e) = super::eviction::evict(&self.db, &self.blobs, self.cache_max_bytes)
                {
                    tracing::warn!("cannot evict upstream files past the cache size: {e}");
                }
            }
            Err(reason) => {
                tracing::warn!("{reason}");
                self.sender.send_replace(Progress::Failed(reason));
            }
        }
    }

    fn fetch(
        &self,
        plan: &FilePlan,
        mut temp: crate::blobs::TempBlob,
    ) -> std::result::Result<u64, String> {
        let (upstream, file) = (&plan.upstream, &plan.file);
        let said = |what: String| format!("upstream {} {what}", upstream.url);
        let (mut body, length) = self
            .client
            .open(upstream, &file.url, None, &plan.via)
            .map_err(|f| f.reason)?;
        let listed = file.size.and_then(|s| u64::try_from(s).ok());
        if let (Some(listed), Some(length)) = (listed, length)
            && listed != length
        {
            return Err(said(format!(
                "sends {} as {length} bytes but listed {listed}",
                file.filename
            )));
        }
        let length = length.or(listed);
        if length.is_some_and(|l| l > self.max_bytes) {
            return Err(said(format!(
                "lists {} larger than the upload limit of {} bytes",
                file.filename, self.max_bytes
            )));
        }
        self.sender
            .send_replace(Progress::Receiving { written: 0, length });
        let mut buf = vec![0u8; 256 * 1024];
        let mut written = 0u64;
        loop {
            let n = body
                .read(&mut buf)
                .map_err(|e| said(format!("broke off {}: {e}", file.filename)))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > self.max_bytes || length.is_some_and(|l| written > l) {
                return Err(said(format!("sent {} longer than it said", file.filename)));
            }
            temp.write_chunk(&buf[..n])
                .map_err(|e| format!("cannot keep {}: {e}", file.filename))?;
            self.sender
                .send_replace(Progress::Receiving { written, length });
        }
        if length.is_some_and(|l| written != l) {
            return Err(said(format!("sent {} shorter than it said", file.filename)));
        }
        let digests = temp.digests();
        if digests.sha256 != plan.blob {
            return Err(said(format!(
                "sent {} with sha256 {}, not the {} it listed; not kept",
                file.filename,
                digests.sha256.as_str(),
                plan.blob.as_str()
            )));
        }
        // On S3 the upload to the bucket happens here, outside the write lock.
        self.blobs
            .stage(&mut temp, &plan.blob)
            .map_err(|e| format!("cannot keep {}: {e}", file.filename))?;
        let keep = || -> Result<()> {
            let mut conn = self.db.get()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            self.blobs.persist(&tx, temp, &plan.blob)?;
            store::record_blob(&tx, plan.blob.as_str(), written as i64, now_millis())?;
            tx.commit()?;
            Ok(())
        };
        keep().map_err(|e| format!("cannot keep {}: {e}", file.filename))?;
        Ok(written)
    }
}

/// The bytes of a transfer as they become safe to send: all but the last while the fetch runs,
/// the rest once it is verified; an error (the connection cut short) if it fails.
fn read_growing(
    transfer: Arc<Transfer>,
    progress: watch::Receiver<Progress>,
) -> impl futures_util::Stream<Item = std::result::Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(
        (transfer, progress, 0u64),
        |(transfer, mut progress, offset)| async move {
            // After an error the stream is over.
            if offset == u64::MAX {
                return None;
            }
            loop {
                let state = progress.borrow_and_update().clone();
                let limit = match &state {
                    Progress::Connecting => 0,
                    Progress::Receiving { written, .. } => written.saturating_sub(1),
                    Progress::Done { size } => *size,
                    Progress::Failed(reason) => {
                        let error = actix_web::error::ErrorBadGateway(reason.clone());
                        return Some((Err(error), (transfer, progress, u64::MAX)));
                    }
                };
                if offset < limit {
                    let want = (limit - offset).min(CHUNK) as usize;
                    let reader = transfer.clone();
                    let read = web::block(move || {
                        let mut buf = vec![0u8; want];
                        let n = reader.file.read_at(&mut buf, offset)?;
                        buf.truncate(n);
                        Ok::<_, std::io::Error>(buf)
                    })
                    .await;
                    return match read {
                        Ok(Ok(buf)) if !buf.is_empty() => {
                            let next = offset + buf.len() as u64;
                            Some((Ok(Bytes::from(buf)), (transfer, progress, next)))
                        }
                        _ => {
                            let error = actix_web::error::ErrorInternalServerError(
                                "the fetched file could not be read",
                            );
                            Some((Err(error), (transfer, progress, u64::MAX)))
                        }
                    };
                }
                if matches!(state, Progress::Done { .. }) {
                    return None;
                }
                if progress.changed().await.is_err() {
                    let error = actix_web::error::ErrorBadGateway("the upstream fetch stopped");
                    return Some((Err(error), (transfer, progress, u64::MAX)));
                }
            }
        },
    )
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
