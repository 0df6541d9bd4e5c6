//! `fsck` and `gc`: checking every stored byte against its digest, and removing garbage.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::blobs::{BlobStore, Sha256Hex};
use crate::db;
use crate::error::Result;
use crate::python::Filename;
use crate::python::archive::{self, Limits};

/// One thing `fsck` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A file row whose blob is gone: the file cannot be served. Damage.
    MissingFile { file: String, sha256: String },
    /// A file whose bytes no longer hash to their name, or whose size differs. Damage.
    CorruptFile { file: String, sha256: String },
    /// A file's extracted metadata is missing or damaged; it can be extracted again.
    BadMetadata { file: String },
    /// A blob no row refers to: garbage (`gc` removes it), or an upload about to commit.
    OrphanBlob { sha256: String },
    /// A temporary upload file: garbage after a crash, or an upload in progress.
    TempFile { path: String },
}

impl Finding {
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Finding::MissingFile { .. } | Finding::CorruptFile { .. } | Finding::BadMetadata { .. }
        )
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::MissingFile { file, sha256 } => {
                write!(f, "missing: {file} (blob {sha256} is gone)")
            }
            Finding::CorruptFile { file, sha256 } => {
                write!(
                    f,
                    "corrupt: {file} (blob {sha256} does not match its digest or size)"
                )
            }
            Finding::BadMetadata { file } => write!(f, "metadata missing or damaged: {file}"),
            Finding::OrphanBlob { sha256 } => write!(f, "unreferenced blob: {sha256}"),
            Finding::TempFile { path } => write!(f, "temporary file: {path}"),
        }
    }
}

#[derive(Debug, Default)]
pub struct FsckReport {
    pub files_checked: usize,
    pub findings: Vec<Finding>,
    /// What `--repair` fixed, one line each.
    pub repaired: Vec<String>,
}

impl FsckReport {
    /// Damage that is still there after any repair.
    pub fn damaged(&self) -> bool {
        self.findings.iter().any(Finding::is_damage)
    }
}

/// Reads every stored file and checks it against its row. With `repair`: extracts damaged or
/// missing metadata again, and moves corrupt blobs to DATA/quarantine so they are not served.
/// Garbage is reported but left to `gc`, which knows how old it must be before it is garbage.
pub fn fsck(conn: &Connection, blobs: &BlobStore, repair: bool) -> Result<FsckReport> {
    let mut report = FsckReport::default();
    let rows = db::packages::all_file_blobs(conn)?;
    let mut referenced = HashSet::new();
    for row in &rows {
        report.files_checked += 1;
        referenced.insert(row.sha256.clone());
        referenced.extend(row.metadata_sha256.clone());
        let label = format!("project {} file {}", row.project_id, row.filename);
        let Some(sha) = Sha256Hex::parse(&row.sha256) else {
            report.findings.push(Finding::CorruptFile {
                file: label,
                sha256: row.sha256.clone(),
            });
            continue;
        };
        match blobs.verify(&sha) {
            Err(_) => {
                report.findings.push(Finding::MissingFile {
                    file: label,
                    sha256: row.sha256.clone(),
                });
                continue;
            }
            Ok((actual, size)) if actual != sha || size as i64 != row.size => {
                if repair {
                    let moved = blobs.quarantine(&sha)?;
                    report
                        .repaired
                        .push(format!("quarantined {label} to {moved}"));
                }
                report.findings.push(Finding::CorruptFile {
                    file: label,
                    sha256: row.sha256.clone(),
                });
                continue;
            }
            Ok(_) => {}
        }
        let metadata_ok = row
            .metadata_sha256
            .as_deref()
            .and_then(Sha256Hex::parse)
            .is_some_and(|m| blobs.verify(&m).is_ok_and(|(actual, _)| actual == m));
        if metadata_ok {
            continue;
        }
        if repair && let Some(restored) = restore_metadata(conn, blobs, &sha, row)? {
            referenced.insert(restored.as_str().to_string());
            report
                .repaired
                .push(format!("extracted the metadata of {label} again"));
        } else {
            report.findings.push(Finding::BadMetadata { file: label });
        }
    }
    check_upstream_cache(conn, blobs, repair, &mut report, &mut referenced)?;
    for (sha, _) in blobs.list()? {
        if !referenced.contains(sha.as_str()) {
            report.findings.push(Finding::OrphanBlob {
                sha256: sha.as_str().to_string(),
            });
        }
    }
    for path in blobs.temp_files()? {
        report.findings.push(Finding::TempFile {
            path: path.display().to_string(),
        });
    }
    Ok(report)
}

