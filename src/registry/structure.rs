//! Creating, changing and removing groups and projects through the management API.

use rusqlite::Connection;

use super::admin::{self, Target};
use super::directory;
use super::membership::maintainer;
use crate::access::{self, ApiUser, On, Operation};
use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::db;
use crate::db::members::Source;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Role, Visibility};

fn owner_only() -> Error {
    Error::forbidden("403 Forbidden: this needs the owner role")
}

/// A group's or project's own path: one segment, as GitLab has it. A slash would name a place
/// inside some other group, which only `parent_id` / `namespace_id` (and the right there) may
/// do; it is refused before anything is looked up, so the answer says nothing about the
/// place it names.
fn one_segment<'a>(path: &'a str, what: &str) -> Result<&'a str> {
    if path.contains('/') {
        return Err(Error::bad_request(format!(
            "400 Bad request - the {what} path must be one segment (no '/'): name the parent \
             by its id ({})",
            if what == "group" {
                "parent_id"
            } else {
                "namespace_id"
            }
        )));
    }
    admin::check_segment(path, &format!("{what} path"))?;
    Ok(path)
}

/// A new group: top level for any user (GitLab's default), a subgroup for maintainers of the
/// parent. Its creator becomes its owner. A parent the caller may not see answers as a
/// missing one.
pub fn create_group(
    conn: &mut Connection,
    caller: &Caller,
    path: &str,
    parent_id: Option<i64>,
    visibility: Visibility,
) -> Result<Namespace> {
    let segment = one_segment(path, "group")?;
    access::judge(conn, caller, Operation::GroupCreate, On::Nothing)?;
    let full_path = match parent_id {
        Some(id) => {
            let parent = db::namespaces::find(conn, id)?
                .filter(|ns| ns.kind == NamespaceKind::Group)
                .ok_or_else(|| Error::not_found("404 Group Not Found"))?;
            access::judge(conn, caller, Operation::SubgroupCreate, On::Group(&parent))?;
            format!("{}/{segment}", parent.full_path)
        }
        None => segment.to_owned(),
    };
    let group = admin::create_group(conn, &full_path, visibility, &caller.actor())?;
    if let Caller::User(user) = caller {
        db::members::upsert(
            conn,
            Source::Namespace(group.id),
            user.user_id,
            Role::Owner,
            now_millis(),
        )?;
    }
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

/// A new project in the caller's own namespace, or in a group the caller maintains. A
/// namespace the caller may not see answers as a missing one.
pub fn create_project(
    conn: &mut Connection,
    caller: &Caller,
    path: &str,
    namespace_id: Option<i64>,
    visibility: Visibility,
) -> Result<Project> {
    let segment = one_segment(path, "project")?;
    let namespace = match namespace_id {
        Some(id) => db::namespaces::find(conn, id)?
            .ok_or_else(|| Error::not_found("404 Namespace Not Found"))?,
        None => own_namespace(conn, caller)?,
    };
    access::judge(
        conn,
        caller,
        Operation::ProjectCreate,
        On::Namespace(&namespace),
    )?;
    admin::create_project(
        conn,
        &format!("{}/{segment}", namespace.full_path),
        visibility,
        &caller.actor(),
    )
}

fn own_namespace(conn: &Connection, caller: &Caller) -> Result<Namespace> {
    let Caller::User(user) = caller else {
        return Err(Error::bad_request(
            "400 Bad request - namespace_id is missing",
        ));
    };
    db::namespaces::find_by_path(conn, &user.username)?
        .ok_or_else(|| Error::internal("user without namespace"))
}

/// A group or project by its full path (`acme/ml/models`), as the command line names them:
/// the parent is looked up and the same door as the API's is used.
pub fn create_at(
    conn: &mut Connection,
    caller: &Caller,
    full_path: &str,
    visibility: Visibility,
    project: bool,
) -> Result<i64> {
    let full_path = full_path.trim_matches('/');
    let (parent, segment) = match full_path.rsplit_once('/') {
        Some((parent, segment)) => (Some(parent), segment),
        None => (None, full_path),
    };
    let parent_id = parent
        .map(|path| {
            db::namespaces::find_by_path(conn, path)?
                .map(|ns| ns.id)
                .ok_or_else(|| Error::not_found(format!("no group or user named \"{path}\"")))
        })
        .transpose()?;
    if project {
        if parent_id.is_none() {
            return Err(Error::bad_request(format!(
                "\"{full_path}\" needs a namespace: GROUP/NAME or USER/NAME"
            )));
        }
        Ok(create_project(conn, caller, segment, parent_id, visibility)?.id)
    } else {
        Ok(create_group(conn, caller, segment, parent_id, visibility)?.id)
    }
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
