//! `backup` and `restore`: a consistent copy of a running server's database and blobs.

use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

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
/// A delete between the snapshot and the copy of its blobs makes a blob vanish; try again.
const ATTEMPTS: usize = 3;

/// Copies the database (SQLite's online backup: one consistent snapshot, readers and writers
/// carry on) and then every blob that snapshot refers to. Blobs never change under their name,
/// so copying them after the snapshot is consistent; one deleted meanwhile makes a new attempt.
pub fn backup(conn: &Connection, blobs: &BlobStore, dest: &Path) -> Result<BackupReport> {
    if dest.join(DB_NAME).exists() {
        return Err(Error::conflict(format!(
            "{} already holds a backup",
            dest.display()
        )));
    }
    let dest_blobs = BlobStore::open(dest)?;
    let partial = dest.join(format!("{DB_NAME}.partial"));
    for _ in 0..ATTEMPTS {
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
        let mut vanished = false;
        let digests = rows
            .iter()
            .flat_map(|r| std::iter::once(&r.sha256).chain(r.metadata_sha256.as_ref()));
        for digest in digests {
            let Some(sha) = Sha256Hex::parse(digest) else {
                continue;
            };
            let target = dest_blobs.path(&sha);
            if target.exists() {
                continue;
            }
            if !blobs.exists(&sha) {
                vanished = true;
                break;
            }
            copy_blob_out(blobs, &sha, &target)?;
            report.blobs_copied += 1;
        }
        if !vanished {
            fs::rename(&partial, dest.join(DB_NAME))?;
            return Ok(report);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = fs::remove_file(&partial);
    Err(Error::conflict(
        "blobs kept vanishing during the backup (a missing blob? run `wheelhouse fsck`)",
    ))
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
