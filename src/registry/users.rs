//! Users through the management API: anyone signed in may look people up; only admins add,
//! block or remove them.

use rusqlite::Connection;

use super::admin;
use crate::access::{ApiAdmin, ApiUser};
use crate::db;
use crate::error::{Error, Result};
use crate::model::User;

fn not_found() -> Error {
    Error::not_found("404 User Not Found")
}

/// Users by username; non-admins see only active ones. `username` matches exactly (any case),
/// `search` anywhere in the username (or name, which is the username here); admins search
/// e-mail addresses too, which are nobody else's business (GitLab's rule).
pub fn list(
    conn: &Connection,
    api: &ApiUser,
    username: Option<&str>,
    search: Option<&str>,
) -> Result<Vec<User>> {
    let search = search.map(str::to_lowercase);
    Ok(db::users::list(conn)?
        .into_iter()
        .filter(|u| api.is_admin() || !u.is_blocked)
        .filter(|u| username.is_none_or(|n| u.username.eq_ignore_ascii_case(n)))
        .filter(|u| {
            search.as_deref().is_none_or(|s| {
                u.username.to_lowercase().contains(s)
                    || (api.is_admin()
                        && u.email
                            .as_deref()
                            .is_some_and(|e| e.to_lowercase().contains(s)))
            })
        })
        .collect())
}

pub fn get(conn: &Connection, api: &ApiUser, id: i64) -> Result<User> {
    db::users::find(conn, id)?
        .filter(|u| api.is_admin() || !u.is_blocked || u.id == api.user_id())
        .ok_or_else(not_found)
}

/// Adds a user; without a password one is generated (and never shown: the user gets a token
/// from an admin, or the admin sets a password).
pub fn create(
    conn: &mut Connection,
    admin: &ApiAdmin,
    username: &str,
    email: Option<&str>,
    password: Option<&str>,
    is_admin: bool,
) -> Result<User> {
    let (user, _) = admin::create_user(conn, username, email, password, is_admin, &admin.actor())?;
    Ok(user)
}

/// Admins change others freely, but not their own admin flag: the last admin must not lock
/// everyone out by accident.
pub fn update(
    conn: &mut Connection,
    admin: &ApiAdmin,
    id: i64,
    changes: &admin::UserChanges,
) -> Result<User> {
    if id == admin.user_id() && changes.is_admin == Some(false) {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot take away their own admin rights",
        ));
    }
    admin::update_user(conn, id, changes, &admin.actor())
}

pub fn set_blocked(conn: &Connection, admin: &ApiAdmin, id: i64, blocked: bool) -> Result<()> {
    let user = db::users::find(conn, id)?.ok_or_else(not_found)?;
    if user.id == admin.user_id() && blocked {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot block themselves",
        ));
    }
    admin::set_blocked(conn, &user.username, blocked, &admin.actor())
}

pub fn delete(conn: &mut Connection, admin: &ApiAdmin, id: i64) -> Result<()> {
    let user = db::users::find(conn, id)?.ok_or_else(not_found)?;
    if user.id == admin.user_id() {
        return Err(Error::forbidden(
            "403 Forbidden: an admin cannot remove themselves",
        ));
    }
    admin::remove_user(conn, &user.username, &admin.actor())
}
