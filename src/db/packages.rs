//! SQL for packages, their files and their core metadata.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::error::Result;
use crate::python::metadata::CoreMetadata;

/// One stored distribution file, with the version it belongs to.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: i64,
    pub project_id: i64,
    pub package_id: i64,
    pub filename: String,
    pub version: String,
    pub size: i64,
    pub sha256: String,
    pub md5: String,
    pub blake2b_256: String,
    pub requires_python: Option<String>,
    pub metadata_sha256: Option<String>,
    /// `metadata_sha256` when the index offers it as core metadata (PEP 658/714, PEP 643).
    pub core_metadata: Option<String>,
    pub yanked: bool,
    pub yanked_reason: Option<String>,
    /// The upload time shown to clients (PEP 700); an import keeps the old registry's.
    pub created_at: i64,
    /// When the file entered its top-level namespace: what decides which of several files
    /// with one filename a group index serves (see `next_entry`).
    pub entered_root_at: i64,
}

const FILE_COLUMNS: &str = "f.id, f.project_id, f.package_id, f.filename, p.version, f.size, f.sha256, \
     f.md5, f.blake2b_256, f.requires_python, f.metadata_sha256, f.yanked, f.yanked_reason, f.created_at, \
     CASE WHEN f.offers_metadata = 1 THEN f.metadata_sha256 END, f.entered_root_at";

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<StoredFile> {
    Ok(StoredFile {
        id: row.get(0)?,
        project_id: row.get(1)?,
        package_id: row.get(2)?,
        filename: row.get(3)?,
        version: row.get(4)?,
        size: row.get(5)?,
        sha256: row.get(6)?,
        md5: row.get(7)?,
        blake2b_256: row.get(8)?,
        requires_python: row.get(9)?,
        metadata_sha256: row.get(10)?,
        yanked: row.get(11)?,
        yanked_reason: row.get(12)?,
        created_at: row.get(13)?,
        core_metadata: row.get(14)?,
        entered_root_at: row.get(15)?,
    })
}

/// `?,?,?` for an IN list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

pub fn find_file_by_name(
    conn: &Connection,
    project_id: i64,
    filename: &str,
) -> Result<Option<StoredFile>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM package_files f JOIN packages p ON p.id = f.package_id
         WHERE f.project_id = ?1 AND f.filename = ?2"
    );
    Ok(conn
        .query_row(&sql, params![project_id, filename], file_from_row)
        .optional()?)
}

pub fn find_file_by_id(conn: &Connection, project_id: i64, id: i64) -> Result<Option<StoredFile>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM package_files f JOIN packages p ON p.id = f.package_id
         WHERE f.project_id = ?1 AND f.id = ?2"
    );
    Ok(conn
        .query_row(&sql, params![project_id, id], file_from_row)
        .optional()?)
}

/// The file served under `filename` across the given projects, if its bytes are `sha256`. In
/// a group index (`group`), only a file with the bytes the group recorded for the filename is
/// served (see `group_filenames` in schema.sql); of several, the one that entered the root
/// first.
pub fn find_file_by_digest(
    conn: &Connection,
    project_ids: &[i64],
    group: Option<i64>,
    sha256: &str,
    filename: &str,
) -> Result<Option<StoredFile>> {
    if project_ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM package_files f JOIN packages p ON p.id = f.package_id
         WHERE f.filename = ? AND f.project_id IN ({}) {}
         ORDER BY f.entered_root_at, f.id LIMIT 1",
        placeholders(project_ids.len()),
        served_bytes_only(group)
    );
    let values = std::iter::once(Value::Text(filename.into()))
        .chain(project_ids.iter().map(|id| Value::Integer(*id)))
        .chain(group.map(Value::Integer));
    let first = conn
        .query_row(&sql, params_from_iter(values), file_from_row)
        .optional()?;
    Ok(first.filter(|f| f.sha256 == sha256))
}

/// The condition (on `f`, a package file) that keeps, in the index of `group`, only files
/// with the bytes the group serves under their filename; its one parameter is the group id.
fn served_bytes_only(group: Option<i64>) -> &'static str {
    match group {
        Some(_) => {
            "AND f.sha256 = (SELECT s.sha256 FROM group_filenames s
                             WHERE s.group_id = ? AND s.filename = f.filename)"
        }
        None => "",
    }
}

