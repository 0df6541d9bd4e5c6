//! Keeping the upstream cache within its size: least recently used files go first.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::blobs::{BlobStore, Sha256Hex};
use crate::db::Db;
use crate::db::upstreams as store;
use crate::error::Result;

/// Keeps the upstream cache within its size, if it has one (after each fetch, and in `gc`).
pub fn evict(db: &Db, blobs: &BlobStore, max_bytes: Option<u64>) -> Result<usize> {
    match max_bytes {
        Some(max) => evict_to(&mut *db.get()?, blobs, max),
        None => Ok(0),
    }
}

/// Removes least recently used upstream blobs until those held fit in `max_bytes`. Each
/// removal decides and unlinks under the write lock (the rules in `blobs`), and a blob that an
/// upload also uses stays on disk.
pub fn evict_to(conn: &mut Connection, blobs: &BlobStore, max_bytes: u64) -> Result<usize> {
    let mut held = store::cached_bytes(conn)?;
    let mut removed = 0;
    if held <= max_bytes as i64 {
        return Ok(0);
    }
    for (sha256, size) in store::least_recently_used(conn)? {
        if held <= max_bytes as i64 {
            break;
        }
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        store::forget_blob(&tx, &sha256)?;
        if !crate::db::packages::is_blob_referenced(&tx, &sha256)?
            && let Some(sha) = Sha256Hex::parse(&sha256)
        {
            blobs.remove(&tx, &sha)?;
        }
        tx.commit()?;
        held -= size;
        removed += 1;
    }
    Ok(removed)
}
