//! SQL for pages of groups: which groups a caller sees, filtered and cut to one page by the
//! database, so that a list costs the rows it shows and one count, never a Rust value and a
//! permission decision for every group of the server.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::namespaces::{COLUMNS, from_row};
use crate::error::Result;
use crate::model::Namespace;

/// Which groups a caller sees, as the permission table decided it (`access::Viewer::seen`
/// builds it); the database applies it to every group at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Every group (an admin, the operator): no condition at all.
    pub all: bool,
    /// Groups of these visibilities (`public`, `internal`, `private`).
    pub visibilities: Vec<&'static str>,
    /// Groups at or below these full paths (where the caller's role is inherited).
    pub within: Vec<String>,
    /// These groups by full path (ones the caller holds a membership inside).
    pub exact: Vec<String>,
    /// Groups above a project of one of these visibilities (a project the caller sees shows
    /// the groups it lies in).
    pub above_projects: Vec<&'static str>,
}

/// What a list asks for, beyond what the caller sees.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub seen: Seen,
    /// Part of the full path, lowercase (paths are ASCII, so SQLite's `lower` agrees).
    pub search: Option<String>,
    /// Only groups of this visibility.
    pub visibility: Option<String>,
    /// Only groups at or below one of these full paths (the `membership` and `owned` filters).
    pub only_within: Option<Vec<String>>,
    /// Only groups at or below none of these full paths (everything but the caller's own).
    pub not_within: Option<Vec<String>>,
    /// Groups left out, by id.
    pub skip: Vec<i64>,
    /// Only direct children of this group.
    pub parent: Option<i64>,
    /// Only groups strictly below this full path.
    pub below: Option<String>,
}

/// A JSON array of strings, for `json_each`: one parameter however many paths.
fn json(items: &[impl serde::Serialize]) -> Value {
    Value::Text(serde_json::to_string(items).unwrap_or_else(|_| "[]".into()))
}

/// `g` at or below one of the paths in the JSON parameter `?n`: each path looked up and
/// range-scanned through the full_path index (`path/` up to `path0`, '0' follows '/'), so it
/// costs the memberships, not the groups.
fn within(n: usize) -> String {
    format!(
        "(g.full_path IN (SELECT value FROM json_each(?{n})) OR g.id IN (SELECT d.id FROM \
         json_each(?{n}) m JOIN namespaces d ON d.full_path > m.value || '/' \
         AND d.full_path < m.value || '0'))"
    )
}

/// The WHERE clause and its parameters.
fn condition(filter: &GroupFilter) -> (String, Vec<Value>) {
    let mut clauses = vec!["g.kind = 'group'".to_string()];
    let mut values: Vec<Value> = Vec::new();
    let param = |values: &mut Vec<Value>, v: Value| {
        values.push(v);
        values.len()
    };
    let seen = &filter.seen;
    if !seen.all {
        let n = param(&mut values, json(&seen.visibilities));
        let mut any = vec![format!(
            "g.visibility IN (SELECT value FROM json_each(?{n}))"
        )];
        if !seen.within.is_empty() {
            any.push(within(param(&mut values, json(&seen.within))));
        }
        if !seen.exact.is_empty() {
            let n = param(&mut values, json(&seen.exact));
            any.push(format!(
                "g.full_path IN (SELECT value FROM json_each(?{n}))"
            ));
        }
        if !seen.above_projects.is_empty() {
            let n = param(&mut values, json(&seen.above_projects));
            any.push(format!(
                "EXISTS (SELECT 1 FROM projects p WHERE p.full_path > g.full_path || '/' \
                 AND p.full_path < g.full_path || '0' \
                 AND p.visibility IN (SELECT value FROM json_each(?{n})))"
            ));
        }
        clauses.push(format!("({})", any.join(" OR ")));
    }
    if let Some(search) = &filter.search {
        let n = param(&mut values, Value::Text(search.clone()));
        clauses.push(format!("instr(lower(g.full_path), ?{n}) > 0"));
    }
    if let Some(visibility) = &filter.visibility {
        let n = param(&mut values, Value::Text(visibility.clone()));
        clauses.push(format!("g.visibility = ?{n}"));
    }
    if let Some(paths) = &filter.only_within {
        clauses.push(within(param(&mut values, json(paths))));
    }
    if let Some(paths) = &filter.not_within {
        clauses.push(format!("NOT {}", within(param(&mut values, json(paths)))));
    }
    if !filter.skip.is_empty() {
        let n = param(&mut values, json(&filter.skip));
        clauses.push(format!("g.id NOT IN (SELECT value FROM json_each(?{n}))"));
    }
    if let Some(parent) = filter.parent {
        let n = param(&mut values, Value::Integer(parent));
        clauses.push(format!("g.parent_id = ?{n}"));
    }
    if let Some(below) = &filter.below {
        let low = param(&mut values, Value::Text(format!("{below}/")));
        let high = param(&mut values, Value::Text(format!("{below}0")));
        clauses.push(format!("g.full_path > ?{low} AND g.full_path < ?{high}"));
    }
    (clauses.join(" AND "), values)
}

/// How many groups match, and the `limit` of them after `offset`, by full path.
pub fn page(
    conn: &Connection,
    filter: &GroupFilter,
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<Namespace>)> {
    let (condition, mut values) = condition(filter);
    let count_sql = format!("SELECT count(*) FROM namespaces g WHERE {condition}");
    let total: i64 =
        conn.query_row(&count_sql, rusqlite::params_from_iter(values.iter()), |r| {
            r.get(0)
        })?;
    values.push(Value::Integer(limit.try_into().unwrap_or(i64::MAX)));
    values.push(Value::Integer(offset.try_into().unwrap_or(i64::MAX)));
    let (l, o) = (values.len() - 1, values.len());
    let sql = format!(
        "SELECT {COLUMNS} FROM namespaces g WHERE {condition} \
         ORDER BY g.full_path LIMIT ?{l} OFFSET ?{o}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((usize::try_from(total).unwrap_or(0), rows))
}

/// How many personal namespaces match, and `limit` of them after `offset`, by full path:
/// `owner`'s only (through its unique index), or everyone's when `None` (an admin's list).
pub fn personal_page(
    conn: &Connection,
    owner: Option<i64>,
    search: Option<&str>,
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<Namespace>)> {
    let condition = "kind = 'user' AND (?1 IS NULL OR owner_user_id = ?1) \
                     AND (?2 IS NULL OR instr(lower(full_path), ?2) > 0)";
    let total: i64 = conn.query_row(
        &format!("SELECT count(*) FROM namespaces WHERE {condition}"),
        rusqlite::params![owner, search],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {COLUMNS} FROM namespaces WHERE {condition} ORDER BY full_path LIMIT ?3 OFFSET ?4"
    );
    let (limit, offset) = (
        i64::try_from(limit).unwrap_or(i64::MAX),
        i64::try_from(offset).unwrap_or(i64::MAX),
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params![owner, search, limit, offset], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((usize::try_from(total).unwrap_or(0), rows))
}