/// Records, for every group above `project_id`, that the group serves `filename` with
/// `sha256`, unless the group already serves that filename (with these bytes or others).
pub fn record_in_groups(
    conn: &Connection,
    project_id: i64,
    filename: &str,
    sha256: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO group_filenames (group_id, filename, sha256)
         WITH RECURSIVE up(id, parent_id, kind) AS (
             SELECT n.id, n.parent_id, n.kind FROM namespaces n
             JOIN projects p ON p.namespace_id = n.id WHERE p.id = ?1
             UNION ALL
             SELECT n.id, n.parent_id, n.kind FROM namespaces n JOIN up ON n.id = up.parent_id
         )
         SELECT id, ?2, ?3 FROM up WHERE kind = 'group'",
        params![project_id, filename, sha256],
    )?;
    Ok(())
}

/// Distinct package names in the given projects: (normalized, display), by normalized name.
pub fn list_names(conn: &Connection, project_ids: &[i64]) -> Result<Vec<(String, String)>> {
    if project_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT name, MIN(display_name) FROM packages WHERE project_id IN ({})
         GROUP BY name ORDER BY name",
        placeholders(project_ids.len())
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(project_ids), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every file of the package `name` (normalized) in the given projects, in the order they
/// entered their root; in the index of `group`, only files with the bytes the group serves
/// under their filename.
pub fn list_files_named(
    conn: &Connection,
    project_ids: &[i64],
    group: Option<i64>,
    name: &str,
) -> Result<Vec<StoredFile>> {
    if project_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM packages p JOIN package_files f ON f.package_id = p.id
         WHERE p.name = ? AND p.project_id IN ({}) {}
         ORDER BY f.entered_root_at, f.id",
        placeholders(project_ids.len()),
        served_bytes_only(group)
    );
    let values = std::iter::once(Value::Text(name.to_string()))
        .chain(project_ids.iter().map(|id| Value::Integer(*id)))
        .chain(group.map(Value::Integer));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(values), file_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Finds or creates the (project, name, version) row; the display name stays as first uploaded.
pub fn upsert_package(
    conn: &Connection,
    project_id: i64,
    name: &str,
    display_name: &str,
    version: &str,
    now: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO packages (project_id, name, display_name, version, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (project_id, name, version) DO NOTHING",
        params![project_id, name, display_name, version, now],
    )?;
    // The name stays guarded from the top-level namespace's upstreams for good.
    conn.execute(
        "INSERT OR IGNORE INTO published_names (root_id, name)
         WITH RECURSIVE up(id, parent_id) AS (
             SELECT n.id, n.parent_id FROM namespaces n JOIN projects p ON p.namespace_id = n.id
             WHERE p.id = ?1
             UNION ALL
             SELECT n.id, n.parent_id FROM namespaces n JOIN up ON n.id = up.parent_id
         )
         SELECT id, ?2 FROM up WHERE parent_id IS NULL",
        params![project_id, name],
    )?;
    Ok(conn.query_row(
        "SELECT id FROM packages WHERE project_id = ?1 AND name = ?2 AND version = ?3",
        params![project_id, name, version],
        |r| r.get(0),
    )?)
}

pub struct NewFile<'a> {
    pub package_id: i64,
    pub project_id: i64,
    pub filename: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub md5: &'a str,
    pub blake2b_256: &'a str,
    pub requires_python: Option<&'a str>,
    pub filetype: &'a str,
    pub python_version: Option<&'a str>,
    pub metadata_sha256: &'a str,
    /// Whether `metadata_sha256` is offered as core metadata (PEP 643 for sdists).
    pub offers_metadata: bool,
    pub uploader_user_id: Option<i64>,
    pub uploader_deploy_token_id: Option<i64>,
}

/// The next moment a file may enter a root: `now`, or just after the latest entry when that is
/// later (the clock stepped back, or a transfer entered files just before). Strictly
/// increasing, so "entered first" never depends on a tie or on the clock.
pub fn next_entry(conn: &Connection, now: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT MAX(?1, COALESCE(MAX(entered_root_at), 0) + 1) FROM package_files",
        [now],
        |r| r.get(0),
    )?)
}

