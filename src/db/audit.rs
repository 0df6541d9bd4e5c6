//! SQL for the audit trail: recording an event, reading events back with filters, pruning old ones.

use rusqlite::{Connection, Row, ToSql, named_params};

use crate::error::Result;

/// What an event is about, as GitLab names it: a user, a group (a namespace id) or a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    User,
    Group,
    Project,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::User => "User",
            EntityType::Group => "Group",
            EntityType::Project => "Project",
        }
    }

    /// GitLab's spelling (`User`, `Group`, `Project`), any case.
    pub fn parse(text: &str) -> Option<EntityType> {
        [EntityType::User, EntityType::Group, EntityType::Project]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub actor: &'a str,
    pub author_id: Option<i64>,
    pub action: &'a str,
    pub target: &'a str,
    pub entity: Option<(EntityType, i64)>,
    pub ip_address: Option<&'a str>,
    /// A JSON object, when the change said more than its target.
    pub details: Option<&'a str>,
    pub created_at: i64,
}

/// One insert, in the caller's transaction: recording costs the change almost nothing.
pub fn insert(conn: &Connection, event: &NewEvent<'_>) -> Result<()> {
    let (entity_type, entity_id) = match event.entity {
        Some((kind, id)) => (Some(kind.as_str()), Some(id)),
        None => (None, None),
    };
    conn.execute(
        "INSERT INTO audit_events
             (actor, author_id, action, target, entity_type, entity_id, ip_address, details,
              created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            event.actor,
            event.author_id,
            event.action,
            event.target,
            entity_type,
            entity_id,
            event.ip_address,
            event.details,
            event.created_at
        ],
    )?;
    Ok(())
}

/// A recorded event, with the present path or name of what it is about (none once that is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub actor: String,
    pub author_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub entity: Option<(EntityType, i64)>,
    pub entity_path: Option<String>,
    pub ip_address: Option<String>,
    pub details: Option<String>,
    pub created_at: i64,
}

/// Whose events a listing may show: everything (admins, the command line), or what happened
/// to one group and everything now under it, or to one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Group { id: i64, full_path: String },
    Project(i64),
}

/// The filters of a listing; each `None` lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Unix milliseconds, inclusive.
    pub created_after: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub created_before: Option<i64>,
    /// The actor as stored (`user:NAME`, `cli`, …).
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity_type: Option<EntityType>,
    pub entity_id: Option<i64>,
}

const COLUMNS: &str = "e.id, e.actor, e.author_id, e.action, e.target, e.entity_type, \
    e.entity_id, e.ip_address, e.details, e.created_at, \
    CASE e.entity_type WHEN 'User' THEN u.username WHEN 'Group' THEN n.full_path \
        WHEN 'Project' THEN p.full_path END";

const FROM: &str = "FROM audit_events e
    LEFT JOIN users u ON e.entity_type = 'User' AND u.id = e.entity_id
    LEFT JOIN namespaces n ON e.entity_type = 'Group' AND n.id = e.entity_id
    LEFT JOIN projects p ON e.entity_type = 'Project' AND p.id = e.entity_id";

/// Every filter and the scope, each switched off by a NULL parameter. A group's scope is the
/// group and the groups and projects whose path is below its path now (ids are never reused,
/// so an event of a deleted group cannot show up under a new one of the same path).
const WHERE: &str = "WHERE (:after IS NULL OR e.created_at >= :after)
    AND (:before IS NULL OR e.created_at < :before)
    AND (:actor IS NULL OR e.actor = :actor)
    AND (:action IS NULL OR e.action = :action)
    AND (:entity_type IS NULL OR e.entity_type = :entity_type)
    AND (:entity_id IS NULL OR e.entity_id = :entity_id)
    AND (:id IS NULL OR e.id = :id)
    AND (:project IS NULL OR (e.entity_type = 'Project' AND e.entity_id = :project))
    AND (:group IS NULL
        OR (e.entity_type = 'Group' AND e.entity_id IN (
            SELECT id FROM namespaces WHERE kind = 'group'
                AND (id = :group OR substr(full_path, 1, length(:group_path) + 1) = :group_path || '/')))
        OR (e.entity_type = 'Project' AND e.entity_id IN (
            SELECT id FROM projects
                WHERE substr(full_path, 1, length(:group_path) + 1) = :group_path || '/')))";

