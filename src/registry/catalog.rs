//! What the web pages show of a project's packages: each package with its latest version, and
//! one version with its files, uploaders, metadata and sibling versions.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::access::ProjectReader;
use crate::db;
/// The stored records the routes render (they name them here, not in `db`).
pub use crate::db::packages::{PackageRow, StoredFile};
use crate::error::{Error, Result};
use crate::python::metadata::CoreMetadata;
use crate::python::version::compare_strs;

/// One package of a project, at its latest version.
#[derive(Debug)]
pub struct PackageSummary {
    pub display_name: String,
    /// The highest version by PEP 440 (prereleases included), and its id for the link.
    pub latest_version: String,
    pub latest_id: i64,
    /// When its newest version was uploaded (ms since the epoch).
    pub updated_at: i64,
    pub version_count: usize,
}

/// The project's packages by name, optionally only those whose name contains `filter`.
pub fn packages(
    conn: &Connection,
    reader: &ProjectReader,
    filter: Option<&str>,
) -> Result<Vec<PackageSummary>> {
    let rows = db::packages::list_packages(conn, reader.project().id, filter)?;
    let mut by_name: HashMap<String, Vec<PackageRow>> = HashMap::new();
    for row in rows {
        by_name.entry(row.name.clone()).or_default().push(row);
    }
    let mut summaries: Vec<PackageSummary> = by_name
        .into_values()
        .filter_map(|versions| {
            let latest = versions
                .iter()
                .max_by(|a, b| compare_strs(&a.version, &b.version))?;
            Some(PackageSummary {
                display_name: latest.display_name.clone(),
                latest_version: latest.version.clone(),
                latest_id: latest.id,
                updated_at: versions.iter().map(|v| v.created_at).max()?,
                version_count: versions.len(),
            })
        })
        .collect();
    summaries.sort_by_key(|s| s.display_name.to_lowercase());
    Ok(summaries)
}

/// One version of a package in the list of its versions.
#[derive(Debug)]
pub struct VersionEntry {
    pub id: i64,
    pub version: String,
    pub created_at: i64,
    pub file_count: i64,
    /// Every file of the version is yanked.
    pub yanked: bool,
}

/// One version with everything its page shows.
#[derive(Debug)]
pub struct PackageDetail {
    pub package: PackageRow,
    /// Each file with who uploaded it, if that account or token still exists.
    pub files: Vec<(StoredFile, Option<String>)>,
    /// Its `description` is present only when `description_html` is missing: a version stored
    /// before rendered descriptions were kept, whose page renders it once (`keep_description`).
    pub metadata: Option<CoreMetadata>,
    pub description_html: Option<String>,
    /// Newest first, in PEP 440 order.
    pub versions: Vec<VersionEntry>,
}

pub fn package(
    conn: &Connection,
    reader: &ProjectReader,
    package_id: i64,
) -> Result<PackageDetail> {
    let project_id = reader.project().id;
    let package = db::packages::find_package_by_id(conn, project_id, package_id)?
        .ok_or_else(|| Error::not_found("There is no such package in this project."))?;
    let mut uploaders: HashMap<i64, String> = db::packages::uploaders(conn, package.id)?
        .into_iter()
        .collect();
    let files = db::packages::files_of_package(conn, package.id)?
        .into_iter()
        .map(|file| {
            let uploader = uploaders.remove(&file.id);
            (file, uploader)
        })
        .collect();
    let mut versions: Vec<VersionEntry> =
        db::packages::versions_named(conn, project_id, &package.name)?
            .into_iter()
            .map(|(row, file_count, yanked)| VersionEntry {
                id: row.id,
                version: row.version,
                created_at: row.created_at,
                file_count,
                yanked,
            })
            .collect();
    versions.sort_by(|a, b| compare_strs(&b.version, &a.version));
    let (metadata, description_html) = match db::packages::find_shown_metadata(conn, package.id)? {
        Some((metadata, html)) => (Some(metadata), html),
        None => (None, None),
    };
    Ok(PackageDetail {
        package,
        files,
        metadata,
        description_html,
        versions,
    })
}

/// Keeps a description rendered at a page view (never while a connection was held) for every
/// later view; an upload's own rendering, if one came in between, wins. No capability is asked:
/// the HTML is what the stored description renders to, whoever's view rendered it.
pub fn keep_description(conn: &Connection, package_id: i64, html: &str) -> Result<()> {
    db::packages::keep_late_description_html(conn, package_id, html)
}

/// One file of the project, by id (the web's download link).
pub fn file(conn: &Connection, reader: &ProjectReader, file_id: i64) -> Result<StoredFile> {
    db::packages::find_file_by_id(conn, reader.project().id, file_id)?
        .ok_or_else(|| Error::not_found("There is no such file in this project."))
}

/// One project's share of the disk.
#[derive(Debug)]
pub struct ProjectUsage {
    pub project: crate::model::Project,
    pub files: i64,
    pub bytes: i64,
}

/// Every project with the files and bytes it stores, largest first (admins only).
pub fn disk_usage(
    conn: &Connection,
    _admin: &crate::access::ApiAdmin,
) -> Result<Vec<ProjectUsage>> {
    let stored: HashMap<i64, (i64, i64)> = db::packages::bytes_per_project(conn)?
        .into_iter()
        .map(|(project_id, files, bytes)| (project_id, (files, bytes)))
        .collect();
    let mut usage: Vec<ProjectUsage> = db::projects::list(conn)?
        .into_iter()
        .map(|project| {
            let (files, bytes) = stored.get(&project.id).copied().unwrap_or_default();
            ProjectUsage {
                project,
                files,
                bytes,
            }
        })
        .collect();
    usage.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.project.full_path.cmp(&b.project.full_path))
    });
    Ok(usage)
}
