//! Groups and projects: creating, changing and removing them, for the API, the web and the
//! command line alike, each operation judged by the permission table first.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::directory;
use super::validate;
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::db;
use crate::db::members::Source;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Role, Visibility};

/// A group's or project's display name and description, as GitLab keeps them; `None` keeps
/// a value (on creation: the path is the name, the description is empty).
#[derive(Debug, Default, Clone)]
pub struct Text {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl Text {
    fn checked(&self, what: &str) -> Result<&Text> {
        if let Some(name) = &self.name {
            validate::check_place_name(name, what)?;
        }
        if let Some(description) = &self.description {
            validate::check_description(description)?;
        }
        Ok(self)
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none()
    }
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
    validate::check_segment(path, &format!("{what} path"))?;
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
    text: &Text,
) -> Result<Namespace> {
    let segment = one_segment(path, "group")?;
    text.checked("group")?;
    access::judge(conn, caller, Operation::GroupCreate, On::Nothing)?;
    let parent = match parent_id {
        Some(id) => {
            let parent = db::namespaces::find(conn, id)?
                .filter(|ns| ns.kind == NamespaceKind::Group)
                .ok_or_else(|| Error::not_found("404 Group Not Found"))?;
            access::judge(conn, caller, Operation::SubgroupCreate, On::Group(&parent))?;
            Some(parent)
        }
        None => None,
    };
    let group = insert_group(conn, parent.as_ref(), segment, visibility, caller)?;
    if !text.is_empty() {
        let (name, description) = (text.name.as_deref(), text.description.as_deref());
        db::namespaces::set_text(conn, group.id, name.map(str::trim), description)?;
    }
    if let Caller::User(user) = caller {
        db::members::upsert(
            conn,
            Source::Namespace(group.id),
            user.user_id,
            Role::Owner,
            now_millis(),
        )?;
    }
    db::namespaces::find(conn, group.id)?.ok_or_else(|| Error::internal("group vanished"))
}

/// Changes visibility (owners): never above the parent's, never below a child's; and the
/// name and description.
pub fn update_group(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
    visibility: Option<Visibility>,
    text: &Text,
) -> Result<Namespace> {
    let group = directory::group(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceUpdate, On::Group(&group))?;
    let text = text.checked("group")?;
    // Everything is checked before anything is written: a refused change changes nothing.
    let tx = conn.unchecked_transaction()?;
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
        db::namespaces::set_visibility(&tx, group.id, visibility)?;
    }
    if !text.is_empty() {
        let (name, description) = (text.name.as_deref(), text.description.as_deref());
        db::namespaces::set_text(&tx, group.id, name.map(str::trim), description)?;
    }
    if visibility.is_some() || !text.is_empty() {
        let details = changes(group.visibility, visibility, text);
        let about = About::Group(group.id);
        audit::record_with(
            &tx,
            caller,
            "group.update",
            about,
            &group.full_path,
            details,
        )?;
    }
    tx.commit()?;
    directory::group(conn, caller, reference)
}

/// Removes an empty group (owners). GitLab removes everything inside; here a group that still
/// holds subgroups or projects is refused, so nothing is lost by one call.
pub fn delete_group(conn: &Connection, caller: &Caller, reference: &str) -> Result<()> {
    let group = directory::group(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceDelete, On::Group(&group))?;
    if db::namespaces::has_children(conn, group.id)? {
        return Err(Error::conflict(format!(
            "the group \"{}\" still holds subgroups or projects: remove them first",
            group.full_path
        )));
    }
    // The removal and its event together, or neither.
    let tx = conn.unchecked_transaction()?;
    db::namespaces::delete(&tx, group.id)?;
    // Recorded on the parent, so that its owners still see it once the group is gone.
    let about = group.parent_id.map_or(About::Group(group.id), About::Group);
    audit::record(&tx, caller, "group.remove", about, &group.full_path)?;
    tx.commit()?;
    Ok(())
}

