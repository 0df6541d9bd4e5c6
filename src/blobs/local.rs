//! The local store: content-addressed files under DATA/blobs, written crash-safely through DATA/tmp.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use blake2::Blake2b;
use blake2::digest::consts::U32;
use md5::Md5;
use rusqlite::Transaction;
use sha2::{Digest, Sha256};

use super::{Digests, Sha256Hex};

#[derive(Debug, Clone)]
pub struct LocalBlobs {
    blobs_dir: PathBuf,
    tmp_dir: PathBuf,
    /// DATA/backup.lock: held exclusively by a running `backup` (see [`BackupHold`]).
    backup_lock: PathBuf,
}

/// How often a new temporary file is tried when `gc` took the name first (see `temp_file`).
const TEMP_ATTEMPTS: usize = 3;

impl LocalBlobs {
    /// Creates the directories if needed; `tmp` sits beside `blobs` so rename is atomic.
    pub fn open(data_dir: &Path) -> io::Result<LocalBlobs> {
        let store = LocalBlobs {
            blobs_dir: data_dir.join("blobs").join("sha256"),
            tmp_dir: data_dir.join("tmp"),
            backup_lock: data_dir.join("backup.lock"),
        };
        fs::create_dir_all(&store.blobs_dir)?;
        fs::create_dir_all(&store.tmp_dir)?;
        Ok(store)
    }

    /// `blobs/sha256/ab/cd/abcd…`: two fan-out levels keep directories small.
    pub fn path(&self, sha256: &Sha256Hex) -> PathBuf {
        let hex = sha256.as_str();
        self.blobs_dir.join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// DATA/blobs/sha256.
    pub fn path_of_dir(&self) -> &Path {
        &self.blobs_dir
    }

    /// Copies a file in under its digest through DATA/tmp, durably (restore, migrate).
    pub fn copy_in(&self, file: &Path, sha256: &Sha256Hex) -> io::Result<()> {
        let target = self.path(sha256);
        let temp = self.temp_file()?;
        fs::copy(file, temp.path())?;
        File::open(temp.path())?.sync_all()?;
        let dir = target.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        fs::rename(temp.path(), &target)?;
        File::open(dir)?.sync_all()
    }

    /// A new temporary file that hashes what is written to it and disappears unless persisted.
    /// It is locked (`flock`, exclusive) for as long as it lives: `gc`, which may run as another
    /// process whatever its grace, removes only temporary files nobody holds, so an upload in
    /// progress never loses its spool. `gc` could lock and remove a file between its creation
    /// and the lock here; then the name no longer leads to it, and another is made.
    pub fn temp_file(&self) -> io::Result<TempBlob> {
        for _ in 0..TEMP_ATTEMPTS {
            let mut random = [0u8; 12];
            getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
            let path = self.tmp_dir.join(format!("upload-{}", hex::encode(random)));
            let file = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            file.lock()?;
            if !names(&path, &file)? {
                continue;
            }
            return Ok(TempBlob {
                path,
                file: Some(file),
                size: 0,
                sha256: Sha256::new(),
                md5: Md5::new(),
                blake2b: Blake2b::<U32>::new(),
                synced: false,
                persisted: false,
                staged: false,
                streaming: None,
            });
        }
        Err(io::Error::other(
            "temporary files in DATA/tmp keep vanishing as they are made (is gc running in a loop?)",
        ))
    }

    /// Removes a temporary file unless it is in use (locked by its [`TempBlob`], in this
    /// process or another): whether it was removed. The lock is held across the unlink, so
    /// the owner either sees its name gone (and makes another) or holds it first.
    pub fn remove_unused_temp(&self, path: &Path) -> io::Result<bool> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(false),
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Keeps every blob from being removed until the returned value is dropped (or the process
    /// ends, however it ends): removals meanwhile are left to `gc`. Waits for another backup.
    pub fn hold_for_backup(&self) -> io::Result<BackupHold> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.backup_lock)?;
        file.lock()?;
        Ok(BackupHold { _file: file })
    }

