//! Provisioning: users, tokens, groups, projects, members and deploy tokens. The command line
//! calls these today; an HTTP management API can call the same functions.

use rusqlite::{Connection, TransactionBehavior};

use crate::blobs::BlobStore;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{
    DeployToken, Namespace, NamespaceKind, PersonalAccessToken, Project, Role, Scope, Scopes, User,
    Visibility,
};
use crate::secrets;

/// How the audit log names whoever runs the command line.
pub const CLI_ACTOR: &str = "cli";

/// A path segment as GitLab allows it: letters, digits, `_`, `-`, `.`, not starting with `-` or
/// `.`, not all digits (a number names an id in the API).
pub(crate) fn check_segment(segment: &str, what: &str) -> Result<()> {
    let first_ok = segment.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let chars_ok = segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let all_digits = segment.chars().all(|c| c.is_ascii_digit());
    if segment.is_empty()
        || segment.len() > 100
        || !first_ok
        || !chars_ok
        || all_digits
        || segment.ends_with('.')
    {
        return Err(Error::bad_request(format!(
            "\"{segment}\" is not a valid {what}: use letters, digits, '_', '-' and '.', \
             starting with a letter, digit or '_'"
        )));
    }
    Ok(())
}

/// Splits `a/b/c` into (`a/b`, `c`), checking every segment.
fn split_path<'a>(full_path: &'a str, what: &str) -> Result<(Option<&'a str>, &'a str)> {
    let full_path = full_path.trim_matches('/');
    for segment in full_path.split('/') {
        check_segment(segment, what)?;
    }
    Ok(match full_path.rsplit_once('/') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, full_path),
    })
}

fn user_by_name(conn: &Connection, username: &str) -> Result<User> {
    db::users::find_by_name(conn, username)?
        .ok_or_else(|| Error::not_found(format!("no user named \"{username}\"")))
}

/// Creates a user and its personal namespace. Returns the user and, when no password was
/// given, the generated one.
pub fn create_user(
    conn: &mut Connection,
    username: &str,
    email: Option<&str>,
    password: Option<&str>,
    is_admin: bool,
    actor: &str,
) -> Result<(User, Option<String>)> {
    check_segment(username, "username")?;
    let generated = match password {
        Some(_) => None,
        None => Some(secrets::new_password()?),
    };
    let password_hash =
        secrets::hash_password(password.or(generated.as_deref()).unwrap_or_default())?;
    let now = now_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = db::users::insert(&tx, username, email, &password_hash, is_admin, now)?;
    db::namespaces::insert(
        &tx,
        &db::namespaces::NewNamespace {
            kind: NamespaceKind::User,
            path: username,
            full_path: username,
            parent_id: None,
            owner_user_id: Some(id),
            visibility: Visibility::Public,
        },
        now,
    )?;
    db::packages::insert_audit(&tx, actor, "user.create", username, now)?;
    tx.commit()?;
    let user = db::users::find(conn, id)?.ok_or_else(|| Error::internal("user vanished"))?;
    Ok((user, generated))
}

/// On a server's first start: an `admin` with a random password, returned to be shown once.
pub fn ensure_first_admin(conn: &mut Connection) -> Result<Option<String>> {
    if db::users::count(conn)? > 0 {
        return Ok(None);
    }
    let (_, password) = create_user(conn, "admin", None, None, true, CLI_ACTOR)?;
    Ok(password)
}

pub fn list_users(conn: &Connection) -> Result<Vec<User>> {
    db::users::list(conn)
}

/// Sets a password; returns the generated one when none was given.
pub fn set_password(
    conn: &Connection,
    username: &str,
    password: Option<&str>,
) -> Result<Option<String>> {
    let user = user_by_name(conn, username)?;
    let generated = match password {
        Some(_) => None,
        None => Some(secrets::new_password()?),
    };
    let hash = secrets::hash_password(password.or(generated.as_deref()).unwrap_or_default())?;
    db::users::set_password_hash(conn, user.id, &hash)?;
    // A new password signs the user out of the web everywhere.
    db::sessions::delete_for_user(conn, user.id, None)?;
    Ok(generated)
}

