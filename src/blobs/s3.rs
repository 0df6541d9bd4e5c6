//! Blobs as objects in an S3-compatible bucket (`PREFIX/sha256/ab/cd/abcd…`), through the
//! `object_store` crate on a small tokio runtime of its own, so blocking callers (the request
//! handlers' blocking pool, the CLI) and async ones (downloads) share one client.

use std::future::Future;
use std::io;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use sha2::{Digest, Sha256};

use super::Sha256Hex;
use crate::config::StorageConfig;

/// Parts of a multipart upload: S3's 5 MiB minimum. Each part in flight costs about twice
/// its size (the part and the HTTP client's copy of it), so with one uploading while the next
/// is read a 96 MiB upload peaked ~20 MiB above idle (8 MiB parts: 28-44 MiB).
const PART: usize = 5 << 20;
const PARTS_IN_FLIGHT: usize = 2;
/// How long a readiness probe's answer about the bucket is reused.
const PROBE_KEPT_FOR: Duration = Duration::from_secs(5);
/// How long a presigned download URL stays valid.
const PRESIGNED_FOR: Duration = Duration::from_secs(300);

/// An object-storage failure, told apart from local I/O so requests answer 503 naming it.
#[derive(Debug, thiserror::Error)]
#[error("object storage: {0}")]
pub struct StorageError(pub String);

fn storage_error(err: impl std::fmt::Display) -> io::Error {
    io::Error::other(StorageError(err.to_string()))
}

fn not_found(err: &object_store::Error) -> bool {
    matches!(err, object_store::Error::NotFound { .. })
}

/// The runtime is shut down in the background when dropped: dropping a runtime inside another
/// one's async context (the server's) would panic.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub struct S3Blobs {
    store: Arc<AmazonS3>,
    prefix: String,
    runtime: Runtime,
    pub redirect_downloads: bool,
    description: String,
    /// The last readiness probe of the bucket: when, and what it found (see [`S3Blobs::probe`]).
    last_probe: tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
    /// Room for uploads streaming to the bucket at once ([`S3Blobs::start_streaming`]).
    streams: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Object metadata: what `HEAD` says.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub size: u64,
    pub modified: SystemTime,
}