/// Stores a file uploaded (or imported) at `uploaded_at`, shown to clients as its upload time;
/// it enters its root now, whatever `uploaded_at` says.
pub fn insert_file(
    conn: &Connection,
    file: &NewFile<'_>,
    uploaded_at: i64,
    now: i64,
) -> Result<i64> {
    let entered = next_entry(conn, now)?;
    conn.execute(
        "INSERT INTO package_files (package_id, project_id, filename, size, sha256, md5, blake2b_256,
             requires_python, filetype, python_version, metadata_sha256, uploader_user_id,
             uploader_deploy_token_id, created_at, offers_metadata, entered_root_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            file.package_id,
            file.project_id,
            file.filename,
            file.size as i64,
            file.sha256,
            file.md5,
            file.blake2b_256,
            file.requires_python,
            file.filetype,
            file.python_version,
            file.metadata_sha256,
            file.uploader_user_id,
            file.uploader_deploy_token_id,
            uploaded_at,
            file.offers_metadata,
            entered
        ],
    )?;
    let id = conn.last_insert_rowid();
    record_in_groups(conn, file.project_id, file.filename, file.sha256)?;
    Ok(id)
}

/// Removes a file row (to replace it, where the project allows).
pub fn delete_file(conn: &Connection, file_id: i64) -> Result<()> {
    conn.execute("DELETE FROM package_files WHERE id = ?1", [file_id])?;
    Ok(())
}

/// Stores the version's metadata as read from its newest file.
pub fn upsert_metadata(conn: &Connection, package_id: i64, meta: &CoreMetadata) -> Result<()> {
    let json = |list: &Vec<String>| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT OR REPLACE INTO package_metadata (package_id, metadata_version, summary, description,
             description_content_type, keywords, author, author_email, maintainer, maintainer_email,
             license, home_page, requires_python, classifiers, requires_dist, project_urls)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            package_id,
            meta.metadata_version,
            meta.summary,
            meta.description,
            meta.description_content_type,
            meta.keywords,
            meta.author,
            meta.author_email,
            meta.maintainer,
            meta.maintainer_email,
            meta.license,
            meta.home_page,
            meta.requires_python,
            json(&meta.classifiers),
            json(&meta.requires_dist),
            json(&meta.project_urls)
        ],
    )?;
    Ok(())
}

/// Whether any file row, of any project, still refers to this blob (as a file or as metadata).
pub fn is_blob_referenced(conn: &Connection, sha256: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM package_files WHERE sha256 = ?1)
             OR EXISTS (SELECT 1 FROM package_files WHERE metadata_sha256 = ?1)
             OR EXISTS (SELECT 1 FROM upstream_blobs WHERE sha256 = ?1)",
        [sha256],
        |r| r.get(0),
    )?)
}

