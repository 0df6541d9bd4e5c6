//! SQL for pages of members: direct or inherited members of a project or group, counted and
//! cut to one page by the database, so a place with thousands of members costs a count and a
//! sort of its member rows in SQLite and the page it shows, not a Rust value per member.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::members::Source;
use super::users::{JOINED, JOINED_LEN, from_row_at};
use crate::error::Result;
use crate::model::{Role, User};

/// `only` as a condition on `column` (GitLab's `user_ids[]`), one JSON parameter.
fn only_clause(column: &str, only: &[i64], values: &mut Vec<Value>) -> String {
    if only.is_empty() {
        return String::new();
    }
    values.push(Value::Text(
        serde_json::to_string(only).unwrap_or_else(|_| "[]".into()),
    ));
    format!(
        " AND {column} IN (SELECT value FROM json_each(?{}))",
        values.len()
    )
}

/// Runs the count and the page over `rows`, a query of (user_id, access_level) pairs, one
/// per user.
fn page_of(
    conn: &Connection,
    with: &str,
    rows: &str,
    mut values: Vec<Value>,
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<(User, Role)>)> {
    let count = format!("{with} SELECT count(*) FROM ({rows})");
    let total: i64 = conn.query_row(&count, rusqlite::params_from_iter(values.iter()), |r| {
        r.get(0)
    })?;
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    values.push(Value::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let (l, o) = (values.len() - 1, values.len());
    let sql = format!(
        "{with} SELECT {JOINED}, r.level FROM ({rows}) r JOIN users u ON u.id = r.user_id
         ORDER BY u.username LIMIT ?{l} OFFSET ?{o}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let found = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((from_row_at(row, 0)?, row.get::<_, i64>(JOINED_LEN)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Levels that name no role are left out, as everywhere members are read.
    let found = found
        .into_iter()
        .filter_map(|(u, l)| Role::from_level(l).map(|r| (u, r)))
        .collect();
    Ok((usize::try_from(total).unwrap_or(0), found))
}

/// The direct members of a project or group (`only` these users, if any): how many, and one
/// page through the (place, user) unique index.
pub fn direct(
    conn: &Connection,
    source: Source,
    only: &[i64],
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<(User, Role)>)> {
    let (column, id) = match source {
        Source::Namespace(id) => ("namespace_id", id),
        Source::Project(id) => ("project_id", id),
    };
    let mut values = vec![Value::Integer(id)];
    let only = only_clause("user_id", only, &mut values);
    // `column = ?1` (not `IS`) so that the partial index on the column serves the query.
    let rows =
        format!("SELECT user_id, access_level AS level FROM members WHERE {column} = ?1{only}");
    page_of(conn, "", &rows, values, limit, offset)
}

/// Everyone with a role on the project or group, directly or through a group above, each
/// once with their highest level (`only` these users, if any): how many, and one page.
pub fn inherited(
    conn: &Connection,
    namespace_id: i64,
    project_id: Option<i64>,
    only: &[i64],
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<(User, Role)>)> {
    let mut values = vec![Value::Integer(namespace_id), project_id.into()];
    let only = only_clause("user_id", only, &mut values);
    let with = "WITH RECURSIVE chain(id, parent_id) AS (
                    SELECT id, parent_id FROM namespaces WHERE id = ?1
                    UNION ALL
                    SELECT n.id, n.parent_id FROM namespaces n JOIN chain c ON n.id = c.parent_id
                )";
    let rows = format!(
        "SELECT user_id, MAX(access_level) AS level FROM (
             SELECT user_id, access_level FROM members
             WHERE namespace_id IN (SELECT id FROM chain)
             UNION ALL
             SELECT user_id, access_level FROM members WHERE project_id = ?2
         ) WHERE 1{only} GROUP BY user_id"
    );
    page_of(conn, with, &rows, values, limit, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{self, Db};
    use crate::model::{NamespaceKind, Visibility};

    /// Pages of members, one after another, are the whole lists as they were read before.
    #[test]
    fn pages_add_up_to_the_whole_lists() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("w.db"), 1).unwrap();
        let conn = db.get().unwrap();
        let group = |path: &str, parent: Option<i64>| {
            let new = db::namespaces::NewNamespace {
                kind: NamespaceKind::Group,
                path: path.rsplit('/').next().unwrap(),
                full_path: path,
                parent_id: parent,
                owner_user_id: None,
                visibility: Visibility::Private,
            };
            db::namespaces::insert(&conn, &new, 0).unwrap()
        };
        let top = group("top", None);
        let sub = group("top/sub", Some(top));
        let project =
            db::projects::insert(&conn, sub, "p", "top/sub/p", Visibility::Private, 0).unwrap();
        let mut ids = Vec::new();
        for (i, name) in ["zoe", "Adam", "mia", "bob", "eve", "kim", "lee"]
            .iter()
            .enumerate()
        {
            let id = db::users::insert(&conn, name, None, "x", false, 0).unwrap();
            let role = Role::ALL[i % Role::ALL.len()];
            let source = match i % 3 {
                0 => Source::Namespace(top),
                1 => Source::Namespace(sub),
                _ => Source::Project(project),
            };
            db::members::upsert(&conn, source, id, role, 0).unwrap();
            if i % 2 == 0 {
                db::members::upsert(&conn, Source::Project(project), id, Role::Guest, 0).unwrap();
            }
            ids.push(id);
        }
        let names = |rows: Vec<(User, Role)>| -> Vec<(String, Role)> {
            rows.into_iter().map(|(u, r)| (u.username, r)).collect()
        };
        let paged = |read: &dyn Fn(usize, usize) -> (usize, Vec<(User, Role)>)| {
            let (total, _) = read(1, 0);
            let mut all = Vec::new();
            for offset in (0..total).step_by(2) {
                let (again, page) = read(2, offset);
                assert_eq!(again, total);
                all.extend(names(page));
            }
            all
        };
        for source in [
            Source::Namespace(top),
            Source::Namespace(sub),
            Source::Project(project),
        ] {
            let whole = names(db::members::list(&conn, source).unwrap());
            assert_eq!(
                paged(&|l, o| direct(&conn, source, &[], l, o).unwrap()),
                whole
            );
        }
        for (namespace, project) in [(top, None), (sub, None), (sub, Some(project))] {
            let whole = names(db::members::list_inherited(&conn, namespace, project).unwrap());
            let read = |l, o| inherited(&conn, namespace, project, &[], l, o).unwrap();
            assert_eq!(paged(&read), whole);
            assert!(whole.len() >= 2, "{whole:?}");
        }
        // `user_ids[]`: only those, whatever page.
        let (total, only) = inherited(&conn, sub, Some(project), &[ids[3], ids[6]], 20, 0).unwrap();
        assert_eq!(total, 2);
        assert_eq!(names(only).len(), 2);
    }
}