/// What an admin may change about an account; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub password: Option<String>,
    pub is_admin: Option<bool>,
}

/// Applies `changes` in one transaction (the password is checked and hashed first, so a weak
/// one changes nothing).
pub fn update_user(
    conn: &mut Connection,
    user_id: i64,
    changes: &UserChanges,
    actor: &str,
) -> Result<User> {
    let not_found = || Error::not_found("404 User Not Found");
    let password_hash = changes
        .password
        .as_deref()
        .map(secrets::hash_password)
        .transpose()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let user = db::users::find(&tx, user_id)?.ok_or_else(not_found)?;
    if let Some(email) = &changes.email {
        let email = Some(email.trim()).filter(|e| !e.is_empty());
        db::users::set_email(&tx, user.id, email)?;
    }
    if let Some(hash) = &password_hash {
        db::users::set_password_hash(&tx, user.id, hash)?;
        db::sessions::delete_for_user(&tx, user.id, None)?;
    }
    if let Some(is_admin) = changes.is_admin {
        db::users::set_admin(&tx, user.id, is_admin)?;
    }
    db::packages::insert_audit(&tx, actor, "user.update", &user.username, now_millis())?;
    tx.commit()?;
    db::users::find(conn, user_id)?.ok_or_else(not_found)
}

/// Blocking stops the user's tokens at once: every request checks the owner's state.
pub fn set_blocked(conn: &Connection, username: &str, blocked: bool, actor: &str) -> Result<()> {
    let user = user_by_name(conn, username)?;
    db::users::set_blocked(conn, user.id, blocked)?;
    db::packages::insert_audit(
        conn,
        actor,
        if blocked {
            "user.block"
        } else {
            "user.unblock"
        },
        username,
        now_millis(),
    )
}

pub fn remove_user(conn: &mut Connection, username: &str, actor: &str) -> Result<()> {
    let user = user_by_name(conn, username)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(ns) = db::namespaces::find_by_path(&tx, &user.username)?
        && db::namespaces::has_children(&tx, ns.id)?
    {
        return Err(Error::conflict(format!(
            "user \"{username}\" still has personal projects: remove them first"
        )));
    }
    db::users::delete(&tx, user.id)?;
    db::packages::insert_audit(&tx, actor, "user.remove", username, now_millis())?;
    tx.commit()?;
    Ok(())
}

/// Expiry dates must be real dates in the future (a token that expires today never works).
fn check_expiry(expires_on: Option<&str>) -> Result<()> {
    let Some(date) = expires_on else {
        return Ok(());
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format).map_err(|_| {
        Error::bad_request(format!("\"{date}\" is not a date of the form YYYY-MM-DD"))
    })?;
    if date <= crate::auth::today().as_str() {
        return Err(Error::bad_request(format!(
            "the expiry date {date} is not in the future"
        )));
    }
    Ok(())
}

/// Creates a personal access token; returns it with its secret, which is not kept anywhere.
pub fn create_token(
    conn: &Connection,
    username: &str,
    name: &str,
    scopes: &str,
    expires_on: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
    let user = user_by_name(conn, username)?;
    issue_token(
        conn,
        &user,
        name,
        &Scopes::parse(scopes)?,
        expires_on,
        CLI_ACTOR,
    )
}