/// The blob digests (files and metadata) of a project, for cleaning up after it is deleted.
pub fn project_blob_digests(conn: &Connection, project_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT sha256 FROM package_files WHERE project_id = ?1
         UNION SELECT metadata_sha256 FROM package_files WHERE project_id = ?1 AND metadata_sha256 IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([project_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One (project, name, version) row.
#[derive(Debug, Clone)]
pub struct PackageRow {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub display_name: String,
    pub version: String,
    pub created_at: i64,
}

const PACKAGE_COLUMNS: &str = "id, project_id, name, display_name, version, created_at";

fn package_from_row(row: &Row<'_>) -> rusqlite::Result<PackageRow> {
    Ok(PackageRow {
        id: row.get(0)?,
        project_id: row.get(1)?,
        name: row.get(2)?,
        display_name: row.get(3)?,
        version: row.get(4)?,
        created_at: row.get(5)?,
    })
}

pub fn find_package(
    conn: &Connection,
    project_id: i64,
    name: &str,
    version: &str,
) -> Result<Option<PackageRow>> {
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE project_id = ?1 AND name = ?2 AND version = ?3"
    );
    Ok(conn
        .query_row(&sql, params![project_id, name, version], package_from_row)
        .optional()?)
}

pub fn find_package_by_id(
    conn: &Connection,
    project_id: i64,
    id: i64,
) -> Result<Option<PackageRow>> {
    let sql = format!("SELECT {PACKAGE_COLUMNS} FROM packages WHERE project_id = ?1 AND id = ?2");
    Ok(conn
        .query_row(&sql, params![project_id, id], package_from_row)
        .optional()?)
}

/// Packages of a project, oldest first, optionally only those whose name contains `name_like`.
pub fn list_packages(
    conn: &Connection,
    project_id: i64,
    name_like: Option<&str>,
) -> Result<Vec<PackageRow>> {
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages
         WHERE project_id = ?1 AND (?2 IS NULL OR instr(name, ?2) > 0 OR instr(lower(display_name), ?2) > 0)
         ORDER BY id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(
            params![project_id, name_like.map(str::to_lowercase)],
            package_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn files_of_package(conn: &Connection, package_id: i64) -> Result<Vec<StoredFile>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM package_files f JOIN packages p ON p.id = f.package_id
         WHERE f.package_id = ?1 ORDER BY f.filename"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([package_id], file_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Yanks (with an optional reason) or unyanks one file.
pub fn set_yanked(
    conn: &Connection,
    file_id: i64,
    yanked: bool,
    reason: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE package_files SET yanked = ?2, yanked_reason = ?3 WHERE id = ?1",
        params![file_id, yanked, if yanked { reason } else { None }],
    )?;
    Ok(())
}

/// Deletes a version row; its metadata goes with it.
pub fn delete_package(conn: &Connection, package_id: i64) -> Result<()> {
    conn.execute("DELETE FROM packages WHERE id = ?1", [package_id])?;
    Ok(())
}

/// Remembers a deleted filename and the bytes it had.
pub fn insert_tombstone(
    conn: &Connection,
    project_id: i64,
    filename: &str,
    sha256: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO deleted_files (project_id, filename, sha256, deleted_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![project_id, filename, sha256, now],
    )?;
    Ok(())
}

/// The sha256 a deleted filename had, if it was ever deleted.
pub fn find_tombstone(
    conn: &Connection,
    project_id: i64,
    filename: &str,
) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT sha256 FROM deleted_files WHERE project_id = ?1 AND filename = ?2",
            params![project_id, filename],
            |r| r.get(0),
        )
        .optional()?)
}

/// The stored metadata of a version, as the JSON API shows it.
pub fn find_metadata(conn: &Connection, package_id: i64) -> Result<Option<CoreMetadata>> {
    Ok(select_metadata(conn, package_id, "m.description", "NULL")?.map(|(meta, _)| meta))
}

/// The metadata a package page shows, with the description's stored HTML. The description
/// itself is read only when its HTML was never stored (a row from before rendering was kept),
/// so a page costs the same whatever the description holds.
pub fn find_shown_metadata(
    conn: &Connection,
    package_id: i64,
) -> Result<Option<(CoreMetadata, Option<String>)>> {
    select_metadata(
        conn,
        package_id,
        "CASE WHEN m.description_html IS NULL THEN m.description END",
        "m.description_html",
    )
}

fn select_metadata(
    conn: &Connection,
    package_id: i64,
    description: &str,
    html: &str,
) -> Result<Option<(CoreMetadata, Option<String>)>> {
    let list = |text: String| serde_json::from_str::<Vec<String>>(&text).unwrap_or_default();
    let sql = format!(
        "SELECT p.display_name, p.version, m.metadata_version, m.summary, {description},
                m.description_content_type, m.keywords, m.author, m.author_email, m.maintainer,
                m.maintainer_email, m.license, m.home_page, m.requires_python, m.classifiers,
                m.requires_dist, m.project_urls, {html}
         FROM packages p JOIN package_metadata m ON m.package_id = p.id WHERE p.id = ?1"
    );
    Ok(conn
        .query_row(&sql, [package_id], |r| {
            let meta = CoreMetadata {
                name: r.get(0)?,
                version: r.get(1)?,
                metadata_version: r.get(2)?,
                summary: r.get(3)?,
                description: r.get(4)?,
                description_content_type: r.get(5)?,
                keywords: r.get(6)?,
                author: r.get(7)?,
                author_email: r.get(8)?,
                maintainer: r.get(9)?,
                maintainer_email: r.get(10)?,
                license: r.get(11)?,
                home_page: r.get(12)?,
                requires_python: r.get(13)?,
                classifiers: list(r.get(14)?),
                requires_dist: list(r.get(15)?),
                project_urls: list(r.get(16)?),
            };
            Ok((meta, r.get(17)?))
        })
        .optional()?)
}

