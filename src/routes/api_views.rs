//! The management API's response bodies in GitLab's shapes, typed so that the handlers serialize
//! exactly what the OpenAPI description (generated from these types) promises, and the path
//! parameters that description names.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::{
    DeployToken, Namespace, NamespaceKind, PersonalAccessToken, Project, Role, User, iso8601,
};
use crate::registry::catalog::{PackageRow, StoredFile};

/// The last segment of a path: GitLab's `path` (and, here, `name`).
fn last_segment(full_path: &str) -> &str {
    full_path.rsplit('/').next().unwrap_or(full_path)
}

/// GitLab's `full_name`: the places above (here by path) and the place's own name, joined
/// by ` / `.
fn full_name(full_path: &str, name: &str) -> String {
    match full_path.rsplit_once('/') {
        Some((above, _)) => format!("{} / {name}", above.replace('/', " / ")),
        None => name.to_owned(),
    }
}

pub(super) fn scope_names(stored: &str) -> Vec<String> {
    stored.split(',').map(str::to_owned).collect()
}

/// `…/projects/{id}` or `…/groups/{id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only described: handlers read the path through `param`"
)]
pub struct IdPath {
    /// The numeric id or the URL-encoded full path (`acme%2Fmodels`).
    id: String,
}

/// `…/packages/{package_id}` of a project.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only described: handlers read the path through `param`"
)]
pub struct PackagePath {
    /// The project's numeric id or URL-encoded full path.
    id: String,
    package_id: i64,
}

/// `…/package_files/{file_id}` of a package.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only described: handlers read the path through `param`"
)]
pub struct FilePath {
    /// The project's numeric id or URL-encoded full path.
    id: String,
    package_id: i64,
    file_id: i64,
}

/// The body that creates a personal access token or a deploy token.
#[derive(Deserialize, ToSchema)]
pub struct NewTokenBody {
    pub name: String,
    /// Personal tokens: any; deploy tokens: read_package_registry and/or
    /// write_package_registry. A list, or one comma-separated string (`"api,read_api"`).
    #[schema(value_type = Vec<crate::model::Scope>)]
    #[serde(deserialize_with = "super::params::list")]
    pub scopes: Vec<String>,
    /// YYYY-MM-DD (a timestamp's day counts); the token stops working on that day. Empty or
    /// left out: no expiry. Personal tokens: after today; deploy tokens: today or later.
    #[schema(format = Date)]
    #[serde(default, deserialize_with = "super::params::opt_text")]
    pub expires_at: Option<String>,
    /// Deploy tokens: the username to send with the token (letters, digits, `_`, `-`, `+`,
    /// `.`); empty or left out: `deploy-token-ID`.
    #[schema(pattern = "^[A-Za-z0-9._+-]{1,255}$")]
    #[serde(default, deserialize_with = "super::params::opt_text")]
    pub username: Option<String>,
}

/// Every error: `{"message": "..."}` naming the problem.
#[derive(Serialize, ToSchema)]
pub struct ErrorView {
    pub message: String,
}

