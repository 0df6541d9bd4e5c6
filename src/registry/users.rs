//! Users, for the API, the web and the command line alike: anyone signed in may look people
//! up; only admins (and the operator) add, change, block or remove them. Each operation asks
//! the permission table first.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::validate::{check_name, check_segment};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{NamespaceKind, User, Visibility};
use crate::secrets;

fn not_found() -> Error {
    Error::not_found("404 User Not Found")
}

/// Admins and the operator see everything about everyone.
fn all_seeing(caller: &Caller) -> bool {
    match caller {
        Caller::Operator => true,
        Caller::User(user) => user.is_admin,
        Caller::Anonymous | Caller::DeployToken(_) => false,
    }
}

/// The caller's own user id, if a user.
fn own_id(caller: &Caller) -> Option<i64> {
    match caller {
        Caller::User(user) => Some(user.user_id),
        _ => None,
    }
}

/// Which users a list asks for: GitLab's `username`, `search`, `blocked` and `active`.
#[derive(Debug, Default)]
pub struct UserFilter<'a> {
    /// Exactly this username (any case).
    pub username: Option<&'a str>,
    /// Anywhere in the username or name (admins: the e-mail address too).
    pub search: Option<&'a str>,
    /// Only blocked users (which only admins see).
    pub blocked: bool,
    /// Only active (not blocked) users.
    pub active: bool,
}

/// Users by username; non-admins see only active ones. Admins search e-mail addresses too,
/// which are nobody else's business (GitLab's rule).
pub fn list(conn: &Connection, caller: &Caller, filter: &UserFilter<'_>) -> Result<Vec<User>> {
    Ok(found(conn, caller, filter, None)?.0)
}

/// One page (`per_page` users after skipping `(page - 1) * per_page`) of `list`, and how many
/// there are in all: the database cuts the page, so a request costs what it returns.
pub fn page(
    conn: &Connection,
    caller: &Caller,
    filter: &UserFilter<'_>,
    page: usize,
    per_page: usize,
) -> Result<(Vec<User>, usize)> {
    let per_page = i64::try_from(per_page).unwrap_or(i64::MAX);
    let skip = i64::try_from(page.saturating_sub(1))
        .unwrap_or(i64::MAX)
        .saturating_mul(per_page);
    let (users, total) = found(conn, caller, filter, Some((per_page, skip)))?;
    Ok((users, usize::try_from(total).unwrap_or(0)))
}

fn found(
    conn: &Connection,
    caller: &Caller,
    filter: &UserFilter<'_>,
    window: Option<(i64, i64)>,
) -> Result<(Vec<User>, i64)> {
    access::judge(conn, caller, Operation::UsersList, On::Nothing)?;
    let admin = all_seeing(caller);
    // Non-admins see active users only.
    let (only_blocked, only_active) = (filter.blocked, filter.active || !admin);
    if only_blocked && only_active {
        return Ok((Vec::new(), 0));
    }
    let search = filter.search.map(str::to_lowercase);
    let query = db::users::UserQuery {
        username: filter.username,
        search: search.as_deref(),
        search_email: admin,
        // Access tokens' bots are no one's colleagues: only admins see them listed, as GitLab.
        with_bots: admin,
        blocked: (only_blocked || only_active).then_some(only_blocked),
        limit: window.map(|(limit, _)| limit),
        offset: window.map_or(0, |(_, offset)| offset),
    };
    db::users::search(conn, &query)
}

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<User> {
    access::judge(conn, caller, Operation::UsersList, On::Nothing)?;
    db::users::find(conn, id)?
        .filter(|u| all_seeing(caller) || !u.is_blocked || Some(u.id) == own_id(caller))
        .ok_or_else(not_found)
}

/// A user by username, as the command line and the web forms name them.
pub fn named(conn: &Connection, caller: &Caller, username: &str) -> Result<User> {
    let filter = UserFilter {
        username: Some(username.trim()),
        ..UserFilter::default()
    };
    list(conn, caller, &filter)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("no user named \"{}\"", username.trim())))
}

/// Whether the caller may see the e-mail address and admin flag of `user_id`: admins, the
/// operator, and the user themselves.
pub fn sees_private_fields(caller: &Caller, user_id: i64) -> bool {
    all_seeing(caller) || own_id(caller) == Some(user_id)
}

/// Adds a user with its personal namespace; without a password one is generated and
/// returned, to be shown once. Without a `name` the username is the display name.
pub fn create(
    conn: &mut Connection,
    caller: &Caller,
    username: &str,
    name: Option<&str>,
    email: Option<&str>,
    password: Option<&str>,
    is_admin: bool,
) -> Result<(User, Option<String>)> {
    access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    check_segment(username, "username")?;
    if let Some(name) = name {
        check_name(name, "user")?;
    }
    let generated = match password {
        Some(_) => None,
        None => Some(secrets::new_password()?),
    };
    let password_hash =
        secrets::hash_password(password.or(generated.as_deref()).unwrap_or_default())?;
    let now = now_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = db::users::insert(&tx, username, email, &password_hash, is_admin, now)?;
    if let Some(name) = name {
        db::users::set_name(&tx, id, Some(name.trim()))?;
    }
    let namespace = db::namespaces::NewNamespace {
        kind: NamespaceKind::User,
        path: username,
        full_path: username,
        parent_id: None,
        owner_user_id: Some(id),
        visibility: Visibility::Public,
    };
    db::namespaces::insert(&tx, &namespace, now)?;
    let details = serde_json::json!({"admin": is_admin});
    audit::record_with(
        &tx,
        caller,
        "user.create",
        About::User(id),
        username,
        Some(details),
    )?;
    tx.commit()?;
    let user = db::users::find(conn, id)?.ok_or_else(|| Error::internal("user vanished"))?;
    Ok((user, generated))
}