/// A new project in the caller's own namespace, or in a group the caller maintains. A
/// namespace the caller may not see answers as a missing one.
pub fn create_project(
    conn: &mut Connection,
    caller: &Caller,
    path: &str,
    namespace_id: Option<i64>,
    visibility: Visibility,
    text: &Text,
) -> Result<Project> {
    let segment = one_segment(path, "project")?;
    text.checked("project")?;
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
    let project = insert_project(conn, &namespace, segment, visibility, caller)?;
    if text.is_empty() {
        return Ok(project);
    }
    let (name, description) = (text.name.as_deref(), text.description.as_deref());
    db::projects::set_text(conn, project.id, name.map(str::trim), description)?;
    db::projects::find(conn, project.id)?.ok_or_else(|| Error::internal("project vanished"))
}

fn own_namespace(conn: &Connection, caller: &Caller) -> Result<Namespace> {
    let Caller::User(user) = caller else {
        return Err(Error::bad_request(
            "400 Bad request - namespace_id is missing",
        ));
    };
    db::namespaces::find_by_path(conn, &user.username)?
        // Only an access token's bot has no namespace of its own.
        .ok_or_else(access::bots::no_namespace)
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
    let parent = parent
        .map(|path| {
            db::namespaces::find_by_path(conn, path)?
                .ok_or_else(|| Error::not_found(format!("no group or user named \"{path}\"")))
        })
        .transpose()?;
    if let Some(ns) = &parent
        && !project
        && ns.kind != NamespaceKind::Group
    {
        return Err(Error::bad_request(format!(
            "\"{}\" is a user, not a group: subgroups live in groups",
            ns.full_path
        )));
    }
    let parent_id = parent.map(|ns| ns.id);
    if project {
        if parent_id.is_none() {
            return Err(Error::bad_request(format!(
                "\"{full_path}\" needs a namespace: GROUP/NAME or USER/NAME"
            )));
        }
        let text = Text::default();
        Ok(create_project(conn, caller, segment, parent_id, visibility, &text)?.id)
    } else {
        let text = Text::default();
        Ok(create_group(conn, caller, segment, parent_id, visibility, &text)?.id)
    }
}

/// Changes visibility, the replace setting, the name and the description (owners); `None`
/// keeps a value. A project may not be more visible than its group.
pub fn update_project(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
    visibility: Option<Visibility>,
    allow_file_replace: Option<bool>,
    text: &Text,
) -> Result<Project> {
    let project = directory::project(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceUpdate, On::Project(&project))?;
    text.checked("project")?;
    let visibility = visibility.unwrap_or(project.visibility);
    let namespace = db::namespaces::find(conn, project.namespace_id)?
        .ok_or_else(|| Error::internal("project without namespace"))?;
    check_visibility_within(visibility, &namespace)?;
    let allow = allow_file_replace.unwrap_or(project.allow_file_replace);
    let tx = conn.unchecked_transaction()?;
    db::projects::update_settings(&tx, project.id, visibility, allow)?;
    let (name, description) = (text.name.as_deref(), text.description.as_deref());
    db::projects::set_text(&tx, project.id, name.map(str::trim), description)?;
    let mut details = changes(project.visibility, Some(visibility), text)
        .unwrap_or_else(|| serde_json::json!({}));
    if allow != project.allow_file_replace {
        details["allow_file_replace"] =
            serde_json::json!({"from": project.allow_file_replace, "to": allow});
    }
    let about = About::Project(project.id);
    audit::record_with(
        &tx,
        caller,
        "project.update",
        about,
        &project.full_path,
        Some(details),
    )?;
    tx.commit()?;
    db::projects::find(conn, project.id)?.ok_or_else(|| Error::internal("project vanished"))
}

