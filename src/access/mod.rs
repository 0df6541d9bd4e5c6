//! The one place that decides who may read or write what. The permission table (`table`)
//! says it; this module hands out the capabilities (`ProjectReader`, `ProjectWriter`,
//! `ProjectMaintainer`, `GroupReader`, `ApiUser`, `ApiAdmin`) that the services require, each
//! minted only from the table's `Allow`, so a route cannot reach packages without asking.

pub mod bots;
pub mod describe;
mod judge;
mod operation;
pub mod table;
mod viewer;
pub use judge::{On, allowed, judge, role_on, who};
pub use table::{Decision, MemberDecision, Operation, Via, Who, decide, member_change};
pub use viewer::{Held, Home, Membership, Viewer, ancestors, within};

use rusqlite::Connection;

use crate::auth::{Caller, UserCaller};
use crate::db;
use crate::error::{Error, Result};
use crate::model::{DeployToken, Namespace, NamespaceKind, Project, Visibility};

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

    /// Every project the index decides "first under a filename" among, readable or not: a
    /// group's whole subtree. Which bytes a filename serves must not depend on what the caller
    /// may see, or making a project visible (or a member seeing more) would swap them.
    fn deciding_project_ids(&self) -> Vec<i64> {
        self.project_ids()
    }

    /// The group whose recorded bytes a filename must have to be served (`group_filenames`):
    /// a group index's own group; a project index has none.
    fn served_in(&self) -> Option<i64> {
        None
    }
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

    fn deciding_project_ids(&self) -> Vec<i64> {
        self.below.clone()
    }

    fn served_in(&self) -> Option<i64> {
        Some(self.group.id)
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
    /// Every project below the group, readable or not (see `ReadScope::deciding_project_ids`).
    below: Vec<i64>,
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
        .ok_or(Error::PlaceNotFound("404 Group Not Found"))
}

fn project_not_found() -> Error {
    Error::PlaceNotFound("404 Project Not Found")
}

/// Not signed in: ask for credentials. Signed in: never confirm that the thing exists.
fn hidden(caller: &Caller, not_found: Error) -> Error {
    match caller {
        Caller::Anonymous => Error::Unauthorized,
        _ => not_found,
    }
}

/// The other half of `hidden` (issue 10, finding 7): to the anonymous, a project or group
/// that does not exist answers like a private one (401 and its challenge), else a 404 would
/// tell them which private paths exist. Applied where a request's work ends, so every route
/// that looks a place up gets it. Missing packages inside a place they may read stay 404.
pub fn hidden_if_missing(caller: &Caller, error: Error) -> Error {
    match error {
        Error::PlaceNotFound(_) => hidden(caller, error),
        other => other,
    }
}

pub fn read_project(conn: &Connection, caller: &Caller, project: Project) -> Result<ProjectReader> {
    judge(conn, caller, Operation::PackagesRead, On::Project(&project))?;
    Ok(ProjectReader { project })
}

pub fn write_project(
    conn: &Connection,
    caller: &Caller,
    project: Project,
) -> Result<ProjectWriter> {
    judge(
        conn,
        caller,
        Operation::PackagesUpload,
        On::Project(&project),
    )?;
    Ok(ProjectWriter {
        project,
        caller: caller.clone(),
    })
}

/// Yank, unyank and delete (one row of the table: maintainers and up).
pub fn maintain_project(
    conn: &Connection,
    caller: &Caller,
    project: Project,
) -> Result<ProjectMaintainer> {
    judge(
        conn,
        caller,
        Operation::PackagesDelete,
        On::Project(&project),
    )?;
    Ok(ProjectMaintainer {
        project,
        caller: caller.clone(),
    })
}

