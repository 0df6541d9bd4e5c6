//! Moving a project or a group to another namespace, as GitLab's transfer does: the owner of
//! what moves, with the right to create in the target, moves it with everything below it.
//!
//! What follows a move: full paths below are rewritten (so the old URLs stop answering and the
//! new ones answer at once: the page cache empties on any commit); visibility narrows to the
//! new parent's where it was wider, as GitLab lowers it; direct members, tokens and packages
//! stay with what moved (a group made top-level with no direct owner gets the mover as one).
//! The dependency-confusion guard is kept: every name published in what moved is recorded
//! under the new top-level group as well (the old rows stay: a name once published under a
//! root stays guarded there). A top-level group with upstream indexes or name rules is not
//! moved below another group: only top-level groups have them, and they must not go on
//! serving under another root, so the owner removes them first (400 says so).

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::{directory, validate};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db;
use crate::db::members::Source;
use crate::db::moves::Moved;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Role, Visibility};

fn transfer_failed(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("400 Bad request - Transfer failed: {why}"))
}

fn taken(full_path: &str) -> Error {
    Error::conflict(format!(
        "Transfer failed: the path \"{full_path}\" is already taken in the target namespace"
    ))
}

/// The last segment of a full path: a group's or project's own path.
fn segment(full_path: &str) -> &str {
    full_path.rsplit('/').next().unwrap_or(full_path)
}

/// How visible something inside `namespace` may be.
fn widest_in(namespace: &Namespace) -> Visibility {
    match namespace.kind {
        NamespaceKind::Group => namespace.visibility,
        NamespaceKind::User => Visibility::Public,
    }
}

/// `PUT /projects/:id/transfer`: the project's owner moves it into a namespace (id or full
/// path) where they may create projects (maintainer or more of a group; their own namespace).
pub fn transfer_project(
    conn: &mut Connection,
    caller: &Caller,
    reference: &str,
    target: Option<&str>,
) -> Result<Project> {
    let project = directory::project(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceUpdate, On::Project(&project))?;
    let target = target.ok_or_else(|| {
        Error::bad_request("400 Bad request - namespace is missing (an id or a full path)")
    })?;
    let namespace = match target.parse::<i64>() {
        Ok(id) => db::namespaces::find(conn, id)?,
        Err(_) => db::namespaces::find_by_path(conn, target.trim_matches('/'))?,
    }
    .ok_or_else(|| Error::not_found("404 Namespace Not Found"))?;
    access::judge(
        conn,
        caller,
        Operation::ProjectCreate,
        On::Namespace(&namespace),
    )?;
    if namespace.id == project.namespace_id {
        return Err(transfer_failed(format!(
            "the project is already in the namespace \"{}\"",
            namespace.full_path
        )));
    }
    let full_path = format!("{}/{}", namespace.full_path, segment(&project.full_path));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if db::moves::path_taken(&tx, &full_path)? {
        return Err(taken(&full_path));
    }
    let old_root = db::upstreams::root_of(&tx, project.namespace_id)?;
    let widest = widest_in(&namespace);
    db::moves::move_project(&tx, project.id, namespace.id, &full_path, widest)?;
    let root = db::upstreams::root_of(&tx, namespace.id)?;
    db::moves::guard_names(&tx, root, &full_path, None)?;
    if root != old_root {
        enter_root(&tx, Moved::Project(project.id))?;
    }
    db::moves::record_in_groups_above(&tx, &Moved::Project(project.id), namespace.id)?;
    let what = format!("{} -> {full_path}", project.full_path);
    audit::record(
        &tx,
        caller,
        "project.transfer",
        About::Project(project.id),
        &what,
    )?;
    tx.commit()?;
    db::projects::find(conn, project.id)?.ok_or_else(|| Error::internal("project vanished"))
}

