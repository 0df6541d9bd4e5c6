//! SQL for namespaces: users' personal namespaces and (nested) groups.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_or;
use crate::error::Result;
use crate::model::{Namespace, NamespaceKind, Visibility};

pub(super) const COLUMNS: &str =
    "id, kind, full_path, parent_id, owner_user_id, visibility, coalesce(name, path), description";

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Namespace> {
    let kind: String = row.get(1)?;
    let visibility: String = row.get(5)?;
    Ok(Namespace {
        id: row.get(0)?,
        kind: if kind == "user" {
            NamespaceKind::User
        } else {
            NamespaceKind::Group
        },
        full_path: row.get(2)?,
        parent_id: row.get(3)?,
        owner_user_id: row.get(4)?,
        // The CHECK constraint admits only the three known values.
        visibility: visibility.parse().unwrap_or(Visibility::Private),
        name: row.get(6)?,
        description: row.get(7)?,
    })
}

pub struct NewNamespace<'a> {
    pub kind: NamespaceKind,
    pub path: &'a str,
    pub full_path: &'a str,
    pub parent_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub visibility: Visibility,
}

pub fn insert(conn: &Connection, ns: &NewNamespace<'_>, now: i64) -> Result<i64> {
    let kind = match ns.kind {
        NamespaceKind::User => "user",
        NamespaceKind::Group => "group",
    };
    conn.execute(
        "INSERT INTO namespaces (kind, path, full_path, parent_id, owner_user_id, visibility, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![kind, ns.path, ns.full_path, ns.parent_id, ns.owner_user_id, ns.visibility.as_str(), now],
    )
    .map_err(|e| unique_or(e, || format!("the path \"{}\" is already taken", ns.full_path)))?;
    Ok(conn.last_insert_rowid())
}

pub fn find_by_path(conn: &Connection, full_path: &str) -> Result<Option<Namespace>> {
    let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE full_path = ?1");
    Ok(conn.query_row(&sql, [full_path], from_row).optional()?)
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<Namespace>> {
    let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], from_row).optional()?)
}

pub fn list_groups(conn: &Connection) -> Result<Vec<Namespace>> {
    let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE kind = 'group' ORDER BY full_path");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every user's personal namespace, by path.
pub fn list_personal(conn: &Connection) -> Result<Vec<Namespace>> {
    let sql = format!("SELECT {COLUMNS} FROM namespaces WHERE kind = 'user' ORDER BY full_path");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Whether the namespace holds subgroups or projects.
pub fn has_children(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM namespaces WHERE parent_id = ?1)
             OR EXISTS (SELECT 1 FROM projects WHERE namespace_id = ?1)",
        [id],
        |r| r.get(0),
    )?)
}

pub fn set_visibility(conn: &Connection, id: i64, visibility: Visibility) -> Result<()> {
    conn.execute(
        "UPDATE namespaces SET visibility = ?2 WHERE id = ?1",
        params![id, visibility.as_str()],
    )?;
    Ok(())
}

/// A group's name and description; `None` keeps what is there.
pub fn set_text(
    conn: &Connection,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE namespaces SET name = coalesce(?2, name), description = coalesce(?3, description)
         WHERE id = ?1",
        params![id, name, description],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM namespaces WHERE id = ?1", [id])?;
    Ok(())
}
