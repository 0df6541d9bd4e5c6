//! How much the blob store holds, read from the rows that reference it (no walk of the disk).

use rusqlite::Connection;

use crate::error::Result;

/// Distinct stored files and their bytes: the registry's own, and those cached from upstreams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobUsage {
    pub package_files: i64,
    pub package_bytes: i64,
    pub upstream_files: i64,
    pub upstream_bytes: i64,
}

pub fn blob_usage(conn: &Connection) -> Result<BlobUsage> {
    // A blob shared by several files (the same wheel in two projects) is stored once.
    let (package_files, package_bytes) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(size), 0)
           FROM (SELECT MAX(size) AS size FROM package_files GROUP BY sha256)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (upstream_files, upstream_bytes) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM upstream_blobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(BlobUsage {
        package_files,
        package_bytes,
        upstream_files,
        upstream_bytes,
    })
}