impl S3Blobs {
    /// Builds the client: the standard AWS variables first, then what the config says.
    pub fn open(config: &StorageConfig) -> io::Result<S3Blobs> {
        // reqwest's rustls is built without a provider of its own; ring is ours. A second
        // install (another store in the same process) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bucket = config
            .bucket
            .as_deref()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| io::Error::other("storage: kind = \"s3\" needs a bucket"))?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120))
                    .with_allow_http(true),
            )
            // A storage outage answers within seconds rather than after minutes of retries.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(15),
                ..Default::default()
            });
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        builder = builder.with_virtual_hosted_style_request(!config.path_style);
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(storage_error)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3")
            .enable_all()
            .build()?;
        let prefix = config.prefix.trim_matches('/').to_string();
        Ok(S3Blobs {
            last_probe: tokio::sync::Mutex::new(None),
            streams: Arc::new(tokio::sync::Semaphore::new(STREAMS_AT_ONCE)),
            store: Arc::new(store),
            description: format!(
                "s3://{bucket}/{prefix} at {}",
                config.endpoint.as_deref().unwrap_or("AWS")
            ),
            prefix,
            runtime: Runtime(Some(runtime)),
            redirect_downloads: config.redirect_downloads,
        })
    }

    pub fn describe(&self) -> &str {
        &self.description
    }

    fn under_prefix(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    pub fn key(&self, sha256: &Sha256Hex) -> Path {
        let hex = sha256.as_str();
        self.under_prefix(&format!("sha256/{}/{}/{hex}", &hex[0..2], &hex[2..4]))
    }

    /// Runs a future on the store's runtime and waits for it; callable from any thread that
    /// may block (never from an async task of the server).
    fn block<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .expect("the storage runtime runs until the store is dropped")
    }

    fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .0
            .as_ref()
            .expect("present until dropped")
            .spawn(fut)
    }

    /// `HEAD`: `None` when there is no such object.
    pub fn head(&self, sha256: &Sha256Hex) -> io::Result<Option<ObjectInfo>> {
        let (store, key) = (self.store.clone(), self.key(sha256));
        self.block(async move { head(&store, &key).await })
    }

    /// `HEAD` of several blobs at once (one round trip of time under the write lock).
    pub fn head_many(&self, shas: &[Sha256Hex]) -> io::Result<Vec<Option<ObjectInfo>>> {
        let store = self.store.clone();
        let keys: Vec<Path> = shas.iter().map(|sha| self.key(sha)).collect();
        self.block(async move {
            futures_util::future::join_all(keys.iter().map(|key| head(&store, key)))
                .await
                .into_iter()
                .collect()
        })
    }

    /// Whether the bucket answers with these credentials: a `HEAD` of a key nobody writes,
    /// where "no such object" is the healthy answer. Readiness asks this; the answer is kept
    /// for [`PROBE_KEPT_FOR`], so a prober hammering `/-/readiness` cannot turn each of its
    /// requests into a (billed) request to the bucket.
    pub async fn probe(&self) -> Result<(), String> {
        let mut last = self.last_probe.lock().await;
        if let Some((at, found)) = last.as_ref()
            && at.elapsed() < PROBE_KEPT_FOR
        {
            return found.clone();
        }
        let (store, key) = (self.store.clone(), self.under_prefix("readiness-probe"));
        let found = match self.spawn(async move { head(&store, &key).await }).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        *last = Some((std::time::Instant::now(), found.clone()));
        found
    }

    /// `HEAD` from async code (downloads).
    pub async fn head_async(&self, sha256: &Sha256Hex) -> io::Result<Option<ObjectInfo>> {
        let (store, key) = (self.store.clone(), self.key(sha256));
        self.spawn(async move { head(&store, &key).await })
            .await
            .map_err(storage_error)?
    }

    /// Uploads a local file under the blob's key: one PUT when small, else a multipart upload
    /// read in parts, at most [`PARTS_IN_FLIGHT`] in memory. A failed multipart upload is
    /// aborted, so it leaves no object (and no parts billed).
    pub fn put_file(&self, file: &FsPath, sha256: &Sha256Hex) -> io::Result<()> {
        let (store, key, file) = (self.store.clone(), self.key(sha256), file.to_path_buf());
        self.block(async move { put_file(&store, &key, &file).await })
    }

    /// Starts uploading an upload's bytes under the key of the digest its client claimed,
    /// while the client is still sending them (see [`StreamingPut`]); `None` when
    /// [`STREAMS_AT_ONCE`] already run (that upload is sent from the spool after its checks,
    /// so many slow clients cannot pin a part buffer each).
    pub fn start_streaming(&self, claimed: &Sha256Hex) -> Option<StreamingPut> {
        let room = self.streams.clone().try_acquire_owned().ok()?;
        let (chunks, received) = tokio::sync::mpsc::channel(STREAMED_CHUNKS_QUEUED);
        let (decision, decided) = tokio::sync::oneshot::channel();
        let (store, key) = (self.store.clone(), self.key(claimed));
        let outcome = self.spawn(async move {
            // The room is held until the upload is completed or aborted.
            let _room = room;
            stream_put(store, key, received, decided).await
        });
        Some(StreamingPut {
            claimed: claimed.clone(),
            chunks: Some(chunks),
            decision: Some(decision),
            outcome: Some(outcome),
        })
    }

    /// Completes a streamed upload if `sha256` (the digest of the spooled bytes) is the one it
    /// streamed under; `false` (and the upload aborted) otherwise or if it failed, and the
    /// caller uploads from the spool.
    pub fn finish_streaming(&self, mut put: StreamingPut, sha256: &Sha256Hex) -> bool {
        // The upload refuses a false claim before it stages; the store checks again rather
        // than trust its caller with what ends up under a digest's key.
        if put.claimed != *sha256 {
            return false;
        }
        put.chunks.take();
        let complete = put.decision.take().is_some_and(|d| d.send(true).is_ok());
        let outcome = put.outcome.take().expect("taken once");
        match self.block(outcome) {
            Ok(Ok(())) => complete,
            Ok(Err(e)) => {
                tracing::warn!("streaming an upload to {} failed: {e}", self.description);
                false
            }
            Err(_) => false,
        }
    }

    /// Streams the object's bytes through SHA-256: its digest and size as stored now.
    pub fn verify(&self, sha256: &Sha256Hex) -> io::Result<(Sha256Hex, u64)> {
        let (store, key) = (self.store.clone(), self.key(sha256));
        self.block(async move {
            let got = store.get(&key).await.map_err(|e| {
                if not_found(&e) {
                    io::Error::new(io::ErrorKind::NotFound, "no such object")
                } else {
                    storage_error(e)
                }
            })?;
            let mut stream = got.into_stream();
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(storage_error)?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
            }
            Ok((Sha256Hex(hex::encode(hasher.finalize())), size))
        })
    }

    /// Writes the object to a local file (not synced: callers that keep it sync it).
    pub fn get_to_file(&self, sha256: &Sha256Hex, target: &FsPath) -> io::Result<()> {
        let (store, key, target) = (self.store.clone(), self.key(sha256), target.to_path_buf());
        self.block(async move {
            let got = store.get(&key).await.map_err(storage_error)?;
            let mut stream = got.into_stream();
            let mut file = tokio::fs::File::create(&target).await?;
            while let Some(chunk) = stream.next().await {
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk.map_err(storage_error)?)
                    .await?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await
        })
    }

    /// Every blob in the bucket under the prefix, with its time of upload.
    pub fn list(&self) -> io::Result<Vec<(Sha256Hex, SystemTime)>> {
        let (store, prefix) = (self.store.clone(), self.under_prefix("sha256"));
        self.block(async move {
            let mut found = Vec::new();
            let mut listing = store.list(Some(&prefix));
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(storage_error)?;
                if let Some(sha) = meta.location.filename().and_then(Sha256Hex::parse) {
                    found.push((sha, SystemTime::from(meta.last_modified)));
                }
            }
            Ok(found)
        })
    }

    /// Deletes the object; a missing one is not an error.
    pub fn delete(&self, sha256: &Sha256Hex) -> io::Result<()> {
        let (store, key) = (self.store.clone(), self.key(sha256));
        self.block(async move {
            match store.delete(&key).await {
                Err(e) if !not_found(&e) => Err(storage_error(e)),
                _ => Ok(()),
            }
        })
    }

    /// Moves the object to `PREFIX/quarantine/SHA256`, out of service but kept; returns where.
    pub fn quarantine(&self, sha256: &Sha256Hex) -> io::Result<String> {
        let (store, from) = (self.store.clone(), self.key(sha256));
        let to = self.under_prefix(&format!("quarantine/{}", sha256.as_str()));
        let shown = to.to_string();
        self.block(async move {
            store.copy(&from, &to).await.map_err(storage_error)?;
            store.delete(&from).await.map_err(storage_error)
        })?;
        Ok(shown)
    }

    /// Whether a quarantined copy of the blob is kept.
    pub fn quarantined(&self, sha256: &Sha256Hex) -> io::Result<bool> {
        let store = self.store.clone();
        let key = self.under_prefix(&format!("quarantine/{}", sha256.as_str()));
        self.block(async move { head(&store, &key).await.map(|o| o.is_some()) })
    }

    /// A short-lived URL that lets its holder GET the object without credentials.
    pub async fn presigned_url(&self, sha256: &Sha256Hex) -> io::Result<String> {
        let (store, key) = (self.store.clone(), self.key(sha256));
        self.spawn(async move {
            store
                .signed_url(reqwest::Method::GET, &key, PRESIGNED_FOR)
                .await
                .map(|url| url.to_string())
                .map_err(storage_error)
        })
        .await
        .map_err(storage_error)?
    }

    /// The whole object in one `GET`: its size and date once the bucket has answered, then its
    /// bytes as a stream (`None` when there is no such object). A download without a `Range`
    /// takes this instead of `HEAD` + `GET`: one round trip to the bucket per file, which is
    /// most of an install's time on a slow bucket. The bytes are read by a task on the store's
    /// runtime into a small channel, as [`S3Blobs::stream`] does.
    pub async fn get_whole(
        &self,
        sha256: &Sha256Hex,
    ) -> io::Result<
        Option<(
            ObjectInfo,
            impl futures_util::Stream<Item = io::Result<Bytes>> + 'static,
        )>,
    > {
        let (store, key) = (self.store.clone(), self.key(sha256));
        let (answered, answer) = tokio::sync::oneshot::channel::<io::Result<Option<ObjectInfo>>>();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        self.spawn(async move {
            let got = match store.get_opts(&key, GetOptions::default()).await {
                Ok(got) => got,
                Err(e) if not_found(&e) => return drop(answered.send(Ok(None))),
                Err(e) => return drop(answered.send(Err(storage_error(e)))),
            };
            let info = ObjectInfo {
                size: got.meta.size,
                modified: SystemTime::from(got.meta.last_modified),
            };
            if answered.send(Ok(Some(info))).is_err() {
                return;
            }
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let failed = chunk.is_err();
                if tx.send(chunk.map_err(storage_error)).await.is_err() || failed {
                    return;
                }
            }
        });
        let Some(info) = answer.await.map_err(storage_error)?? else {
            return Ok(None);
        };
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(Some((info, body)))
    }

    /// The bytes `[start, end)` of the object as a stream. The object is read by a task on the
    /// store's runtime into a small channel, so the HTTP response (on the server's runtime)
    /// holds a few chunks at most; the task starts at the first poll (a HEAD never polls).
    pub fn stream(
        &self,
        sha256: &Sha256Hex,
        (start, end): (u64, u64),
        length: u64,
    ) -> impl futures_util::Stream<Item = io::Result<Bytes>> + 'static {
        let (store, key) = (self.store.clone(), self.key(sha256));
        let handle = self.runtime.0.as_ref().expect("present").handle().clone();
        let start_reading = move || {
            let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
            handle.spawn(async move {
                // The whole object is asked for without a Range: some servers (rclone) answer
                // a range that covers everything with 200, which the client takes for an error.
                let whole = start == 0 && end == length;
                let options = GetOptions {
                    range: (!whole).then_some(GetRange::Bounded(start..end)),
                    ..Default::default()
                };
                let mut stream = match store.get_opts(&key, options).await {
                    Ok(got) => got.into_stream(),
                    Err(e) => {
                        let _ = tx.send(Err(storage_error(e))).await;
                        return;
                    }
                };
                while let Some(chunk) = stream.next().await {
                    let failed = chunk.is_err();
                    if tx.send(chunk.map_err(storage_error)).await.is_err() || failed {
                        return;
                    }
                }
            });
            rx
        };
        futures_util::stream::unfold(
            (Some(start_reading), None),
            |(start_reading, rx)| async move {
                let mut rx = match (start_reading, rx) {
                    (Some(start_reading), _) => start_reading(),
                    (None, Some(rx)) => rx,
                    (None, None) => return None,
                };
                rx.recv().await.map(|item| (item, (None, Some(rx))))
            },
        )
    }
}