/// A group's index: the group's own row of the table, or — for whoever may read some project
/// inside (each judged by the table) — those projects.
pub fn read_group(conn: &Connection, caller: &Caller, group: Namespace) -> Result<GroupReader> {
    // The caller's memberships load once: a group of thousands of projects costs no query
    // per project.
    let viewer = Viewer::load(conn, caller)?;
    let all = db::projects::list_below(conn, &group.full_path)?;
    let below = all.iter().map(|p| p.id).collect();
    let projects: Vec<Project> = all
        .into_iter()
        .filter(|p| viewer.allows_on_project(Operation::PackagesRead, p))
        .collect();
    if projects.is_empty() {
        judge(conn, caller, Operation::PackagesRead, On::Group(&group))?;
    }
    Ok(GroupReader {
        group,
        projects,
        below,
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
}

/// The management API's door, the part every management row of the table shares: a
/// personal access token with `read_api` or `api` to read, `api` to change anything (or a web
/// session). Deploy tokens are for the package registry only.
pub fn api_user(caller: &Caller, write: bool) -> Result<ApiUser> {
    // Two rows without a target that ask exactly that of a user.
    let op = if write {
        Operation::GroupCreate
    } else {
        Operation::UsersList
    };
    let user = match caller {
        Caller::User(user) => user,
        _ => {
            return match decide(op, &who_without_target(caller), Visibility::Public) {
                Decision::Unauthorized => Err(Error::Unauthorized),
                _ => Err(Error::forbidden(
                    "403 Forbidden: this API needs a personal access token",
                )),
            };
        }
    };
    if decide(op, &who_without_target(caller), Visibility::Public) != Decision::Allow {
        let needed = if write { "api" } else { "api or read_api" };
        return Err(Error::forbidden(format!(
            "403 Forbidden: the token needs the {needed} scope"
        )));
    }
    Ok(ApiUser { user: user.clone() })
}

/// The caller as the table sees it where there is no target.
fn who_without_target(caller: &Caller) -> Who {
    match caller {
        Caller::Anonymous => Who::Anonymous,
        Caller::Operator => Who::Operator,
        Caller::User(user) => Who::User {
            admin: user.is_admin,
            role: None,
            member_inside: false,
            via: match user.token_id {
                Some(_) => Via::Token(user.scopes.clone()),
                None => Via::Session,
            },
        },
        Caller::DeployToken(token) => Who::DeployToken {
            own: false,
            scopes: token.scopes.clone(),
        },
    }
}

/// Whether the caller may know that this project exists (public; internal to the signed-in;
/// private to members and admins): what lists and pages show. The table's answer for the
/// project's page is anything but "hidden".
pub fn sees_project(conn: &Connection, caller: &Caller, project: &Project) -> Result<bool> {
    sees(conn, caller, On::Project(project))
}

/// Whether the caller may know this group: visible by itself, or through a project inside
/// that the caller may see. The per-item rule the in-memory `Viewer` is checked against
/// (lists and lookups use the viewer).
#[cfg(test)]
pub fn sees_group(conn: &Connection, caller: &Caller, group: &Namespace) -> Result<bool> {
    if sees(conn, caller, On::Group(group))? {
        return Ok(true);
    }
    for project in db::projects::list_below(conn, &group.full_path)? {
        if sees(conn, caller, On::Project(&project))? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn sees(conn: &Connection, caller: &Caller, on: On<'_>) -> Result<bool> {
    let who = who(conn, caller, on)?;
    Ok(matches!(
        decide(Operation::PageView, &who, on.visibility()),
        Decision::Allow | Decision::Forbidden
    ))
}

/// The caller's own role (memberships, inherited through groups; admins as members only):
/// what the `membership` and `owned` filters mean. Others have none. The per-item rule the
/// `Viewer`'s roles are checked against.
#[cfg(test)]
pub fn role_of(
    conn: &Connection,
    caller: &Caller,
    namespace_id: i64,
    project_id: Option<i64>,
) -> Result<Option<crate::model::Role>> {
    match caller {
        Caller::User(user) => {
            db::members::highest_role(conn, user.user_id, namespace_id, project_id)
        }
        _ => Ok(None),
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

    /// The caller these rights belong to.
    pub fn caller(&self) -> Caller {
        self.api.caller()
    }

    /// An admin is also an API user, with every read right.
    pub fn api(&self) -> &ApiUser {
        &self.api
    }
}

/// Admin-only operations answer 403 to everyone else who may use the API.
pub fn api_admin(caller: &Caller) -> Result<ApiAdmin> {
    let api = api_user(caller, true)?;
    if decide(
        Operation::UsersAdmin,
        &who_without_target(caller),
        Visibility::Public,
    ) != Decision::Allow
    {
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

    fn deciding_project_ids(&self) -> Vec<i64> {
        match self {
            Reader::Project(r) => r.deciding_project_ids(),
            Reader::Group(r) => r.deciding_project_ids(),
        }
    }

    fn served_in(&self) -> Option<i64> {
        match self {
            Reader::Project(r) => r.served_in(),
            Reader::Group(r) => r.served_in(),
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
