//! SQL for personal access tokens and deploy tokens, found by the digest of their secret.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::unique_or;
use crate::error::Result;
use crate::model::{DeployToken, PersonalAccessToken, Scopes, User};

pub(super) const PAT_COLUMNS: &str =
    "t.id, t.user_id, t.name, t.scopes, t.expires_on, t.revoked_at, t.last_used_at, t.created_at";

pub(super) fn pat_from_row(row: &Row<'_>) -> rusqlite::Result<PersonalAccessToken> {
    Ok(PersonalAccessToken {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        scopes: stored_scopes(row.get(3)?),
        expires_on: row.get(4)?,
        revoked: row.get::<_, Option<i64>>(5)?.is_some(),
        last_used_at: row.get(6)?,
        created_at: row.get(7)?,
    })
}

/// Stored scopes were validated on the way in; an unreadable list grants nothing.
fn stored_scopes(list: String) -> Scopes {
    Scopes::parse(&list).unwrap_or_default()
}

pub struct NewToken<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    pub scopes: &'a Scopes,
    pub expires_on: Option<&'a str>,
}

pub fn insert_personal(
    conn: &Connection,
    user_id: i64,
    token: &NewToken<'_>,
    now: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes, expires_on, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user_id, token.name, token.digest, token.scopes.to_stored(), token.expires_on, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The token with this secret digest, and its owner.
pub fn find_personal_by_digest(
    conn: &Connection,
    digest: &str,
) -> Result<Option<(PersonalAccessToken, User)>> {
    let sql = format!(
        "SELECT {PAT_COLUMNS}, {}
         FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_digest = ?1",
        super::users::JOINED
    );
    Ok(conn
        .query_row(&sql, [digest], |row| {
            let token = pat_from_row(row)?;
            let user = super::users::from_row_at(row, 8)?;
            Ok((token, user))
        })
        .optional()?)
}

pub fn find_personal(conn: &Connection, id: i64) -> Result<Option<PersonalAccessToken>> {
    let sql = format!("SELECT {PAT_COLUMNS} FROM personal_access_tokens t WHERE t.id = ?1");
    Ok(conn.query_row(&sql, [id], pat_from_row).optional()?)
}

/// Every token of every user (for admins), by id.
pub fn list_all_personal(conn: &Connection) -> Result<Vec<PersonalAccessToken>> {
    let sql = format!("SELECT {PAT_COLUMNS} FROM personal_access_tokens t ORDER BY t.id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], pat_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// How many tokens `user_id` holds (everyone's with `None`), and `limit` of them after
/// `offset`, by id (the primary key, or the index on user_id, serves the order).
pub fn page_personal(
    conn: &Connection,
    user_id: Option<i64>,
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<PersonalAccessToken>)> {
    let condition = "(?1 IS NULL OR t.user_id = ?1)";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM personal_access_tokens t WHERE {condition}"),
        [user_id],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {PAT_COLUMNS} FROM personal_access_tokens t WHERE {condition}
         ORDER BY t.id LIMIT ?2 OFFSET ?3"
    );
    let (limit, offset) = (
        i64::try_from(limit).unwrap_or(i64::MAX),
        i64::try_from(offset).unwrap_or(i64::MAX),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![user_id, limit, offset], pat_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((usize::try_from(total).unwrap_or(0), rows))
}

pub fn list_personal(conn: &Connection, user_id: i64) -> Result<Vec<PersonalAccessToken>> {
    let sql = format!(
        "SELECT {PAT_COLUMNS} FROM personal_access_tokens t WHERE t.user_id = ?1 ORDER BY t.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([user_id], pat_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Returns whether a live token was revoked.
pub fn revoke_personal(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE personal_access_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(n > 0)
}

pub fn personal_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM personal_access_tokens WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?)
}

const DEPLOY_COLUMNS: &str =
    "id, namespace_id, project_id, name, username, scopes, expires_on, revoked_at, created_at";

fn deploy_from_row(row: &Row<'_>) -> rusqlite::Result<DeployToken> {
    Ok(DeployToken {
        id: row.get(0)?,
        namespace_id: row.get(1)?,
        project_id: row.get(2)?,
        name: row.get(3)?,
        username: row.get(4)?,
        scopes: stored_scopes(row.get(5)?),
        expires_on: row.get(6)?,
        revoked: row.get::<_, Option<i64>>(7)?.is_some(),
        created_at: row.get(8)?,
    })
}

/// Inserts a deploy token of a namespace (group) or a project under `username`, or without
/// one under a username derived from its id, as GitLab does.
pub fn insert_deploy(
    conn: &Connection,
    namespace_id: Option<i64>,
    project_id: Option<i64>,
    token: &NewToken<'_>,
    username: Option<&str>,
    now: i64,
) -> Result<DeployToken> {
    let placeholder = format!("pending-{}", token.digest);
    conn.execute(
        "INSERT INTO deploy_tokens (namespace_id, project_id, name, username, token_digest, scopes, expires_on, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![namespace_id, project_id, token.name, username.unwrap_or(&placeholder), token.digest, token.scopes.to_stored(), token.expires_on, now],
    )
    .map_err(|e| unique_or(e, || "the deploy token already exists".into()))?;
    let id = conn.last_insert_rowid();
    if username.is_none() {
        conn.execute(
            "UPDATE deploy_tokens SET username = ?2 WHERE id = ?1",
            params![id, format!("deploy-token-{id}")],
        )?;
    }
    find_deploy(conn, id)?.ok_or_else(|| crate::error::Error::internal("deploy token vanished"))
}

pub fn find_deploy(conn: &Connection, id: i64) -> Result<Option<DeployToken>> {
    let sql = format!("SELECT {DEPLOY_COLUMNS} FROM deploy_tokens WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], deploy_from_row).optional()?)
}

pub fn find_deploy_by_digest(conn: &Connection, digest: &str) -> Result<Option<DeployToken>> {
    let sql = format!("SELECT {DEPLOY_COLUMNS} FROM deploy_tokens WHERE token_digest = ?1");
    Ok(conn.query_row(&sql, [digest], deploy_from_row).optional()?)
}

pub fn list_deploy(
    conn: &Connection,
    namespace_id: Option<i64>,
    project_id: Option<i64>,
) -> Result<Vec<DeployToken>> {
    let sql = format!(
        "SELECT {DEPLOY_COLUMNS} FROM deploy_tokens
         WHERE namespace_id IS ?1 AND project_id IS ?2 ORDER BY id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![namespace_id, project_id], deploy_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every deploy token of every project and group, oldest first.
pub fn list_all_deploy(conn: &Connection) -> Result<Vec<DeployToken>> {
    let sql = format!("SELECT {DEPLOY_COLUMNS} FROM deploy_tokens ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], deploy_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn revoke_deploy(conn: &Connection, id: i64, now: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE deploy_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, now],
    )?;
    Ok(n > 0)
}

/// Records when tokens were last used, in one transaction (never moving a time backwards).
pub fn record_last_used(conn: &mut Connection, uses: &[(i64, i64)]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "UPDATE personal_access_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2)
             WHERE id = ?1",
        )?;
        for (id, at) in uses {
            stmt.execute(params![id, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}