/// On a server's first start: an `admin` with a random password, returned to be shown once.
pub fn ensure_first_admin(conn: &mut Connection) -> Result<Option<String>> {
    if db::users::count(conn)? > 0 {
        return Ok(None);
    }
    let (_, password) = create(conn, &Caller::Operator, "admin", None, None, None, true)?;
    Ok(password)
}

/// Sets a password (the account's owner, an admin or the operator); returns the generated
/// one when none was given. A new password signs the user out of the web everywhere.
pub fn set_password(
    conn: &Connection,
    caller: &Caller,
    user_id: i64,
    password: Option<&str>,
) -> Result<Option<String>> {
    access::judge(
        conn,
        caller,
        Operation::AccountPassword,
        On::Account(user_id),
    )?;
    let user = db::users::find(conn, user_id)?.ok_or_else(not_found)?;
    let generated = match password {
        Some(_) => None,
        None => Some(secrets::new_password()?),
    };
    let hash = secrets::hash_password(password.or(generated.as_deref()).unwrap_or_default())?;
    // The new password, the end of the user's sessions and the event together, or none.
    let tx = conn.unchecked_transaction()?;
    db::users::set_password_hash(&tx, user.id, &hash)?;
    db::sessions::delete_for_user(&tx, user.id, None)?;
    audit::record(
        &tx,
        caller,
        "user.password",
        About::User(user.id),
        &user.username,
    )?;
    tx.commit()?;
    Ok(generated)
}

/// What an admin may change about an account; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// The display name (empty: back to the username).
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub is_admin: Option<bool>,
}

/// Applies `changes` in one transaction (the password is checked and hashed first, so a weak
/// one changes nothing). Admins change others freely, but not their own admin flag: the last
/// admin must not lock everyone out by accident.
pub fn update(
    conn: &mut Connection,
    caller: &Caller,
    id: i64,
    changes: &UserChanges,
) -> Result<User> {
    access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    let name = changes.name.as_deref().map(str::trim);
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        check_name(name, "user")?;
    }
    if own_id(caller) == Some(id) && changes.is_admin == Some(false) {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot take away their own admin rights",
        ));
    }
    let password_hash = changes
        .password
        .as_deref()
        .map(secrets::hash_password)
        .transpose()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let user = db::users::find(&tx, id)?.ok_or_else(not_found)?;
    if let Some(name) = name {
        db::users::set_name(&tx, user.id, Some(name).filter(|n| !n.is_empty()))?;
    }
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
    let mut details = serde_json::json!({});
    for (field, given) in [
        ("name", changes.name.is_some()),
        ("email", changes.email.is_some()),
        ("password", changes.password.is_some()),
    ] {
        if given {
            details[field] = serde_json::json!("changed");
        }
    }
    if let Some(is_admin) = changes.is_admin.filter(|now| *now != user.is_admin) {
        details["admin"] = serde_json::json!({"from": user.is_admin, "to": is_admin});
    }
    let about = About::User(user.id);
    audit::record_with(
        &tx,
        caller,
        "user.update",
        about,
        &user.username,
        Some(details),
    )?;
    tx.commit()?;
    db::users::find(conn, id)?.ok_or_else(not_found)
}

/// Blocking stops the user's tokens at once: every request checks the owner's state. Returns
/// whether the state changed (GitLab answers differently when it did not).
pub fn set_blocked(conn: &Connection, caller: &Caller, id: i64, blocked: bool) -> Result<bool> {
    access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    let user = db::users::find(conn, id)?.ok_or_else(not_found)?;
    if own_id(caller) == Some(user.id) && blocked {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot block themselves",
        ));
    }
    if user.is_blocked == blocked {
        return Ok(false);
    }
    let tx = conn.unchecked_transaction()?;
    db::users::set_blocked(&tx, user.id, blocked)?;
    let action = if blocked {
        "user.block"
    } else {
        "user.unblock"
    };
    audit::record(&tx, caller, action, About::User(user.id), &user.username)?;
    tx.commit()?;
    Ok(true)
}

/// Removes a user; one with personal projects is refused, so nothing is lost by one call.
pub fn delete(conn: &mut Connection, caller: &Caller, id: i64) -> Result<()> {
    access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    let user = db::users::find(conn, id)?.ok_or_else(not_found)?;
    if own_id(caller) == Some(user.id) {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot remove themselves",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(ns) = db::namespaces::find_by_path(&tx, &user.username)?
        && db::namespaces::has_children(&tx, ns.id)?
    {
        return Err(Error::conflict(format!(
            "user \"{}\" still has personal projects: remove them first",
            user.username
        )));
    }
    db::users::delete(&tx, user.id)?;
    audit::record(
        &tx,
        caller,
        "user.remove",
        About::User(user.id),
        &user.username,
    )?;
    tx.commit()?;
    Ok(())
}
