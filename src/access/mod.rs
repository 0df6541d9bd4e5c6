//! The one place that decides who may read or write what. It hands out capabilities
//! (`ProjectReader`, `ProjectWriter`, `GroupReader`) that the services require, so a route
//! cannot reach packages without asking here first.

mod judge;
pub mod table;
pub use judge::{On, allowed, judge, role_on, who};
pub use table::{Decision, MemberDecision, Operation, Via, Who, decide, member_change};

use rusqlite::Connection;

use crate::auth::{Caller, UserCaller};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{DeployToken, Namespace, NamespaceKind, Project, Role, Scope, Visibility};

/// Permission to read the packages of one project.
#[derive(Debug)]
pub struct ProjectReader {
    project: Project,
}

impl ProjectReader {
    pub fn project(&self) -> &Project {
        &self.project
    }
}

/// The projects whose packages a read capability covers: one project, or a group's readable ones.
pub trait ReadScope {
    fn project_ids(&self) -> Vec<i64>;
}

impl ReadScope for ProjectReader {
    fn project_ids(&self) -> Vec<i64> {
        vec![self.project.id]
    }
}

impl ReadScope for GroupReader {
    fn project_ids(&self) -> Vec<i64> {
        self.projects.iter().map(|p| p.id).collect()
    }
}

/// Permission to upload to one project, remembering who holds it (for the file's uploader).
#[derive(Debug)]
pub struct ProjectWriter {
    project: Project,
    caller: Caller,
}

