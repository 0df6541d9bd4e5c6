//! Bringing packages from the registries people leave: a folder of wheels and sdists
//! (pypiserver's packages directory, `pip download` output) or a `devpi-export` dump, each file
//! published through the same checks as an upload, so a re-run skips what is already there.
//! The input is not trusted: only regular files inside the folder are read (no symbolic link,
//! FIFO or device, nothing that resolves outside), and every file left out is reported.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::access::ProjectWriter;
use crate::blobs::BlobStore;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::python::Filename;
use crate::python::archive::{self, Limits};
use crate::python::metadata;
use crate::registry::upload::{self, ReceivedFile, UploadForm, UploadOutcome};

/// One file to bring in, with its upload time when the old registry kept one.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Milliseconds since the epoch.
    pub uploaded_at: Option<i64>,
}

/// What an import did with each file.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    pub already_present: usize,
    /// (file, why it was refused): its own fault, or a file the import would not read.
    pub refused: Vec<(String, String)>,
    /// (file, why it was left out): a format Wheelhouse does not take.
    pub skipped: Vec<(String, String)>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (file, why) in &self.skipped {
            writeln!(f, "skipped {file}: {why}")?;
        }
        for (file, why) in &self.refused {
            writeln!(f, "refused {file}: {why}")?;
        }
        write!(
            f,
            "imported {}, already present {}, refused {}, skipped {}",
            self.imported,
            self.already_present,
            self.refused.len(),
            self.skipped.len()
        )
    }
}

/// The files of one folder or devpi index to import, and those left out with the reason.
#[derive(Debug, Default)]
pub struct Batch {
    pub files: Vec<Candidate>,
    pub refused: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
}

impl Batch {
    /// Takes `path` (found inside `root`, already canonical) if it is a regular file of a
    /// format we import; says why not otherwise. A symbolic link is never followed: it could
    /// name any file the service account may read, inside the export or not.
    fn consider(&mut self, root: &Path, path: PathBuf, uploaded_at: Option<i64>) {
        let shown = path.display().to_string();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => return self.refused.push((shown, format!("cannot be read: {e}"))),
        };
        let why_not = if meta.file_type().is_symlink() {
            Some("a symbolic link, not followed: only regular files are imported".to_owned())
        } else if !meta.is_file() {
            Some("not a regular file (a FIFO, device or socket), not read".to_owned())
        } else if !std::fs::canonicalize(&path).is_ok_and(|real| real.starts_with(root)) {
            Some(format!("resolves outside {}", root.display()))
        } else {
            None
        };
        if let Some(why) = why_not {
            return self.refused.push((shown, why));
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if let Some(why) = unsupported(&name) {
            return self.skipped.push((shown, why));
        }
        let uploaded_at = uploaded_at.or_else(|| {
            let modified = meta.modified().ok()?;
            let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
            Some(since.as_millis() as i64)
        });
        self.files.push(Candidate { path, uploaded_at });
    }
}

/// Why a file name is not one we import (wheels, `.tar.gz` and `.zip` sdists), if it is not.
fn unsupported(name: &str) -> Option<String> {
    if [".whl", ".tar.gz", ".zip"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        return None;
    }
    let legacy = [
        ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".egg", ".exe", ".msi", ".rpm",
    ];
    Some(match legacy.iter().find(|e| name.ends_with(*e)) {
        Some(ext) => format!(
            "a {ext} distribution: only wheels and .tar.gz or .zip sdists can be uploaded \
             to an index today (PEP 527)"
        ),
        None => "not a distribution (wheels, .tar.gz and .zip sdists are imported)".to_owned(),
    })
}

/// The export or folder root, resolved once: every file must resolve inside it.
fn root_of(dir: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir)
        .map_err(|e| Error::bad_request(format!("cannot read the folder {}: {e}", dir.display())))
}

