//! Content-addressed package files: in DATA/blobs (the default) or in an S3-compatible bucket.
//!
//! A blob is shared by every file row (of any project) with the same bytes, so whether it may
//! go is decided against all of them, and that decision must not race an upload of the same
//! bytes elsewhere. Two rules, followed by every caller, make it race-free:
//! 1. a blob is put in place (renamed into `blobs/`, or found there; on S3: found by a `HEAD`,
//!    or uploaded again) only inside the IMMEDIATE transaction that commits the row referring
//!    to it, before that commit ([`BlobStore::persist`]);
//! 2. a blob is unlinked only inside an IMMEDIATE transaction that has just seen no row refer
//!    to it ([`BlobStore::remove`]).
//!
//! An IMMEDIATE transaction holds SQLite's one write lock (across processes too: a CLI `gc` or
//! `delete` beside the server), so such sections never overlap. An unlink therefore comes
//! either before an upload's section (which then finds the blob gone and puts its own copy
//! in) or after the upload's commit (and then sees the new row and keeps the blob): no committed
//! row ever points at a blob that is gone. Both take `&Transaction` as a witness of the lock.
//!
//! A backup copies the blobs its database snapshot names after taking the snapshot, while
//! deletes go on; a third rule keeps them there:
//! 3. while a backup holds DATA/backup.lock (an exclusive `flock`, taken before its snapshot),
//!    no blob is unlinked: [`BlobStore::remove`] leaves it for `gc`. The backup takes its hold,
//!    then waits for the write lock once (so an unlink decided before the hold has committed
//!    before the snapshot), then takes the snapshot.
//!
//! Temporary files are locked by their [`TempBlob`] while it lives, and `gc` removes only
//! unlocked ones, so no grace period is needed to spare an upload in progress.
//!
//! On S3 a large upload is sent to its key before the lock ([`BlobStore::stage`]), so the
//! lock is held for a `HEAD`, not for the transfer; content addressing makes the early copy
//! harmless: it is either the one the row then refers to, or garbage that `gc` (or the failed
//! upload itself, see `registry::upload`) removes under rule 2. Temporary files (the upload
//! spool) are always local, in DATA/tmp.

mod local;
pub mod s3;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rusqlite::Transaction;

pub use local::{BackupHold, LocalBlobs, TempBlob};
pub use s3::S3Blobs;

use crate::config::{StorageConfig, StorageKind};

/// A lowercase hex SHA-256: the only thing that may name a blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Accepts exactly 64 lowercase hex digits, as the index advertises them.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Sha256Hex(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the server computed for an uploaded file, whatever the client claimed.
#[derive(Debug, Clone)]
pub struct Digests {
    pub size: u64,
    pub sha256: Sha256Hex,
    pub md5: String,
    pub blake2b_256: String,
}

/// The blob store in use: the local directory, or a bucket (with the local DATA/tmp spool).
#[derive(Debug, Clone)]
pub struct BlobStore {
    local: LocalBlobs,
    s3: Option<Arc<S3Blobs>>,
}

/// A blob readable as a local file: the blob itself, or a temporary copy of an object.
pub struct LocalCopy {
    path: PathBuf,
    _temp: Option<TempBlob>,
}

impl LocalCopy {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BlobStore {
    /// The local store in `data_dir` (what backups are made of, and the default).
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        Ok(BlobStore {
            local: LocalBlobs::open(data_dir)?,
            s3: None,
        })
    }

    /// The store the configuration names.
    pub fn open_configured(data_dir: &Path, storage: &StorageConfig) -> io::Result<BlobStore> {
        let mut store = BlobStore::open(data_dir)?;
        if storage.kind == StorageKind::S3 {
            store.s3 = Some(Arc::new(S3Blobs::open(storage)?));
        }
        Ok(store)
    }

    /// The bucket, when blobs live in one.
    pub fn s3(&self) -> Option<&S3Blobs> {
        self.s3.as_deref()
    }

    /// The local directory, whichever store is in use (for `storage migrate`).
    pub fn local(&self) -> &LocalBlobs {
        &self.local
    }

    /// Where blobs are, for messages.
    pub fn describe(&self) -> String {
        match &self.s3 {
            Some(s3) => s3.describe().to_string(),
            None => self.local.path_of_dir().display().to_string(),
        }
    }

