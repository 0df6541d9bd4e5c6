//! What the simple index shows: package names, a package's files and versions, one file.

use std::collections::HashSet;

use rusqlite::Connection;

use crate::access::ReadScope;
use crate::db;
use crate::db::packages::StoredFile;
use crate::error::{Error, Result};
use crate::python::name::normalize;
use crate::python::version::compare_strs;

/// One package name in an index: its PEP 503 normal form and the name as first uploaded.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub name: String,
    pub display_name: String,
}

/// One package across the scope's projects.
#[derive(Debug)]
pub struct PackagePage {
    pub name: String,
    /// PEP 440 order, oldest first.
    pub versions: Vec<String>,
    /// By (PEP 440 version, filename).
    pub files: Vec<StoredFile>,
}

pub fn package_names(conn: &Connection, scope: &impl ReadScope) -> Result<Vec<IndexEntry>> {
    Ok(db::packages::list_names(conn, &scope.project_ids())?
        .into_iter()
        .map(|(name, display_name)| IndexEntry { name, display_name })
        .collect())
}

/// The package named `requested` in any PEP 503 spelling. A name the scope does not hold is a
/// 404: it is never forwarded to another index (that is how dependency confusion happens).
pub fn package_page(
    conn: &Connection,
    scope: &impl ReadScope,
    requested: &str,
) -> Result<PackagePage> {
    let name = normalize(requested);
    let newest_first = db::packages::list_files_named(conn, &scope.project_ids(), &name)?;
    if newest_first.is_empty() {
        return Err(Error::not_found("404 Package Not Found"));
    }
    // A filename held by several projects of a group is listed once: the newest upload wins.
    let mut seen = HashSet::new();
    let mut files: Vec<StoredFile> = newest_first
        .into_iter()
        .filter(|f| seen.insert(f.filename.clone()))
        .collect();
    files.sort_by(|a, b| {
        compare_strs(&a.version, &b.version).then_with(|| a.filename.cmp(&b.filename))
    });
    let mut versions: Vec<String> = Vec::new();
    for file in &files {
        if versions.last() != Some(&file.version) {
            versions.push(file.version.clone());
        }
    }
    Ok(PackagePage {
        name,
        versions,
        files,
    })
}

/// The file with exactly this sha256 and filename in the scope; anything else is a 404.
pub fn file(
    conn: &Connection,
    scope: &impl ReadScope,
    sha256: &str,
    filename: &str,
) -> Result<StoredFile> {
    db::packages::find_file_by_digest(conn, &scope.project_ids(), sha256, filename)?
        .ok_or_else(|| Error::not_found("404 File Not Found"))
}