/// Every distribution below `dir` (pypiserver serves subfolders too), in name order; the
/// upload time is the file's modification time, which is what pypiserver shows. Linked
/// folders are not entered, and every file left out is listed with the reason.
pub fn folder(dir: &Path) -> Result<Batch> {
    let root = root_of(dir)?;
    let mut batch = Batch::default();
    let mut pending = vec![root.clone()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| {
            Error::bad_request(format!("cannot read the folder {}: {e}", current.display()))
        })?;
        for entry in entries {
            let entry = entry?;
            // `file_type` does not follow a link: a linked folder is judged as a link.
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                batch.consider(&root, entry.path(), None);
            }
        }
    }
    batch
        .files
        .sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    batch.refused.sort();
    batch.skipped.sort();
    Ok(batch)
}

/// One index of a devpi export: `user/index` and its release files.
#[derive(Debug)]
pub struct DevpiIndex {
    pub name: String,
    pub batch: Batch,
}

/// The indexes of a `devpi-export` dump (its `dataindex.json`), mirrors left out (they hold
/// only what devpi cached from elsewhere). Upload times come from each file's log.
pub fn devpi_export(dir: &Path) -> Result<Vec<DevpiIndex>> {
    let dir = &std::fs::canonicalize(dir).map_err(|e| {
        Error::bad_request(format!("{} is not a devpi export ({e})", dir.display()))
    })?;
    let index_file = dir.join("dataindex.json");
    if !std::fs::symlink_metadata(&index_file).is_ok_and(|m| m.is_file()) {
        return Err(Error::bad_request(format!(
            "{} is not a devpi export (no dataindex.json as a regular file)",
            dir.display()
        )));
    }
    let text = std::fs::read(&index_file).map_err(|e| {
        Error::bad_request(format!(
            "{} is not a devpi export (no readable dataindex.json: {e})",
            dir.display()
        ))
    })?;
    let dump: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::bad_request(format!("{}: not JSON: {e}", index_file.display())))?;
    let indexes = dump["indexes"]
        .as_object()
        .ok_or_else(|| Error::bad_request(format!("{}: no \"indexes\"", index_file.display())))?;
    let mut found = Vec::new();
    for (name, index) in indexes {
        if index["indexconfig"]["type"].as_str() == Some("mirror") {
            continue;
        }
        let mut batch = Batch::default();
        for file in index["files"].as_array().into_iter().flatten() {
            if file["type"].as_str() != Some("releasefile") {
                continue; // test results and documentation zips
            }
            let Some(relpath) = file["relpath"].as_str() else {
                continue;
            };
            // The dump names files below itself; nothing may point outside it.
            let relative = Path::new(relpath);
            if relative.is_absolute()
                || relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(Error::bad_request(format!(
                    "{}: the file path {relpath:?} leaves the export",
                    index_file.display()
                )));
            }
            batch.consider(dir, dir.join(relative), upload_time(&file["log"]));
        }
        batch.files.sort_by(|a, b| a.path.cmp(&b.path));
        found.push(DevpiIndex {
            name: name.clone(),
            batch,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The time of the first upload in a devpi file log (`"when": [y, m, d, H, M, S]`, UTC).
fn upload_time(log: &serde_json::Value) -> Option<i64> {
    let entry = log
        .as_array()?
        .iter()
        .find(|e| e["what"].as_str() == Some("upload"))?;
    let when: Vec<i64> = entry["when"]
        .as_array()?
        .iter()
        .map(|v| v.as_i64())
        .collect::<Option<_>>()?;
    let [year, month, day, hour, minute, second] = when[..] else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, day as u8).ok()?;
    let moment = date
        .with_hms(hour as u8, minute as u8, second as u8)
        .ok()?
        .assume_utc();
    Some(moment.unix_timestamp() * 1000)
}

/// Publishes each file into the writer's project as an upload would, calling `progress` after
/// each. A file stored already with the same bytes counts as present; any other refusal is
/// reported with its reason and the import goes on.
pub fn import(
    db: &Db,
    blobs: &BlobStore,
    limits: &Limits,
    max_file_bytes: u64,
    writer: &ProjectWriter,
    files: &[Candidate],
    mut progress: impl FnMut(&Candidate),
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for file in files {
        let shown = file.path.display().to_string();
        match import_one(db, blobs, limits, max_file_bytes, writer, file) {
            Ok(UploadOutcome::Created) => report.imported += 1,
            Ok(UploadOutcome::AlreadyStored) => report.already_present += 1,
            // The store or the database failing stops the import; a file's own fault does not.
            Err(error @ (Error::Internal(_) | Error::StorageUnavailable(_) | Error::Busy)) => {
                return Err(error);
            }
            Err(refusal) => report.refused.push((shown, refusal.to_string())),
        }
        progress(file);
    }
    Ok(report)
}

fn import_one(
    db: &Db,
    blobs: &BlobStore,
    limits: &Limits,
    max_file_bytes: u64,
    writer: &ProjectWriter,
    file: &Candidate,
) -> Result<UploadOutcome> {
    let filename = file
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = Filename::parse(&filename)?.kind();
    let mut temp = blobs.temp_file()?;
    let mut source = open_regular(&file.path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = std::io::Read::read(&mut source, &mut buffer)?;
        if read == 0 {
            break;
        }
        if temp.size() + read as u64 > max_file_bytes {
            return Err(Error::PayloadTooLarge(format!(
                "the file is larger than the limit of {max_file_bytes} bytes (max_upload_size)"
            )));
        }
        temp.write_chunk(&buffer[..read])?;
    }
    temp.sync()?;
    // The name and version come from the copy's own metadata, as the upload checks them: the
    // bytes read are the bytes stored, whatever happens to the original meanwhile.
    let meta = metadata::parse(&archive::core_metadata(temp.path(), kind, limits)?)?;
    let mut form = UploadForm::default();
    form.add("name", meta.name.clone());
    form.add("version", meta.version.clone());
    if let Some(millis) = file.uploaded_at {
        // Shown as the upload time only: the file enters its root now (see `insert_file`).
        form.set_uploaded_at(millis);
    }
    let received = ReceivedFile { filename, temp };
    upload::publish(db, blobs, limits, writer, &form, received)
}

/// Opens a file only if it is a regular file, and never through a link: what was judged when
/// listing may have been swapped since. `O_NONBLOCK` makes opening a FIFO return at once
/// instead of waiting for a writer for ever; the check after opening then refuses it.
fn open_regular(path: &Path) -> Result<File> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::bad_request(format!("cannot open it as a regular file: {e}")))?;
    if !file.metadata()?.is_file() {
        return Err(Error::bad_request(
            "not a regular file (a FIFO, device or socket), not read",
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devpi_upload_times_are_read_as_utc() {
        let log = serde_json::json!([
            {"what": "upload", "who": "root", "when": [2026, 12, 1, 7, 3, 26], "dst": "root/dev"}
        ]);
        assert_eq!(upload_time(&log), Some(1_796_108_606_000));
        assert_eq!(upload_time(&serde_json::json!([])), None);
        let odd = serde_json::json!([{"what": "upload", "when": [2026, 13, 1, 0, 0, 0]}]);
        assert_eq!(upload_time(&odd), None);
    }

    #[test]
    fn a_devpi_export_may_not_point_outside_itself() {
        let dir = tempfile::tempdir().unwrap();
        let dump = serde_json::json!({"indexes": {"root/dev": {
            "indexconfig": {"type": "stage"},
            "files": [{"type": "releasefile", "relpath": "../../etc/passwd"}]
        }}});
        std::fs::write(dir.path().join("dataindex.json"), dump.to_string()).unwrap();
        let error = devpi_export(dir.path()).unwrap_err().to_string();
        assert!(error.contains("leaves the export"), "{error}");
    }
}
