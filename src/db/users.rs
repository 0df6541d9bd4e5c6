//! SQL for users.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_or;
use crate::error::Result;
use crate::model::User;

const COLUMNS: &str =
    "id, username, email, is_admin, is_blocked, created_at, coalesce(name, username)";
/// The same columns of `users u` in a join, read by `from_row_at`.
pub(super) const JOINED: &str = "u.id, u.username, u.email, u.is_admin, u.is_blocked, u.created_at, coalesce(u.name, u.username)";
/// How many columns `JOINED` names.
pub(super) const JOINED_LEN: usize = 7;

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    from_row_at(row, 0)
}

/// A user from the columns of `JOINED`, starting at `start`.
pub(super) fn from_row_at(row: &Row<'_>, start: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(start)?,
        username: row.get(start + 1)?,
        email: row.get(start + 2)?,
        is_admin: row.get(start + 3)?,
        is_blocked: row.get(start + 4)?,
        created_at: row.get(start + 5)?,
        name: row.get(start + 6)?,
    })
}

pub fn insert(
    conn: &Connection,
    username: &str,
    email: Option<&str>,
    password_hash: &str,
    is_admin: bool,
    now: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO users (username, email, password_hash, is_admin, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, email, password_hash, is_admin, now],
    )
    .map_err(|e| unique_or(e, || format!("user \"{username}\" already exists")))?;
    Ok(conn.last_insert_rowid())
}

pub fn find_by_name(conn: &Connection, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?1");
    Ok(conn.query_row(&sql, [username], from_row).optional()?)
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], from_row).optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY username");
    let mut stmt = conn.prepare(&sql)?;
    let users = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(users)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn set_password_hash(conn: &Connection, id: i64, password_hash: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, password_hash],
    )?;
    Ok(())
}

pub fn set_email(conn: &Connection, id: i64, email: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE users SET email = ?2 WHERE id = ?1",
        params![id, email],
    )?;
    Ok(())
}

/// The display name; `None` goes back to the username.
pub fn set_name(conn: &Connection, id: i64, name: Option<&str>) -> Result<()> {
    conn.execute(
        "UPDATE users SET name = ?2 WHERE id = ?1",
        params![id, name],
    )?;
    Ok(())
}

pub fn set_admin(conn: &Connection, id: i64, is_admin: bool) -> Result<()> {
    conn.execute(
        "UPDATE users SET is_admin = ?2 WHERE id = ?1",
        params![id, is_admin],
    )?;
    Ok(())
}

pub fn set_blocked(conn: &Connection, id: i64, blocked: bool) -> Result<()> {
    conn.execute(
        "UPDATE users SET is_blocked = ?2 WHERE id = ?1",
        params![id, blocked],
    )?;
    Ok(())
}

/// Deletes the user; memberships, tokens and the personal namespace go with it (cascade).
pub fn delete(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM users WHERE id = ?1", [id])?;
    Ok(())
}
