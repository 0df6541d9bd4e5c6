//! Personal access tokens through the management API: each operation takes the `ApiUser`
//! capability and acts only on the caller's own tokens, or anyone's for an admin.

use rusqlite::{Connection, TransactionBehavior};

use super::admin;
use crate::access::ApiUser;
use crate::db;
use crate::error::{Error, Result};
use crate::model::{PersonalAccessToken, Scopes};

fn not_found() -> Error {
    Error::not_found("404 Personal Access Token Not Found")
}

/// The caller's tokens; an admin may ask for another user's (`user_id`) or everyone's.
pub fn list(
    conn: &Connection,
    api: &ApiUser,
    user_id: Option<i64>,
) -> Result<Vec<PersonalAccessToken>> {
    match (api.is_admin(), user_id) {
        (true, None) => db::tokens::list_all_personal(conn),
        (_, Some(id)) if api.may_manage(id) => db::tokens::list_personal(conn, id),
        (false, Some(_)) => Err(Error::forbidden(
            "403 Forbidden: only admins list other users' tokens",
        )),
        (false, None) | (true, Some(_)) => db::tokens::list_personal(conn, api.user_id()),
    }
}

/// One token the caller may see; others' tokens do not exist for a non-admin.
pub fn get(conn: &Connection, api: &ApiUser, id: i64) -> Result<PersonalAccessToken> {
    db::tokens::find_personal(conn, id)?
        .filter(|t| api.may_manage(t.user_id))
        .ok_or_else(not_found)
}

/// Creates a token for `user_id` (the caller, or anyone for an admin).
pub fn create(
    conn: &Connection,
    api: &ApiUser,
    user_id: i64,
    name: &str,
    scopes: &[String],
    expires_at: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
    if !api.may_manage(user_id) {
        return Err(Error::forbidden(
            "403 Forbidden: only admins create tokens for other users",
        ));
    }
    let user =
        db::users::find(conn, user_id)?.ok_or_else(|| Error::not_found("404 User Not Found"))?;
    let scopes = Scopes::parse(&scopes.join(","))?;
    admin::issue_token(conn, &user, name, &scopes, expires_at, &api.actor())
}

pub fn revoke(conn: &Connection, api: &ApiUser, id: i64) -> Result<()> {
    let token = get(conn, api, id)?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - the token is already revoked",
        ));
    }
    admin::withdraw_token(conn, id, &api.actor())
}

/// Revokes a token and issues its successor with the same name and scopes (GitLab's rotate).
pub fn rotate(
    conn: &mut Connection,
    api: &ApiUser,
    id: i64,
    expires_at: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
    // Both or neither: never a revoked token without its successor.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let token = get(&tx, api, id)?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - a revoked token cannot be rotated",
        ));
    }
    let user = db::users::find(&tx, token.user_id)?
        .ok_or_else(|| Error::not_found("404 User Not Found"))?;
    admin::withdraw_token(&tx, id, &api.actor())?;
    let successor = admin::issue_token(
        &tx,
        &user,
        &token.name,
        &token.scopes,
        expires_at,
        &api.actor(),
    )?;
    tx.commit()?;
    Ok(successor)
}