    /// The blob's path in the local directory (meaningful for the local store only).
    pub fn path(&self, sha256: &Sha256Hex) -> PathBuf {
        self.local.path(sha256)
    }

    pub fn temp_file(&self) -> io::Result<TempBlob> {
        self.local.temp_file()
    }

    /// Whether an upload could be spooled now (uploads always pass through DATA/tmp).
    pub fn check_writable(&self) -> io::Result<()> {
        self.local.check_writable()
    }

    pub fn stage_bytes(&self, bytes: &[u8]) -> io::Result<(TempBlob, Sha256Hex)> {
        self.local.stage_bytes(bytes)
    }

    pub fn temp_files(&self) -> io::Result<Vec<PathBuf>> {
        self.local.temp_files()
    }

    /// The slow part of storing, done before the write lock: fsync, and on S3 the upload to
    /// the blob's key (see the module docs). Nothing more may be written to `temp` after it.
    pub fn stage(&self, temp: &mut TempBlob, sha256: &Sha256Hex) -> io::Result<()> {
        temp.sync()?;
        if let Some(s3) = &self.s3 {
            let streamed = temp
                .streaming
                .take()
                .is_some_and(|streaming| s3.finish_streaming(streaming, sha256));
            if !streamed {
                s3.put_file(temp.path(), sha256)?;
            }
            temp.staged = true;
        }
        Ok(())
    }

    /// On S3, starts uploading a large upload's bytes while they arrive, under the digest its
    /// client claims. What arrives is still spooled and checked; see [`s3::StreamingPut`] for
    /// why a false claim is harmless. An object already stored under that digest is streamed
    /// over with the same verified bytes: asking first would cost a round trip and tell a
    /// tenant, by the time it takes, whether someone stored exactly these bytes.
    pub fn stream_to_bucket(&self, temp: &mut TempBlob, claimed: &str) {
        if let (Some(s3), Some(claimed)) =
            (&self.s3, Sha256Hex::parse(&claimed.to_ascii_lowercase()))
        {
            temp.streaming = s3.start_streaming(&claimed);
        }
    }

    /// Makes the blob durable under its content address, inside the IMMEDIATE transaction that
    /// commits the row referring to it (rule 1). On S3 a staged blob is checked by `HEAD` and
    /// uploaded again only if a `gc` removed it meanwhile.
    pub fn persist(
        &self,
        write_lock: &Transaction<'_>,
        temp: TempBlob,
        sha256: &Sha256Hex,
    ) -> io::Result<()> {
        self.persist_all(write_lock, vec![(temp, sha256)])
    }

    /// [`BlobStore::persist`] for several blobs; on S3 their `HEAD`s go out together.
    pub fn persist_all(
        &self,
        write_lock: &Transaction<'_>,
        blobs: Vec<(TempBlob, &Sha256Hex)>,
    ) -> io::Result<()> {
        let Some(s3) = &self.s3 else {
            for (temp, sha256) in blobs {
                self.local.persist(write_lock, temp, sha256)?;
            }
            return Ok(());
        };
        let shas: Vec<Sha256Hex> = blobs.iter().map(|(_, sha)| (*sha).clone()).collect();
        let objects = s3.head_many(&shas)?;
        for ((mut temp, sha256), object) in blobs.into_iter().zip(objects) {
            temp.sync()?;
            let in_place = temp.staged && object.is_some_and(|o| o.size == temp.size());
            if !in_place {
                s3.put_file(temp.path(), sha256)?;
            }
        }
        Ok(())
    }

    /// Whether the blob is stored (an unreachable bucket counts as no).
    pub fn exists(&self, sha256: &Sha256Hex) -> bool {
        match &self.s3 {
            Some(s3) => s3.head(sha256).is_ok_and(|o| o.is_some()),
            None => self.local.exists(sha256),
        }
    }

    /// When the blob was stored (or last referenced again, locally); `None` if it is not.
    pub fn modified(&self, sha256: &Sha256Hex) -> io::Result<Option<SystemTime>> {
        match &self.s3 {
            Some(s3) => Ok(s3.head(sha256)?.map(|o| o.modified)),
            None => Ok(std::fs::metadata(self.local.path(sha256))
                .and_then(|m| m.modified())
                .ok()),
        }
    }