/// Keeps the description of a version as rendered at upload.
pub fn set_description_html(conn: &Connection, package_id: i64, html: &str) -> Result<()> {
    conn.execute(
        "UPDATE package_metadata SET description_html = ?2 WHERE package_id = ?1",
        params![package_id, html],
    )?;
    Ok(())
}

/// Keeps a description rendered at its first view, unless an upload stored a newer rendering
/// in the meantime.
pub fn keep_late_description_html(conn: &Connection, package_id: i64, html: &str) -> Result<()> {
    conn.execute(
        "UPDATE package_metadata SET description_html = ?2
         WHERE package_id = ?1 AND description_html IS NULL",
        params![package_id, html],
    )?;
    Ok(())
}

/// Files whose core metadata was never extracted (stored before extraction existed).
pub fn files_without_metadata(conn: &Connection) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT id, filename, sha256 FROM package_files WHERE metadata_sha256 IS NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Points a file at its (re-)extracted metadata, and whether that is offered (PEP 643).
pub fn set_metadata(
    conn: &Connection,
    file_id: i64,
    metadata_sha256: &str,
    offers_metadata: bool,
) -> Result<()> {
    conn.execute(
        "UPDATE package_files SET metadata_sha256 = ?2, offers_metadata = ?3 WHERE id = ?1",
        params![file_id, metadata_sha256, offers_metadata],
    )?;
    Ok(())
}

/// Files stored before the PEP 643 rule, not yet judged: (id, filename, metadata_sha256).
pub fn files_unjudged(conn: &Connection) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT id, filename, metadata_sha256 FROM package_files
         WHERE offers_metadata IS NULL AND metadata_sha256 IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn set_offers_metadata(conn: &Connection, file_id: i64, offers_metadata: bool) -> Result<()> {
    conn.execute(
        "UPDATE package_files SET offers_metadata = ?2 WHERE id = ?1",
        params![file_id, offers_metadata],
    )?;
    Ok(())
}

/// What `fsck` checks of each file row.
#[derive(Debug, Clone)]
pub struct FileBlobs {
    pub id: i64,
    pub project_id: i64,
    pub filename: String,
    pub size: i64,
    pub sha256: String,
    pub metadata_sha256: Option<String>,
}

pub fn all_file_blobs(conn: &Connection) -> Result<Vec<FileBlobs>> {
    let mut stmt = conn.prepare(
        "SELECT id, project_id, filename, size, sha256, metadata_sha256 FROM package_files ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(FileBlobs {
                id: r.get(0)?,
                project_id: r.get(1)?,
                filename: r.get(2)?,
                size: r.get(3)?,
                sha256: r.get(4)?,
                metadata_sha256: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every version of one package in a project, with its number of files and whether all of
/// them are yanked (the web's version list).
pub fn versions_named(
    conn: &Connection,
    project_id: i64,
    name: &str,
) -> Result<Vec<(PackageRow, i64, bool)>> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.project_id, p.name, p.display_name, p.version, p.created_at,
                COUNT(f.id), COALESCE(MIN(f.yanked), 0)
         FROM packages p LEFT JOIN package_files f ON f.package_id = p.id
         WHERE p.project_id = ?1 AND p.name = ?2
         GROUP BY p.id",
    )?;
    let rows = stmt
        .query_map(params![project_id, name], |r| {
            Ok((package_from_row(r)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Who uploaded each file of a version: `user:NAME` or `deploy token NAME`; files whose
/// uploader is gone are left out.
pub fn uploaders(conn: &Connection, package_id: i64) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT f.id, COALESCE(u.username, 'deploy token ' || d.name)
         FROM package_files f
         LEFT JOIN users u ON u.id = f.uploader_user_id
         LEFT JOIN deploy_tokens d ON d.id = f.uploader_deploy_token_id
         WHERE f.package_id = ?1 AND (u.id IS NOT NULL OR d.id IS NOT NULL)",
    )?;
    let rows = stmt
        .query_map([package_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Bytes of package files stored for each project (the admin area's disk usage); a blob
/// shared by two projects counts in both.
pub fn bytes_per_project(conn: &Connection) -> Result<Vec<(i64, i64, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT project_id, COUNT(*), COALESCE(SUM(size), 0) FROM package_files GROUP BY project_id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}