/// `POST /groups/:id/transfer`: the group's owner moves it below a group they own, or (no
/// target) to the top level, which needs the right to create top-level groups.
pub fn transfer_group(
    conn: &mut Connection,
    caller: &Caller,
    reference: &str,
    target: Option<&str>,
) -> Result<Namespace> {
    let group = directory::group(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceUpdate, On::Group(&group))?;
    let own = segment(&group.full_path);
    let parent = match target {
        Some(target) => Some(new_parent(conn, caller, &group, target)?),
        None => {
            access::judge(conn, caller, Operation::GroupCreate, On::Nothing)?;
            if group.parent_id.is_none() {
                return Err(transfer_failed("the group is already a top-level group"));
            }
            // The same check as creating a top-level group: `api`, `explore`, `_` and the
            // like name the server's own pages, and a group there could not be reached.
            validate::check_top_level_path(own)?;
            None
        }
    };
    let full_path = match &parent {
        Some(parent) => format!("{}/{own}", parent.full_path),
        None => own.to_owned(),
    };
    let was_root = group.parent_id.is_none();
    if was_root && db::moves::has_upstream_configuration(conn, group.id)? {
        return Err(transfer_failed(
            "the group has upstream indexes or name rules, which only a top-level group may \
             have: remove them before moving it into another group",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if db::moves::path_taken(&tx, &full_path)? {
        return Err(taken(&full_path));
    }
    let old_root = db::upstreams::root_of(&tx, group.id)?;
    let widest = parent.as_ref().map_or(Visibility::Public, widest_in);
    let parent_id = parent.as_ref().map(|p| p.id);
    db::moves::move_group(
        &tx,
        group.id,
        parent_id,
        &group.full_path,
        &full_path,
        widest,
    )?;
    let root = db::upstreams::root_of(&tx, group.id)?;
    db::moves::guard_names(&tx, root, &full_path, was_root.then_some(group.id))?;
    if root != old_root {
        enter_root(&tx, Moved::Below(&full_path))?;
    }
    if let Some(parent_id) = parent_id {
        db::moves::record_in_groups_above(&tx, &Moved::Below(&full_path), parent_id)?;
    }
    if parent.is_none() {
        keep_an_owner(&tx, caller, group.id)?;
    }
    let what = format!("{} -> {full_path}", group.full_path);
    audit::record(&tx, caller, "group.transfer", About::Group(group.id), &what)?;
    tx.commit()?;
    db::namespaces::find(conn, group.id)?.ok_or_else(|| Error::internal("group vanished"))
}

/// What moved to another root enters it now, as an upload into it would: "first in the root"
/// decides which bytes a group index serves for a filename, so files that come from elsewhere
/// (with their upload times, perhaps older than what the root already serves) come last.
fn enter_root(conn: &Connection, moved: Moved<'_>) -> Result<()> {
    let first = db::packages::next_entry(conn, now_millis())?;
    db::moves::re_enter_root(conn, moved, first)
}

/// A group made top-level loses the owners it inherited: with no direct owner left, the
/// caller who moved it becomes one, as GitLab does, so that it is not left ownerless.
fn keep_an_owner(conn: &Connection, caller: &Caller, group_id: i64) -> Result<()> {
    let owners = db::members::list(conn, Source::Namespace(group_id))?;
    if owners.iter().any(|(_, role)| *role == Role::Owner) {
        return Ok(());
    }
    if let Caller::User(user) = caller {
        let source = Source::Namespace(group_id);
        db::members::upsert(conn, source, user.user_id, Role::Owner, now_millis())?;
    }
    Ok(())
}

/// The group a group moves into: one the caller owns (GitLab's rule for group transfers),
/// neither the group itself nor one below it, nor a user's namespace.
fn new_parent(
    conn: &Connection,
    caller: &Caller,
    group: &Namespace,
    target: &str,
) -> Result<Namespace> {
    let found = match target.parse::<i64>() {
        Ok(id) => db::namespaces::find(conn, id)?,
        Err(_) => db::namespaces::find_by_path(conn, target.trim_matches('/'))?,
    };
    if found
        .as_ref()
        .is_some_and(|ns| ns.kind == NamespaceKind::User)
    {
        return Err(transfer_failed(
            "a group cannot move into a user's namespace, only into a group",
        ));
    }
    let parent = directory::group(conn, caller, target)?;
    // Owning the new parent, as GitLab asks: a group brings its members and packages along.
    access::judge(conn, caller, Operation::PlaceUpdate, On::Group(&parent))?;
    let inside = format!("{}/", group.full_path.to_lowercase());
    if parent.id == group.id || parent.full_path.to_lowercase().starts_with(&inside) {
        return Err(transfer_failed(
            "a group cannot move into itself or one of its subgroups",
        ));
    }
    if group.parent_id == Some(parent.id) {
        return Err(transfer_failed(format!(
            "the group is already in \"{}\"",
            parent.full_path
        )));
    }
    Ok(parent)
}
