//! Publishing a file: every check of the spec, then blob first and row last, so a failure at
//! any point leaves nothing visible.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::audit::{self, About};
use super::description;

use crate::access::ProjectWriter;
use crate::auth::Caller;
use crate::blobs::{BlobStore, Digests, Sha256Hex, TempBlob};
use crate::db::packages::StoredFile;
use crate::db::{self, Db, now_millis};
use crate::error::{Error, Result};
use crate::python::archive::{self, Limits};
use crate::python::metadata::{self, CoreMetadata};
use crate::python::name::normalize;
use crate::python::{DistName, Filename, Version};

/// The text fields of an upload form (twine's legacy upload API). Repeated fields keep every
/// value; an empty value counts as missing, since uv sends some fields empty.
#[derive(Debug, Default)]
pub struct UploadForm {
    fields: Vec<(String, String)>,
    /// When the file was first published elsewhere (an import keeps it); never from a client.
    uploaded_at: Option<i64>,
}

impl UploadForm {
    /// Keeps the time a file was uploaded to the registry it is imported from.
    pub fn set_uploaded_at(&mut self, millis: i64) {
        self.uploaded_at = Some(millis);
    }

    pub fn add(&mut self, name: &str, value: String) {
        if !value.trim().is_empty() {
            self.fields.push((name.to_string(), value));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error::bad_request(format!("the form field \"{name}\" is missing")))
    }
}

/// The `content` part of an upload, already streamed to a temporary file.
pub struct ReceivedFile {
    pub filename: String,
    pub temp: TempBlob,
}

#[derive(Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    Created,
    /// The same filename with the same bytes was stored already: a re-run of a publish job.
    AlreadyStored,
}

/// Runs on a blocking thread and takes a database connection only for the duplicate check and
/// the final transaction: reading the archive and rendering the description hold none.
pub fn publish(
    db: &Db,
    blobs: &BlobStore,
    limits: &Limits,
    writer: &ProjectWriter,
    form: &UploadForm,
    file: ReceivedFile,
) -> Result<UploadOutcome> {
    let project = writer.project();
    let name = DistName::parse(form.required("name")?)?;
    let version = Version::parse(form.required("version")?)?;
    let filename = Filename::parse(&file.filename)?;
    filename.check_matches(&name, &version)?;
    let digests = file.temp.digests();
    if digests.size == 0 {
        return Err(Error::bad_request("the uploaded file is empty"));
    }
    check_client_digests(form, &digests)?;
    // Decide duplicates before the costlier archive reading: a re-run of a publish job whose
    // file is stored whole is answered at once. The write lock makes "still stored, blobs on
    // disk" one fact (nothing unlinks a blob while a row refers to it; see `blobs`).
    // The first look's connection goes back before the second is taken (a temporary in an
    // `if let` lives through its block): holding one while waiting for another, as many
    // uploads as the pool has connections would wait on each other until the pool timeout.
    let looks_stored = matches!(
        duplicate(&*db.get()?, project, &filename, &digests)?,
        Duplicate::Identical(_)
    );
    if looks_stored {
        let mut conn = db.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Duplicate::Identical(existing) = duplicate(&tx, project, &filename, &digests)?
            && is_complete(blobs, &existing)
        {
            return Ok(UploadOutcome::AlreadyStored);
        }
    }

    let metadata_bytes = archive::core_metadata(file.temp.path(), filename.kind(), limits)?;
    let mut meta = metadata::parse(&metadata_bytes)?;
    check_metadata_matches(&meta, &name, &version)?;
    fill_from_form(&mut meta, form);
    if let Some(text) = meta.description.as_mut() {
        description::bound_stored(text);
    }
    let description_html = description::to_html(
        meta.description.as_deref().unwrap_or_default(),
        meta.description_content_type.as_deref(),
    );
    let offers_metadata = metadata::offered_as_core_metadata(filename.kind(), &metadata_bytes);

    // Both blobs are written and fsynced (on S3: uploaded) before taking the write lock;
    // under it, only renames (on S3: a HEAD each).
    let (mut metadata_temp, metadata_sha256) = blobs.stage_bytes(&metadata_bytes)?;
    let mut temp = file.temp;
    let staged = [digests.sha256.clone(), metadata_sha256.clone()];
    let committed = (move || -> Result<UploadOutcome> {
        blobs.stage(&mut temp, &digests.sha256)?;
        blobs.stage(&mut metadata_temp, &metadata_sha256)?;
        let now = now_millis();
        let uploaded_at = form.uploaded_at.unwrap_or(now);
        let mut conn = db.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let replaced = match duplicate(&tx, project, &filename, &digests)? {
            Duplicate::Identical(existing) => {
                // The client has just sent the very bytes: the way back for a blob that was lost.
                let metadata = (metadata_temp, &metadata_sha256, offers_metadata);
                restore_missing(&tx, blobs, &existing, temp, metadata)?;
                tx.commit()?;
                return Ok(UploadOutcome::AlreadyStored);
            }
            Duplicate::Replaces(old) => {
                db::packages::delete_file(&tx, old.id)?;
                Some(old)
            }
            Duplicate::New => None,
        };
        // Rule 1 of `blobs`: in place inside the transaction that commits the row.
        blobs.persist_all(
            &tx,
            vec![(metadata_temp, &metadata_sha256), (temp, &digests.sha256)],
        )?;
        let package_id = db::packages::upsert_package(
            &tx,
            project.id,
            name.normalized(),
            name.display(),
            &version.normalized(),
            uploaded_at,
        )?;
        let (uploader_user_id, uploader_deploy_token_id) = match writer.caller() {
            Caller::User(user) => (Some(user.user_id), None),
            Caller::DeployToken(token) => (None, Some(token.id)),
            Caller::Anonymous | Caller::Operator => (None, None),
        };
        db::packages::insert_file(
            &tx,
            &db::packages::NewFile {
                package_id,
                project_id: project.id,
                filename: filename.as_str(),
                size: digests.size,
                sha256: digests.sha256.as_str(),
                md5: &digests.md5,
                blake2b_256: &digests.blake2b_256,
                requires_python: meta.requires_python.as_deref(),
                filetype: filename.kind().filetype(),
                python_version: form.get("pyversion"),
                metadata_sha256: metadata_sha256.as_str(),
                offers_metadata,
                uploader_user_id,
                uploader_deploy_token_id,
            },
            uploaded_at,
            now,
        )?;
        db::packages::upsert_metadata(&tx, package_id, &meta)?;
        db::packages::set_description_html(&tx, package_id, &description_html)?;
        let target = format!("{}/{}", project.full_path, filename.as_str());
        let action = if replaced.is_some() {
            "replace"
        } else {
            "upload"
        };
        audit::record(
            &tx,
            writer.caller(),
            action,
            About::Project(project.id),
            &target,
        )?;
        tx.commit()?;
        if let Some(old) = replaced {
            let digests = std::iter::once(old.sha256).chain(old.metadata_sha256);
            super::manage::remove_unreferenced(&conn, blobs, digests);
        }
        tracing::info!(project = %project.full_path, file = %filename.as_str(), size = digests.size, "stored");
        Ok(UploadOutcome::Created)
    })();
    if committed.is_err() && blobs.s3().is_some() {
        // A refusal under the lock (or a failed commit) must not leave the early copies
        // behind: removed unless a row refers to them, under rule 2.
        if let Ok(conn) = db.get() {
            let digests = staged.iter().map(|s| s.as_str().to_string());
            super::manage::remove_unreferenced(&conn, blobs, digests);
        }
    }
    committed
}

