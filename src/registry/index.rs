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
    // Decided among every project of the group, readable or not, then cut to what the caller
    // may read: a filename held by several projects is listed once, with the bytes that
    // entered the root first, and a caller who cannot see those bytes is shown none under that
    // filename (never the next ones). So a sibling project (perhaps one an attacker may
    // create), a project made visible or a member who sees more can never swap what an
    // existing filename serves. The file route follows the same rule.
    let earliest_first = db::packages::list_files_named(
        conn,
        &scope.deciding_project_ids(),
        scope.served_in(),
        &name,
    )?;
    let readable: HashSet<i64> = scope.project_ids().into_iter().collect();
    let mut seen = HashSet::new();
    let mut files: Vec<StoredFile> = earliest_first
        .into_iter()
        .filter(|f| seen.insert(f.filename.clone()))
        .filter(|f| readable.contains(&f.project_id))
        .collect();
    if files.is_empty() {
        return Err(Error::not_found("404 Package Not Found"));
    }
    files.sort_by(|a, b| {
        compare_strs(&a.version, &b.version).then_with(|| a.filename.cmp(&b.filename))
    });
    let versions =
        crate::python::version::distinct_in_order(files.iter().map(|f| f.version.as_str()));
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
    // The file served under the filename among the whole group (see `package_page`), and only
    // if the caller may read the project holding it.
    db::packages::find_file_by_digest(
        conn,
        &scope.deciding_project_ids(),
        scope.served_in(),
        sha256,
        filename,
    )?
    .filter(|f| scope.project_ids().contains(&f.project_id))
    .ok_or_else(|| Error::not_found("404 File Not Found"))
}

/// One release as the Warehouse-style JSON API shows it: the package's files, the chosen
/// version and that version's metadata.
#[derive(Debug)]
pub struct Release {
    pub page: PackagePage,
    pub version: String,
    pub metadata: crate::python::metadata::CoreMetadata,
    /// The extracted metadata file of the upload whose metadata is shown, for the fields
    /// kept only there (`License-Expression`).
    pub metadata_sha256: Option<String>,
}

/// The release `version`, or the latest one: the highest final release with a file that is not
/// yanked, else the highest release with such a file, else the highest of all (as Warehouse).
pub fn release(
    conn: &Connection,
    scope: &impl ReadScope,
    requested: &str,
    version: Option<&str>,
) -> Result<Release> {
    use crate::python::Version;
    let page = package_page(conn, scope, requested)?;
    let chosen = match version {
        Some(wanted) => {
            let wanted =
                Version::parse(wanted).map_err(|_| Error::not_found("404 Version Not Found"))?;
            page.versions
                .iter()
                .find(|v| Version::parse(v).is_ok_and(|v| v == wanted))
                .cloned()
                .ok_or_else(|| Error::not_found("404 Version Not Found"))?
        }
        None => {
            let live = |v: &&String| page.files.iter().any(|f| &f.version == *v && !f.yanked);
            let is_final = |v: &&String| Version::parse(v).is_ok_and(|v| !v.is_prerelease());
            let pick = page.versions.iter().rev();
            pick.clone()
                .find(|v| live(v) && is_final(v))
                .or_else(|| pick.clone().find(live))
                .or_else(|| page.versions.last())
                .cloned()
                .ok_or_else(|| Error::not_found("404 Package Not Found"))?
        }
    };
    // Several projects of a group may hold the version: the metadata of the file that entered
    // the root last wins (never an upload time, which an import or a transfer brings along).
    let newest = page
        .files
        .iter()
        .filter(|f| f.version == chosen)
        .max_by_key(|f| (f.entered_root_at, f.id))
        .ok_or_else(|| Error::not_found("404 Version Not Found"))?;
    let metadata = db::packages::find_metadata(conn, newest.package_id)?.ok_or_else(|| {
        Error::internal(format!("package {} has no metadata row", newest.package_id))
    })?;
    let metadata_sha256 = newest.metadata_sha256.clone();
    Ok(Release {
        page,
        version: chosen,
        metadata,
        metadata_sha256,
    })
}

/// A release's SPDX license expression (Metadata 2.4 `License-Expression`), read from its
/// stored metadata file: a blocking file read, so never while holding a connection.
pub fn license_expression(blobs: &crate::blobs::BlobStore, release: &Release) -> Option<String> {
    let sha = crate::blobs::Sha256Hex::parse(release.metadata_sha256.as_deref()?)?;
    blobs
        .local_copy(&sha)
        .and_then(|copy| crate::python::metadata::read_field(copy.path(), "License-Expression"))
        .inspect_err(|e| tracing::warn!("metadata blob {}: {e}", sha.as_str()))
        .ok()
        .flatten()
}

/// The versions stored in one project (the REST API's package list), optionally filtered.
pub fn packages(
    conn: &Connection,
    reader: &crate::access::ProjectReader,
    name_like: Option<&str>,
) -> Result<Vec<db::packages::PackageRow>> {
    db::packages::list_packages(conn, reader.project().id, name_like)
}

/// One version of one project by id, with its files.
pub fn package(
    conn: &Connection,
    reader: &crate::access::ProjectReader,
    package_id: i64,
) -> Result<(db::packages::PackageRow, Vec<StoredFile>)> {
    let row = db::packages::find_package_by_id(conn, reader.project().id, package_id)?
        .ok_or_else(|| Error::not_found("404 Package Not Found"))?;
    let files = db::packages::files_of_package(conn, row.id)?;
    Ok((row, files))
}

/// The versions stored in a group's readable projects (with its subgroups' unless
/// `exclude_subgroups`), each with the path of its project.
pub fn group_packages(
    conn: &Connection,
    reader: &crate::access::GroupReader,
    exclude_subgroups: bool,
    name_like: Option<&str>,
) -> Result<Vec<(db::packages::PackageRow, String)>> {
    let mut rows = Vec::new();
    for project in reader.projects() {
        if exclude_subgroups && project.namespace_id != reader.group().id {
            continue;
        }
        for row in db::packages::list_packages(conn, project.id, name_like)? {
            rows.push((row, project.full_path.clone()));
        }
    }
    Ok(rows)
}
