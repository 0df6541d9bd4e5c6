//! SQL for upstream indexes: a group's upstreams and name rules, cached pages, files and blobs.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_or;
use crate::error::Result;

/// One upstream index of a top-level group.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub id: i64,
    pub group_id: i64,
    pub position: i64,
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub cache_hours: i64,
    pub created_at: i64,
}

const UPSTREAM_COLUMNS: &str =
    "id, group_id, position, url, username, password, cache_hours, created_at";

fn upstream_from_row(row: &Row<'_>) -> rusqlite::Result<Upstream> {
    Ok(Upstream {
        id: row.get(0)?,
        group_id: row.get(1)?,
        position: row.get(2)?,
        url: row.get(3)?,
        username: row.get(4)?,
        password: row.get(5)?,
        cache_hours: row.get(6)?,
        created_at: row.get(7)?,
    })
}

/// What a name rule does (see the `upstream_rules` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Reserve,
    Allow,
    Deny,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Reserve => "reserve",
            RuleKind::Allow => "allow",
            RuleKind::Deny => "deny",
        }
    }

    pub fn parse(text: &str) -> Option<RuleKind> {
        match text {
            "reserve" => Some(RuleKind::Reserve),
            "allow" => Some(RuleKind::Allow),
            "deny" => Some(RuleKind::Deny),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    pub group_id: i64,
    pub kind: RuleKind,
    pub pattern: String,
    pub created_at: i64,
}

/// The upstreams of a group, in the order they are asked.
pub fn list(conn: &Connection, group_id: i64) -> Result<Vec<Upstream>> {
    let sql = format!(
        "SELECT {UPSTREAM_COLUMNS} FROM upstreams WHERE group_id = ?1 ORDER BY position, id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([group_id], upstream_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn find(conn: &Connection, group_id: i64, id: i64) -> Result<Option<Upstream>> {
    let sql = format!("SELECT {UPSTREAM_COLUMNS} FROM upstreams WHERE group_id = ?1 AND id = ?2");
    Ok(conn
        .query_row(&sql, params![group_id, id], upstream_from_row)
        .optional()?)
}

pub struct NewUpstream<'a> {
    pub url: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub cache_hours: i64,
}

/// Adds an upstream after the group's others; the same URL twice is a 409.
pub fn insert(conn: &Connection, group_id: i64, new: &NewUpstream<'_>, now: i64) -> Result<i64> {
    conn.execute(
            "INSERT INTO upstreams (group_id, position, url, username, password, cache_hours, created_at)
             VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM upstreams WHERE group_id = ?1),
                     ?2, ?3, ?4, ?5, ?6)",
            params![
                group_id,
                new.url,
                new.username,
                new.password,
                new.cache_hours,
                now
            ],
        )
        .map_err(|e| unique_or(e, || "this group already has that upstream".into()))?;
    Ok(conn.last_insert_rowid())
}

/// Removes an upstream with its cached pages; its cached files stay until evicted or `gc`.
pub fn delete(conn: &Connection, group_id: i64, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM upstreams WHERE group_id = ?1 AND id = ?2",
        params![group_id, id],
    )? > 0)
}

pub fn list_rules(conn: &Connection, group_id: i64) -> Result<Vec<Rule>> {
    let mut stmt = conn.prepare(
        "SELECT id, group_id, kind, pattern, created_at FROM upstream_rules
         WHERE group_id = ?1 ORDER BY kind, pattern",
    )?;
    let rows = stmt
        .query_map([group_id], |r| {
            let kind: String = r.get(2)?;
            Ok(Rule {
                id: r.get(0)?,
                group_id: r.get(1)?,
                // The CHECK constraint admits only the three kinds.
                kind: RuleKind::parse(&kind).unwrap_or(RuleKind::Reserve),
                pattern: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn insert_rule(
    conn: &Connection,
    group_id: i64,
    kind: RuleKind,
    pattern: &str,
    now: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO upstream_rules (group_id, kind, pattern, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![group_id, kind.as_str(), pattern, now],
    )
    .map_err(|e| unique_or(e, || "this group already has that rule".into()))?;
    Ok(conn.last_insert_rowid())
}

pub fn delete_rule(conn: &Connection, group_id: i64, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM upstream_rules WHERE group_id = ?1 AND id = ?2",
        params![group_id, id],
    )? > 0)
}

/// Whether any project under the top-level namespace ever uploaded a package of this name.
pub fn is_published(conn: &Connection, root_id: i64, name: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM published_names WHERE root_id = ?1 AND name = ?2)",
        params![root_id, name],
        |r| r.get(0),
    )?)
}