fn from_row(row: &Row<'_>) -> rusqlite::Result<EventRow> {
    let entity_type: Option<String> = row.get(5)?;
    let entity_id: Option<i64> = row.get(6)?;
    let entity = entity_type
        .as_deref()
        .and_then(EntityType::parse)
        .zip(entity_id);
    Ok(EventRow {
        id: row.get(0)?,
        actor: row.get(1)?,
        author_id: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        entity,
        ip_address: row.get(7)?,
        details: row.get(8)?,
        created_at: row.get(9)?,
        entity_path: row.get(10)?,
    })
}

/// Runs `sql` (which holds `WHERE`'s parameters, and `:limit`/`:offset` when it pages) with
/// the filter, the scope and one event's id.
fn query<T>(
    conn: &Connection,
    sql: &str,
    scope: &Scope,
    filter: &Filter,
    id: Option<i64>,
    page: Option<(i64, i64)>,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let (group, group_path, project) = match scope {
        Scope::Everything => (None, None, None),
        Scope::Group { id, full_path } => (Some(*id), Some(full_path.as_str()), None),
        Scope::Project(id) => (None, None, Some(*id)),
    };
    let mut stmt = conn.prepare(sql)?;
    let entity_type = filter.entity_type.map(EntityType::as_str);
    let common = named_params! {
        ":after": filter.created_after,
        ":before": filter.created_before,
        ":actor": filter.actor,
        ":action": filter.action,
        ":entity_type": entity_type,
        ":entity_id": filter.entity_id,
        ":id": id,
        ":project": project,
        ":group": group,
        ":group_path": group_path,
    };
    let rows = match page {
        Some((limit, offset)) => {
            let mut all = common.to_vec();
            all.push((":limit", &limit as &dyn ToSql));
            all.push((":offset", &offset as &dyn ToSql));
            stmt.query_map(all.as_slice(), read)?
                .collect::<rusqlite::Result<Vec<T>>>()?
        }
        None => stmt
            .query_map(common, read)?
            .collect::<rusqlite::Result<Vec<T>>>()?,
    };
    Ok(rows)
}

/// One page of the events in `scope` that pass `filter`, newest first, and how many pass in all.
pub fn list(
    conn: &Connection,
    scope: &Scope,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<EventRow>, i64)> {
    let sql =
        format!("SELECT {COLUMNS} {FROM} {WHERE} ORDER BY e.id DESC LIMIT :limit OFFSET :offset");
    let rows = query(
        conn,
        &sql,
        scope,
        filter,
        None,
        Some((limit, offset)),
        from_row,
    )?;
    let count_sql = format!("SELECT count(*) {FROM} {WHERE}");
    let total = query(conn, &count_sql, scope, filter, None, None, |r| r.get(0))?
        .into_iter()
        .next()
        .unwrap_or(0);
    Ok((rows, total))
}

/// One event, if it lies in `scope`.
pub fn find(conn: &Connection, scope: &Scope, id: i64) -> Result<Option<EventRow>> {
    let sql = format!("SELECT {COLUMNS} {FROM} {WHERE}");
    Ok(query(
        conn,
        &sql,
        scope,
        &Filter::default(),
        Some(id),
        None,
        from_row,
    )?
    .into_iter()
    .next())
}

