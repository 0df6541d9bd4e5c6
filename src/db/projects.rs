//! SQL for projects.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_or;
use crate::error::Result;
use crate::model::{Project, Visibility};

const COLUMNS: &str = "id, namespace_id, full_path, visibility, allow_file_replace, \
                       coalesce(name, path), description";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    let visibility: String = row.get(3)?;
    Ok(Project {
        id: row.get(0)?,
        namespace_id: row.get(1)?,
        full_path: row.get(2)?,
        visibility: visibility.parse().unwrap_or(Visibility::Private),
        allow_file_replace: row.get(4)?,
        name: row.get(5)?,
        description: row.get(6)?,
    })
}

pub fn insert(
    conn: &Connection,
    namespace_id: i64,
    path: &str,
    full_path: &str,
    visibility: Visibility,
    now: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO projects (namespace_id, path, full_path, visibility, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![namespace_id, path, full_path, visibility.as_str(), now],
    )
    .map_err(|e| unique_or(e, || format!("the project \"{full_path}\" already exists")))?;
    Ok(conn.last_insert_rowid())
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<Project>> {
    let sql = format!("SELECT {COLUMNS} FROM projects WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], from_row).optional()?)
}

pub fn find_by_path(conn: &Connection, full_path: &str) -> Result<Option<Project>> {
    let sql = format!("SELECT {COLUMNS} FROM projects WHERE full_path = ?1");
    Ok(conn.query_row(&sql, [full_path], from_row).optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<Project>> {
    let sql = format!("SELECT {COLUMNS} FROM projects ORDER BY full_path");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every project below a group path, at any depth, through the full-path index: paths below
/// `a/b` sort between `a/b/` and `a/b0` (`0` follows `/` in ASCII).
pub fn list_below(conn: &Connection, group_full_path: &str) -> Result<Vec<Project>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM projects WHERE full_path >= ?1 AND full_path < ?2 ORDER BY full_path"
    );
    let mut stmt = conn.prepare(&sql)?;
    let low = format!("{group_full_path}/");
    let high = format!("{group_full_path}0");
    let rows = stmt
        .query_map(params![low, high], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn update_settings(
    conn: &Connection,
    id: i64,
    visibility: Visibility,
    allow_file_replace: bool,
) -> Result<()> {
    conn.execute(
        "UPDATE projects SET visibility = ?2, allow_file_replace = ?3 WHERE id = ?1",
        params![id, visibility.as_str(), allow_file_replace],
    )?;
    Ok(())
}

/// The name and description; `None` keeps what is there.
pub fn set_text(
    conn: &Connection,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE projects SET name = coalesce(?2, name), description = coalesce(?3, description)
         WHERE id = ?1",
        params![id, name, description],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM projects WHERE id = ?1", [id])?;
    Ok(())
}
