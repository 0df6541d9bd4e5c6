//! Web sign-in: passwords checked with argon2, sessions kept as random cookies of which only a
//! digest is stored, each with the CSRF token its forms must carry.

use std::sync::OnceLock;

use rusqlite::Connection;

use crate::auth::UserCaller;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{Scope, Scopes};
use crate::registry::audit::{self, About};
use crate::secrets;

/// How long a sign-in lasts.
pub const SESSION_DAYS: i64 = 7;

/// A session just opened: the cookie's secret (shown to the browser only) and its CSRF token.
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
}

/// A signed-in browser: the user with every right their roles give (a session acts like a
/// token with the `api` scope, as GitLab's web sessions do) and the token its forms carry.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub id: i64,
    pub user: UserCaller,
    pub csrf_token: String,
}

/// A hash to check unknown usernames against, so a wrong name costs as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| secrets::hash_password("decoy password").unwrap_or_default())
}

/// The account a sign-in names and its password hash, if there is one: read first, so the
/// password is checked (tens of milliseconds of argon2) without holding a connection.
pub fn find_account(conn: &Connection, username: &str) -> Result<Option<(i64, String)>> {
    db::sessions::password_hash(conn, username.trim())
}

/// Checks the password against the account found by `find_account` (an unknown name against
/// a decoy, so it costs as long): the user id when it matches. Needs no database.
pub fn check_password(account: Option<&(i64, String)>, password: &str) -> Option<i64> {
    let hash = account.map_or(decoy_hash(), |(_, hash)| hash.as_str());
    let matches = secrets::verify_password(password, hash);
    account.filter(|_| matches).map(|(user_id, _)| *user_id)
}

/// Opens a session for a user whose password was just checked. `None`: the user is blocked
/// (the page says the same as for a wrong password).
pub fn open(conn: &Connection, user_id: i64) -> Result<Option<NewSession>> {
    let user = db::users::find(conn, user_id)?.ok_or(Error::Unauthorized)?;
    if user.is_blocked {
        return Ok(None);
    }
    let secret = secrets::new_token("")?;
    let csrf_token = secrets::new_token("")?;
    let now = now_millis();
    db::sessions::delete_expired(conn, now)?;
    db::sessions::insert(
        conn,
        user.id,
        &secrets::token_digest(&secret),
        &csrf_token,
        now + SESSION_DAYS * 86_400_000,
        now,
    )?;
    let caller = crate::auth::Caller::User(UserCaller {
        user_id: user.id,
        token_id: None,
        username: user.username.clone(),
        is_admin: user.is_admin,
        scopes: Scopes::parse(Scope::Api.as_str())?,
    });
    audit::record(
        conn,
        &caller,
        "session.create",
        About::User(user.id),
        &user.username,
    )?;
    Ok(Some(NewSession { secret, csrf_token }))
}

/// The session a cookie names, if it is live and its user not blocked.
pub fn resolve(conn: &Connection, secret: &str) -> Result<Option<WebSession>> {
    let digest = secrets::token_digest(secret);
    let Some(row) = db::sessions::find(conn, &digest, now_millis())? else {
        return Ok(None);
    };
    let Some(user) = db::users::find(conn, row.user_id)?.filter(|u| !u.is_blocked) else {
        return Ok(None);
    };
    Ok(Some(WebSession {
        id: row.id,
        user: UserCaller {
            user_id: user.id,
            token_id: None,
            username: user.username,
            is_admin: user.is_admin,
            scopes: Scopes::parse(Scope::Api.as_str())?,
        },
        csrf_token: row.csrf_token,
    }))
}

pub fn sign_out(conn: &Connection, secret: &str) -> Result<()> {
    db::sessions::delete(conn, &secrets::token_digest(secret))
}

/// The signed-in user's password hash, read first so that the argon2 work of a password
/// change (`new_password_hash`) holds no connection.
pub fn password_hash_of(conn: &Connection, session: &WebSession) -> Result<String> {
    Ok(db::sessions::password_hash_of(conn, session.user.user_id)?.unwrap_or_default())
}

/// Checks the current password against `stored` and hashes the new one: argon2 twice and no
/// database, so a flood of attempts waits its turn instead of holding connections.
pub fn new_password_hash(stored: &str, current: &str, new: &str) -> Result<String> {
    if !secrets::verify_password(current, stored) {
        return Err(Error::bad_request("the current password is not right"));
    }
    secrets::hash_password(new)
}

/// Stores the hash `new_password_hash` made, if the password is still the one it checked
/// (`checked`); every other session of the user ends.
pub fn set_password(
    conn: &Connection,
    session: &WebSession,
    checked: &str,
    new_hash: &str,
) -> Result<()> {
    if password_hash_of(conn, session)? != checked {
        return Err(Error::bad_request(
            "the password was changed meanwhile; try again",
        ));
    }
    db::users::set_password_hash(conn, session.user.user_id, new_hash)?;
    db::sessions::delete_for_user(conn, session.user.user_id, Some(session.id))?;
    audit::record(
        conn,
        &crate::auth::Caller::User(session.user.clone()),
        "user.password",
        About::User(session.user.user_id),
        &session.user.username,
    )
}
