//! SQL for users.

use rusqlite::types::Value;
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

/// Which users a lookup asks for; every condition is SQL, so a lookup by username reads one
/// row through the username index however many users (and bots) there are.
#[derive(Debug, Default)]
pub struct UserQuery<'a> {
    /// Exactly this username (any case: the column is NOCASE).
    pub username: Option<&'a str>,
    /// Lower-case text anywhere in the username or display name (and, `search_email`, the
    /// e-mail address).
    pub search: Option<&'a str>,
    pub search_email: bool,
    /// Access tokens' bots too.
    pub with_bots: bool,
    /// Only blocked (`Some(true)`) or only active (`Some(false)`) users.
    pub blocked: Option<bool>,
    /// At most this many, after skipping `offset`; `None`: all.
    pub limit: Option<i64>,
    pub offset: i64,
}

fn conditions(query: &UserQuery<'_>) -> (String, Vec<(&'static str, Value)>) {
    let mut clauses = Vec::new();
    let mut params: Vec<(&'static str, Value)> = Vec::new();
    if let Some(username) = query.username {
        clauses.push("username = :username");
        params.push((":username", Value::Text(username.to_owned())));
    }
    if !query.with_bots {
        clauses.push("bot_project_id IS NULL AND bot_namespace_id IS NULL");
    }
    if let Some(blocked) = query.blocked {
        clauses.push("is_blocked = :blocked");
        params.push((":blocked", Value::Integer(i64::from(blocked))));
    }
    if let Some(search) = query.search {
        clauses.push(if query.search_email {
            "(instr(lower(username), :search) OR instr(lower(coalesce(name, '')), :search)
              OR instr(lower(coalesce(email, '')), :search))"
        } else {
            "(instr(lower(username), :search) OR instr(lower(coalesce(name, '')), :search))"
        });
        params.push((":search", Value::Text(search.to_owned())));
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (clause, params)
}

fn select<T>(
    conn: &Connection,
    sql: &str,
    params: &[(&str, Value)],
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let named: Vec<(&str, &dyn rusqlite::ToSql)> = params
        .iter()
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect();
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(named.as_slice(), read)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    Ok(rows)
}

/// The users `query` asks for, by username, and how many there are in all.
pub fn search(conn: &Connection, query: &UserQuery<'_>) -> Result<(Vec<User>, i64)> {
    let (clause, mut params) = conditions(query);
    let sql = format!(
        "SELECT {COLUMNS} FROM users {clause} ORDER BY username {}",
        page(query, &mut params)
    );
    let users = select(conn, &sql, &params, from_row)?;
    let total = match query.limit {
        // A whole list counts itself.
        None => users.len() as i64,
        Some(_) => {
            let (clause, params) = conditions(query);
            let sql = format!("SELECT count(*) FROM users {clause}");
            select(conn, &sql, &params, |r| r.get(0))?
                .into_iter()
                .next()
                .unwrap_or(0)
        }
    };
    Ok((users, total))
}

fn page(query: &UserQuery<'_>, params: &mut Vec<(&'static str, Value)>) -> &'static str {
    match query.limit {
        None => "",
        Some(limit) => {
            params.push((":limit", Value::Integer(limit)));
            params.push((":offset", Value::Integer(query.offset)));
            "LIMIT :limit OFFSET :offset"
        }
    }
}

/// How SQLite reads a lookup (`EXPLAIN QUERY PLAN`), for the test that keeps it on an index.
#[cfg(test)]
fn plan(conn: &Connection, query: &UserQuery<'_>) -> Vec<String> {
    let (clause, mut params) = conditions(query);
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM users {clause} ORDER BY username {}",
        page(query, &mut params)
    );
    select(conn, &sql, &params, |r| r.get::<_, String>(3)).unwrap()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_by_username_reads_the_index_and_passes_over_bots() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("w.db"), 1).unwrap();
        let conn = db.get().unwrap();
        insert(&conn, "alice", None, "!", false, 1).unwrap();
        conn.execute(
            "INSERT INTO namespaces (kind, path, full_path, visibility, created_at)
             VALUES ('group', 'g', 'g', 'private', 1)",
            [],
        )
        .unwrap();
        let home = crate::db::bots::Home::Group(conn.last_insert_rowid());
        for n in 0..50 {
            crate::db::bots::insert(&conn, &format!("group_1_bot_{n}"), home, 1).unwrap();
        }
        let query = UserQuery {
            username: Some("ALICE"),
            limit: Some(20),
            ..UserQuery::default()
        };
        let plan = plan(&conn, &query);
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN")),
            "{plan:?}"
        );
        let (found, total) = search(&conn, &query).unwrap();
        assert_eq!((found.len(), total), (1, 1));
        assert_eq!(found[0].username, "alice");
        let everyone = UserQuery {
            limit: Some(20),
            ..UserQuery::default()
        };
        let (people, total) = search(&conn, &everyone).unwrap();
        assert_eq!(total, 1, "bots are not listed: {people:?}");
    }
}
