//! SQL for web sessions, found by the digest of their cookie, and the password hashes sign-in
//! checks.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;

/// A live session: whose it is and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
}

pub fn insert(
    conn: &Connection,
    user_id: i64,
    digest: &str,
    csrf_token: &str,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO web_sessions (user_id, session_digest, csrf_token, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, digest, csrf_token, expires_at, now],
    )?;
    Ok(())
}

/// The session with this digest, unless it has expired.
pub fn find(conn: &Connection, digest: &str, now: i64) -> Result<Option<SessionRow>> {
    Ok(conn
        .query_row(
            "SELECT id, user_id, csrf_token FROM web_sessions
             WHERE session_digest = ?1 AND expires_at > ?2",
            params![digest, now],
            |row| {
                Ok(SessionRow {
                    id: row.get(0)?,
                    user_id: row.get(1)?,
                    csrf_token: row.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn delete(conn: &Connection, digest: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM web_sessions WHERE session_digest = ?1",
        [digest],
    )?;
    Ok(())
}

/// Ends every session of a user (a changed password signs out everywhere else too).
pub fn delete_for_user(conn: &Connection, user_id: i64, except_id: Option<i64>) -> Result<()> {
    conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ?1 AND id IS NOT ?2",
        params![user_id, except_id],
    )?;
    Ok(())
}

pub fn delete_expired(conn: &Connection, now: i64) -> Result<()> {
    conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [now])?;
    Ok(())
}

/// The argon2 PHC string of a user, by name.
pub fn password_hash(conn: &Connection, username: &str) -> Result<Option<(i64, String)>> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE username = ?1",
            [username],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?)
}

pub fn password_hash_of(conn: &Connection, user_id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [user_id],
            |row| row.get(0),
        )
        .optional()?)
}
