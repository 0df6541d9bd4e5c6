//! Managing stored packages: yank and unyank (PEP 592), delete, for maintainers.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::audit::{self, About};
use crate::access::ProjectMaintainer;
use crate::blobs::{BlobStore, Sha256Hex};
use crate::db::packages::{PackageRow, StoredFile};
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::python::name::normalize;
use crate::python::{Version, metadata};

/// Which version: by name and version (CLI) or by the id the REST API lists.
#[derive(Debug, Clone)]
pub enum PackageRef {
    Named { name: String, version: String },
    Id(i64),
}

/// Which files of the version: all, or one by filename or by id.
#[derive(Debug, Clone)]
pub enum FileRef {
    All,
    Named(String),
    Id(i64),
}

/// The version and the files an operation acts on; a file that is not there is a 404.
pub fn select(
    conn: &Connection,
    maintainer: &ProjectMaintainer,
    package: &PackageRef,
    file: &FileRef,
) -> Result<(PackageRow, Vec<StoredFile>)> {
    let project_id = maintainer.project().id;
    let row = match package {
        PackageRef::Named { name, version } => {
            let version = Version::parse(version)?.normalized();
            db::packages::find_package(conn, project_id, &normalize(name), &version)?
        }
        PackageRef::Id(id) => db::packages::find_package_by_id(conn, project_id, *id)?,
    }
    .ok_or_else(|| Error::not_found("404 Package Not Found"))?;
    let files = db::packages::files_of_package(conn, row.id)?;
    let chosen: Vec<StoredFile> = match file {
        FileRef::All => files,
        FileRef::Named(filename) => files
            .into_iter()
            .filter(|f| &f.filename == filename)
            .collect(),
        FileRef::Id(id) => files.into_iter().filter(|f| f.id == *id).collect(),
    };
    if chosen.is_empty() {
        return Err(Error::not_found("404 Package File Not Found"));
    }
    Ok((row, chosen))
}

/// Yanks (`Some(reason)`, possibly empty) or unyanks (`None`) the selected files; returns them.
pub fn set_yanked(
    conn: &mut Connection,
    maintainer: &ProjectMaintainer,
    package: &PackageRef,
    file: &FileRef,
    yank: Option<&str>,
) -> Result<Vec<StoredFile>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (row, files) = select(&tx, maintainer, package, file)?;
    let reason = yank.map(str::trim).filter(|r| !r.is_empty());
    for f in &files {
        db::packages::set_yanked(&tx, f.id, yank.is_some(), reason)?;
    }
    let project = maintainer.project();
    let action = if yank.is_some() { "yank" } else { "unyank" };
    for f in &files {
        let target = format!("{}/{}", project.full_path, f.filename);
        audit::record(
            &tx,
            maintainer.caller(),
            action,
            About::Project(project.id),
            &target,
        )?;
    }
    let updated = db::packages::files_of_package(&tx, row.id)?;
    tx.commit()?;
    Ok(updated
        .into_iter()
        .filter(|u| files.iter().any(|f| f.id == u.id))
        .collect())
}

/// Deletes the selected files (and the version once it has none). Each filename is remembered
/// with its sha256, so it can never come back with other bytes. Blobs nothing else refers to
/// are removed after the commit: a crash in between leaves only garbage, never a dangling row.
pub fn delete(
    conn: &mut Connection,
    blobs: &BlobStore,
    maintainer: &ProjectMaintainer,
    package: &PackageRef,
    file: &FileRef,
) -> Result<Vec<StoredFile>> {
    let project = maintainer.project();
    let now = now_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (row, files) = select(&tx, maintainer, package, file)?;
    for f in &files {
        db::packages::insert_tombstone(&tx, project.id, &f.filename, &f.sha256, now)?;
        db::packages::delete_file(&tx, f.id)?;
        let target = format!("{}/{}", project.full_path, f.filename);
        let about = About::Project(project.id);
        audit::record(&tx, maintainer.caller(), "delete", about, &target)?;
    }
    if db::packages::files_of_package(&tx, row.id)?.is_empty() {
        db::packages::delete_package(&tx, row.id)?;
    }
    tx.commit()?;
    let digests = files
        .iter()
        .flat_map(|f| std::iter::once(f.sha256.clone()).chain(f.metadata_sha256.clone()));
    remove_unreferenced(conn, blobs, digests);
    Ok(files)
}