/// Deletes up to `batch` events older than `cutoff` (unix milliseconds), oldest first; the
/// number deleted. Bounded, so pruning a long backlog never holds the write lock for long.
pub fn prune_before(conn: &Connection, cutoff: i64, batch: i64) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM audit_events WHERE id IN (
             SELECT id FROM audit_events WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
        rusqlite::params![cutoff, batch],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("w.db"), 1).unwrap();
        (dir, db)
    }

    fn event<'a>(action: &'a str, entity: Option<(EntityType, i64)>, at: i64) -> NewEvent<'a> {
        NewEvent {
            actor: "user:alice",
            author_id: Some(1),
            action,
            target: "x",
            entity,
            ip_address: Some("192.0.2.7"),
            details: None,
            created_at: at,
        }
    }

    #[test]
    fn a_group_sees_itself_its_subgroups_and_their_projects_only() {
        let (_dir, db) = db();
        let conn = db.get().unwrap();
        conn.execute_batch(
            "INSERT INTO namespaces (id, kind, path, full_path, parent_id, visibility, created_at)
                 VALUES (10, 'group', 'acme', 'acme', NULL, 'public', 0),
                        (11, 'group', 'ml', 'acme/ml', 10, 'public', 0),
                        (12, 'group', 'acme-two', 'acme-two', NULL, 'public', 0);
             INSERT INTO projects (id, namespace_id, path, full_path, visibility, created_at)
                 VALUES (20, 11, 'models', 'acme/ml/models', 'public', 0),
                        (21, 12, 'tools', 'acme-two/tools', 'public', 0);",
        )
        .unwrap();
        for (action, entity) in [
            ("a", Some((EntityType::Group, 10))),
            ("b", Some((EntityType::Group, 11))),
            ("c", Some((EntityType::Project, 20))),
            ("d", Some((EntityType::Group, 12))),
            ("e", Some((EntityType::Project, 21))),
            ("f", Some((EntityType::User, 10))),
            ("g", None),
        ] {
            insert(&conn, &event(action, entity, 5)).unwrap();
        }
        let scope = Scope::Group {
            id: 10,
            full_path: "acme".into(),
        };
        let (rows, total) = list(&conn, &scope, &Filter::default(), 10, 0).unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["c", "b", "a"]);
        assert_eq!(total, 3);
        assert_eq!(rows[0].entity_path.as_deref(), Some("acme/ml/models"));
        let (all, total) = list(&conn, &Scope::Everything, &Filter::default(), 2, 2).unwrap();
        assert_eq!(total, 7);
        assert_eq!(
            all.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["e", "d"]
        );
        let outside = all[0].id;
        assert!(find(&conn, &scope, outside).unwrap().is_none());
        assert!(find(&conn, &Scope::Everything, outside).unwrap().is_some());
        assert!(find(&conn, &Scope::Project(21), outside).unwrap().is_some());
    }

    #[test]
    fn filters_by_time_actor_action_and_entity() {
        let (_dir, db) = db();
        let conn = db.get().unwrap();
        insert(&conn, &event("upload", Some((EntityType::Project, 3)), 100)).unwrap();
        insert(&conn, &event("yank", Some((EntityType::Project, 3)), 200)).unwrap();
        let other = NewEvent {
            actor: "cli",
            author_id: None,
            ..event("upload", Some((EntityType::Project, 4)), 300)
        };
        insert(&conn, &other).unwrap();
        let actions = |filter: Filter| {
            list(&conn, &Scope::Everything, &filter, 100, 0)
                .unwrap()
                .0
                .into_iter()
                .map(|r| r.action)
                .collect::<Vec<_>>()
        };
        let since = Filter {
            created_after: Some(200),
            ..Filter::default()
        };
        assert_eq!(actions(since), ["upload", "yank"]);
        let before = Filter {
            created_before: Some(200),
            ..Filter::default()
        };
        assert_eq!(actions(before), ["upload"]);
        let by_cli = Filter {
            actor: Some("cli".into()),
            ..Filter::default()
        };
        assert_eq!(actions(by_cli).len(), 1);
        let project_3 = Filter {
            entity_type: Some(EntityType::Project),
            entity_id: Some(3),
            action: Some("upload".into()),
            ..Filter::default()
        };
        assert_eq!(actions(project_3), ["upload"]);
    }

    #[test]
    fn pruning_deletes_old_events_in_batches() {
        let (_dir, db) = db();
        let conn = db.get().unwrap();
        for at in [1, 2, 3, 50] {
            insert(&conn, &event("upload", None, at)).unwrap();
        }
        assert_eq!(prune_before(&conn, 10, 2).unwrap(), 2);
        assert_eq!(prune_before(&conn, 10, 2).unwrap(), 1);
        assert_eq!(prune_before(&conn, 10, 2).unwrap(), 0);
        let (rows, _) = list(&conn, &Scope::Everything, &Filter::default(), 10, 0).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].created_at, 50);
    }

    #[test]
    fn entity_types_parse_in_gitlab_spelling() {
        assert_eq!(EntityType::parse("Group"), Some(EntityType::Group));
        assert_eq!(EntityType::parse("project"), Some(EntityType::Project));
        assert_eq!(EntityType::parse("Instance"), None);
    }
}
