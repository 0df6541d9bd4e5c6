//! The permission table: who may do which operation to what, written down once as data.
//!
//! Every route, web form and command-line operation names an [`Operation`]; the services ask
//! [`decide`] before they act, and the capabilities in `access` are minted only from an
//! [`Decision::Allow`]. The function is pure (no database) so that tests can walk every
//! operation × caller × visibility and compare the running server with it.
//!
//! What the table does not see, because authentication settles it first: a blocked user, an
//! expired or revoked personal access token or deploy token, and a wrong password or secret
//! never become a caller at all; they are answered `401` before any operation is judged.
//!
//! The answers follow GitLab and design.md ("Who may do what"):
//! - not signed in and the thing is not public → [`Decision::Unauthorized`] (401 with the
//!   Basic challenge, which pip and keyring need); not signed in for anything that needs a
//!   user → 401 as well;
//! - signed in but not allowed to know the thing exists → [`Decision::Hidden`] (404);
//! - allowed to see it but not to do this → [`Decision::Forbidden`] (403).

pub use super::operation::Operation;
use crate::model::{Role, Scope, Scopes, Visibility};

impl Operation {
    /// Whether the operation acts on a group or project, so that the target's visibility and
    /// the caller's role there matter.
    pub fn has_target(self) -> bool {
        matches!(rule(self).reach, Reach::Target { .. })
    }

    /// Whether the operation acts on a user account (its tokens, its password), where the
    /// caller's "role" is `Owner` on their own account and none on anyone else's.
    pub fn on_account(self) -> bool {
        rule(self).reach == Reach::Account
    }

    /// Whether the operation changes something (what a refusal must leave untouched).
    pub fn changes(self) -> bool {
        matches!(rule(self).scope, Need::ApiWrite | Need::PackageWrite)
    }
}

/// How a signed-in user came: with a web session (which may do all its user may), or with a
/// personal access token limited to its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session,
    Token(Scopes),
}

/// The caller as the table sees it: its kind, its role on the target, and what its
/// credentials allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// No credentials.
    Anonymous,
    /// A signed-in user (never blocked: blocked users are refused at authentication).
    User {
        /// Admins may do everything a user may do anywhere, within their token's scopes.
        admin: bool,
        /// The highest role on the target, inherited through the groups above it. For an
        /// account's own tokens and password, `Owner` when it is the caller's own account.
        role: Option<Role>,
        /// A member of something inside the target group (a project or subgroup): such a
        /// user may know the group exists, as GitLab shows ancestors to their members.
        member_inside: bool,
        via: Via,
    },
    /// A deploy token (never expired or revoked: refused at authentication).
    DeployToken {
        /// Whether the target is the token's own project, or inside its own group.
        own: bool,
        scopes: Scopes,
    },
    /// The command line on the data directory: its owner may do anything the table allows
    /// anyone (the group-keeps-an-owner rule of [`member_change`] still holds).
    Operator,
}

impl Who {
    /// A user signed in on the web with this role on the target.
    pub fn session(role: Option<Role>) -> Who {
        Who::User {
            admin: false,
            role,
            member_inside: false,
            via: Via::Session,
        }
    }

    /// A user calling with a personal access token of these scopes and this role.
    pub fn token(role: Option<Role>, scopes: &[Scope]) -> Who {
        Who::User {
            admin: false,
            role,
            member_inside: false,
            via: Via::Token(Scopes::of(scopes)),
        }
    }

    /// An admin with a web session.
    pub fn admin() -> Who {
        Who::User {
            admin: true,
            role: None,
            member_inside: false,
            via: Via::Session,
        }
    }
}

/// The table's answer, with the HTTP status it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 401 with the Basic challenge (pages: the sign-in redirect).
    Unauthorized,
    /// 404: the caller may not know the target exists.
    Hidden,
    /// 403: the caller may see the target but not do this.
    Forbidden,
}

impl Decision {
    /// The HTTP status this decision answers with (200 stands for "allowed").
    pub fn status(self) -> u16 {
        match self {
            Decision::Allow => 200,
            Decision::Unauthorized => 401,
            Decision::Hidden => 404,
            Decision::Forbidden => 403,
        }
    }
}

