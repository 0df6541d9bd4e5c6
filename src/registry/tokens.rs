//! Personal access tokens, for the API, the web and the command line alike: each operation
//! asks the permission table, which lets a user act on their own tokens, and an admin (or the
//! operator) on anyone's; never on a bot's (`access::bots`). Making one counts against the
//! maker's per-minute quota (`TokenLimits`).

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::directory::Window;
use super::token_limits::TokenLimits;
use super::validate::check_expiry;
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{PersonalAccessToken, Scopes, User};
use crate::secrets;

fn not_found() -> Error {
    Error::not_found("404 Personal Access Token Not Found")
}

fn own_id(caller: &Caller) -> Option<i64> {
    match caller {
        Caller::User(user) => Some(user.user_id),
        _ => None,
    }
}

/// Acting on someone else's account is the admins' (and the operator's) business.
fn judge_account(conn: &Connection, caller: &Caller, op: Operation, user_id: i64) -> Result<()> {
    if own_id(caller) != Some(user_id) {
        access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
    }
    access::judge(conn, caller, op, On::Account(user_id))
}

/// Whose tokens a list shows, judged: the caller's own, or (`user_id`) one user's; an admin
/// or the operator without a `user_id` gets everyone's (`None`).
fn whose(conn: &Connection, caller: &Caller, user_id: Option<i64>) -> Result<Option<i64>> {
    match (user_id.or(own_id(caller)), caller) {
        (None, _) => {
            access::judge(conn, caller, Operation::UsersAdmin, On::Nothing)?;
            Ok(None)
        }
        (Some(id), Caller::User(user)) if user.is_admin && user_id.is_none() => {
            judge_account(conn, caller, Operation::TokensList, id)?;
            Ok(None)
        }
        (Some(id), _) => {
            judge_account(conn, caller, Operation::TokensList, id)?;
            Ok(Some(id))
        }
    }
}

/// The caller's tokens, or (`user_id`) one user's; an admin or the operator without a
/// `user_id` gets everyone's.
pub fn list(
    conn: &Connection,
    caller: &Caller,
    user_id: Option<i64>,
) -> Result<Vec<PersonalAccessToken>> {
    match whose(conn, caller, user_id)? {
        None => db::tokens::list_all_personal(conn),
        Some(id) => db::tokens::list_personal(conn, id),
    }
}

/// One page of what `list` gives, by id, and how many there are: counted and cut by the
/// database (an admin's list of everyone's tokens may hold one per bot).
pub fn page(
    conn: &Connection,
    caller: &Caller,
    user_id: Option<i64>,
    window: Window,
) -> Result<(usize, Vec<PersonalAccessToken>)> {
    let whose = whose(conn, caller, user_id)?;
    db::tokens::page_personal(conn, whose, window.limit, window.offset)
}

/// One token the caller may see; others' tokens do not exist for a non-admin.
pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<PersonalAccessToken> {
    let token = db::tokens::find_personal(conn, id)?.ok_or_else(not_found)?;
    access::judge(
        conn,
        caller,
        Operation::TokensList,
        On::Account(token.user_id),
    )
    .map_err(|e| match e {
        Error::NotFound(_) => not_found(),
        other => other,
    })?;
    Ok(token)
}

/// Creates a token for `user_id` (the caller's own, or anyone's for an admin); returns it
/// with its secret, which is kept nowhere.
pub fn create(
    conn: &Connection,
    caller: &Caller,
    limits: &TokenLimits,
    user_id: i64,
    name: &str,
    scopes: &[String],
    expires_at: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
    judge_account(conn, caller, Operation::TokensCreate, user_id)?;
    let user =
        db::users::find(conn, user_id)?.ok_or_else(|| Error::not_found("404 User Not Found"))?;
    let scopes = Scopes::parse(&scopes.join(","))?;
    check_expiry(expires_at)?;
    limits.count_made(caller)?;
    let tx = conn.unchecked_transaction()?;
    let issued = issue(
        &tx,
        caller,
        &user,
        name,
        &scopes,
        expires_at,
        Some("token.create"),
    )?;
    tx.commit()?;
    Ok(issued)
}

pub fn revoke(conn: &Connection, caller: &Caller, id: i64) -> Result<()> {
    let token = get(conn, caller, id)?;
    access::judge(
        conn,
        caller,
        Operation::TokensRevoke,
        On::Account(token.user_id),
    )?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - the token is already revoked",
        ));
    }
    let tx = conn.unchecked_transaction()?;
    withdraw(&tx, caller, &token, Some("token.revoke"))?;
    tx.commit()?;
    Ok(())
}

/// Revokes a token and issues its successor with the same name and scopes (GitLab's rotate).
pub fn rotate(
    conn: &mut Connection,
    caller: &Caller,
    limits: &TokenLimits,
    id: i64,
    expires_at: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
    // Both or neither: never a revoked token without its successor.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let token = get(&tx, caller, id)?;
    access::judge(
        &tx,
        caller,
        Operation::TokensRevoke,
        On::Account(token.user_id),
    )?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - a revoked token cannot be rotated",
        ));
    }
    let user = db::users::find(&tx, token.user_id)?
        .ok_or_else(|| Error::not_found("404 User Not Found"))?;
    check_expiry(expires_at)?;
    limits.count_made(caller)?;
    withdraw(&tx, caller, &token, None)?;
    let successor = issue(
        &tx,
        caller,
        &user,
        &token.name,
        &token.scopes,
        expires_at,
        Some("token.rotate"),
    )?;
    tx.commit()?;
    Ok(successor)
}

/// Creates a token for `user` (already judged); recorded as `action` by `caller`, unless the
/// caller records the change itself (`None`).
pub(super) fn issue(
    conn: &Connection,
    caller: &Caller,
    user: &User,
    name: &str,
    scopes: &Scopes,
    expires_on: Option<&str>,
    action: Option<&str>,
) -> Result<(PersonalAccessToken, String)> {
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
    if let Some(action) = action {
        let target = format!("{} token {id} \"{name}\"", user.username);
        audit::record(conn, caller, action, About::User(user.id), &target)?;
    }
    let created =
        db::tokens::find_personal(conn, id)?.ok_or_else(|| Error::internal("token vanished"))?;
    Ok((created, secret))
}

/// Revokes a token (already judged); recorded as `action` by `caller`, unless the caller
/// records the change itself (`None`).
pub(super) fn withdraw(
    conn: &Connection,
    caller: &Caller,
    token: &PersonalAccessToken,
    action: Option<&str>,
) -> Result<()> {
    db::tokens::revoke_personal(conn, token.id, now_millis())?;
    match action {
        Some(action) => {
            let target = format!("token {} \"{}\"", token.id, token.name);
            audit::record(conn, caller, action, About::User(token.user_id), &target)
        }
        None => Ok(()),
    }
}
