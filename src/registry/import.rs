//! Bringing packages from the registries people leave: a folder of wheels and sdists
//! (pypiserver's packages directory, `pip download` output) or a `devpi-export` dump, each file
//! published through the same checks as an upload, so a re-run skips what is already there.

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
    /// (file, why it was refused).
    pub refused: Vec<(String, String)>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (file, why) in &self.refused {
            writeln!(f, "refused {file}: {why}")?;
        }
        write!(
            f,
            "imported {}, already present {}, refused {}",
            self.imported,
            self.already_present,
            self.refused.len()
        )
    }
}

/// Whether a file name looks like a distribution (what pypiserver serves from its folder).
fn is_distribution(name: &str) -> bool {
    name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip")
}

/// Every distribution below `dir` (pypiserver serves subfolders too), in name order; the
/// upload time is the file's modification time, which is what pypiserver shows.
pub fn folder(dir: &Path) -> Result<Vec<Candidate>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| {
            Error::bad_request(format!("cannot read the folder {}: {e}", current.display()))
        })?;
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && is_distribution(&entry.file_name().to_string_lossy()) {
                let uploaded_at = entry
                    .metadata()?
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64);
                found.push(Candidate { path, uploaded_at });
            }
        }
    }
    found.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(found)
}

/// One index of a devpi export: `user/index` and its release files.
#[derive(Debug)]
pub struct DevpiIndex {
    pub name: String,
    pub files: Vec<Candidate>,
}

/// The indexes of a `devpi-export` dump (its `dataindex.json`), mirrors left out (they hold
/// only what devpi cached from elsewhere). Upload times come from each file's log.
pub fn devpi_export(dir: &Path) -> Result<Vec<DevpiIndex>> {
    let index_file = dir.join("dataindex.json");
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
        let mut files = Vec::new();
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
            files.push(Candidate {
                path: dir.join(relative),
                uploaded_at: upload_time(&file["log"]),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        found.push(DevpiIndex {
            name: name.clone(),
            files,
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
    // The name and version come from the file's own metadata, as the upload checks them.
    let meta = metadata::parse(&archive::core_metadata(&file.path, kind, limits)?)?;
    let mut form = UploadForm::default();
    form.add("name", meta.name.clone());
    form.add("version", meta.version.clone());
    if let Some(millis) = file.uploaded_at {
        form.set_uploaded_at(millis);
    }
    let mut temp = blobs.temp_file()?;
    let mut source = std::fs::File::open(&file.path)?;
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
    let received = ReceivedFile { filename, temp };
    upload::publish(db, blobs, limits, writer, &form, received)
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
