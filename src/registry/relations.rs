//! What belongs to whom, for scripts: a user's personal projects and memberships, and the
//! groups a project lies in.

use rusqlite::Connection;

use super::directory::{self, Filters};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db;
use crate::error::{Error, Result};
use crate::model::{NamespaceKind, Project, Role};

/// The projects in the user's personal namespace that the caller may see.
pub fn user_projects(conn: &Connection, caller: &Caller, user_id: i64) -> Result<Vec<Project>> {
    let user = super::users::get(conn, caller, user_id)?;
    let home = db::namespaces::find_by_path(conn, &user.username)?
        .filter(|n| n.kind == NamespaceKind::User && n.owner_user_id == Some(user.id));
    let Some(home) = home else {
        return Ok(Vec::new());
    };
    Ok(
        directory::projects(conn, caller, &Filters::default(), None)?
            .into_iter()
            .filter(|p| p.namespace_id == home.id)
            .collect(),
    )
}

/// One direct membership: what it is on (id, full path, whether a project) and the role.
pub struct Membership {
    pub source_id: i64,
    pub source_path: String,
    pub is_project: bool,
    pub role: Role,
}

/// The user's direct memberships of groups and projects (not their personal namespace):
/// admins only, as in GitLab (python-gitlab's own test expects 403 for the user themself).
pub fn user_memberships(
    conn: &Connection,
    caller: &Caller,
    user_id: i64,
) -> Result<Vec<Membership>> {
    access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    db::users::find(conn, user_id)?.ok_or_else(|| Error::not_found("404 User Not Found"))?;
    // Two lists loaded once, so the ids cost no query per membership.
    let groups = db::namespaces::list_groups(conn)?;
    let projects = db::projects::list(conn)?;
    let mut found = Vec::new();
    for (path, is_project, level) in db::members::memberships(conn, user_id)? {
        let source_id = if is_project {
            projects.iter().find(|p| p.full_path == path).map(|p| p.id)
        } else {
            groups.iter().find(|g| g.full_path == path).map(|g| g.id)
        };
        // A personal namespace is no group: it has no id among them.
        if let (Some(source_id), Some(role)) = (source_id, Role::from_level(level)) {
            found.push(Membership {
                source_id,
                source_path: path,
                is_project,
                role,
            });
        }
    }
    Ok(found)
}
