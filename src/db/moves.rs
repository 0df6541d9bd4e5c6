//! SQL for moving a project or a group (with everything below it) to another namespace.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::model::Visibility;

/// Whether a group or a project already has this full path (any case).
pub fn path_taken(conn: &Connection, full_path: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM namespaces WHERE full_path = ?1)
             OR EXISTS (SELECT 1 FROM projects WHERE full_path = ?1)",
        [full_path],
        |r| r.get(0),
    )?)
}

/// Whether a group has upstream indexes or name rules of its own.
pub fn has_upstream_configuration(conn: &Connection, group_id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM upstreams WHERE group_id = ?1)
             OR EXISTS (SELECT 1 FROM upstream_rules WHERE group_id = ?1)",
        [group_id],
        |r| r.get(0),
    )?)
}

/// Moves one project into `namespace_id` under `full_path`, at most as visible as `widest`.
pub fn move_project(
    conn: &Connection,
    project_id: i64,
    namespace_id: i64,
    full_path: &str,
    widest: Visibility,
) -> Result<()> {
    conn.execute(
        "UPDATE projects SET namespace_id = ?2, full_path = ?3 WHERE id = ?1",
        params![project_id, namespace_id, full_path],
    )?;
    narrow(conn, "projects", "id = ?1", project_id, widest)
}

/// Moves a group below `parent_id` (`None`: to the top level) under `new_path`, rewriting the
/// full paths of every group and project below it, each at most as visible as `widest`.
pub fn move_group(
    conn: &Connection,
    group_id: i64,
    parent_id: Option<i64>,
    old_path: &str,
    new_path: &str,
    widest: Visibility,
) -> Result<()> {
    conn.execute(
        "UPDATE namespaces SET parent_id = ?2 WHERE id = ?1",
        params![group_id, parent_id],
    )?;
    // Paths below `a/b` sort between `a/b/` and `a/b0` (`0` follows `/`), through the index.
    let (low, high) = (format!("{old_path}/"), format!("{old_path}0"));
    for table in ["namespaces", "projects"] {
        conn.execute(
            &format!(
                "UPDATE {table} SET full_path = ?1 || substr(full_path, length(?2) + 1)
                 WHERE full_path = ?2 OR (full_path >= ?3 AND full_path < ?4)"
            ),
            params![new_path, old_path, low, high],
        )?;
    }
    let (low, high) = (format!("{new_path}/"), format!("{new_path}0"));
    for table in ["namespaces", "projects"] {
        conn.execute(
            &format!(
                "UPDATE {table} SET visibility = ?5
                 WHERE (full_path = ?2 OR (full_path >= ?3 AND full_path < ?4))
                   AND (CASE visibility WHEN 'private' THEN 0 WHEN 'internal' THEN 1 ELSE 2 END)
                       > ?1"
            ),
            params![rank(widest), new_path, low, high, widest.as_str()],
        )?;
    }
    Ok(())
}

fn rank(visibility: Visibility) -> i64 {
    match visibility {
        Visibility::Private => 0,
        Visibility::Internal => 1,
        Visibility::Public => 2,
    }
}

fn narrow(conn: &Connection, table: &str, filter: &str, id: i64, widest: Visibility) -> Result<()> {
    conn.execute(
        &format!(
            "UPDATE {table} SET visibility = ?3 WHERE {filter}
               AND (CASE visibility WHEN 'private' THEN 0 WHEN 'internal' THEN 1 ELSE 2 END) > ?2"
        ),
        params![id, rank(widest), widest.as_str()],
    )?;
    Ok(())
}