/// Whether a stored file's blobs (the file and its extracted metadata) are all on disk.
fn is_complete(blobs: &BlobStore, file: &StoredFile) -> bool {
    let on_disk = |digest: &str| Sha256Hex::parse(digest).is_some_and(|sha| blobs.exists(&sha));
    on_disk(&file.sha256) && file.metadata_sha256.as_deref().is_none_or(on_disk)
}

/// Puts back whichever blob of a stored file is missing (damage, or a blob lost to the delete
/// race of older versions) from an identical upload, inside the caller's write transaction.
fn restore_missing(
    tx: &Transaction<'_>,
    blobs: &BlobStore,
    existing: &StoredFile,
    file: TempBlob,
    (metadata, metadata_sha256, offered): (TempBlob, &Sha256Hex, bool),
) -> Result<()> {
    let sha256 = Sha256Hex::parse(&existing.sha256)
        .ok_or_else(|| Error::internal(format!("file {} has a bad sha256", existing.id)))?;
    if !blobs.exists(&sha256) {
        tracing::warn!(file = %existing.filename, "restored its missing blob from an identical upload");
    }
    blobs.persist(tx, file, &sha256)?;
    let metadata_on_disk = existing
        .metadata_sha256
        .as_deref()
        .and_then(Sha256Hex::parse)
        .is_some_and(|sha| blobs.exists(&sha));
    if !metadata_on_disk {
        blobs.persist(tx, metadata, metadata_sha256)?;
        db::packages::set_metadata(tx, existing.id, metadata_sha256.as_str(), offered)?;
    }
    Ok(())
}

/// What an upload is, next to what the project holds under its filename.
enum Duplicate {
    New,
    /// The same name with the same bytes: a re-run of a publish job.
    Identical(Box<StoredFile>),
    /// Other bytes under a stored name, in a project whose setting allows replacing files.
    Replaces(Box<StoredFile>),
}