/// Creates a token for `user`, audited as `actor`: the one way tokens come to be.
pub(crate) fn issue_token(
    conn: &Connection,
    user: &User,
    name: &str,
    scopes: &Scopes,
    expires_on: Option<&str>,
    actor: &str,
) -> Result<(PersonalAccessToken, String)> {
    check_expiry(expires_on)?;
    if name.trim().is_empty() {
        return Err(Error::bad_request("a token needs a name"));
    }
    let secret = secrets::new_token(secrets::PERSONAL_TOKEN_PREFIX)?;
    let digest = secrets::token_digest(&secret);
    let now = now_millis();
    let token = db::tokens::NewToken {
        name,
        digest: &digest,
        scopes,
        expires_on,
    };
    let id = db::tokens::insert_personal(conn, user.id, &token, now)?;
    let target = format!("{}/{id}", user.username);
    db::packages::insert_audit(conn, actor, "token.create", &target, now)?;
    let created =
        db::tokens::find_personal(conn, id)?.ok_or_else(|| Error::internal("token vanished"))?;
    Ok((created, secret))
}

pub fn list_tokens(conn: &Connection, username: &str) -> Result<Vec<PersonalAccessToken>> {
    let user = user_by_name(conn, username)?;
    db::tokens::list_personal(conn, user.id)
}

pub fn revoke_token(conn: &Connection, id: i64) -> Result<()> {
    if !db::tokens::personal_exists(conn, id)? {
        return Err(Error::not_found(format!(
            "no personal access token with id {id}"
        )));
    }
    withdraw_token(conn, id, CLI_ACTOR)
}

/// Revokes a token, audited as `actor`.
pub(crate) fn withdraw_token(conn: &Connection, id: i64, actor: &str) -> Result<()> {
    db::tokens::revoke_personal(conn, id, now_millis())?;
    db::packages::insert_audit(conn, actor, "token.revoke", &id.to_string(), now_millis())
}

/// Either a project or a group, found by full path (a project and a group never share one).
pub enum Target {
    Project(Project),
    Group(Namespace),
}

