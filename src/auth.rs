//! Who is calling: credentials from the request, resolved to one `Caller` through token digests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::Connection;

use crate::db;
use crate::error::{Error, Result};
use crate::model::{DeployToken, Scope, Scopes};
use crate::secrets::token_digest;

/// The secret a request presents, with the username that came with it (HTTP Basic).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// How they were presented: part of what identifies them (see `cache::credentials_key`).
    pub scheme: CredentialScheme,
    pub username: Option<String>,
    pub secret: String,
}

/// The header a secret came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialScheme {
    Basic,
    Bearer,
    PrivateToken,
}

/// Reads `Authorization: Basic …` (what pip, uv and twine send), `Authorization: Bearer …` and
/// GitLab's `PRIVATE-TOKEN` header. Malformed headers count as no credentials.
pub fn credentials(
    authorization: Option<&str>,
    private_token: Option<&str>,
) -> Option<Credentials> {
    if let Some(token) = private_token.map(str::trim).filter(|t| !t.is_empty()) {
        return Some(Credentials {
            scheme: CredentialScheme::PrivateToken,
            username: None,
            secret: token.to_string(),
        });
    }
    let header = authorization?.trim();
    let (scheme, value) = header.split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(value).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, secret) = decoded.split_once(':')?;
        (!secret.is_empty()).then(|| Credentials {
            scheme: CredentialScheme::Basic,
            username: Some(username.to_string()),
            secret: secret.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !value.is_empty() {
        Some(Credentials {
            scheme: CredentialScheme::Bearer,
            username: None,
            secret: value.to_string(),
        })
    } else {
        None
    }
}

#[derive(Debug, Clone)]
pub struct UserCaller {
    pub user_id: i64,
    /// The personal access token the request came with; none for a web session.
    pub token_id: Option<i64>,
    pub username: String,
    pub is_admin: bool,
    pub scopes: Scopes,
}

#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(UserCaller),
    DeployToken(DeployToken),
    /// Whoever runs the command line on the data directory: they own the files, so they may
    /// do everything.
    Operator,
}

impl Caller {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::User(user) => format!("user:{}", user.username),
            Caller::DeployToken(token) => format!("deploy-token:{}", token.username),
            Caller::Operator => "cli".into(),
        }
    }
}

/// Today in UTC as `YYYY-MM-DD`, the form expiry dates are stored in (so they compare as text).
pub fn today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    )
}

/// A token stops working at the start (UTC) of its expiry date, as in GitLab.
fn expired(expires_on: Option<&str>, today: &str) -> bool {
    expires_on.is_some_and(|date| date <= today)
}

/// Whether a token with this expiry date has expired now (what the APIs report).
pub fn is_expired(expires_on: Option<&str>) -> bool {
    expired(expires_on, &today())
}

/// Resolves credentials to a caller. Credentials that match no token make the caller anonymous;
/// an expired or revoked token, a blocked owner, or a deploy token presented under another
/// username is refused outright (401), so a stale CI secret fails loudly.
pub fn resolve(conn: &Connection, creds: Option<&Credentials>) -> Result<Caller> {
    let Some(creds) = creds else {
        return Ok(Caller::Anonymous);
    };
    let digest = token_digest(&creds.secret);
    let today = today();
    if let Some((token, user)) = db::tokens::find_personal_by_digest(conn, &digest)? {
        if token.revoked || expired(token.expires_on.as_deref(), &today) || user.is_blocked {
            return Err(Error::Unauthorized);
        }
        return Ok(Caller::User(UserCaller {
            user_id: user.id,
            token_id: Some(token.id),
            username: user.username,
            is_admin: user.is_admin,
            scopes: token.scopes,
        }));
    }
    if let Some(token) = db::tokens::find_deploy_by_digest(conn, &digest)? {
        let username_matches = creds
            .username
            .as_deref()
            .is_none_or(|u| u == token.username);
        if !username_matches || token.revoked || expired(token.expires_on.as_deref(), &today) {
            return Err(Error::Unauthorized);
        }
        return Ok(Caller::DeployToken(token));
    }
    Ok(Caller::Anonymous)
}

/// GitLab's `sudo` (a query parameter or the `Sudo` header): an admin's `api` token acts as
/// the user named by id or username, with the token's scopes. Anyone else is refused, never
/// silently served as themselves. An admin's `api` token may already make tokens for anyone,
/// so acting as them grants nothing more (GitLab asks for a `sudo` scope, which Wheelhouse's
/// tokens do not have).
pub fn act_as(conn: &Connection, caller: Caller, sudo: Option<&str>) -> Result<Caller> {
    let Some(name) = sudo else {
        return Ok(caller);
    };
    let admin = match caller {
        Caller::User(user) if user.is_admin => user,
        Caller::Anonymous => return Err(Error::Unauthorized),
        _ => {
            return Err(Error::forbidden(
                "403 Forbidden - Must be admin to use sudo",
            ));
        }
    };
    if !admin.scopes.contains(Scope::Api) {
        return Err(Error::forbidden(
            "403 Forbidden - sudo needs a token with the api scope",
        ));
    }
    let found = match name.parse::<i64>() {
        Ok(id) => db::users::find(conn, id)?,
        Err(_) => db::users::find_by_name(conn, name)?,
    };
    let user = found.filter(|u| !u.is_blocked).ok_or_else(|| {
        Error::not_found(format!("404 User with ID or username '{name}' Not Found"))
    })?;
    Ok(Caller::User(UserCaller {
        user_id: user.id,
        token_id: admin.token_id,
        username: user.username,
        is_admin: user.is_admin,
        scopes: admin.scopes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_pass))
    }

    #[test]
    fn reads_basic_bearer_and_private_token() {
        let c = credentials(Some(&basic("__token__:whpat-x")), None).unwrap();
        assert_eq!(c.username.as_deref(), Some("__token__"));
        assert_eq!(c.secret, "whpat-x");
        let c = credentials(Some(&basic("u:pa:ss")), None).unwrap();
        assert_eq!(c.secret, "pa:ss");
        assert_eq!(credentials(Some("Bearer abc"), None).unwrap().secret, "abc");
        assert_eq!(credentials(None, Some("abc")).unwrap().secret, "abc");
    }

    #[test]
    fn ignores_malformed_headers() {
        for header in [
            "Basic",
            "Basic !!!",
            &basic("nocolon"),
            &basic("user:"),
            "Digest x",
            "",
        ] {
            assert!(credentials(Some(header), None).is_none(), "{header}");
        }
    }

    #[test]
    fn expiry_is_exclusive_of_the_date() {
        assert!(!expired(None, "2026-01-01"));
        assert!(!expired(Some("2026-01-02"), "2026-01-01"));
        assert!(expired(Some("2026-01-01"), "2026-01-01"));
        assert!(expired(Some("2025-12-31"), "2026-01-01"));
    }
}
