//! Creating, changing and removing groups and projects through the management API.

use rusqlite::Connection;

use super::admin::{self, Target};
use super::directory;
use super::membership::maintainer;
use crate::access::ApiUser;
use crate::blobs::BlobStore;
use crate::db;
use crate::db::members::Source;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Namespace, Project, Role, Visibility};

fn owner_only() -> Error {
    Error::forbidden("403 Forbidden: this needs the owner role")
}

/// A new group: top level for any user (GitLab's default), a subgroup for maintainers of the
/// parent. Its creator becomes its owner.
pub fn create_group(
    conn: &mut Connection,
    api: &ApiUser,
    path: &str,
    parent_id: Option<i64>,
    visibility: Visibility,
) -> Result<Namespace> {
    let full_path = match parent_id {
        Some(id) => {
            let parent = directory::group(conn, &api.caller(), &id.to_string())?;
            maintainer(conn, api, &Target::Group(parent.clone()))?;
            format!("{}/{path}", parent.full_path)
        }
        None => path.to_string(),
    };
    let group = admin::create_group(conn, &full_path, visibility, &api.actor())?;
    db::members::upsert(
        conn,
        Source::Namespace(group.id),
        api.user_id(),
        Role::Owner,
        now_millis(),
    )?;
    Ok(group)
}

/// Changes visibility (owners): never above the parent's, never below a child's.
pub fn update_group(
    conn: &Connection,
    api: &ApiUser,
    reference: &str,
    visibility: Option<Visibility>,
) -> Result<Namespace> {
    let group = directory::group(conn, &api.caller(), reference)?;
    if !maintainer(conn, api, &Target::Group(group.clone()))?.is_owner() {
        return Err(owner_only());
    }
    if let Some(visibility) = visibility {
        if let Some(parent) = group
            .parent_id
            .map(|id| db::namespaces::find(conn, id))
            .transpose()?
            .flatten()
            && visibility > parent.visibility
        {
            return Err(Error::bad_request(format!(
                "400 Bad request - visibility cannot exceed the parent group's ({})",
                parent.visibility
            )));
        }
        let children_groups = db::namespaces::list_groups(conn)?
            .into_iter()
            .filter(|g| g.parent_id == Some(group.id))
            .map(|g| g.visibility);
        let children_projects = db::projects::list_below(conn, &group.full_path)?
            .into_iter()
            .filter(|p| p.namespace_id == group.id)
            .map(|p| p.visibility);
        if let Some(widest) = children_groups.chain(children_projects).max()
            && widest > visibility
        {
            return Err(Error::bad_request(format!(
                "400 Bad request - a {widest} subgroup or project lives in this group"
            )));
        }
        db::namespaces::set_visibility(conn, group.id, visibility)?;
        db::packages::insert_audit(
            conn,
            &api.actor(),
            "group.update",
            &format!("{} visibility={visibility}", group.full_path),
            now_millis(),
        )?;
    }
    directory::group(conn, &api.caller(), reference)
}

/// Removes an empty group (owners). GitLab removes everything inside; here a group that still
/// holds subgroups or projects is refused, so nothing is lost by one call.
pub fn delete_group(conn: &Connection, api: &ApiUser, reference: &str) -> Result<()> {
    let group = directory::group(conn, &api.caller(), reference)?;
    if !maintainer(conn, api, &Target::Group(group.clone()))?.is_owner() {
        return Err(owner_only());
    }
    admin::remove_group(conn, &group.full_path, &api.actor())
}

/// A new project in the caller's own namespace, or in a group the caller maintains.
pub fn create_project(
    conn: &mut Connection,
    api: &ApiUser,
    path: &str,
    namespace_id: Option<i64>,
    visibility: Visibility,
) -> Result<Project> {
    let namespace = match namespace_id {
        Some(id) => db::namespaces::find(conn, id)?
            .ok_or_else(|| Error::not_found("404 Namespace Not Found"))?,
        None => own_namespace(conn, api)?,
    };
    match namespace.owner_user_id {
        Some(owner) if owner == api.user_id() || api.is_admin() => {}
        Some(_) => return Err(Error::not_found("404 Namespace Not Found")),
        None => {
            let group = directory::group(conn, &api.caller(), &namespace.id.to_string())?;
            maintainer(conn, api, &Target::Group(group))?;
        }
    }
    admin::create_project(
        conn,
        &format!("{}/{path}", namespace.full_path),
        visibility,
        &api.actor(),
    )
}

fn own_namespace(conn: &Connection, api: &ApiUser) -> Result<Namespace> {
    let user = db::users::find(conn, api.user_id())?.ok_or(Error::Unauthorized)?;
    db::namespaces::find_by_path(conn, &user.username)?
        .ok_or_else(|| Error::internal("user without namespace"))
}

/// Changes visibility and the replace setting (owners).
pub fn update_project(
    conn: &Connection,
    api: &ApiUser,
    reference: &str,
    visibility: Option<Visibility>,
    allow_file_replace: Option<bool>,
) -> Result<Project> {
    let project = directory::project(conn, &api.caller(), reference)?;
    if !maintainer(conn, api, &Target::Project(project.clone()))?.is_owner() {
        return Err(owner_only());
    }
    admin::update_project(
        conn,
        &project.full_path,
        visibility,
        allow_file_replace,
        &api.actor(),
    )
}

/// Removes a project with its packages (owners).
pub fn delete_project(
    conn: &mut Connection,
    blobs: &BlobStore,
    api: &ApiUser,
    reference: &str,
) -> Result<()> {
    let project = directory::project(conn, &api.caller(), reference)?;
    if !maintainer(conn, api, &Target::Project(project.clone()))?.is_owner() {
        return Err(owner_only());
    }
    admin::remove_project(conn, blobs, &project.full_path, &api.actor())
}