pub fn find_target(conn: &Connection, full_path: &str) -> Result<Target> {
    let path = full_path.trim_matches('/');
    if let Some(project) = db::projects::find_by_path(conn, path)? {
        return Ok(Target::Project(project));
    }
    match db::namespaces::find_by_path(conn, path)? {
        Some(ns) if ns.kind == NamespaceKind::Group => Ok(Target::Group(ns)),
        Some(_) => Err(Error::bad_request(format!(
            "\"{path}\" is a user's personal namespace, not a group or project"
        ))),
        None => Err(Error::not_found(format!(
            "no group or project at \"{path}\""
        ))),
    }
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

fn parent_namespace(conn: &Connection, parent_path: &str) -> Result<Namespace> {
    db::namespaces::find_by_path(conn, parent_path)?
        .ok_or_else(|| Error::not_found(format!("no group or user named \"{parent_path}\"")))
}

pub fn create_group(
    conn: &mut Connection,
    full_path: &str,
    visibility: Visibility,
    actor: &str,
) -> Result<Namespace> {
    let (parent_path, segment) = split_path(full_path, "group path")?;
    let full_path = full_path.trim_matches('/');
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let parent = match parent_path {
        Some(parent_path) => {
            let parent = parent_namespace(&tx, parent_path)?;
            if parent.kind != NamespaceKind::Group {
                return Err(Error::bad_request(format!(
                    "\"{parent_path}\" is a user, not a group: subgroups live in groups"
                )));
            }
            check_visibility_within(visibility, &parent)?;
            Some(parent.id)
        }
        None => None,
    };
    if db::projects::find_by_path(&tx, full_path)?.is_some() {
        return Err(Error::conflict(format!(
            "the path \"{full_path}\" is already taken"
        )));
    }
    let now = now_millis();
    let new = db::namespaces::NewNamespace {
        kind: NamespaceKind::Group,
        path: segment,
        full_path,
        parent_id: parent,
        owner_user_id: None,
        visibility,
    };
    let id = db::namespaces::insert(&tx, &new, now)?;
    db::packages::insert_audit(&tx, actor, "group.create", full_path, now)?;
    tx.commit()?;
    db::namespaces::find(conn, id)?.ok_or_else(|| Error::internal("group vanished"))
}

pub fn list_groups(conn: &Connection) -> Result<Vec<Namespace>> {
    db::namespaces::list_groups(conn)
}

pub fn remove_group(conn: &Connection, full_path: &str, actor: &str) -> Result<()> {
    let Target::Group(group) = find_target(conn, full_path)? else {
        return Err(Error::bad_request(format!(
            "\"{full_path}\" is a project, not a group"
        )));
    };
    if db::namespaces::has_children(conn, group.id)? {
        return Err(Error::conflict(format!(
            "the group \"{}\" still holds subgroups or projects: remove them first",
            group.full_path
        )));
    }
    db::namespaces::delete(conn, group.id)?;
    db::packages::insert_audit(conn, actor, "group.remove", &group.full_path, now_millis())
}

pub fn create_project(
    conn: &mut Connection,
    full_path: &str,
    visibility: Visibility,
    actor: &str,
) -> Result<Project> {
    let (parent_path, segment) = split_path(full_path, "project path")?;
    let full_path = full_path.trim_matches('/');
    let parent_path = parent_path.ok_or_else(|| {
        Error::bad_request(format!(
            "\"{full_path}\" needs a namespace: GROUP/NAME or USER/NAME"
        ))
    })?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let namespace = parent_namespace(&tx, parent_path)?;
    check_visibility_within(visibility, &namespace)?;
    if db::namespaces::find_by_path(&tx, full_path)?.is_some() {
        return Err(Error::conflict(format!(
            "the path \"{full_path}\" is already taken"
        )));
    }
    let now = now_millis();
    let id = db::projects::insert(&tx, namespace.id, segment, full_path, visibility, now)?;
    db::packages::insert_audit(&tx, actor, "project.create", full_path, now)?;
    tx.commit()?;
    db::projects::find(conn, id)?.ok_or_else(|| Error::internal("project vanished"))
}

/// Changes a project's visibility and whether its files may be replaced; `None` keeps a value.
pub fn update_project(
    conn: &Connection,
    full_path: &str,
    visibility: Option<Visibility>,
    allow_file_replace: Option<bool>,
    actor: &str,
) -> Result<Project> {
    let Target::Project(project) = find_target(conn, full_path)? else {
        return Err(Error::bad_request(format!(
            "\"{full_path}\" is a group, not a project"
        )));
    };
    let visibility = visibility.unwrap_or(project.visibility);
    let namespace = db::namespaces::find(conn, project.namespace_id)?
        .ok_or_else(|| Error::internal("project without namespace"))?;
    check_visibility_within(visibility, &namespace)?;
    let allow = allow_file_replace.unwrap_or(project.allow_file_replace);
    db::projects::update_settings(conn, project.id, visibility, allow)?;
    let what = format!(
        "{} visibility={visibility} allow_file_replace={allow}",
        project.full_path
    );
    db::packages::insert_audit(conn, actor, "project.update", &what, now_millis())?;
    db::projects::find(conn, project.id)?.ok_or_else(|| Error::internal("project vanished"))
}

pub fn list_projects(conn: &Connection) -> Result<Vec<Project>> {
    db::projects::list(conn)
}

/// Removes a project with its packages; blobs no other project refers to are deleted after
/// the rows (a crash in between leaves only unreferenced blobs, which are garbage).
pub fn remove_project(
    conn: &mut Connection,
    blobs: &BlobStore,
    full_path: &str,
    actor: &str,
) -> Result<()> {
    let Target::Project(project) = find_target(conn, full_path)? else {
        return Err(Error::bad_request(format!(
            "\"{full_path}\" is a group, not a project"
        )));
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let digests = db::packages::project_blob_digests(&tx, project.id)?;
    db::projects::delete(&tx, project.id)?;
    db::packages::insert_audit(
        &tx,
        actor,
        "project.remove",
        &project.full_path,
        now_millis(),
    )?;
    tx.commit()?;
    super::manage::remove_unreferenced(conn, blobs, digests);
    Ok(())
}

fn member_source(target: &Target) -> db::members::Source {
    match target {
        Target::Project(p) => db::members::Source::Project(p.id),
        Target::Group(g) => db::members::Source::Namespace(g.id),
    }
}

pub fn add_member(conn: &Connection, full_path: &str, username: &str, role: Role) -> Result<()> {
    let target = find_target(conn, full_path)?;
    let user = user_by_name(conn, username)?;
    let now = now_millis();
    db::members::upsert(conn, member_source(&target), user.id, role, now)?;
    let what = format!("{full_path} {username} {}", role.as_str());
    db::packages::insert_audit(conn, CLI_ACTOR, "member.add", &what, now)
}

pub fn remove_member(conn: &Connection, full_path: &str, username: &str) -> Result<()> {
    let target = find_target(conn, full_path)?;
    let user = user_by_name(conn, username)?;
    if !db::members::delete(conn, member_source(&target), user.id)? {
        return Err(Error::not_found(format!(
            "\"{username}\" is not a direct member of \"{full_path}\""
        )));
    }
    db::packages::insert_audit(
        conn,
        CLI_ACTOR,
        "member.remove",
        &format!("{full_path} {username}"),
        now_millis(),
    )
}

pub fn list_members(conn: &Connection, full_path: &str) -> Result<Vec<(String, Role)>> {
    let target = find_target(conn, full_path)?;
    let members = db::members::list(conn, member_source(&target))?;
    Ok(members
        .into_iter()
        .map(|(user, role)| (user.username, role))
        .collect())
}

/// Deploy tokens only carry the package registry scopes, as in GitLab.
fn deploy_scopes(list: &str) -> Result<Scopes> {
    let scopes = Scopes::parse(list)?;
    if scopes.contains(Scope::Api) || scopes.contains(Scope::ReadApi) {
        return Err(Error::bad_request(
            "deploy tokens take read_package_registry and write_package_registry only",
        ));
    }
    Ok(scopes)
}

fn deploy_owner(target: &Target) -> (Option<i64>, Option<i64>) {
    match target {
        Target::Project(p) => (None, Some(p.id)),
        Target::Group(g) => (Some(g.id), None),
    }
}

/// Creates a deploy token of a project or group; returns it with its secret.
pub fn create_deploy_token(
    conn: &Connection,
    full_path: &str,
    name: &str,
    scopes: &str,
    expires_on: Option<&str>,
    actor: &str,
) -> Result<(DeployToken, String)> {
    let target = find_target(conn, full_path)?;
    let scopes = deploy_scopes(scopes)?;
    check_expiry(expires_on)?;
    if name.trim().is_empty() {
        return Err(Error::bad_request("a deploy token needs a name"));
    }
    let secret = secrets::new_token(secrets::DEPLOY_TOKEN_PREFIX)?;
    let digest = secrets::token_digest(&secret);
    let (namespace_id, project_id) = deploy_owner(&target);
    let now = now_millis();
    let new = db::tokens::NewToken {
        name,
        digest: &digest,
        scopes: &scopes,
        expires_on,
    };
    let token = db::tokens::insert_deploy(conn, namespace_id, project_id, &new, now)?;
    db::packages::insert_audit(
        conn,
        actor,
        "deploy_token.create",
        &format!("{full_path} {}", token.username),
        now,
    )?;
    Ok((token, secret))
}

pub fn list_deploy_tokens(conn: &Connection, full_path: &str) -> Result<Vec<DeployToken>> {
    let (namespace_id, project_id) = deploy_owner(&find_target(conn, full_path)?);
    db::tokens::list_deploy(conn, namespace_id, project_id)
}

pub fn revoke_deploy_token(conn: &Connection, id: i64, actor: &str) -> Result<()> {
    if db::tokens::find_deploy(conn, id)?.is_none() {
        return Err(Error::not_found(format!("no deploy token with id {id}")));
    }
    db::tokens::revoke_deploy(conn, id, now_millis())?;
    db::packages::insert_audit(
        conn,
        actor,
        "deploy_token.revoke",
        &id.to_string(),
        now_millis(),
    )
}