impl ProjectWriter {
    pub fn project(&self) -> &Project {
        &self.project
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// Permission to manage a project's packages (yank, unyank, delete): maintainers and owners.
#[derive(Debug)]
pub struct ProjectMaintainer {
    project: Project,
    caller: Caller,
}

impl ProjectMaintainer {
    pub fn project(&self) -> &Project {
        &self.project
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }
}

/// Permission to read a group's index: the group and those of its projects (at any depth) that
/// the caller may read.
#[derive(Debug)]
pub struct GroupReader {
    group: Namespace,
    projects: Vec<Project>,
}

impl GroupReader {
    pub fn group(&self) -> &Namespace {
        &self.group
    }

    /// The projects (at any depth) the caller may read.
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }
}

/// Finds a project by numeric id or full path (`acme/ml/models`). Nothing found: 404 for all.
pub fn find_project(conn: &Connection, reference: &str) -> Result<Project> {
    let found = match reference.parse::<i64>() {
        Ok(id) => db::projects::find(conn, id)?,
        Err(_) => db::projects::find_by_path(conn, reference.trim_matches('/'))?,
    };
    found.ok_or_else(project_not_found)
}

/// Finds a group by numeric id or full path. A user's personal namespace is not a group.
pub fn find_group(conn: &Connection, reference: &str) -> Result<Namespace> {
    let found = match reference.parse::<i64>() {
        Ok(id) => db::namespaces::find(conn, id)?,
        Err(_) => db::namespaces::find_by_path(conn, reference.trim_matches('/'))?,
    };
    found
        .filter(|ns| ns.kind == NamespaceKind::Group)
        .ok_or_else(|| Error::not_found("404 Group Not Found"))
}

fn project_not_found() -> Error {
    Error::not_found("404 Project Not Found")
}

/// Not signed in: ask for credentials. Signed in: never confirm that the thing exists.
fn hidden(caller: &Caller, not_found: Error) -> Error {
    match caller {
        Caller::Anonymous => Error::Unauthorized,
        _ => not_found,
    }
}

pub fn read_project(conn: &Connection, caller: &Caller, project: Project) -> Result<ProjectReader> {
    let rights = project_rights(conn, caller, &project)?;
    if !rights.see {
        return Err(hidden(caller, project_not_found()));
    }
    if !rights.read {
        return Err(Error::forbidden(
            "403 Forbidden: the token has no scope that reads packages",
        ));
    }
    Ok(ProjectReader { project })
}

pub fn write_project(
    conn: &Connection,
    caller: &Caller,
    project: Project,
) -> Result<ProjectWriter> {
    let project = require_change_right(
        conn,
        caller,
        project,
        |rights| rights.write,
        "403 Forbidden: uploading needs the developer role (or higher) and a token with the \
         api or write_package_registry scope",
    )?;
    Ok(ProjectWriter {
        project,
        caller: caller.clone(),
    })
}

pub fn maintain_project(
    conn: &Connection,
    caller: &Caller,
    project: Project,
) -> Result<ProjectMaintainer> {
    let project = require_change_right(
        conn,
        caller,
        project,
        |rights| rights.maintain,
        "403 Forbidden: managing packages needs the maintainer role (or higher) and a token \
         with the api or write_package_registry scope",
    )?;
    Ok(ProjectMaintainer {
        project,
        caller: caller.clone(),
    })
}

/// The rule shared by every change: hidden → 401/404, anonymous → 401, lacking the right →
/// 403 with `refusal`.
fn require_change_right(
    conn: &Connection,
    caller: &Caller,
    project: Project,
    granted: fn(&Rights) -> bool,
    refusal: &str,
) -> Result<Project> {
    let rights = project_rights(conn, caller, &project)?;
    if !rights.see {
        return Err(hidden(caller, project_not_found()));
    }
    if matches!(caller, Caller::Anonymous) {
        return Err(Error::Unauthorized);
    }
    if !granted(&rights) {
        return Err(Error::forbidden(refusal));
    }
    Ok(project)
}

pub fn read_group(conn: &Connection, caller: &Caller, group: Namespace) -> Result<GroupReader> {
    let mut projects = Vec::new();
    for project in db::projects::list_below(conn, &group.full_path)? {
        if project_rights(conn, caller, &project)?.read {
            projects.push(project);
        }
    }
    if projects.is_empty() && !group_visible(conn, caller, &group)? {
        return Err(hidden(caller, Error::not_found("404 Group Not Found")));
    }
    Ok(GroupReader { group, projects })
}

struct Rights {
    /// May know that the project exists.
    see: bool,
    read: bool,
    write: bool,
    /// Yank, unyank, delete.
    maintain: bool,
}

fn project_rights(conn: &Connection, caller: &Caller, project: &Project) -> Result<Rights> {
    let public = project.visibility == Visibility::Public;
    Ok(match caller {
        Caller::Anonymous => Rights {
            see: public,
            read: public,
            write: false,
            maintain: false,
        },
        Caller::Operator => Rights {
            see: true,
            read: true,
            write: true,
            maintain: true,
        },
        Caller::User(user) => {
            let role = if user.is_admin {
                Some(Role::Owner)
            } else {
                db::members::highest_role(
                    conn,
                    user.user_id,
                    project.namespace_id,
                    Some(project.id),
                )?
            };
            // Internal means: every signed-in user of this server.
            let see = project.visibility != Visibility::Private || role.is_some();
            let may_write = see && user.scopes.can_write_packages();
            Rights {
                see,
                read: see && user.scopes.can_read_packages(),
                write: may_write && role.is_some_and(|r| r >= Role::Developer),
                maintain: may_write && role.is_some_and(|r| r >= Role::Maintainer),
            }
        }
        // A deploy token reaches only its own project or group; elsewhere it is a stranger.
        Caller::DeployToken(token) => {
            let reaches =
                deploy_token_reaches(conn, token, project.namespace_id, Some(project.id))?;
            Rights {
                see: reaches || public,
                read: (reaches && token.scopes.can_read_packages()) || public,
                write: reaches && token.scopes.can_write_packages(),
                maintain: false,
            }
        }
    })
}

fn deploy_token_reaches(
    conn: &Connection,
    token: &DeployToken,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<bool> {
    if token.project_id.is_some() {
        return Ok(token.project_id == project_id);
    }
    match token.namespace_id {
        Some(group_id) => db::members::namespace_within(conn, namespace_id, group_id),
        None => Ok(false),
    }
}

/// Whether the caller may know the group itself (its index may still list nothing).
fn group_visible(conn: &Connection, caller: &Caller, group: &Namespace) -> Result<bool> {
    Ok(match (group.visibility, caller) {
        (Visibility::Public, _) => true,
        (_, Caller::Anonymous) => false,
        (_, Caller::Operator) => true,
        (_, Caller::User(user)) if user.is_admin => true,
        (Visibility::Internal, Caller::User(_)) => true,
        (_, Caller::User(user)) => {
            db::members::highest_role(conn, user.user_id, group.id, None)?.is_some()
        }
        (_, Caller::DeployToken(token)) => deploy_token_reaches(conn, token, group.id, None)?,
    })
}

/// A signed-in user on the management API (users, tokens), with what its token allows.
#[derive(Debug)]
pub struct ApiUser {
    user: UserCaller,
}

impl ApiUser {
    pub fn user_id(&self) -> i64 {
        self.user.user_id
    }

    /// The personal access token of the request (none when signed in on the web).
    pub fn token_id(&self) -> Option<i64> {
        self.user.token_id
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_admin
    }

    pub fn actor(&self) -> String {
        format!("user:{}", self.user.username)
    }

    /// The caller these rights belong to, for the rules the package routes share.
    pub fn caller(&self) -> Caller {
        Caller::User(self.user.clone())
    }

    /// May act on the tokens (or account) of `user_id`: their owner, or an admin.
    pub fn may_manage(&self, user_id: i64) -> bool {
        self.user.is_admin || self.user.user_id == user_id
    }
}

/// The management API is for users' personal access tokens: `read_api` or `api` to read,
/// `api` to change anything. Deploy tokens are for the package registry only.
pub fn api_user(caller: &Caller, write: bool) -> Result<ApiUser> {
    let user = match caller {
        Caller::Anonymous => return Err(Error::Unauthorized),
        Caller::DeployToken(_) | Caller::Operator => {
            return Err(Error::forbidden(
                "403 Forbidden: this API needs a personal access token",
            ));
        }
        Caller::User(user) => user,
    };
    let scopes = &user.scopes;
    let allowed = scopes.contains(Scope::Api) || (!write && scopes.contains(Scope::ReadApi));
    if !allowed {
        let needed = if write { "api" } else { "api or read_api" };
        return Err(Error::forbidden(format!(
            "403 Forbidden: the token needs the {needed} scope"
        )));
    }
    Ok(ApiUser { user: user.clone() })
}

/// Whether the caller may know that this project exists (public; internal to the signed-in;
/// private to members and admins): what lists and pages show.
pub fn sees_project(conn: &Connection, caller: &Caller, project: &Project) -> Result<bool> {
    Ok(project_rights(conn, caller, project)?.see)
}

/// Whether the caller may know this group: visible by itself, or through a project inside
/// that the caller may see.
pub fn sees_group(conn: &Connection, caller: &Caller, group: &Namespace) -> Result<bool> {
    if group_visible(conn, caller, group)? {
        return Ok(true);
    }
    for project in db::projects::list_below(conn, &group.full_path)? {
        if project_rights(conn, caller, &project)?.see {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The caller's own role (memberships, inherited through groups; admins as members only):
/// what the `membership` and `owned` filters mean. Others have none.
pub fn role_of(
    conn: &Connection,
    caller: &Caller,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<Option<Role>> {
    match caller {
        Caller::User(user) => {
            db::members::highest_role(conn, user.user_id, namespace_id, project_id)
        }
        _ => Ok(None),
    }
}

/// Permission to change the settings of one project or group (members, deploy tokens):
/// maintainers and owners (admins count as owners). Only owners may make someone an owner.
#[derive(Debug)]
pub struct TargetMaintainer {
    role: Role,
    actor: String,
}

impl TargetMaintainer {
    pub fn may_grant(&self, role: Role) -> bool {
        role < Role::Owner || self.role == Role::Owner
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Owners (and admins) may also change visibility and delete.
    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }
}

pub fn api_maintain(
    conn: &Connection,
    api: &ApiUser,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<TargetMaintainer> {
    let role = if api.is_admin() {
        Some(Role::Owner)
    } else {
        db::members::highest_role(conn, api.user_id(), namespace_id, project_id)?
    };
    match role {
        Some(role) if role >= Role::Maintainer => Ok(TargetMaintainer {
            role,
            actor: api.actor(),
        }),
        _ => Err(Error::forbidden(
            "403 Forbidden: this needs the maintainer role (or higher)",
        )),
    }
}

/// An admin on the management API, with a token that may change things.
#[derive(Debug)]
pub struct ApiAdmin {
    api: ApiUser,
}

impl ApiAdmin {
    pub fn actor(&self) -> String {
        self.api.actor()
    }

    pub fn user_id(&self) -> i64 {
        self.api.user_id()
    }

    /// An admin is also an API user, with every read right.
    pub fn api(&self) -> &ApiUser {
        &self.api
    }
}

/// Admin-only operations answer 403 to everyone else who may use the API.
pub fn api_admin(caller: &Caller) -> Result<ApiAdmin> {
    let api = api_user(caller, true)?;
    if !api.is_admin() {
        return Err(Error::forbidden("403 Forbidden: this needs an admin"));
    }
    Ok(ApiAdmin { api })
}

/// Which kind of index a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    Project,
    Group,
}

/// A read capability on a project index or a group index.
#[derive(Debug)]
pub enum Reader {
    Project(ProjectReader),
    Group(GroupReader),
}

impl ReadScope for Reader {
    fn project_ids(&self) -> Vec<i64> {
        match self {
            Reader::Project(r) => r.project_ids(),
            Reader::Group(r) => r.project_ids(),
        }
    }
}

/// Finds the project or group named in the URL and checks that the caller may read it.
pub fn read_index(
    conn: &Connection,
    caller: &Caller,
    kind: IndexKind,
    reference: &str,
) -> Result<Reader> {
    Ok(match kind {
        IndexKind::Project => {
            Reader::Project(read_project(conn, caller, find_project(conn, reference)?)?)
        }
        IndexKind::Group => Reader::Group(read_group(conn, caller, find_group(conn, reference)?)?),
    })
}