/// The duplicate rule: same name and bytes is a harmless re-run; other bytes are refused with
/// the words older twine's `--skip-existing` looks for, unless the project allows replacing
/// files. A deleted name may return only with its old bytes, unless the project allows
/// replacing files: a pinned hash must not change meaning unless its owners chose that.
fn duplicate(
    conn: &Connection,
    project: &crate::model::Project,
    filename: &Filename,
    digests: &Digests,
) -> Result<Duplicate> {
    match db::packages::find_file_by_name(conn, project.id, filename.as_str())? {
        None => match db::packages::find_tombstone(conn, project.id, filename.as_str())? {
            Some(sha256) if sha256 != digests.sha256.as_str() && !project.allow_file_replace => {
                Err(Error::bad_request(format!(
                    "File already exists: \"{}\" was deleted, and its name cannot be reused with other content",
                    filename.as_str()
                )))
            }
            _ => Ok(Duplicate::New),
        },
        Some(existing) if existing.sha256 == digests.sha256.as_str() => {
            Ok(Duplicate::Identical(Box::new(existing)))
        }
        Some(existing) if project.allow_file_replace => Ok(Duplicate::Replaces(Box::new(existing))),
        Some(_) => Err(Error::bad_request(format!(
            "File already exists: \"{}\" is stored with other content; upload a new version instead",
            filename.as_str()
        ))),
    }
}

/// Every digest the client sent must match the bytes that arrived: a mismatch means a corrupt
/// or tampered transfer, which must not be stored.
fn check_client_digests(form: &UploadForm, computed: &Digests) -> Result<()> {
    let pairs = [
        ("sha256_digest", computed.sha256.as_str()),
        ("md5_digest", computed.md5.as_str()),
        ("blake2_256_digest", computed.blake2b_256.as_str()),
    ];
    for (field, actual) in pairs {
        if let Some(claimed) = form.get(field)
            && !claimed.eq_ignore_ascii_case(actual)
        {
            return Err(Error::bad_request(format!(
                "{field} does not match the uploaded file (sent {}, received bytes have {actual})",
                crate::python::name::truncate_for_message(claimed)
            )));
        }
    }
    Ok(())
}

fn check_metadata_matches(meta: &CoreMetadata, name: &DistName, version: &Version) -> Result<()> {
    let version_matches = Version::parse(&meta.version).is_ok_and(|v| &v == version);
    if normalize(&meta.name) != name.normalized() || !version_matches {
        return Err(Error::bad_request(format!(
            "the file's own metadata names \"{}\" version \"{}\", not \"{}\" version \"{}\"",
            crate::python::name::truncate_for_message(&meta.name),
            crate::python::name::truncate_for_message(&meta.version),
            name.display(),
            version.normalized()
        )));
    }
    Ok(())
}

/// The file's metadata wins; the form fills only what the file leaves out.
fn fill_from_form(meta: &mut CoreMetadata, form: &UploadForm) {
    let fields: [(&mut Option<String>, &str); 12] = [
        (&mut meta.summary, "summary"),
        (&mut meta.description, "description"),
        (
            &mut meta.description_content_type,
            "description_content_type",
        ),
        (&mut meta.keywords, "keywords"),
        (&mut meta.author, "author"),
        (&mut meta.author_email, "author_email"),
        (&mut meta.maintainer, "maintainer"),
        (&mut meta.maintainer_email, "maintainer_email"),
        (&mut meta.license, "license"),
        (&mut meta.home_page, "home_page"),
        (&mut meta.requires_python, "requires_python"),
        (&mut meta.metadata_version, "metadata_version"),
    ];
    for (slot, field) in fields {
        if slot.is_none() {
            *slot = form.get(field).map(str::to_string);
        }
    }
    let lists: [(&mut Vec<String>, &str); 3] = [
        (&mut meta.classifiers, "classifiers"),
        (&mut meta.requires_dist, "requires_dist"),
        (&mut meta.project_urls, "project_urls"),
    ];
    for (list, field) in lists {
        if list.is_empty() {
            *list = form.all(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_count_as_missing() {
        let mut form = UploadForm::default();
        form.add("requires_python", "".into());
        form.add("classifiers", "A".into());
        form.add("classifiers", "B".into());
        assert_eq!(form.get("requires_python"), None);
        assert_eq!(form.all("classifiers"), ["A", "B"]);
        assert!(
            form.required("name")
                .unwrap_err()
                .to_string()
                .contains("\"name\" is missing")
        );
    }

    #[test]
    fn form_fills_only_gaps() {
        let mut meta = CoreMetadata {
            summary: Some("from file".into()),
            ..Default::default()
        };
        let mut form = UploadForm::default();
        form.add("summary", "from form".into());
        form.add("license", "MIT".into());
        fill_from_form(&mut meta, &form);
        assert_eq!(meta.summary.as_deref(), Some("from file"));
        assert_eq!(meta.license.as_deref(), Some("MIT"));
    }
}