/// The top-level namespace above (or equal to) a namespace.
pub fn root_of(conn: &Connection, namespace_id: i64) -> Result<i64> {
    Ok(conn.query_row(
        "WITH RECURSIVE up(id, parent_id) AS (
             SELECT id, parent_id FROM namespaces WHERE id = ?1
             UNION ALL
             SELECT n.id, n.parent_id FROM namespaces n JOIN up ON n.id = up.parent_id
         )
         SELECT id FROM up WHERE parent_id IS NULL",
        [namespace_id],
        |r| r.get(0),
    )?)
}

/// One upstream's last answer for a name.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub upstream_id: i64,
    pub name: String,
    pub found: bool,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub checked_at: i64,
}

/// One file of a cached page, as the upstream described it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    pub filename: String,
    pub version: String,
    /// Where the upstream serves it (absolute, without a fragment).
    pub url: String,
    pub sha256: String,
    pub size: Option<i64>,
    pub requires_python: Option<String>,
    /// `Some(reason)`, possibly empty, when yanked.
    pub yanked: Option<String>,
    pub metadata_sha256: Option<String>,
    /// RFC 3339, as the upstream gave it.
    pub upload_time: Option<String>,
}

const FILE_COLUMNS: &str =
    "filename, version, url, sha256, size, requires_python, yanked, metadata_sha256, upload_time";

fn file_from_row(row: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        filename: row.get(0)?,
        version: row.get(1)?,
        url: row.get(2)?,
        sha256: row.get(3)?,
        size: row.get(4)?,
        requires_python: row.get(5)?,
        yanked: row.get(6)?,
        metadata_sha256: row.get(7)?,
        upload_time: row.get(8)?,
    })
}