/// Guards, under the top-level namespace `root_id`, every name the projects at or below
/// `full_path` have published, and every name guarded under `old_root_id` when that was the
/// moved group itself (a name once published under a root stays guarded there for good, and
/// now under the new root too).
pub fn guard_names(
    conn: &Connection,
    root_id: i64,
    full_path: &str,
    old_root_id: Option<i64>,
) -> Result<()> {
    let (low, high) = (format!("{full_path}/"), format!("{full_path}0"));
    conn.execute(
        "INSERT OR IGNORE INTO published_names (root_id, name)
         SELECT DISTINCT ?1, k.name FROM packages k JOIN projects p ON p.id = k.project_id
         WHERE p.full_path = ?2 OR (p.full_path >= ?3 AND p.full_path < ?4)",
        params![root_id, full_path, low, high],
    )?;
    if let Some(old_root_id) = old_root_id {
        conn.execute(
            "INSERT OR IGNORE INTO published_names (root_id, name)
             SELECT ?1, name FROM published_names WHERE root_id = ?2",
            params![root_id, old_root_id],
        )?;
    }
    Ok(())
}

/// What a transfer moved: one project, or a group's projects at and below its (new) path.
pub enum Moved<'a> {
    Project(i64),
    Below(&'a str),
}

impl Moved<'_> {
    /// The SQL condition on `p` (projects) that picks what moved, and its parameters.
    fn filter(&self) -> (&'static str, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value;
        match self {
            Moved::Project(id) => ("p.id = ?", vec![Value::Integer(*id)]),
            Moved::Below(path) => (
                "(p.full_path = ? OR (p.full_path >= ? AND p.full_path < ?))",
                vec![
                    Value::Text(path.to_string()),
                    Value::Text(format!("{path}/")),
                    Value::Text(format!("{path}0")),
                ],
            ),
        }
    }
}

/// Records what moved in every group above `namespace_id` (its new place) that does not yet
/// serve the filename (see `group_filenames` in schema.sql): a group that serves it already,
/// with these bytes or others, keeps serving what it served; among moved files sharing a
/// filename, the first to have entered the root is recorded.
pub fn record_in_groups_above(
    conn: &Connection,
    moved: &Moved<'_>,
    namespace_id: i64,
) -> Result<()> {
    let (filter, values) = moved.filter();
    conn.execute(
        &format!(
            "INSERT OR IGNORE INTO group_filenames (group_id, filename, sha256)
             WITH RECURSIVE up(id, parent_id, kind) AS (
                 SELECT id, parent_id, kind FROM namespaces WHERE id = ?
                 UNION ALL
                 SELECT n.id, n.parent_id, n.kind FROM namespaces n JOIN up ON n.id = up.parent_id
             )
             SELECT up.id, f.filename, f.sha256
             FROM up, package_files f JOIN projects p ON p.id = f.project_id
             WHERE up.kind = 'group' AND {filter}
             ORDER BY up.id, f.entered_root_at, f.id"
        ),
        rusqlite::params_from_iter(
            std::iter::once(rusqlite::types::Value::Integer(namespace_id)).chain(values),
        ),
    )?;
    Ok(())
}

/// Makes every file of what moved enter its new root now: after every file already there
/// (from `first`, see `packages::next_entry`), in the order they had among themselves, so no
/// index of the new root, nor of what moved, changes the bytes behind a filename it serves.
pub fn re_enter_root(conn: &Connection, moved: Moved<'_>, first: i64) -> Result<()> {
    let (filter, values) = moved.filter();
    conn.execute(
        &format!(
            "WITH moved(id, n) AS (
                 SELECT f.id, ROW_NUMBER() OVER (ORDER BY f.entered_root_at, f.id)
                 FROM package_files f JOIN projects p ON p.id = f.project_id
                 WHERE {filter}
             )
             UPDATE package_files
             SET entered_root_at = ? - 1 + (SELECT n FROM moved WHERE moved.id = package_files.id)
             WHERE id IN (SELECT id FROM moved)"
        ),
        rusqlite::params_from_iter(
            values
                .into_iter()
                .chain(std::iter::once(rusqlite::types::Value::Integer(first))),
        ),
    )?;
    Ok(())
}
