//! SQL for the bot users of project and group access tokens.

use rusqlite::{Connection, OptionalExtension, params};

use super::unique_or;
use crate::error::Result;
use crate::model::PersonalAccessToken;

/// Where a bot belongs: a project or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    Project(i64),
    Group(i64),
}

impl Home {
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Home::Project(id) => (Some(id), None),
            Home::Group(id) => (None, Some(id)),
        }
    }
}

/// A new bot with no usable password (`!` is no PHC string: no password ever matches it).
pub fn insert(conn: &Connection, username: &str, home: Home, now: i64) -> Result<i64> {
    let (project_id, namespace_id) = home.columns();
    conn.execute(
        "INSERT INTO users (username, password_hash, created_at, bot_project_id, bot_namespace_id)
         VALUES (?1, '!', ?2, ?3, ?4)",
        params![username, now, project_id, namespace_id],
    )
    .map_err(|e| unique_or(e, || format!("user \"{username}\" already exists")))?;
    Ok(conn.last_insert_rowid())
}

/// A bot's home (`None` for a person): the one place its token may reach.
pub fn home_of(conn: &Connection, user_id: i64) -> Result<Option<Home>> {
    let found: Option<(Option<i64>, Option<i64>)> = conn
        .query_row(
            "SELECT bot_project_id, bot_namespace_id FROM users WHERE id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match found {
        Some((Some(project), _)) => Some(Home::Project(project)),
        Some((None, Some(group))) => Some(Home::Group(group)),
        _ => None,
    })
}

/// Live (unrevoked, unexpired on `today`) tokens of the bots of one project or group: what
/// the per-place cap counts. Reads the bots through their partial index, then their tokens.
pub fn live_tokens(conn: &Connection, home: Home, today: &str) -> Result<i64> {
    let (project_id, namespace_id) = home.columns();
    let sql = match home {
        Home::Project(_) => {
            "SELECT count(*) FROM users u JOIN personal_access_tokens t ON t.user_id = u.id
             WHERE u.bot_project_id = ?1 AND t.revoked_at IS NULL
               AND (t.expires_on IS NULL OR t.expires_on >= ?2)"
        }
        Home::Group(_) => {
            "SELECT count(*) FROM users u JOIN personal_access_tokens t ON t.user_id = u.id
             WHERE u.bot_namespace_id = ?1 AND t.revoked_at IS NULL
               AND (t.expires_on IS NULL OR t.expires_on >= ?2)"
        }
    };
    let id = project_id.or(namespace_id);
    Ok(conn.query_row(sql, params![id, today], |r| r.get(0))?)
}

/// The tokens of a project's or group's bots, with each bot's direct role there: `limit`
/// of them from `offset`, by id, in one query (a place may have thousands).
pub fn tokens(
    conn: &Connection,
    home: Home,
    offset: usize,
    limit: usize,
) -> Result<Vec<(PersonalAccessToken, Option<i64>)>> {
    let (project_id, namespace_id) = home.columns();
    let sql = tokens_sql("ORDER BY t.id LIMIT ?3 OFFSET ?4");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(
            params![project_id, namespace_id, limit as i64, offset as i64],
            token_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// One token of a project's or group's bots, by id; another place's is not found.
pub fn token(
    conn: &Connection,
    home: Home,
    id: i64,
) -> Result<Option<(PersonalAccessToken, Option<i64>)>> {
    let (project_id, namespace_id) = home.columns();
    let sql = tokens_sql("AND t.id = ?3");
    Ok(conn
        .query_row(&sql, params![project_id, namespace_id, id], token_row)
        .optional()?)
}

/// How many tokens a project's or group's bots hold.
pub fn count_tokens(conn: &Connection, home: Home) -> Result<usize> {
    let (project_id, namespace_id) = home.columns();
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
         WHERE u.bot_project_id IS ?1 AND u.bot_namespace_id IS ?2",
        params![project_id, namespace_id],
        |r| r.get(0),
    )?;
    Ok(count as usize)
}

/// The bot tokens of one place (`?1` a project, `?2` a group), each with the bot's role there,
/// followed by `tail`.
fn tokens_sql(tail: &str) -> String {
    format!(
        "SELECT {}, (SELECT m.access_level FROM members m WHERE m.user_id = u.id
                AND (m.project_id = ?1 OR m.namespace_id = ?2))
         FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
         WHERE u.bot_project_id IS ?1 AND u.bot_namespace_id IS ?2 {tail}",
        super::tokens::PAT_COLUMNS
    )
}

fn token_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(PersonalAccessToken, Option<i64>)> {
    Ok((super::tokens::pat_from_row(row)?, row.get(8)?))
}

/// Blocks a bot whose token was revoked: nothing it holds works any more.
pub fn deactivate(conn: &Connection, user_id: i64) -> Result<()> {
    conn.execute("UPDATE users SET is_blocked = 1 WHERE id = ?1", [user_id])?;
    Ok(())
}