/// Who may reach an operation at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Anyone, signed in or not.
    Anyone,
    /// Any signed-in user.
    User,
    /// The owner of the account (role `Owner` on it) or an admin; others are told nothing.
    Account,
    /// Admins only.
    Admin,
    /// Whoever may see the target (by its visibility) and holds at least `min` there.
    Target { min: Option<Role> },
}

/// What the credentials must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing.
    None,
    /// A session, or a token with `read_api` or `api`. Deploy tokens never qualify.
    ApiRead,
    /// A session, or a token with `api`. Deploy tokens never qualify.
    ApiWrite,
    /// A session or any token scope; a deploy token of this target with a read scope.
    PackageRead,
    /// A session or `api`/`write_package_registry`; a deploy token of this target with
    /// `write_package_registry` (up to the developer's rights: it may not yank or delete).
    PackageWrite,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Rule {
    reach: Reach,
    scope: Need,
}

/// The table itself: one exhaustive match, one row per operation.
const fn rule(op: Operation) -> Rule {
    use Need::*;
    use Operation::*;
    use Reach::*;
    let (reach, scope) = match op {
        PublicHealth | PublicStatic | PublicApiInfo | PublicSignIn | PublicList => (Anyone, None),
        AccountShow | TokensList => (Account, ApiRead),
        AccountPassword | TokensCreate | TokensRevoke => (Account, ApiWrite),
        UsersList | PlacesList => (User, ApiRead),
        UsersAdmin => (Admin, ApiWrite),
        AuditList => (Admin, ApiRead),
        PlaceShow | MembersList => (Target { min: Option::None }, ApiRead),
        GroupCreate => (User, ApiWrite),
        SubgroupCreate | ProjectCreate => (
            Target {
                min: Some(Role::Maintainer),
            },
            ApiWrite,
        ),
        SettingsShow | DeployTokensList | AccessTokensList | AuditProject => (
            Target {
                min: Some(Role::Maintainer),
            },
            ApiRead,
        ),
        MembersAdd | MembersChange | MembersRemove | DeployTokensCreate | DeployTokensRevoke
        | AccessTokensCreate | AccessTokensRevoke => (
            Target {
                min: Some(Role::Maintainer),
            },
            ApiWrite,
        ),
        PlaceUpdate | PlaceDelete | UpstreamsManage => (
            Target {
                min: Some(Role::Owner),
            },
            ApiWrite,
        ),
        // Upstream URLs and user names say where a group's packages come from: owners only;
        // who did what from which address in a group is for its owners too, as in GitLab.
        UpstreamsList | AuditGroup => (
            Target {
                min: Some(Role::Owner),
            },
            ApiRead,
        ),
        PageView => (Target { min: Option::None }, None),
        PackagesRead | PackagesDownload => (Target { min: Option::None }, PackageRead),
        PackagesUpload => (
            Target {
                min: Some(Role::Developer),
            },
            PackageWrite,
        ),
        PackagesYank | PackagesDelete => (
            Target {
                min: Some(Role::Maintainer),
            },
            PackageWrite,
        ),
    };
    Rule { reach, scope }
}

/// Decides whether `who` may do `op` to a target of this visibility. For operations without
/// a target (see [`Operation::has_target`]) the visibility does not matter.
pub fn decide(op: Operation, who: &Who, visibility: Visibility) -> Decision {
    let rule = rule(op);
    if rule.reach == Reach::Anyone {
        return Decision::Allow;
    }
    match who {
        Who::Operator => Decision::Allow,
        Who::Anonymous => match rule.reach {
            // Anonymous callers read public packages and pages, as pip and browsers do.
            Reach::Target { min: None }
                if matches!(rule.scope, Need::PackageRead | Need::None)
                    && visibility == Visibility::Public =>
            {
                Decision::Allow
            }
            _ => Decision::Unauthorized,
        },
        Who::DeployToken { own, scopes } => deploy_token(rule, *own, scopes, visibility),
        Who::User {
            admin,
            role,
            member_inside,
            via,
        } => user(rule, *admin, *role, *member_inside, via, visibility),
    }
}

