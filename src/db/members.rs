//! SQL for memberships of groups and projects, and the highest role along a namespace chain.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::model::Role;

/// Where a membership is held.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Namespace(i64),
    Project(i64),
}

impl Source {
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Source::Namespace(id) => (Some(id), None),
            Source::Project(id) => (None, Some(id)),
        }
    }
}

/// Adds the member, or changes the role of an existing one.
pub fn upsert(conn: &Connection, source: Source, user_id: i64, role: Role, now: i64) -> Result<()> {
    let (namespace_id, project_id) = source.columns();
    let updated = conn.execute(
        "UPDATE members SET access_level = ?4
         WHERE user_id = ?1 AND namespace_id IS ?2 AND project_id IS ?3",
        params![user_id, namespace_id, project_id, role.level()],
    )?;
    if updated == 0 {
        conn.execute(
            "INSERT INTO members (user_id, namespace_id, project_id, access_level, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user_id, namespace_id, project_id, role.level(), now],
        )?;
    }
    Ok(())
}

/// Returns whether a membership was removed.
pub fn delete(conn: &Connection, source: Source, user_id: i64) -> Result<bool> {
    let (namespace_id, project_id) = source.columns();
    let n = conn.execute(
        "DELETE FROM members WHERE user_id = ?1 AND namespace_id IS ?2 AND project_id IS ?3",
        params![user_id, namespace_id, project_id],
    )?;
    Ok(n > 0)
}

/// The user's highest role on a project (`project_id`) or a namespace, counting memberships of
/// the namespace and every ancestor group (inherited, as in GitLab) and ownership of a personal
/// namespace.
pub fn highest_role(
    conn: &Connection,
    user_id: i64,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<Option<Role>> {
    let level: Option<i64> = conn
        .query_row(
            "WITH RECURSIVE chain(id, parent_id, owner_user_id) AS (
                 SELECT id, parent_id, owner_user_id FROM namespaces WHERE id = ?2
                 UNION ALL
                 SELECT n.id, n.parent_id, n.owner_user_id FROM namespaces n JOIN chain c ON n.id = c.parent_id
             )
             SELECT MAX(level) FROM (
                 SELECT access_level AS level FROM members WHERE user_id = ?1 AND project_id = ?3
                 UNION ALL
                 SELECT m.access_level FROM members m JOIN chain c ON m.namespace_id = c.id WHERE m.user_id = ?1
                 UNION ALL
                 SELECT 50 FROM chain WHERE owner_user_id = ?1
             )",
            params![user_id, namespace_id, project_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(level.and_then(Role::from_level))
}

/// Whether `namespace_id` is `ancestor_id` or lies below it.
pub fn namespace_within(conn: &Connection, namespace_id: i64, ancestor_id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "WITH RECURSIVE chain(id, parent_id) AS (
             SELECT id, parent_id FROM namespaces WHERE id = ?1
             UNION ALL
             SELECT n.id, n.parent_id FROM namespaces n JOIN chain c ON n.id = c.parent_id
         )
         SELECT EXISTS (SELECT 1 FROM chain WHERE id = ?2)",
        params![namespace_id, ancestor_id],
        |r| r.get(0),
    )?)
}

/// Runs a members query on (namespace, project); levels that name no role are left out.
fn with_roles(
    stmt: &mut rusqlite::Statement<'_>,
    namespace_id: Option<i64>,
    project_id: Option<i64>,
) -> Result<Vec<(crate::model::User, Role)>> {
    let rows = stmt
        .query_map(params![namespace_id, project_id], user_and_level)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, l)| Role::from_level(l).map(|r| (u, r)))
        .collect())
}

/// Direct members with their accounts, by username.
pub fn list(conn: &Connection, source: Source) -> Result<Vec<(crate::model::User, Role)>> {
    let (namespace_id, project_id) = source.columns();
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, m.access_level
         FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.namespace_id IS ?1 AND m.project_id IS ?2 ORDER BY u.username",
        super::users::JOINED
    ))?;
    with_roles(&mut stmt, namespace_id, project_id)
}

/// Members of a project or group counting those inherited from every ancestor group, each
/// user once with their highest role.
pub fn list_inherited(
    conn: &Connection,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<Vec<(crate::model::User, Role)>> {
    let mut stmt = conn.prepare(&format!(
        "WITH RECURSIVE chain(id, parent_id) AS (
             SELECT id, parent_id FROM namespaces WHERE id = ?1
             UNION ALL
             SELECT n.id, n.parent_id FROM namespaces n JOIN chain c ON n.id = c.parent_id
         )
         SELECT {}, MAX(m.access_level)
         FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.project_id = ?2 OR m.namespace_id IN (SELECT id FROM chain)
         GROUP BY u.id ORDER BY u.username",
        super::users::JOINED
    ))?;
    with_roles(&mut stmt, Some(namespace_id), project_id)
}

fn user_and_level(row: &rusqlite::Row<'_>) -> rusqlite::Result<(crate::model::User, i64)> {
    Ok((
        super::users::from_row_at(row, 0)?,
        row.get(super::users::JOINED_LEN)?,
    ))
}

/// A user's direct role on the project or group, if any.
pub fn direct_role(conn: &Connection, source: Source, user_id: i64) -> Result<Option<Role>> {
    let (namespace_id, project_id) = source.columns();
    let level: Option<i64> = conn
        .query_row(
            "SELECT access_level FROM members WHERE user_id = ?1 AND namespace_id IS ?2 AND project_id IS ?3",
            params![user_id, namespace_id, project_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(level.and_then(Role::from_level))
}

/// Every membership the user holds, each with the full path of what it is on, whether that
/// is a project, and its level; a personal namespace counts as owned (level 50). One query,
/// for judging whole lists in memory.
pub fn memberships(conn: &Connection, user_id: i64) -> Result<Vec<(String, bool, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT n.full_path, 0, m.access_level FROM members m
             JOIN namespaces n ON n.id = m.namespace_id WHERE m.user_id = ?1
         UNION ALL
         SELECT p.full_path, 1, m.access_level FROM members m
             JOIN projects p ON p.id = m.project_id WHERE m.user_id = ?1
         UNION ALL
         SELECT full_path, 0, 50 FROM namespaces WHERE owner_user_id = ?1",
    )?;
    let rows = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Whether the user holds a membership of anything (a subgroup or a project) strictly below
/// the group path: paths below `a/b` sort between `a/b/` and `a/b0`.
pub fn member_below(conn: &Connection, user_id: i64, group_full_path: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (
             SELECT 1 FROM members m
                 LEFT JOIN namespaces n ON n.id = m.namespace_id
                 LEFT JOIN projects p ON p.id = m.project_id
             WHERE m.user_id = ?1
               AND COALESCE(n.full_path, p.full_path) >= ?2
               AND COALESCE(n.full_path, p.full_path) < ?3)",
        params![
            user_id,
            format!("{group_full_path}/"),
            format!("{group_full_path}0")
        ],
        |r| r.get(0),
    )?)
}