    /// Leave to unlink a blob: `None` while a backup holds the blobs. The returned guard is
    /// kept across the unlink, so a backup that starts meanwhile waits for it.
    pub fn unlink_permit(&self) -> io::Result<Option<UnlinkPermit>> {
        let file = match File::open(&self.backup_lock) {
            Ok(file) => file,
            // No backup ever ran here.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Some(UnlinkPermit { _file: None }));
            }
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(UnlinkPermit { _file: Some(file) })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Whether an upload could be stored now: a temporary file is created, written, synced
    /// and removed (a full disk, a read-only mount or lost permissions fail here).
    pub fn check_writable(&self) -> io::Result<()> {
        let mut probe = self.temp_file()?;
        probe.write_chunk(b"readiness probe")?;
        probe.sync()
    }

    /// Makes the temporary file durable under its content address. A blob that exists already
    /// has the same bytes (it is named by them), so the new copy is simply dropped. Call it
    /// inside the IMMEDIATE transaction that commits the row referring to the blob (rule 1 of
    /// the module docs); [`TempBlob::sync`] beforehand keeps the slow fsync out of the lock.
    pub fn persist(
        &self,
        _write_lock: &Transaction<'_>,
        mut temp: TempBlob,
        sha256: &Sha256Hex,
    ) -> io::Result<()> {
        // The file stays open (and locked) until `temp` goes, past the rename: `gc` must not
        // take the temporary name in between.
        temp.sync()?;
        let target = self.path(sha256);
        if target.exists() {
            // Refresh its time so `gc`'s grace period also covers a blob that an upload has
            // just referenced again.
            File::options()
                .write(true)
                .open(&target)?
                .set_modified(std::time::SystemTime::now())?;
            return Ok(());
        }
        let dir = target.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir)?;
        fs::rename(&temp.path, &target)?;
        temp.persisted = true;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    }

    /// Writes small bytes (an extracted METADATA) to a durable temporary file, ready for
    /// [`LocalBlobs::persist`], and returns it with their digest.
    pub fn stage_bytes(&self, bytes: &[u8]) -> io::Result<(TempBlob, Sha256Hex)> {
        let mut temp = self.temp_file()?;
        temp.write_chunk(bytes)?;
        temp.sync()?;
        let sha256 = temp.digests().sha256;
        Ok((temp, sha256))
    }

    /// Whether the blob is on disk.
    pub fn exists(&self, sha256: &Sha256Hex) -> bool {
        self.path(sha256).is_file()
    }

    /// Every blob on disk with its path; files that are not named like a blob are skipped.
    pub fn list(&self) -> io::Result<Vec<(Sha256Hex, PathBuf)>> {
        let mut found = Vec::new();
        for level1 in fs::read_dir(&self.blobs_dir)? {
            let level1 = level1?.path();
            if !level1.is_dir() {
                continue;
            }
            for level2 in fs::read_dir(&level1)? {
                let level2 = level2?.path();
                if !level2.is_dir() {
                    continue;
                }
                for blob in fs::read_dir(&level2)? {
                    let path = blob?.path();
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    if let Some(sha) = Sha256Hex::parse(name) {
                        found.push((sha, path));
                    }
                }
            }
        }
        Ok(found)
    }

    /// Files in DATA/tmp: uploads in progress, or left by a crash.
    pub fn temp_files(&self) -> io::Result<Vec<PathBuf>> {
        fs::read_dir(&self.tmp_dir)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }

    /// The sha256 and size of a blob's bytes as they are on disk now.
    pub fn verify(&self, sha256: &Sha256Hex) -> io::Result<(Sha256Hex, u64)> {
        let mut file = File::open(self.path(sha256))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((Sha256Hex(hex::encode(hasher.finalize())), size))
    }

    /// Moves a damaged blob to DATA/quarantine, out of service but kept for inspection.
    pub fn quarantine(&self, sha256: &Sha256Hex) -> io::Result<PathBuf> {
        let dir = self.tmp_dir.with_file_name("quarantine");
        fs::create_dir_all(&dir)?;
        let target = dir.join(sha256.as_str());
        fs::rename(self.path(sha256), &target)?;
        Ok(target)
    }

