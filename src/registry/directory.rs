//! Groups and projects as the management API lists them: only what the caller may see, by the
//! same rules as the package routes.

use rusqlite::Connection;

use crate::access::{self, ApiUser};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{Namespace, Project, Role};

/// Filters of GitLab's group and project lists.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// Part of the path, any case.
    pub search: Option<String>,
    /// Only where the caller is a member (any role, inherited counts).
    pub membership: bool,
    /// Only where the caller's role is owner.
    pub owned: bool,
    /// `private`, `internal` or `public`.
    pub visibility: Option<String>,
}

impl Filters {
    fn admits(&self, full_path: &str, visibility: &str, role: Option<Role>) -> bool {
        self.search
            .as_deref()
            .is_none_or(|s| full_path.to_lowercase().contains(&s.to_lowercase()))
            && self.visibility.as_deref().is_none_or(|v| v == visibility)
            && (!self.membership || role.is_some())
            && (!self.owned || role == Some(Role::Owner))
    }
}

fn group_not_found() -> Error {
    Error::not_found("404 Group Not Found")
}

pub fn groups(conn: &Connection, api: &ApiUser, filters: &Filters) -> Result<Vec<Namespace>> {
    let mut shown = Vec::new();
    for group in db::namespaces::list_groups(conn)? {
        let role = access::api_role(conn, api, group.id, None)?;
        if filters.admits(&group.full_path, group.visibility.as_str(), role)
            && access::api_sees_group(conn, api, &group)?
        {
            shown.push(group);
        }
    }
    Ok(shown)
}

/// A group by id or full path; one the caller may not see does not exist.
pub fn group(conn: &Connection, api: &ApiUser, reference: &str) -> Result<Namespace> {
    let group = access::find_group(conn, reference)?;
    if access::api_sees_group(conn, api, &group)? {
        Ok(group)
    } else {
        Err(group_not_found())
    }
}

/// The direct subgroups the caller may see.
pub fn subgroups(conn: &Connection, api: &ApiUser, reference: &str) -> Result<Vec<Namespace>> {
    let parent = group(conn, api, reference)?;
    let mut shown = Vec::new();
    for child in db::namespaces::list_groups(conn)?
        .into_iter()
        .filter(|g| g.parent_id == Some(parent.id))
    {
        if access::api_sees_group(conn, api, &child)? {
            shown.push(child);
        }
    }
    Ok(shown)
}

/// Projects the caller may see: all of them, or those of one group (and, with
/// `include_subgroups`, of its subgroups).
pub fn projects(
    conn: &Connection,
    api: &ApiUser,
    filters: &Filters,
    within: Option<(&str, bool)>,
) -> Result<Vec<Project>> {
    let candidates = match within {
        None => db::projects::list(conn)?,
        Some((reference, include_subgroups)) => {
            let parent = group(conn, api, reference)?;
            db::projects::list_below(conn, &parent.full_path)?
                .into_iter()
                .filter(|p| include_subgroups || p.namespace_id == parent.id)
                .collect()
        }
    };
    let mut shown = Vec::new();
    for project in candidates {
        let role = access::api_role(conn, api, project.namespace_id, Some(project.id))?;
        if filters.admits(&project.full_path, project.visibility.as_str(), role)
            && access::api_sees_project(conn, api, &project)?
        {
            shown.push(project);
        }
    }
    Ok(shown)
}

/// A project by id or full path; one the caller may not see does not exist.
pub fn project(conn: &Connection, api: &ApiUser, reference: &str) -> Result<Project> {
    let project = access::find_project(conn, reference)?;
    if access::api_sees_project(conn, api, &project)? {
        Ok(project)
    } else {
        Err(Error::not_found("404 Project Not Found"))
    }
}

/// The namespace a project lives in (for its JSON).
pub fn namespace_of(conn: &Connection, project: &Project) -> Result<Namespace> {
    db::namespaces::find(conn, project.namespace_id)?
        .ok_or_else(|| Error::internal("project without namespace"))
}