/// Removes those of `digests` that no row refers to any more. It runs after the commit that
/// dropped the rows (unlinking before it would leave a dangling row should that commit fail),
/// in a transaction of its own that holds the write lock while it decides and unlinks, so an
/// upload of the same bytes to another project cannot slip in between (the rules in `blobs`).
/// It cannot fail the request: what it cannot remove stays as garbage for `gc`, as after a
/// crash between the two transactions.
pub fn remove_unreferenced(
    conn: &Connection,
    blobs: &BlobStore,
    digests: impl IntoIterator<Item = String>,
) {
    let result = (|| -> Result<()> {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        for digest in digests {
            let Some(sha) = Sha256Hex::parse(&digest) else {
                continue;
            };
            if !db::packages::is_blob_referenced(&tx, &digest)?
                && let Err(err) = blobs.remove(&tx, &sha)
            {
                tracing::warn!(blob = %digest, "cannot remove an unreferenced blob: {err}");
            }
        }
        // Nothing was written: the commit only lets go of the lock.
        tx.commit()?;
        Ok(())
    })();
    if let Err(err) = result {
        tracing::warn!("cannot remove unreferenced blobs (left for `gc`): {err}");
    }
}

/// Extracts and stores the core metadata of files stored without it (before PEP 658 support),
/// so their pages can advertise it. Returns how many files gained metadata; files whose archive
/// cannot be read are reported and left as they are.
pub fn backfill_metadata(
    conn: &mut Connection,
    blobs: &BlobStore,
    limits: &crate::python::archive::Limits,
) -> Result<usize> {
    let mut done = 0;
    for (file_id, filename, sha256) in db::packages::files_without_metadata(conn)? {
        let (Ok(parsed), Some(sha)) = (
            crate::python::Filename::parse(&filename),
            Sha256Hex::parse(&sha256),
        ) else {
            continue;
        };
        let read = blobs
            .local_copy(&sha)
            .map_err(crate::error::Error::from)
            .and_then(|copy| {
                crate::python::archive::core_metadata(copy.path(), parsed.kind(), limits)
            });
        match read {
            Ok(bytes) => {
                let (temp, metadata_sha256) = blobs.stage_bytes(&bytes)?;
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                blobs.persist(&tx, temp, &metadata_sha256)?;
                let offered = metadata::offered_as_core_metadata(parsed.kind(), &bytes);
                db::packages::set_metadata(&tx, file_id, metadata_sha256.as_str(), offered)?;
                tx.commit()?;
                done += 1;
            }
            Err(err) => tracing::warn!(file = %filename, "cannot extract core metadata: {err}"),
        }
    }
    Ok(done)
}

/// Judges the files stored before the PEP 643 rule (the schema upgrade left them offering no
/// core metadata): reads each one's stored metadata blob and records whether it is offered.
/// Runs at start-up and with `metadata backfill`; it reads only files not judged yet, so after
/// the first run it costs one indexed query. Returns how many files it judged.
pub fn judge_stored_metadata(conn: &mut Connection, blobs: &BlobStore) -> Result<usize> {
    let mut judged = Vec::new();
    for (file_id, filename, metadata_sha256) in db::packages::files_unjudged(conn)? {
        let (Ok(parsed), Some(sha)) = (
            crate::python::Filename::parse(&filename),
            Sha256Hex::parse(&metadata_sha256),
        ) else {
            continue;
        };
        match blobs.read(&sha) {
            Ok(bytes) => judged.push((
                file_id,
                metadata::offered_as_core_metadata(parsed.kind(), &bytes),
            )),
            // Left unjudged (offering nothing); `fsck --repair` extracts it again.
            Err(err) => tracing::warn!(file = %filename, "cannot read its core metadata: {err}"),
        }
    }
    // One commit per thousand files: a large store is judged in seconds, and uploads beside a
    // CLI run wait little for the lock.
    for batch in judged.chunks(1000) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (file_id, offered) in batch {
            db::packages::set_offers_metadata(&tx, *file_id, *offered)?;
        }
        tx.commit()?;
    }
    Ok(judged.len())
}