pub fn find_page(conn: &Connection, upstream_id: i64, name: &str) -> Result<Option<PageRow>> {
    Ok(conn
        .query_row(
            "SELECT upstream_id, name, found, etag, last_modified, checked_at FROM upstream_pages
             WHERE upstream_id = ?1 AND name = ?2",
            params![upstream_id, name],
            |r| {
                Ok(PageRow {
                    upstream_id: r.get(0)?,
                    name: r.get(1)?,
                    found: r.get(2)?,
                    etag: r.get(3)?,
                    last_modified: r.get(4)?,
                    checked_at: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub fn page_files(conn: &Connection, upstream_id: i64, name: &str) -> Result<Vec<FileRow>> {
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM upstream_files WHERE upstream_id = ?1 AND name = ?2 ORDER BY filename"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![upstream_id, name], file_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Replaces a page and its files with a fresh answer (call inside a transaction).
pub fn store_page(conn: &Connection, page: &PageRow, files: &[FileRow]) -> Result<()> {
    conn.execute(
        "DELETE FROM upstream_files WHERE upstream_id = ?1 AND name = ?2",
        params![page.upstream_id, page.name],
    )?;
    conn.execute(
        "INSERT INTO upstream_pages (upstream_id, name, found, etag, last_modified, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (upstream_id, name) DO UPDATE SET found = excluded.found,
             etag = excluded.etag, last_modified = excluded.last_modified,
             checked_at = excluded.checked_at",
        params![
            page.upstream_id,
            page.name,
            page.found,
            page.etag,
            page.last_modified,
            page.checked_at
        ],
    )?;
    let mut insert = conn.prepare(&format!(
        "INSERT OR IGNORE INTO upstream_files (upstream_id, name, {FILE_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for f in files {
        insert.execute(params![
            page.upstream_id,
            page.name,
            f.filename,
            f.version,
            f.url,
            f.sha256,
            f.size,
            f.requires_python,
            f.yanked,
            f.metadata_sha256,
            f.upload_time
        ])?;
    }
    Ok(())
}

/// The upstream confirmed the page unchanged (304).
pub fn touch_page(conn: &Connection, upstream_id: i64, name: &str, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE upstream_pages SET checked_at = ?3 WHERE upstream_id = ?1 AND name = ?2",
        params![upstream_id, name, now],
    )?;
    Ok(())
}

/// A file that one of the group's upstreams lists under `name`... found by what the group
/// index links to: its sha256 and filename. With the upstream it came from and the page name.
pub fn find_listed_file(
    conn: &Connection,
    group_id: i64,
    sha256: &str,
    filename: &str,
) -> Result<Option<(Upstream, String, FileRow)>> {
    let sql = format!(
        "SELECT u.id, u.group_id, u.position, u.url, u.username, u.password, u.cache_hours,
                u.created_at, f.name, f.{}
         FROM upstream_files f JOIN upstreams u ON u.id = f.upstream_id
         WHERE u.group_id = ?1 AND f.sha256 = ?2 AND f.filename = ?3
         ORDER BY u.position, u.id LIMIT 1",
        FILE_COLUMNS.replace(", ", ", f.")
    );
    Ok(conn
        .query_row(&sql, params![group_id, sha256, filename], |r| {
            let upstream = upstream_from_row(r)?;
            let name: String = r.get(8)?;
            let file = FileRow {
                filename: r.get(9)?,
                version: r.get(10)?,
                url: r.get(11)?,
                sha256: r.get(12)?,
                size: r.get(13)?,
                requires_python: r.get(14)?,
                yanked: r.get(15)?,
                metadata_sha256: r.get(16)?,
                upload_time: r.get(17)?,
            };
            Ok((upstream, name, file))
        })
        .optional()?)
}

/// Whether the blob is held for upstreams (and so on disk).
pub fn blob_cached(conn: &Connection, sha256: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT last_used_at FROM upstream_blobs WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .optional()?)
}

/// Records a verified upstream blob (call in the transaction that persists it).
pub fn record_blob(conn: &Connection, sha256: &str, size: i64, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO upstream_blobs (sha256, size, fetched_at, last_used_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (sha256) DO UPDATE SET last_used_at = excluded.last_used_at",
        params![sha256, size, now],
    )?;
    Ok(())
}

pub fn touch_blob(conn: &Connection, sha256: &str, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE upstream_blobs SET last_used_at = ?2 WHERE sha256 = ?1",
        params![sha256, now],
    )?;
    Ok(())
}

/// Total bytes of upstream blobs held.
pub fn cached_bytes(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM upstream_blobs",
        [],
        |r| r.get(0),
    )?)
}

/// Upstream blobs, least recently used first, with their sizes.
pub fn least_recently_used(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt =
        conn.prepare("SELECT sha256, size FROM upstream_blobs ORDER BY last_used_at, sha256")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn forget_blob(conn: &Connection, sha256: &str) -> Result<()> {
    conn.execute("DELETE FROM upstream_blobs WHERE sha256 = ?1", [sha256])?;
    Ok(())
}

/// Every upstream blob digest, for `fsck` and `gc`.
pub fn all_blobs(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare("SELECT sha256, size FROM upstream_blobs ORDER BY sha256")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The filenames of a group's cached upstream files of one name (the package page's "cached").
pub fn cached_filenames(conn: &Connection, group_id: i64, name: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT f.filename FROM upstream_files f
         JOIN upstreams u ON u.id = f.upstream_id
         JOIN upstream_blobs b ON b.sha256 = f.sha256
         WHERE u.group_id = ?1 AND f.name = ?2 ORDER BY f.filename",
    )?;
    let rows = stmt
        .query_map(params![group_id, name], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Sets an upstream's freshness window and credentials (`None` leaves them as they are;
/// `Some((None, None))` clears them).
pub fn update(
    conn: &Connection,
    group_id: i64,
    id: i64,
    cache_hours: Option<i64>,
    credentials: Option<(Option<&str>, Option<&str>)>,
) -> Result<bool> {
    let mut changed = conn.execute(
        "UPDATE upstreams SET cache_hours = COALESCE(?3, cache_hours)
         WHERE group_id = ?1 AND id = ?2",
        params![group_id, id, cache_hours],
    )?;
    if let Some((username, password)) = credentials {
        changed = conn.execute(
            "UPDATE upstreams SET username = ?3, password = ?4 WHERE group_id = ?1 AND id = ?2",
            params![group_id, id, username, password],
        )?;
    }
    Ok(changed > 0)
}

/// Numbers a group's upstreams 1, 2, … in the order given (ids of the group, all of them).
pub fn set_order(conn: &Connection, group_id: i64, ids: &[i64]) -> Result<()> {
    let mut stmt =
        conn.prepare("UPDATE upstreams SET position = ?3 WHERE group_id = ?1 AND id = ?2")?;
    for (at, id) in ids.iter().enumerate() {
        stmt.execute(params![group_id, id, at as i64 + 1])?;
    }
    Ok(())
}

pub fn find_rule(conn: &Connection, group_id: i64, id: i64) -> Result<Option<Rule>> {
    Ok(list_rules(conn, group_id)?.into_iter().find(|r| r.id == id))
}

/// Names with files held from a group's upstreams, most recently used first, with how many
/// files each holds.
pub fn cached_names(conn: &Connection, group_id: i64, limit: i64) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT f.name, COUNT(DISTINCT f.filename), MAX(b.last_used_at) AS used
         FROM upstream_files f
         JOIN upstreams u ON u.id = f.upstream_id
         JOIN upstream_blobs b ON b.sha256 = f.sha256
         WHERE u.group_id = ?1
         GROUP BY f.name ORDER BY used DESC, f.name LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![group_id, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Forgets held upstream blobs that no cached page lists any more (the upstream removed the
/// file, or the upstream itself was removed): nothing can ask for them. Returns how many.
pub fn forget_unlisted(conn: &Connection) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM upstream_blobs
         WHERE NOT EXISTS (SELECT 1 FROM upstream_files f WHERE f.sha256 = upstream_blobs.sha256)
           AND NOT EXISTS (SELECT 1 FROM upstream_files f
                           WHERE f.metadata_sha256 = upstream_blobs.sha256)",
        [],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str, sha256: &str, metadata: Option<&str>) -> FileRow {
        FileRow {
            filename: filename.into(),
            version: "1.0".into(),
            url: format!("https://files.example/{filename}"),
            sha256: sha256.into(),
            size: Some(3),
            requires_python: None,
            yanked: None,
            metadata_sha256: metadata.map(str::to_string),
            upload_time: None,
        }
    }

    #[test]
    fn blobs_no_page_lists_are_forgotten_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("w.db"), 1).unwrap();
        let conn = db.get().unwrap();
        conn.execute(
            "INSERT INTO namespaces (kind, path, full_path, visibility, created_at)
             VALUES ('group', 'g', 'g', 'public', 0)",
            [],
        )
        .unwrap();
        let group = conn.last_insert_rowid();
        let new = NewUpstream {
            url: "https://pypi.example/simple/",
            username: None,
            password: None,
            cache_hours: 24,
        };
        let upstream = insert(&conn, group, &new, 0).unwrap();
        let (listed, metadata, gone) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let page = PageRow {
            upstream_id: upstream,
            name: "x".into(),
            found: true,
            etag: None,
            last_modified: None,
            checked_at: 0,
        };
        store_page(
            &conn,
            &page,
            &[file("x-1.0.tar.gz", &listed, Some(&metadata))],
        )
        .unwrap();
        for sha in [&listed, &metadata, &gone] {
            record_blob(&conn, sha, 3, 0).unwrap();
        }
        assert_eq!(forget_unlisted(&conn).unwrap(), 1);
        let held: Vec<String> = all_blobs(&conn)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(held, [listed.clone(), metadata.clone()]);
        // Removing the upstream drops its pages; then nothing lists either blob.
        assert!(delete(&conn, group, upstream).unwrap());
        assert_eq!(forget_unlisted(&conn).unwrap(), 2);
    }
}
