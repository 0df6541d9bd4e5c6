//! Asks the permission table about one caller and one target: finds what the table needs
//! (the caller's role there, its token, whether a deploy token is at home) in the database,
//! and turns the decision into the error the caller sees.

use rusqlite::Connection;

use super::table::{Decision, Operation, Via, Who, decide};
use crate::auth::Caller;
use crate::db;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Role, Visibility};

/// What an operation acts on.
#[derive(Debug, Clone, Copy)]
pub enum On<'a> {
    /// Nothing in particular (lists, new top-level groups, users).
    Nothing,
    /// A user account (its tokens, its password).
    Account(i64),
    /// A group.
    Group(&'a Namespace),
    /// A group or a user's personal namespace that a project goes into.
    Namespace(&'a Namespace),
    Project(&'a Project),
}

impl On<'_> {
    /// The 404 a caller gets who may not know the target exists: the same words as when it
    /// is missing, so that the two cannot be told apart.
    pub fn not_found(self) -> Error {
        Error::not_found(match self {
            On::Nothing => "404 Not Found",
            On::Account(_) => "404 Not Found",
            On::Group(_) => "404 Group Not Found",
            On::Namespace(_) => "404 Namespace Not Found",
            On::Project(_) => "404 Project Not Found",
        })
    }

    pub(super) fn visibility(self) -> Visibility {
        match self {
            On::Nothing | On::Account(_) => Visibility::Public,
            On::Group(ns) => ns.visibility,
            // Someone else's personal namespace is nobody's business.
            On::Namespace(ns) if ns.kind == NamespaceKind::User => Visibility::Private,
            On::Namespace(ns) => ns.visibility,
            On::Project(p) => p.visibility,
        }
    }
}

/// The table's answer for `caller` doing `op` to `on`, as a result: `Ok` when allowed.
pub fn judge(conn: &Connection, caller: &Caller, op: Operation, on: On<'_>) -> Result<()> {
    let who = who(conn, caller, on)?;
    match decide(op, &who, on.visibility()) {
        Decision::Allow => super::bots::check(conn, caller, op, on),
        Decision::Unauthorized => Err(Error::Unauthorized),
        Decision::Hidden => Err(on.not_found()),
        Decision::Forbidden => Err(Error::forbidden(refusal(op))),
    }
}

/// Whether the table allows it (for pages deciding which controls to show).
pub fn allowed(conn: &Connection, caller: &Caller, op: Operation, on: On<'_>) -> Result<bool> {
    let who = who(conn, caller, on)?;
    Ok(decide(op, &who, on.visibility()) == Decision::Allow
        && super::bots::check(conn, caller, op, on).is_ok())
}

/// The caller's own role on the target (inherited through groups; admins count as owners;
/// the operator as nobody), for the rules beyond the table's rows (`member_change`).
pub fn role_on(conn: &Connection, caller: &Caller, on: On<'_>) -> Result<Option<Role>> {
    match caller {
        Caller::User(user) if user.is_admin => Ok(Some(Role::Owner)),
        Caller::User(user) => user_role(conn, user.user_id, on),
        _ => Ok(None),
    }
}

/// What a 403 says: what the operation needs.
fn refusal(op: Operation) -> &'static str {
    use Operation::*;
    match op {
        PublicHealth | PublicStatic | PublicApiInfo | PublicSignIn | PublicList => "403 Forbidden",
        AccountShow | AccountPassword | TokensList | TokensCreate | TokensRevoke | UsersList
        | PlacesList | PlaceShow | MembersList | GroupCreate => {
            "403 Forbidden: this API needs a personal access token with the api scope (or \
             read_api to read)"
        }
        UsersAdmin | AuditList => "403 Forbidden: this needs an admin",
        SubgroupCreate | ProjectCreate => {
            "403 Forbidden: creating inside a group needs the maintainer role (or higher) there"
        }
        SettingsShow | MembersAdd | MembersChange | MembersRemove | DeployTokensList
        | DeployTokensCreate | DeployTokensRevoke | AccessTokensList | AccessTokensCreate
        | AccessTokensRevoke | AuditProject => {
            "403 Forbidden: this needs the maintainer role (or higher)"
        }
        PlaceUpdate | PlaceDelete | UpstreamsList | UpstreamsManage | AuditGroup => {
            "403 Forbidden: this needs the owner role"
        }
        PageView | PackagesRead | PackagesDownload => {
            "403 Forbidden: the token has no scope that reads packages"
        }
        PackagesUpload => {
            "403 Forbidden: uploading needs the developer role (or higher) and a token with the \
             api or write_package_registry scope"
        }
        PackagesYank | PackagesDelete => {
            "403 Forbidden: managing packages needs the maintainer role (or higher) and a token \
             with the api or write_package_registry scope"
        }
    }
}

fn user_role(conn: &Connection, user_id: i64, on: On<'_>) -> Result<Option<Role>> {
    Ok(match on {
        On::Nothing => None,
        On::Account(id) => (id == user_id).then_some(Role::Owner),
        On::Group(ns) | On::Namespace(ns) => match ns.kind {
            NamespaceKind::User => (ns.owner_user_id == Some(user_id)).then_some(Role::Owner),
            NamespaceKind::Group => db::members::highest_role(conn, user_id, ns.id, None)?,
        },
        On::Project(p) => db::members::highest_role(conn, user_id, p.namespace_id, Some(p.id))?,
    })
}

/// The caller as the table sees it, on this target.
pub fn who(conn: &Connection, caller: &Caller, on: On<'_>) -> Result<Who> {
    Ok(match caller {
        Caller::Anonymous => Who::Anonymous,
        Caller::Operator => Who::Operator,
        Caller::User(user) => {
            let role = user_role(conn, user.user_id, on)?;
            // Only worth asking when nothing else lets the user see a private group.
            let member_inside = match on {
                On::Group(group)
                    if role.is_none()
                        && !user.is_admin
                        && group.visibility == Visibility::Private =>
                {
                    member_inside(conn, user.user_id, group)?
                }
                _ => false,
            };
            Who::User {
                admin: user.is_admin,
                role,
                member_inside,
                via: match user.token_id {
                    Some(_) => Via::Token(user.scopes.clone()),
                    None => Via::Session,
                },
            }
        }
        Caller::DeployToken(token) => {
            let own = match on {
                On::Project(p) => {
                    super::deploy_token_reaches(conn, token, p.namespace_id, Some(p.id))?
                }
                On::Group(ns) | On::Namespace(ns) => {
                    super::deploy_token_reaches(conn, token, ns.id, None)?
                }
                On::Nothing | On::Account(_) => false,
            };
            Who::DeployToken {
                own,
                scopes: token.scopes.clone(),
            }
        }
    })
}

/// Whether the user is a member of something inside the group, a subgroup or a project
/// (GitLab shows such a member the groups above it).
fn member_inside(conn: &Connection, user_id: i64, group: &Namespace) -> Result<bool> {
    db::members::member_below(conn, user_id, &group.full_path)
}