/// An upload to the bucket that runs while the client is still sending, so the upload's time
/// is the longer of the transfer and the PUT rather than their sum. The bytes go to the key of
/// the digest the client claimed (twine and uv send `sha256_digest` before the file) as a
/// multipart upload, completed only after the spooled file was verified to have that digest
/// and accepted, and aborted otherwise: an incomplete multipart upload is never an object, so
/// a lying or refused upload leaves nothing behind, and an existing object is never touched.
pub struct StreamingPut {
    claimed: Sha256Hex,
    chunks: Option<tokio::sync::mpsc::Sender<Bytes>>,
    decision: Option<tokio::sync::oneshot::Sender<bool>>,
    outcome: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl StreamingPut {
    /// Hands a chunk to the upload, waiting while its parts in flight are full (the client is
    /// slowed to the bucket's pace). `false` once the upload has failed, or when the bucket
    /// took no chunk for [`STREAM_STALL`]: the caller then drops it and spools on alone.
    pub async fn send(&mut self, chunk: Bytes) -> bool {
        match &self.chunks {
            Some(chunks) => matches!(
                tokio::time::timeout(STREAM_STALL, chunks.send(chunk)).await,
                Ok(Ok(()))
            ),
            None => false,
        }
    }
}

impl Drop for StreamingPut {
    /// Not finished: the upload is aborted in the background.
    fn drop(&mut self) {
        self.chunks.take();
        if let Some(decision) = self.decision.take() {
            let _ = decision.send(false);
        }
    }
}

/// Chunks (the HTTP body's, tens of KiB each) queued between the request and the upload.
const STREAMED_CHUNKS_QUEUED: usize = 16;
/// Uploads streaming to the bucket at once: each holds up to three 5 MiB parts.
const STREAMS_AT_ONCE: usize = 4;
/// How long a streamed upload may hold the client back before it is given up.
const STREAM_STALL: Duration = Duration::from_secs(10);

async fn stream_put(
    store: Arc<AmazonS3>,
    key: Path,
    mut chunks: tokio::sync::mpsc::Receiver<Bytes>,
    decided: tokio::sync::oneshot::Receiver<bool>,
) -> io::Result<()> {
    let mut writer = WriteMultipart::new_with_chunk_size(
        store.put_multipart(&key).await.map_err(storage_error)?,
        PART,
    );
    let mut failed = None;
    while let Some(chunk) = chunks.recv().await {
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            // The sender sees the closed queue and falls back to uploading from the spool.
            failed = Some(storage_error(e));
            chunks.close();
            break;
        }
        writer.write(&chunk);
    }
    match (failed, decided.await) {
        (None, Ok(true)) => writer.finish().await.map(|_| ()).map_err(storage_error),
        (failed, _) => {
            if let Err(e) = writer.abort().await {
                // Its parts stay in the bucket until a lifecycle rule removes them (README).
                tracing::warn!("cannot abort a streamed upload to {key}: {e}");
            }
            Err(failed.unwrap_or_else(|| io::Error::other("the streamed upload was abandoned")))
        }
    }
}

async fn head(store: &AmazonS3, key: &Path) -> io::Result<Option<ObjectInfo>> {
    match store.head(key).await {
        Ok(meta) => Ok(Some(ObjectInfo {
            size: meta.size,
            modified: SystemTime::from(meta.last_modified),
        })),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(storage_error(e)),
    }
}

async fn put_file(store: &AmazonS3, key: &Path, file: &FsPath) -> io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(file).await?;
    let size = file.metadata().await?.len();
    if size <= PART as u64 {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await?;
        store
            .put(key, PutPayload::from(bytes))
            .await
            .map_err(storage_error)?;
        return Ok(());
    }
    let upload = store.put_multipart(key).await.map_err(storage_error)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
    let result: io::Result<()> = async {
        loop {
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(storage_error)?;
            let mut part = vec![0u8; PART];
            let mut filled = 0;
            while filled < PART {
                let n = file.read(&mut part[filled..]).await?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                return Ok(());
            }
            part.truncate(filled);
            writer.put(Bytes::from(part));
        }
    }
    .await;
    match result {
        Ok(()) => writer.finish().await.map(|_| ()).map_err(storage_error),
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}
