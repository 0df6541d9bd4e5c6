//! `backup` and `restore`: a consistent copy of a running server's database, blobs and TLS files.

use std::fs::{self, File};
use std::path::Path;

use rusqlite::Connection;
use rusqlite::backup::Backup;

use crate::blobs::{BlobStore, Sha256Hex};
use crate::db;
use crate::error::{Error, Result};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BackupReport {
    pub files: usize,
    pub blobs_copied: usize,
}

const DB_NAME: &str = "wheelhouse.db";
/// DATA/tls, where `wheelhouse tls self-signed` puts the certificate and key.
const TLS_DIR: &str = "tls";

/// Copies the database (SQLite's online backup: one consistent snapshot, readers and writers
/// carry on), every blob that snapshot refers to, and DATA/tls. Blobs never change under their
/// name, and none is removed while the backup holds them (rule 3 in `blobs`), so copying them
/// after the snapshot is consistent whatever is deleted meanwhile; what deletes leave behind
/// is removed by the next `gc`.
pub fn backup(
    conn: &Connection,
    blobs: &BlobStore,
    data_dir: &Path,
    dest: &Path,
) -> Result<BackupReport> {
    if dest.join(DB_NAME).exists() {
        return Err(Error::conflict(format!(
            "{} already holds a backup",
            dest.display()
        )));
    }
    let dest_blobs = BlobStore::open(dest)?;
    let _hold = blobs.hold_for_backup()?;
    // An unlink decided before the hold was taken finishes inside its write transaction:
    // waiting for the write lock once means that transaction has committed, so the snapshot
    // no longer names the blob it removed.
    conn.execute_batch("BEGIN IMMEDIATE; COMMIT;")?;
    let partial = dest.join(format!("{DB_NAME}.partial"));
    let _ = fs::remove_file(&partial);
    let mut copy = Connection::open(&partial)?;
    {
        let backup = Backup::new(conn, &mut copy)?;
        // All pages in one step: one read transaction, so one consistent snapshot.
        backup.step(-1)?;
    }
    let rows = db::packages::all_file_blobs(&copy)?;
    drop(copy);
    let mut report = BackupReport {
        files: rows.len(),
        blobs_copied: 0,
    };
    for row in &rows {
        for digest in std::iter::once(&row.sha256).chain(row.metadata_sha256.as_ref()) {
            let Some(sha) = Sha256Hex::parse(digest) else {
                continue;
            };
            let target = dest_blobs.path(&sha);
            if target.exists() {
                continue;
            }
            if !blobs.exists(&sha) {
                let _ = fs::remove_file(&partial);
                return Err(Error::conflict(format!(
                    "project {} file {} has no blob {digest}: the data directory is damaged \
                     (run `wheelhouse fsck`)",
                    row.project_id, row.filename
                )));
            }
            copy_blob_out(blobs, &sha, &target)?;
            report.blobs_copied += 1;
        }
    }
    copy_tls(&data_dir.join(TLS_DIR), &dest.join(TLS_DIR))?;
    // The database last: a backup with a database is a complete one.
    fs::rename(&partial, dest.join(DB_NAME))?;
    File::open(dest)?.sync_all()?;
    Ok(report)
}

/// Copies the files of a TLS directory (certificate and key; the key stays owner-only, as
/// `fs::copy` keeps permissions) durably; a missing directory is nothing to copy.
fn copy_tls(from: &Path, to: &Path) -> Result<()> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            copy_durably(&entry.path(), &to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Fills an empty data directory (and the store `to`, local or a bucket) from a backup; the
/// caller then opens it (and may `fsck` it). Blobs already in `to` are kept (a bucket shared
/// with the lost machine still holds them).
pub fn restore(source: &Path, data_dir: &Path, to: &BlobStore) -> Result<BackupReport> {
    if data_dir.join(DB_NAME).exists() {
        return Err(Error::conflict(format!(
            "{} already holds a database: restore into a new data directory",
            data_dir.display()
        )));
    }
    // A WAL left by an earlier database would be replayed into the restored one, and
    // Litestream's state would describe a database that is gone (its docs: delete all three
    // files and its directory together); such leftovers mean the directory is not new.
    let leftovers = [
        format!("{DB_NAME}-wal"),
        format!("{DB_NAME}-shm"),
        format!(".{DB_NAME}-litestream"),
    ];
    if let Some(stale) = leftovers.iter().find(|name| data_dir.join(name).exists()) {
        return Err(Error::conflict(format!(
            "{} holds {stale} from an earlier database: restore into a new data directory \
             (and stop Litestream before restoring over a path it replicates)",
            data_dir.display()
        )));
    }
    let source_db = source.join(DB_NAME);
    if !source_db.exists() {
        return Err(Error::not_found(format!(
            "{} is not a Wheelhouse backup",
            source.display()
        )));
    }
    let from = BlobStore::open(source)?;
    let conn = Connection::open(&source_db)?;
    let rows = db::packages::all_file_blobs(&conn)?;
    let mut report = BackupReport {
        files: rows.len(),
        blobs_copied: 0,
    };
    for (sha, _) in from.list()? {
        let path = from.path(&sha);
        let size = fs::metadata(&path)?.len();
        if to.size(&sha)? != Some(size) {
            to.put_file(&path, &sha)?;
            report.blobs_copied += 1;
        }
    }
    copy_tls(&source.join(TLS_DIR), &data_dir.join(TLS_DIR))?;
    // The database last: a data directory with a database is a complete one.
    copy_durably(&source_db, &data_dir.join(DB_NAME))?;
    Ok(report)
}

/// A blob from the store to a local file, through a temporary name: whole or absent.
fn copy_blob_out(blobs: &BlobStore, sha: &Sha256Hex, to: &Path) -> Result<()> {
    let dir = to.parent().expect("blob paths have a parent");
    fs::create_dir_all(dir)?;
    let temp = to.with_extension("copying");
    blobs.get_to_file(sha, &temp)?;
    fs::rename(&temp, to)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Copies through a temporary name, fsyncs, then renames: a copy is whole or absent.
fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().expect("blob and database paths have a parent");
    fs::create_dir_all(dir)?;
    let temp = to.with_extension("copying");
    fs::copy(from, &temp)?;
    File::open(&temp)?.sync_all()?;
    fs::rename(&temp, to)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}