/// Upstream files are a cache, checked like stored files. A damaged one is damage (it would be
/// served), and `repair` quarantines it and forgets it, so it is fetched and verified again
/// when next asked for; a missing one (after a restore: backups leave the cache out) is just
/// forgotten by `repair`.
fn check_upstream_cache(
    conn: &Connection,
    blobs: &BlobStore,
    repair: bool,
    report: &mut FsckReport,
    referenced: &mut HashSet<String>,
) -> Result<()> {
    for (digest, size) in db::upstreams::all_blobs(conn)? {
        let label = format!("upstream cache file {digest}");
        let verified = Sha256Hex::parse(&digest).map(|sha| (blobs.verify(&sha), sha));
        match verified {
            Some((Ok((actual, actual_size)), _))
                if actual.as_str() == digest && actual_size as i64 == size =>
            {
                referenced.insert(digest);
            }
            Some((Err(_), _)) => {
                if repair {
                    db::upstreams::forget_blob(conn, &digest)?;
                    report.repaired.push(format!("forgot the missing {label}"));
                }
            }
            Some((Ok(_), sha)) => {
                if repair {
                    let moved = blobs.quarantine(&sha)?;
                    db::upstreams::forget_blob(conn, &digest)?;
                    report
                        .repaired
                        .push(format!("quarantined {label} to {moved}"));
                }
                report.findings.push(Finding::CorruptFile {
                    file: label,
                    sha256: digest,
                });
            }
            None => {
                db::upstreams::forget_blob(conn, &digest)?;
            }
        }
    }
    Ok(())
}

/// Extracts a file's metadata again and points its row at it, in one write transaction (the
/// rules in `blobs`); `None` when the archive cannot be read.
fn restore_metadata(
    conn: &Connection,
    blobs: &BlobStore,
    sha: &Sha256Hex,
    row: &db::packages::FileBlobs,
) -> Result<Option<Sha256Hex>> {
    let Ok(kind) = Filename::parse(&row.filename).map(|f| f.kind()) else {
        return Ok(None);
    };
    let Ok(copy) = blobs.local_copy(sha) else {
        return Ok(None);
    };
    let Ok(bytes) = archive::core_metadata(copy.path(), kind, &Limits::default()) else {
        return Ok(None);
    };
    let (temp, metadata_sha256) = blobs.stage_bytes(&bytes)?;
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    blobs.persist(&tx, temp, &metadata_sha256)?;
    let offered = crate::python::metadata::offered_as_core_metadata(kind, &bytes);
    db::packages::set_metadata(&tx, row.id, metadata_sha256.as_str(), offered)?;
    tx.commit()?;
    Ok(Some(metadata_sha256))
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub temp_files_removed: usize,
}

/// How many blobs one write transaction of `gc` decides on: enough to be quick, few enough
/// that uploads never wait long for the lock.
const GC_BATCH: usize = 256;

/// Removes blobs no row refers to and temporary files, once they are older than `grace`.
/// Deleting a package removes its blobs at once, so what `gc` reclaims is what a crash, a
/// failed upload or a failed removal left behind. The reference check is repeated, and the
/// unlink done, inside a write transaction (the rules in `blobs`): an upload of the same
/// bytes either committed before it (the blob is kept) or puts its own copy back after it.
/// Temporary files that an upload (in any process) still holds are never removed; the grace
/// is a second margin for them and for blobs.
pub fn gc(conn: &Connection, blobs: &BlobStore, grace: Duration) -> Result<GcReport> {
    let mut referenced = HashSet::new();
    for row in db::packages::all_file_blobs(conn)? {
        referenced.insert(row.sha256);
        referenced.extend(row.metadata_sha256);
    }
    referenced.extend(
        db::upstreams::all_blobs(conn)?
            .into_iter()
            .map(|(sha, _)| sha),
    );
    let old = |t: SystemTime| SystemTime::now().duration_since(t).unwrap_or_default() >= grace;
    let old_enough = |path: &std::path::Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(old)
    };
    let candidates: Vec<_> = blobs
        .list()?
        .into_iter()
        .filter(|(sha, stored)| !referenced.contains(sha.as_str()) && old(*stored))
        .map(|(sha, _)| sha)
        .collect();
    let mut report = GcReport::default();
    for batch in candidates.chunks(GC_BATCH) {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        for sha in batch {
            // Again under the lock: a local upload of the same bytes refreshes the time.
            let still_old = blobs.modified(sha)?.is_some_and(old);
            if still_old
                && !db::packages::is_blob_referenced(&tx, sha.as_str())?
                && blobs.remove(&tx, sha)?
            {
                report.blobs_removed += 1;
            }
        }
        tx.commit()?;
    }
    for path in blobs.temp_files()? {
        // An upload in progress holds its temporary file locked, whatever its age.
        if old_enough(&path) && blobs.remove_unused_temp(&path)? {
            report.temp_files_removed += 1;
        }
    }
    Ok(report)
}