/// An accepted deletion (GitLab answers 202 with this message).
pub fn accepted() -> ErrorView {
    ErrorView {
        message: "202 Accepted".to_owned(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    /// The GitLab API level this server follows.
    pub version: String,
    pub revision: String,
}

/// Which GitLab state a user is in.
#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Active,
    Blocked,
}

impl UserState {
    fn of(user: &User) -> UserState {
        if user.is_blocked {
            UserState::Blocked
        } else {
            UserState::Active
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    /// Shown to admins and the user themselves only (null for others).
    pub email: Option<String>,
    /// Shown to admins and the user themselves only (left out for others, as GitLab does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
    pub avatar_url: Option<String>,
    /// ISO 8601, UTC.
    pub created_at: String,
}

impl UserView {
    /// `private`: whether the viewer may see the e-mail and admin flag (an admin, or the user
    /// themselves).
    pub fn new(user: &User, private: bool) -> UserView {
        UserView {
            id: user.id,
            username: user.username.clone(),
            name: user.name.clone(),
            state: UserState::of(user),
            email: user.email.clone().filter(|_| private),
            is_admin: private.then_some(user.is_admin),
            avatar_url: None,
            created_at: iso8601(user.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PersonalAccessTokenView {
    pub id: i64,
    pub name: String,
    pub revoked: bool,
    pub active: bool,
    pub scopes: Vec<String>,
    pub user_id: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// YYYY-MM-DD; the token stops working on that day.
    pub expires_at: Option<String>,
    /// The secret: only in the answer that created or rotated the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl PersonalAccessTokenView {
    pub fn new(token: &PersonalAccessToken, secret: Option<String>) -> PersonalAccessTokenView {
        PersonalAccessTokenView {
            id: token.id,
            name: token.name.clone(),
            revoked: token.revoked,
            active: !token.revoked && !crate::auth::is_expired(token.expires_on.as_deref()),
            scopes: scope_names(&token.scopes.to_stored()),
            user_id: token.user_id,
            created_at: iso8601(token.created_at),
            last_used_at: token.last_used_at.map(iso8601),
            expires_at: token.expires_on.clone(),
            token: secret,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub full_name: String,
    pub full_path: String,
    pub description: String,
    /// public, internal or private.
    pub visibility: String,
    pub parent_id: Option<i64>,
}

impl GroupView {
    pub fn new(group: &Namespace) -> GroupView {
        let path = last_segment(&group.full_path);
        GroupView {
            id: group.id,
            name: group.name.clone(),
            path: path.to_owned(),
            full_name: full_name(&group.full_path, &group.name),
            full_path: group.full_path.clone(),
            description: group.description.clone(),
            visibility: group.visibility.as_str().to_owned(),
            parent_id: group.parent_id,
        }
    }
}

/// Where a project lives: a group or a user's personal namespace.
#[derive(Serialize, ToSchema)]
pub struct NamespaceView {
    pub id: i64,
    pub name: String,
    pub path: String,
    /// `group` or `user`.
    pub kind: String,
    pub full_path: String,
    pub parent_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectView {
    pub id: i64,
    pub name: String,
    pub path: String,
    pub path_with_namespace: String,
    pub name_with_namespace: String,
    pub description: String,
    pub visibility: String,
    pub packages_enabled: bool,
    pub namespace: NamespaceView,
}

impl ProjectView {
    pub fn new(project: &Project, namespace: &Namespace) -> ProjectView {
        let path = last_segment(&project.full_path);
        let kind = match namespace.kind {
            NamespaceKind::User => "user",
            NamespaceKind::Group => "group",
        };
        let namespace_path = last_segment(&namespace.full_path);
        ProjectView {
            id: project.id,
            name: project.name.clone(),
            path: path.to_owned(),
            path_with_namespace: project.full_path.clone(),
            name_with_namespace: format!(
                "{} / {}",
                full_name(&namespace.full_path, &namespace.name),
                project.name
            ),
            description: project.description.clone(),
            visibility: project.visibility.as_str().to_owned(),
            packages_enabled: true,
            namespace: NamespaceView {
                id: namespace.id,
                name: namespace.name.clone(),
                path: namespace_path.to_owned(),
                kind: kind.to_owned(),
                full_path: namespace.full_path.clone(),
                parent_id: namespace.parent_id,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub state: UserState,
    /// 10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner.
    pub access_level: i64,
    pub expires_at: Option<String>,
}

impl MemberView {
    pub fn new(user: &User, role: Role) -> MemberView {
        MemberView {
            id: user.id,
            username: user.username.clone(),
            name: user.name.clone(),
            state: UserState::of(user),
            access_level: role.level(),
            expires_at: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeployTokenView {
    pub id: i64,
    pub name: String,
    /// The user name to send with the token (HTTP Basic).
    pub username: String,
    /// The day the token stops working, as GitLab writes it (`2030-01-01T00:00:00.000Z`).
    pub expires_at: Option<String>,
    pub scopes: Vec<String>,
    pub revoked: bool,
    pub expired: bool,
    /// The secret: only in the answer that created the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl DeployTokenView {
    pub fn new(token: &DeployToken, secret: Option<String>) -> DeployTokenView {
        DeployTokenView {
            id: token.id,
            name: token.name.clone(),
            username: token.username.clone(),
            expires_at: token
                .expires_on
                .as_ref()
                .map(|day| format!("{day}T00:00:00.000Z")),
            scopes: scope_names(&token.scopes.to_stored()),
            revoked: token.revoked,
            expired: crate::auth::is_expired(token.expires_on.as_deref()),
            token: secret,
        }
    }
}

/// One version of one package.
#[derive(Serialize, ToSchema)]
pub struct PackageView {
    pub id: i64,
    pub name: String,
    pub version: String,
    /// Always `pypi`.
    pub package_type: String,
    pub status: String,
    pub created_at: String,
    pub tags: Vec<String>,
    /// In a group's list: the project that holds the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_path: Option<String>,
}

impl PackageView {
    pub fn new(row: &PackageRow, project_path: Option<String>) -> PackageView {
        PackageView {
            id: row.id,
            name: row.display_name.clone(),
            version: row.version.clone(),
            package_type: "pypi".to_owned(),
            status: "default".to_owned(),
            created_at: iso8601(row.created_at),
            tags: Vec::new(),
            project_id: project_path.is_some().then_some(row.project_id),
            project_path,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PackageFileView {
    pub id: i64,
    pub package_id: i64,
    pub created_at: String,
    pub file_name: String,
    pub size: i64,
    pub file_md5: String,
    pub file_sha1: Option<String>,
    pub file_sha256: String,
    pub requires_python: Option<String>,
    pub yanked: bool,
    pub yanked_reason: Option<String>,
}

impl PackageFileView {
    pub fn new(file: &StoredFile) -> PackageFileView {
        PackageFileView {
            id: file.id,
            package_id: file.package_id,
            created_at: iso8601(file.created_at),
            file_name: file.filename.clone(),
            size: file.size,
            file_md5: file.md5.clone(),
            file_sha1: None,
            file_sha256: file.sha256.clone(),
            requires_python: file.requires_python.clone(),
            yanked: file.yanked,
            yanked_reason: file.yanked_reason.clone(),
        }
    }
}