fn user(
    rule: Rule,
    admin: bool,
    role: Option<Role>,
    member_inside: bool,
    via: &Via,
    visibility: Visibility,
) -> Decision {
    // Admins hold every role everywhere; their credentials still limit them.
    let role = if admin { Some(Role::Owner) } else { role };
    // A token without an API scope may not use the management API at all, whatever it
    // names (so the answer tells nothing about the target).
    let management = matches!(rule.scope, Need::ApiRead | Need::ApiWrite);
    if management && !scopes_allow(rule.scope, via) {
        return Decision::Forbidden;
    }
    match rule.reach {
        Reach::Anyone => return Decision::Allow,
        Reach::User => {}
        Reach::Account if role.is_none() => return Decision::Hidden,
        Reach::Account => {}
        Reach::Admin if !admin => return Decision::Forbidden,
        Reach::Admin => {}
        Reach::Target { min } => {
            // Internal means every signed-in user of this server.
            let sees = visibility != Visibility::Private || role.is_some() || member_inside;
            if !sees {
                return Decision::Hidden;
            }
            if min.is_some_and(|min| role.is_none_or(|role| role < min)) {
                return Decision::Forbidden;
            }
        }
    }
    if scopes_allow(rule.scope, via) {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

fn scopes_allow(need: Need, via: &Via) -> bool {
    let scopes = match via {
        Via::Session => return true,
        Via::Token(scopes) => scopes,
    };
    match need {
        Need::None => true,
        Need::ApiRead => scopes.contains(Scope::Api) || scopes.contains(Scope::ReadApi),
        Need::ApiWrite => scopes.contains(Scope::Api),
        Need::PackageRead => scopes.can_read_packages(),
        Need::PackageWrite => scopes.can_write_packages(),
    }
}

fn deploy_token(rule: Rule, own: bool, scopes: &Scopes, visibility: Visibility) -> Decision {
    // The management API is for people: a deploy token is known there but not allowed.
    let Reach::Target { min } = rule.reach else {
        return Decision::Forbidden;
    };
    if !matches!(rule.scope, Need::PackageRead | Need::PackageWrite) {
        return Decision::Forbidden;
    }
    // Elsewhere than its own project or group, a deploy token is a stranger.
    if !own && visibility != Visibility::Public {
        return Decision::Hidden;
    }
    let allowed = match rule.scope {
        Need::PackageRead => {
            visibility == Visibility::Public || (own && scopes.can_read_packages())
        }
        Need::PackageWrite => {
            own && min.is_none_or(|min| min <= Role::Developer) && scopes.can_write_packages()
        }
        Need::None | Need::ApiRead | Need::ApiWrite => false,
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// A change to a membership, on top of the `Members*` row of [`decide`]: what GitLab
/// enforces so that owners keep control.
///
/// - `actor`: the changer's own role on the target (`None` for the operator; admins count as
///   owners);
/// - `current`: the member's current role there, inherited ones included (`None` when new);
/// - `new`: the role to give (`None` when removing);
/// - `direct`: the member's current direct role (what the change replaces);
/// - `other_owners`: for a group, how many owners it keeps apart from this member's direct
///   membership (others, inherited ones included); `None` for a project, which needs no
///   owner of its own.
///
/// Nobody changes or removes a member whose current role is above their own, nor grants a
/// role above their own (only owners make owners); a group keeps at least one owner, even
/// against the operator.
pub fn member_change(
    actor: Option<Role>,
    current: Option<Role>,
    new: Option<Role>,
    direct: Option<Role>,
    other_owners: Option<usize>,
) -> MemberDecision {
    if let Some(actor) = actor {
        if current.is_some_and(|current| current > actor) {
            return MemberDecision::Forbidden("a member whose role is above your own");
        }
        if new.is_some_and(|new| new > actor) {
            return MemberDecision::Forbidden("a role above your own");
        }
    }
    let loses_owner = direct == Some(Role::Owner) && new != Some(Role::Owner);
    if loses_owner && other_owners == Some(0) {
        return MemberDecision::LastOwner;
    }
    MemberDecision::Allow
}

/// The answer of [`member_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberDecision {
    Allow,
    /// 403: the change reaches above the changer's own role; says what.
    Forbidden(&'static str),
    /// 409: the group's last owner would be removed or demoted.
    LastOwner,
}

#[cfg(test)]
mod tests;