    /// Every stored blob with the time it was stored; names that are not a digest are skipped.
    pub fn list(&self) -> io::Result<Vec<(Sha256Hex, SystemTime)>> {
        match &self.s3 {
            Some(s3) => s3.list(),
            None => Ok(self
                .local
                .list()?
                .into_iter()
                .map(|(sha, path)| {
                    let modified = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .unwrap_or_else(|_| SystemTime::now());
                    (sha, modified)
                })
                .collect()),
        }
    }

    /// The sha256 and size of a blob's bytes as they are stored now.
    pub fn verify(&self, sha256: &Sha256Hex) -> io::Result<(Sha256Hex, u64)> {
        match &self.s3 {
            Some(s3) => s3.verify(sha256),
            None => self.local.verify(sha256),
        }
    }

    /// Moves a damaged blob out of service (DATA/quarantine, or PREFIX/quarantine/ in the
    /// bucket) but keeps it for inspection; returns where it went.
    pub fn quarantine(&self, sha256: &Sha256Hex) -> io::Result<String> {
        match &self.s3 {
            Some(s3) => s3.quarantine(sha256),
            None => Ok(self.local.quarantine(sha256)?.display().to_string()),
        }
    }

    /// Removes a blob that no row refers to any more, as seen inside the caller's IMMEDIATE
    /// transaction (rule 2). A missing blob is not an error. While a backup runs (rule 3) the
    /// blob is left for `gc` instead: returns whether it was removed.
    pub fn remove(&self, write_lock: &Transaction<'_>, sha256: &Sha256Hex) -> io::Result<bool> {
        let Some(_permit) = self.local.unlink_permit()? else {
            return Ok(false);
        };
        match &self.s3 {
            Some(s3) => s3.delete(sha256)?,
            None => self.local.remove(write_lock, sha256)?,
        }
        Ok(true)
    }

    /// Holds every blob in place until dropped (rule 3); waits for a backup already running.
    pub fn hold_for_backup(&self) -> io::Result<BackupHold> {
        self.local.hold_for_backup()
    }

    /// Removes a temporary file unless an upload (or any [`TempBlob`]) still holds it.
    pub fn remove_unused_temp(&self, path: &Path) -> io::Result<bool> {
        self.local.remove_unused_temp(path)
    }

    /// The blob as a local file to read (archives are read by path): the blob itself, or a
    /// copy of the object in DATA/tmp that is removed when the returned value is dropped.
    pub fn local_copy(&self, sha256: &Sha256Hex) -> io::Result<LocalCopy> {
        let Some(s3) = &self.s3 else {
            return Ok(LocalCopy {
                path: self.local.path(sha256),
                _temp: None,
            });
        };
        let temp = self.local.temp_file()?;
        s3.get_to_file(sha256, temp.path())?;
        Ok(LocalCopy {
            path: temp.path().to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// A (small) blob's bytes.
    pub fn read(&self, sha256: &Sha256Hex) -> io::Result<Vec<u8>> {
        std::fs::read(self.local_copy(sha256)?.path())
    }

    /// Stores a local file known to hash to `sha256` (restore, migrate): durable once it
    /// returns. Outside any transaction: the callers hold the only reference being made.
    pub fn put_file(&self, file: &Path, sha256: &Sha256Hex) -> io::Result<()> {
        match &self.s3 {
            Some(s3) => s3.put_file(file, sha256),
            None => self.local.copy_in(file, sha256),
        }
    }

    /// Writes the blob to `target` and syncs it (backup, migrate).
    pub fn get_to_file(&self, sha256: &Sha256Hex, target: &Path) -> io::Result<()> {
        match &self.s3 {
            Some(s3) => s3.get_to_file(sha256, target)?,
            None => {
                std::fs::copy(self.local.path(sha256), target)?;
            }
        }
        std::fs::File::open(target)?.sync_all()
    }

    /// The size of a stored blob, `None` if it is not stored.
    pub fn size(&self, sha256: &Sha256Hex) -> io::Result<Option<u64>> {
        match &self.s3 {
            Some(s3) => Ok(s3.head(sha256)?.map(|o| o.size)),
            None => match std::fs::metadata(self.local.path(sha256)) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}
