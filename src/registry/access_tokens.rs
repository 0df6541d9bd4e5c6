//! Project and group access tokens, as GitLab makes them: each token belongs to a bot user of
//! its own (`project_7_bot_…`), a member of the project or group with the token's role, so the
//! token reaches that place (and what inherits from it) and nothing else. Maintainers and up
//! manage them; the bot's role is never above the creator's own. Revoking a token deactivates
//! its bot; deleting the project or group deletes its bots.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::directory::Target;
use super::membership::{label, on};
use super::tokens::{issue, withdraw};
use super::validate::check_date;
use crate::access::{self, MemberDecision, Operation, member_change};
use crate::auth::Caller;
use crate::db::bots::Home;
use crate::db::members::Source;
use crate::db::{self, now_millis};
use crate::error::{Error, Result};
use crate::model::{PersonalAccessToken, Role, Scopes};
use crate::secrets;

/// A token with its bot's role on the place.
pub type AccessToken = (PersonalAccessToken, Option<Role>);

fn not_found() -> Error {
    Error::not_found("404 Access Token Not Found")
}

fn home(target: &Target) -> Home {
    match target {
        Target::Project(p) => Home::Project(p.id),
        Target::Group(g) => Home::Group(g.id),
    }
}

fn source(target: &Target) -> Source {
    match target {
        Target::Project(p) => Source::Project(p.id),
        Target::Group(g) => Source::Namespace(g.id),
    }
}

fn with_role((token, level): (PersonalAccessToken, Option<i64>)) -> AccessToken {
    (token, level.and_then(Role::from_level))
}

/// `limit` of this place's tokens from `offset` (by id), and how many it holds in all.
pub fn list(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<AccessToken>)> {
    access::judge(conn, caller, Operation::AccessTokensList, on(target))?;
    let total = db::bots::count_tokens(conn, home(target))?;
    let page = db::bots::tokens(conn, home(target), offset, limit)?;
    Ok((total, page.into_iter().map(with_role).collect()))
}

/// One token of this place; another place's token does not exist here.
pub fn get(conn: &Connection, caller: &Caller, target: &Target, id: i64) -> Result<AccessToken> {
    access::judge(conn, caller, Operation::AccessTokensList, on(target))?;
    db::bots::token(conn, home(target), id)?
        .map(with_role)
        .ok_or_else(not_found)
}

/// The expiry day asked for (a timestamp's day counts), or `default_days` from today; today
/// is accepted as GitLab accepts it (python-gitlab's own tests ask for it), the past is not.
fn expiry_day(expires_at: Option<&str>, default_days: i64) -> Result<String> {
    let Some(at) = expires_at.map(str::trim).filter(|t| !t.is_empty()) else {
        let date = time::OffsetDateTime::now_utc().date() + time::Duration::days(default_days);
        return Ok(format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month() as u8,
            date.day()
        ));
    };
    let day = at.get(..10).unwrap_or(at);
    check_date(day)?;
    if day < crate::auth::today().as_str() {
        return Err(Error::bad_request(format!(
            "400 Bad request - the expiry date {day} is in the past"
        )));
    }
    Ok(day.to_owned())
}

/// Creates a bot with `access_level` (default maintainer) on the place and its token.
pub fn create(
    conn: &mut Connection,
    caller: &Caller,
    target: &Target,
    name: &str,
    scopes: &[String],
    access_level: Option<i64>,
    expires_at: Option<&str>,
) -> Result<(AccessToken, String)> {
    access::judge(conn, caller, Operation::AccessTokensCreate, on(target))?;
    let level = access_level.unwrap_or(Role::Maintainer.level());
    let role = Role::from_level(level).ok_or_else(|| {
        Error::bad_request(format!(
            "400 Bad request - access_level {level} is not one of 10, 20, 30, 40, 50"
        ))
    })?;
    let actor_role = access::role_on(conn, caller, on(target))?;
    if let MemberDecision::Forbidden(what) = member_change(actor_role, None, Some(role), None, None)
    {
        return Err(Error::forbidden(format!(
            "403 Forbidden: a token cannot have {what}"
        )));
    }
    let scopes = Scopes::parse(&scopes.join(","))?;
    // GitLab's default lifetime: a year.
    let expires_on = expiry_day(expires_at, 365)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (kind, id) = match target {
        Target::Project(p) => ("project", p.id),
        Target::Group(g) => ("group", g.id),
    };
    let suffix = secrets::new_token("")?;
    let username = format!("{kind}_{id}_bot_{}", &suffix[..8.min(suffix.len())]);
    let now = now_millis();
    let bot_id = db::bots::insert(&tx, &username, home(target), now)?;
    db::members::upsert(&tx, source(target), bot_id, role, now)?;
    let bot = db::users::find(&tx, bot_id)?.ok_or_else(|| Error::internal("bot vanished"))?;
    let (token, secret) = issue(&tx, caller, &bot, name, &scopes, Some(&expires_on), None)?;
    let what = format!("{} {username} \"{name}\"", label(target));
    audit::record(
        &tx,
        caller,
        "access_token.create",
        About::target(target),
        &what,
    )?;
    tx.commit()?;
    Ok(((token, Some(role)), secret))
}

/// Revokes a token and deactivates its bot.
pub fn revoke(conn: &mut Connection, caller: &Caller, target: &Target, id: i64) -> Result<()> {
    access::judge(conn, caller, Operation::AccessTokensRevoke, on(target))?;
    let (token, _) = get(conn, caller, target, id)?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - the token is already revoked",
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    withdraw(&tx, caller, &token, None)?;
    db::bots::deactivate(&tx, token.user_id)?;
    let what = format!("{} token {id} \"{}\"", label(target), token.name);
    audit::record(
        &tx,
        caller,
        "access_token.revoke",
        About::target(target),
        &what,
    )?;
    tx.commit()?;
    Ok(())
}

/// Revokes a token and gives its bot a new one (GitLab's default: a week, unless asked).
pub fn rotate(
    conn: &mut Connection,
    caller: &Caller,
    target: &Target,
    id: i64,
    expires_at: Option<&str>,
) -> Result<(AccessToken, String)> {
    access::judge(conn, caller, Operation::AccessTokensCreate, on(target))?;
    let (token, role) = get(conn, caller, target, id)?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - a revoked token cannot be rotated",
        ));
    }
    let expires_on = expiry_day(expires_at, 7)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let bot = db::users::find(&tx, token.user_id)?.ok_or_else(not_found)?;
    withdraw(&tx, caller, &token, None)?;
    let (successor, secret) = issue(
        &tx,
        caller,
        &bot,
        &token.name,
        &token.scopes,
        Some(&expires_on),
        None,
    )?;
    let what = format!("{} token {id} \"{}\"", label(target), token.name);
    audit::record(
        &tx,
        caller,
        "access_token.rotate",
        About::target(target),
        &what,
    )?;
    tx.commit()?;
    Ok(((successor, role), secret))
}
