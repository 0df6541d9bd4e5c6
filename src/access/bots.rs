//! The bot policy, in one place: an access token's bot acts for its project or group and for
//! nothing else, whoever asks and by whichever road.
//!
//! A bot (GitLab's project or group bot) exists only to hold one project or group access
//! token, managed by that place's maintainers and owners. So:
//! - it has no personal access tokens: none made for it, and its own token is not rotated or
//!   revoked as a personal one (that road skipped the place's rules and let a bot rotate itself
//!   into a token that never expires);
//! - it is a member of its home and of nothing else (another tenant adding it to their
//!   project would make its token reach there);
//! - it creates no groups, top-level or sub (the creator becomes the new group's owner, a
//!   role and a place its makers never gave it), and it has no personal namespace to hold
//!   projects;
//! - it makes no credentials: no access token created, rotated or revoked at its place, no
//!   deploy token. Its makers chose its expiry and may revoke it; a sibling token (a year
//!   long) or a deploy token (never expiring) of its own making would outlive both, and a
//!   rotation of itself would push its own expiry out (GitLab refuses all of these to bots).
//!
//! `judge` asks [`check`] for the operations a bot could use on itself; membership changes
//! ask [`may_join`], since the table does not know who is being added.

use rusqlite::Connection;

use super::judge::On;
use super::table::Operation;
use crate::auth::Caller;
use crate::db::{self, bots::Home};
use crate::error::{Error, Result};

/// The rule a refusal names.
fn refused(rule: &str) -> Error {
    Error::forbidden(format!("403 Forbidden: {rule}"))
}

/// Whether `op` is one the policy restricts: only those pay the lookup, never the hot path.
fn restricted(op: Operation) -> bool {
    matches!(
        op,
        Operation::TokensCreate
            | Operation::TokensRevoke
            | Operation::AccessTokensCreate
            | Operation::AccessTokensRevoke
            | Operation::DeployTokensCreate
            | Operation::GroupCreate
            | Operation::SubgroupCreate
            | Operation::ProjectCreate
    )
}

/// The policy's answer for `caller` doing `op` to `on`, beside the permission table.
pub(super) fn check(conn: &Connection, caller: &Caller, op: Operation, on: On<'_>) -> Result<()> {
    if !restricted(op) {
        return Ok(());
    }
    match (op, on) {
        // Whoever asks, admins too: a bot's token is managed at its place, by its rules.
        (Operation::TokensCreate | Operation::TokensRevoke, On::Account(user_id))
            if db::bots::home_of(conn, user_id)?.is_some() =>
        {
            Err(refused(
                "a bot has no personal access tokens; its token is rotated or revoked with \
                 the project's or group's access tokens",
            ))
        }
        (
            Operation::AccessTokensCreate
            | Operation::AccessTokensRevoke
            | Operation::DeployTokensCreate,
            _,
        ) if is_bot(conn, caller)? => Err(refused(
            "a bot cannot create, rotate or revoke access tokens nor create deploy tokens; \
             its makers manage the place's credentials",
        )),
        (Operation::GroupCreate | Operation::SubgroupCreate, _) if is_bot(conn, caller)? => Err(
            refused("a bot cannot create groups; it acts only in its own project or group"),
        ),
        // Projects go into a group the table lets it create in (its home); a bot has no
        // personal namespace, and nobody else's is one it may fill.
        (Operation::ProjectCreate, On::Namespace(ns))
            if ns.kind == crate::model::NamespaceKind::User && is_bot(conn, caller)? =>
        {
            Err(no_namespace())
        }
        _ => Ok(()),
    }
}

fn is_bot(conn: &Connection, caller: &Caller) -> Result<bool> {
    match caller {
        Caller::User(user) => Ok(db::bots::home_of(conn, user.user_id)?.is_some()),
        Caller::Anonymous | Caller::DeployToken(_) | Caller::Operator => Ok(false),
    }
}

/// Whether `user_id` may become a member of `place`: anyone may, but a bot only of its home.
pub fn may_join(conn: &Connection, user_id: i64, place: Home) -> Result<()> {
    match db::bots::home_of(conn, user_id)? {
        Some(home) if home != place => Err(Error::bad_request(
            "400 Bad request - a bot is a member only of its own project or group",
        )),
        _ => Ok(()),
    }
}

/// What a bot is told when it asks for a project in "its own" namespace.
pub fn no_namespace() -> Error {
    refused("a bot has no personal namespace; it acts only in its own project or group")
}
