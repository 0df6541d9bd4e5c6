//! Project and group access tokens, as GitLab makes them: each token belongs to a bot user of
//! its own (`project_7_bot_…`), a member of the project or group with the token's role, so the
//! token reaches that place (and what inherits from it) and nothing else. Maintainers and up
//! manage them, each token as its bot's membership: nobody makes, rotates or revokes a token
//! whose role is above their own. Every token expires, within a bounded lifetime, and a place
//! holds a bounded number of live ones (`TokenLimits`). Revoking a token deactivates its bot;
//! deleting the project or group deletes its bots.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::directory::Target;
use super::membership::{current_role, home, label, on};
use super::token_limits::TokenLimits;
use super::tokens::{issue, withdraw};
use super::validate::check_date;
use crate::access::{self, MemberDecision, Operation, member_change};
use crate::auth::Caller;
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
/// is accepted as GitLab accepts it (python-gitlab's own tests ask for it), the past is not,
/// nor a day more than `max_days` ahead: an access token always expires, as in GitLab.
fn expiry_day(expires_at: Option<&str>, default_days: u32, max_days: u32) -> Result<String> {
    let today = time::OffsetDateTime::now_utc().date();
    let day_text = |days: u32| {
        let date = today + time::Duration::days(i64::from(days));
        format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            date.month() as u8,
            date.day()
        )
    };
    let latest = day_text(max_days);
    let Some(at) = expires_at.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(day_text(default_days.min(max_days)));
    };
    let day = at.get(..10).unwrap_or(at);
    check_date(day)?;
    if day < crate::auth::today().as_str() {
        return Err(Error::bad_request(format!(
            "400 Bad request - the expiry date {day} is in the past"
        )));
    }
    if day > latest.as_str() {
        return Err(Error::bad_request(format!(
            "400 Bad request - the expiry date {day} is past the maximum lifetime of an access \
             token ({max_days} days: {latest} at the latest)"
        )));
    }
    Ok(day.to_owned())
}

/// A bot is a member: its token is managed as its membership is (`member_change` with the
/// bot's current role), so a maintainer cannot rotate an owner-level token into a secret of
/// their own, nor revoke one. `rotating` keeps the role (a change to the same role);
/// revoking removes it. The last-owner rule does not apply: a credential can always be
/// withdrawn by someone entitled to.
fn check_manage(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    bot_id: i64,
    rotating: bool,
) -> Result<()> {
    let actor = match caller {
        Caller::Operator => None,
        _ => access::role_on(conn, caller, on(target))?,
    };
    let current = current_role(conn, target, bot_id)?;
    let new = if rotating { current } else { None };
    match member_change(actor, current, new, None, None) {
        MemberDecision::Allow | MemberDecision::LastOwner => Ok(()),
        MemberDecision::Forbidden(_) => {
            let role = current.map_or("its", |r| r.as_str());
            Err(Error::forbidden(format!(
                "403 Forbidden: the token's bot has the {role} role, above your own: you \
                 cannot {} it",
                if rotating { "rotate" } else { "revoke" }
            )))
        }
    }
}

/// Past the per-place cap of live tokens: 409 naming the cap.
fn check_room(conn: &Connection, limits: &TokenLimits, target: &Target) -> Result<()> {
    let cap = limits.per_place();
    if cap == 0 {
        return Ok(());
    }
    let live = db::bots::live_tokens(conn, home(target), &crate::auth::today())?;
    if live >= i64::from(cap) {
        return Err(Error::conflict(format!(
            "409 Conflict: \"{}\" already holds {live} live access tokens, the most a project \
             or group may hold (max_access_tokens_per_place = {cap}); revoke one first",
            label(target)
        )));
    }
    Ok(())
}

/// Creates a bot with `access_level` (default maintainer) on the place and its token.
#[expect(
    clippy::too_many_arguments,
    reason = "the API's fields, each checked here"
)]
pub fn create(
    conn: &mut Connection,
    caller: &Caller,
    limits: &TokenLimits,
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
    // GitLab's default lifetime: a year (or the maximum, when that is shorter).
    let expires_on = expiry_day(expires_at, 365, limits.lifetime_days())?;
    limits.count_made(caller)?;
    // Counted and inserted in one write transaction: parallel requests cannot pass the cap.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_room(&tx, limits, target)?;
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
    check_manage(conn, caller, target, token.user_id, false)?;
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

/// Revokes a token and gives its bot a new one (GitLab's default: a week, unless asked),
/// judged as revoking it (the table's row) and as keeping its bot's role (`check_manage`).
pub fn rotate(
    conn: &mut Connection,
    caller: &Caller,
    limits: &TokenLimits,
    target: &Target,
    id: i64,
    expires_at: Option<&str>,
) -> Result<(AccessToken, String)> {
    access::judge(conn, caller, Operation::AccessTokensRevoke, on(target))?;
    let (token, role) = get(conn, caller, target, id)?;
    if token.revoked {
        return Err(Error::bad_request(
            "400 Bad request - a revoked token cannot be rotated",
        ));
    }
    check_manage(conn, caller, target, token.user_id, true)?;
    let expires_on = expiry_day(expires_at, 7, limits.lifetime_days())?;
    limits.count_made(caller)?;
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
