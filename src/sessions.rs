//! Web sign-in: passwords checked with argon2, sessions kept as random cookies of which only a
//! digest is stored, each with the CSRF token its forms must carry.

use std::sync::OnceLock;

use rusqlite::Connection;

use crate::auth::UserCaller;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{Scope, Scopes};
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

/// Checks the password; on success opens a session. `None`: wrong name or password, or a
/// blocked user (the page says the same for all three).
pub fn sign_in(conn: &Connection, username: &str, password: &str) -> Result<Option<NewSession>> {
    let found = db::sessions::password_hash(conn, username.trim())?;
    let hash = found
        .as_ref()
        .map_or(decoy_hash(), |(_, hash)| hash.as_str());
    let matches = secrets::verify_password(password, hash);
    let Some((user_id, _)) = found.filter(|_| matches) else {
        return Ok(None);
    };
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
    db::packages::insert_audit(
        conn,
        &format!("user:{}", user.username),
        "session.create",
        &user.username,
        now,
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

/// Changes the signed-in user's own password after checking the current one; every other
/// session of the user ends.
pub fn change_password(
    conn: &Connection,
    session: &WebSession,
    current: &str,
    new: &str,
) -> Result<()> {
    let hash = db::sessions::password_hash_of(conn, session.user.user_id)?.unwrap_or_default();
    if !secrets::verify_password(current, &hash) {
        return Err(Error::bad_request("the current password is not right"));
    }
    let new_hash = secrets::hash_password(new)?;
    db::users::set_password_hash(conn, session.user.user_id, &new_hash)?;
    db::sessions::delete_for_user(conn, session.user.user_id, Some(session.id))?;
    db::packages::insert_audit(
        conn,
        &format!("user:{}", session.user.username),
        "user.password",
        &session.user.username,
        now_millis(),
    )
}
