//! Deploy tokens of projects and groups through the management API (maintainers and up).

use rusqlite::Connection;

use super::admin::{self, Target};
use super::membership::{label, maintainer};
use crate::access::ApiUser;
use crate::error::{Error, Result};
use crate::model::DeployToken;

pub fn list(conn: &Connection, api: &ApiUser, target: &Target) -> Result<Vec<DeployToken>> {
    maintainer(conn, api, target)?;
    admin::list_deploy_tokens(conn, label(target))
}

pub fn create(
    conn: &Connection,
    api: &ApiUser,
    target: &Target,
    name: &str,
    scopes: &[String],
    expires_at: Option<&str>,
) -> Result<(DeployToken, String)> {
    let maintainer = maintainer(conn, api, target)?;
    // GitLab takes a timestamp; the day is what counts here.
    let expires_on = expires_at.map(|t| t.get(..10).unwrap_or(t));
    admin::create_deploy_token(
        conn,
        label(target),
        name,
        &scopes.join(","),
        expires_on,
        maintainer.actor(),
    )
}

/// Revokes a token of this target; another target's token does not exist here.
pub fn revoke(conn: &Connection, api: &ApiUser, target: &Target, token_id: i64) -> Result<()> {
    let maintainer = maintainer(conn, api, target)?;
    let belongs = list(conn, api, target)?.iter().any(|t| t.id == token_id);
    if !belongs {
        return Err(Error::not_found("404 Deploy Token Not Found"));
    }
    admin::revoke_deploy_token(conn, token_id, maintainer.actor())
}
