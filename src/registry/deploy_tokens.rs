//! Deploy tokens of projects and groups, for the API, the web and the command line alike:
//! maintainers and up (or the operator), judged by the permission table.

use rusqlite::Connection;

use super::audit::{self, About};
use super::directory::Target;
use super::membership::{label, on};
use super::validate::{check_date, check_deploy_username};
use crate::access::{self, Operation};
use crate::auth::Caller;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{DeployToken, Scope, Scopes};
use crate::secrets;

fn owner_columns(target: &Target) -> (Option<i64>, Option<i64>) {
    match target {
        Target::Project(p) => (None, Some(p.id)),
        Target::Group(g) => (Some(g.id), None),
    }
}

pub fn list(conn: &Connection, caller: &Caller, target: &Target) -> Result<Vec<DeployToken>> {
    access::judge(conn, caller, Operation::DeployTokensList, on(target))?;
    let (namespace_id, project_id) = owner_columns(target);
    db::tokens::list_deploy(conn, namespace_id, project_id)
}

/// Every deploy token of the instance (GitLab's `GET /deploy_tokens`): admins only;
/// `active` leaves out revoked and expired ones.
pub fn list_all(conn: &Connection, caller: &Caller, active: bool) -> Result<Vec<DeployToken>> {
    access::judge(conn, caller, Operation::UsersAdmin, access::On::Nothing)?;
    Ok(db::tokens::list_all_deploy(conn)?
        .into_iter()
        .filter(|t| !active || !(t.revoked || crate::auth::is_expired(t.expires_on.as_deref())))
        .collect())
}

/// One token of this target; another target's token does not exist here.
pub fn get(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    token_id: i64,
) -> Result<DeployToken> {
    list(conn, caller, target)?
        .into_iter()
        .find(|t| t.id == token_id)
        .ok_or_else(|| Error::not_found("404 Deploy Token Not Found"))
}

/// Deploy tokens carry registry scopes only, as in GitLab (the container registry's grant
/// nothing here).
fn deploy_scopes(list: &str) -> Result<Scopes> {
    let scopes = Scopes::parse(list)?;
    if scopes.contains(Scope::Api) || scopes.contains(Scope::ReadApi) {
        return Err(Error::bad_request(
            "deploy tokens take read_package_registry, write_package_registry, read_registry \
             and write_registry only",
        ));
    }
    Ok(scopes)
}

/// Creates a deploy token of a project or group, under the `username` asked for (GitLab's
/// `deploy-token-ID` without one); returns it with its secret, which is kept nowhere.
pub fn create(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    name: &str,
    username: Option<&str>,
    scopes: &[String],
    expires_at: Option<&str>,
) -> Result<(DeployToken, String)> {
    access::judge(conn, caller, Operation::DeployTokensCreate, on(target))?;
    // GitLab takes a timestamp; the day is what counts here.
    let expires_on = expires_at
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.get(..10).unwrap_or(t));
    let scopes = deploy_scopes(&scopes.join(","))?;
    if let Some(day) = expires_on {
        // GitLab accepts today (python-gitlab's own test asks for it): such a token is
        // expired from the start, which the listing shows.
        check_date(day)?;
        if day < crate::auth::today().as_str() {
            return Err(Error::bad_request(format!(
                "the expiry date {day} is in the past"
            )));
        }
    }
    if let Some(username) = username {
        check_deploy_username(username)?;
    }
    if name.trim().is_empty() {
        return Err(Error::bad_request("a deploy token needs a name"));
    }
    let secret = secrets::new_token(secrets::DEPLOY_TOKEN_PREFIX)?;
    let digest = secrets::token_digest(&secret);
    let (namespace_id, project_id) = owner_columns(target);
    let now = now_millis();
    let new = db::tokens::NewToken {
        name,
        digest: &digest,
        scopes: &scopes,
        expires_on,
    };
    let tx = conn.unchecked_transaction()?;
    let token = db::tokens::insert_deploy(&tx, namespace_id, project_id, &new, username, now)?;
    let what = format!("{} {} \"{}\"", label(target), token.username, token.name);
    audit::record(
        &tx,
        caller,
        "deploy_token.create",
        About::target(target),
        &what,
    )?;
    tx.commit()?;
    Ok((token, secret))
}

/// Revokes a token of this target; another target's token does not exist here.
pub fn revoke(conn: &Connection, caller: &Caller, target: &Target, token_id: i64) -> Result<()> {
    access::judge(conn, caller, Operation::DeployTokensRevoke, on(target))?;
    let (namespace_id, project_id) = owner_columns(target);
    let belongs = db::tokens::list_deploy(conn, namespace_id, project_id)?
        .iter()
        .any(|t| t.id == token_id);
    if !belongs {
        return Err(Error::not_found("404 Deploy Token Not Found"));
    }
    let tx = conn.unchecked_transaction()?;
    db::tokens::revoke_deploy(&tx, token_id, now_millis())?;
    let what = format!("{} deploy token {token_id}", label(target));
    audit::record(
        &tx,
        caller,
        "deploy_token.revoke",
        About::target(target),
        &what,
    )?;
    tx.commit()?;
    Ok(())
}

/// The target a deploy token belongs to, for the command line, which names tokens by id.
pub fn target_of(conn: &Connection, token_id: i64) -> Result<Target> {
    let token = db::tokens::find_deploy(conn, token_id)?
        .ok_or_else(|| Error::not_found(format!("no deploy token with id {token_id}")))?;
    let found = match (token.project_id, token.namespace_id) {
        (Some(id), _) => db::projects::find(conn, id)?.map(Target::Project),
        (None, Some(id)) => db::namespaces::find(conn, id)?.map(Target::Group),
        (None, None) => None,
    };
    found.ok_or_else(|| Error::internal("deploy token without owner"))
}