/// Removes a project with its packages (owners); blobs no other project refers to are
/// deleted after the rows (a crash in between leaves only unreferenced blobs, which are
/// garbage).
pub fn delete_project(
    conn: &mut Connection,
    blobs: &BlobStore,
    caller: &Caller,
    reference: &str,
) -> Result<()> {
    let project = directory::project(conn, caller, reference)?;
    access::judge(conn, caller, Operation::PlaceDelete, On::Project(&project))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let digests = db::packages::project_blob_digests(&tx, project.id)?;
    db::projects::delete(&tx, project.id)?;
    // Recorded on the namespace, so that its owners still see it once the project is gone.
    let namespace = db::namespaces::find(&tx, project.namespace_id)?;
    let about = namespace.as_ref().map_or(About::Nothing, About::namespace);
    audit::record(&tx, caller, "project.remove", about, &project.full_path)?;
    tx.commit()?;
    super::manage::remove_unreferenced(conn, blobs, digests);
    Ok(())
}

/// What a settings change said, for the audit trail: the visibility from and to (when it
/// changes), and the name and description as given.
fn changes(
    was: Visibility,
    visibility: Option<Visibility>,
    text: &Text,
) -> Option<serde_json::Value> {
    let mut details = serde_json::Map::new();
    if let Some(now) = visibility.filter(|now| *now != was) {
        details.insert(
            "visibility".into(),
            serde_json::json!({"from": was.as_str(), "to": now.as_str()}),
        );
    }
    if let Some(name) = &text.name {
        details.insert("name".into(), serde_json::json!({"to": name.trim()}));
    }
    if text.description.is_some() {
        details.insert("description".into(), serde_json::json!("changed"));
    }
    (!details.is_empty()).then_some(serde_json::Value::Object(details))
}

/// A nested group or project may not be more visible than the namespace that holds it.
fn check_visibility_within(visibility: Visibility, parent: &Namespace) -> Result<()> {
    if parent.kind == NamespaceKind::Group && visibility > parent.visibility {
        return Err(Error::bad_request(format!(
            "a {visibility} item cannot live in the {} group \"{}\"",
            parent.visibility, parent.full_path
        )));
    }
    Ok(())
}

/// Stores a new group below `parent` (already judged), audited as done by `caller`.
fn insert_group(
    conn: &mut Connection,
    parent: Option<&Namespace>,
    segment: &str,
    visibility: Visibility,
    caller: &Caller,
) -> Result<Namespace> {
    let full_path = match parent {
        Some(parent) => {
            check_visibility_within(visibility, parent)?;
            format!("{}/{segment}", parent.full_path)
        }
        None => {
            validate::check_top_level_path(segment)?;
            segment.to_owned()
        }
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if db::projects::find_by_path(&tx, &full_path)?.is_some() {
        return Err(Error::conflict(format!(
            "the path \"{full_path}\" is already taken"
        )));
    }
    let now = now_millis();
    let new = db::namespaces::NewNamespace {
        kind: NamespaceKind::Group,
        path: segment,
        full_path: &full_path,
        parent_id: parent.map(|p| p.id),
        owner_user_id: None,
        visibility,
    };
    let id = db::namespaces::insert(&tx, &new, now)?;
    audit::record(&tx, caller, "group.create", About::Group(id), &full_path)?;
    tx.commit()?;
    db::namespaces::find(conn, id)?.ok_or_else(|| Error::internal("group vanished"))
}

/// Stores a new project in `namespace` (already judged), audited as done by `caller`.
fn insert_project(
    conn: &mut Connection,
    namespace: &Namespace,
    segment: &str,
    visibility: Visibility,
    caller: &Caller,
) -> Result<Project> {
    check_visibility_within(visibility, namespace)?;
    let full_path = format!("{}/{segment}", namespace.full_path);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if db::namespaces::find_by_path(&tx, &full_path)?.is_some() {
        return Err(Error::conflict(format!(
            "the path \"{full_path}\" is already taken"
        )));
    }
    let now = now_millis();
    let id = db::projects::insert(&tx, namespace.id, segment, &full_path, visibility, now)?;
    audit::record(
        &tx,
        caller,
        "project.create",
        About::Project(id),
        &full_path,
    )?;
    tx.commit()?;
    db::projects::find(conn, id)?.ok_or_else(|| Error::internal("project vanished"))
}