    /// Removes a blob that no row refers to any more, as seen inside the caller's IMMEDIATE
    /// transaction (rule 2 of the module docs). A missing blob is not an error.
    pub fn remove(&self, _write_lock: &Transaction<'_>, sha256: &Sha256Hex) -> io::Result<()> {
        match fs::remove_file(self.path(sha256)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Whether `path` still names the open `file` (and not nothing, or another file).
fn names(path: &Path, file: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(named) => Ok(named.ino() == open.ino() && named.dev() == open.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A running backup's hold on the blobs (DATA/backup.lock, exclusive): no blob is removed
/// while it lives, so every blob its snapshot names is still there to copy. A lock, not a
/// marker file, so a backup that is killed leaves nothing behind that would stop removals.
pub struct BackupHold {
    _file: File,
}

/// Held across one unlink: a backup cannot start its hold in the middle of it.
pub struct UnlinkPermit {
    _file: Option<File>,
}

/// An upload in progress in DATA/tmp. Dropping it without persisting removes the file, so no
/// error path can leave a partial file behind.
pub struct TempBlob {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    sha256: Sha256,
    md5: Md5,
    blake2b: Blake2b<U32>,
    synced: bool,
    persisted: bool,
    /// Already uploaded to object storage under its digest ([`super::BlobStore::stage`]).
    pub(super) staged: bool,
    /// Being uploaded to object storage as it arrives ([`super::BlobStore::stream_to_bucket`]).
    pub(super) streaming: Option<super::s3::StreamingPut>,
}

impl TempBlob {
    pub fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        assert!(!self.synced, "a TempBlob is written before it is synced");
        let file = self.file.as_mut().expect("written before persist");
        file.write_all(chunk)?;
        self.size += chunk.len() as u64;
        self.sha256.update(chunk);
        self.md5.update(chunk);
        self.blake2b.update(chunk);
        Ok(())
    }

    /// [`TempBlob::write_chunk`], then the chunk goes to the upload streaming to the bucket,
    /// if one runs; one that failed is dropped (aborted), and staging uploads the spool.
    pub async fn write_and_stream(&mut self, chunk: bytes::Bytes) -> io::Result<()> {
        self.write_chunk(&chunk)?;
        if let Some(streaming) = &mut self.streaming
            && !streaming.send(chunk).await
        {
            self.streaming = None;
        }
        Ok(())
    }

    /// Flushes the bytes to disk, once; after this nothing more may be written.
    pub fn sync(&mut self) -> io::Result<()> {
        if !self.synced
            && let Some(file) = &self.file
        {
            file.sync_all()?;
            self.synced = true;
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The digests of everything written so far.
    pub fn digests(&self) -> Digests {
        Digests {
            size: self.size,
            sha256: Sha256Hex(hex::encode(self.sha256.clone().finalize())),
            md5: hex::encode(self.md5.clone().finalize()),
            blake2b_256: hex::encode(self.blake2b.clone().finalize()),
        }
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_hash_persist_and_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobs::open(dir.path()).unwrap();
        let mut temp = store.temp_file().unwrap();
        temp.write_chunk(b"hello ").unwrap();
        temp.write_chunk(b"world").unwrap();
        let d = temp.digests();
        assert_eq!(d.size, 11);
        assert_eq!(
            d.sha256.as_str(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(d.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(d.blake2b_256.len(), 64);
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        store.persist(&tx, temp, &d.sha256).unwrap();
        assert_eq!(fs::read(store.path(&d.sha256)).unwrap(), b"hello world");

        let dropped = store.temp_file().unwrap();
        let path = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn held_temporary_files_and_blobs_under_a_backup_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobs::open(dir.path()).unwrap();
        // An upload's spool is held (by another open file here, as by another process).
        let temp = store.temp_file().unwrap();
        assert!(!store.remove_unused_temp(temp.path()).unwrap());
        assert!(temp.path().exists());
        drop(temp);
        // What a crash left, nobody holds.
        let left = dir.path().join("tmp/upload-left-by-a-crash");
        fs::write(&left, b"partial").unwrap();
        assert!(store.remove_unused_temp(&left).unwrap());
        assert!(!left.exists());
        assert!(!store.remove_unused_temp(&left).unwrap(), "already gone");

        assert!(
            store.unlink_permit().unwrap().is_some(),
            "no backup ever ran"
        );
        let hold = store.hold_for_backup().unwrap();
        assert!(store.unlink_permit().unwrap().is_none());
        drop(hold);
        let permit = store.unlink_permit().unwrap();
        assert!(permit.is_some(), "the backup ended");
        drop(permit);
    }

    #[test]
    fn sha256_names_are_strict() {
        assert!(Sha256Hex::parse(&"a".repeat(64)).is_some());
        assert!(Sha256Hex::parse(&"A".repeat(64)).is_none());
        assert!(Sha256Hex::parse("../etc/passwd").is_none());
        assert!(Sha256Hex::parse(&"a".repeat(63)).is_none());
    }
}
