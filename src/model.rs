//! The domain vocabulary shared by every layer: visibility, roles, scopes and the stored records.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A stored unix-milliseconds time as ISO 8601 in UTC with microseconds and a `Z`
/// (`2026-11-26T06:27:38.123000Z`): what PEP 700, Warehouse and GitLab all accept.
pub fn iso8601(millis: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Visibility {
    Private,
    Internal,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Internal => "internal",
            Visibility::Public => "public",
        }
    }
}

impl FromStr for Visibility {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "private" => Ok(Visibility::Private),
            "internal" => Ok(Visibility::Internal),
            "public" => Ok(Visibility::Public),
            _ => Err(Error::bad_request(format!(
                "unknown visibility \"{s}\" (private, internal or public)"
            ))),
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// GitLab's access levels; the number is what GitLab's API and the database use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Guest = 10,
    Reporter = 20,
    Developer = 30,
    Maintainer = 40,
    Owner = 50,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Guest,
        Role::Reporter,
        Role::Developer,
        Role::Maintainer,
        Role::Owner,
    ];

    pub fn level(self) -> i64 {
        self as i64
    }

    pub fn from_level(level: i64) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.level() == level)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Reporter => "reporter",
            Role::Developer => "developer",
            Role::Maintainer => "maintainer",
            Role::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "unknown role \"{s}\" (guest, reporter, developer, maintainer or owner)"
                ))
            })
    }
}

/// Token scopes as GitLab names them: those that concern the package registry, and GitLab's
/// container registry and repository scopes, which scripts ask for beside them (python-gitlab's
/// own access-token examples do) and which grant nothing here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Scope {
    Api,
    ReadApi,
    ReadPackageRegistry,
    WritePackageRegistry,
    ReadRegistry,
    WriteRegistry,
    ReadRepository,
    WriteRepository,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Api => "api",
            Scope::ReadApi => "read_api",
            Scope::ReadPackageRegistry => "read_package_registry",
            Scope::WritePackageRegistry => "write_package_registry",
            Scope::ReadRegistry => "read_registry",
            Scope::WriteRegistry => "write_registry",
            Scope::ReadRepository => "read_repository",
            Scope::WriteRepository => "write_repository",
        }
    }

    fn parse_one(s: &str) -> Result<Scope> {
        [
            Scope::Api,
            Scope::ReadApi,
            Scope::ReadPackageRegistry,
            Scope::WritePackageRegistry,
            Scope::ReadRegistry,
            Scope::WriteRegistry,
            Scope::ReadRepository,
            Scope::WriteRepository,
        ]
        .into_iter()
        .find(|scope| scope.as_str() == s)
        .ok_or_else(|| Error::bad_request(format!("unknown scope \"{s}\"")))
    }
}

/// A set of scopes, stored comma-separated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// These scopes (without repeats), for callers built in code and tests.
    pub fn of(list: &[Scope]) -> Scopes {
        let mut scopes: Vec<Scope> = Vec::new();
        for scope in list {
            if !scopes.contains(scope) {
                scopes.push(*scope);
            }
        }
        Scopes(scopes)
    }

    /// Parses `a,b,c`; empty lists and unknown names are errors.
    pub fn parse(list: &str) -> Result<Scopes> {
        let mut scopes = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::parse_one(part)?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(Error::bad_request("at least one scope is needed"));
        }
        Ok(Scopes(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// `api` and `write_package_registry` read and write; `read_api` and
    /// `read_package_registry` only read; the container registry scopes grant nothing.
    pub fn can_read_packages(&self) -> bool {
        self.0.iter().any(|scope| {
            matches!(
                scope,
                Scope::Api
                    | Scope::ReadApi
                    | Scope::ReadPackageRegistry
                    | Scope::WritePackageRegistry
            )
        })
    }

    pub fn can_write_packages(&self) -> bool {
        self.contains(Scope::Api) || self.contains(Scope::WritePackageRegistry)
    }

    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// The display name (the username unless one was given).
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_blocked: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceKind {
    User,
    Group,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub id: i64,
    pub kind: NamespaceKind,
    pub full_path: String,
    pub parent_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub visibility: Visibility,
    /// A group's display name (its path unless one was given); a user's namespace: the username.
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub namespace_id: i64,
    pub full_path: String,
    pub visibility: Visibility,
    pub allow_file_replace: bool,
    /// The display name (the path unless one was given).
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct PersonalAccessToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub scopes: Scopes,
    pub expires_on: Option<String>,
    pub revoked: bool,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

/// A deploy token belongs to exactly one project or one group (and reaches its subgroups).
#[derive(Debug, Clone)]
pub struct DeployToken {
    pub id: i64,
    pub namespace_id: Option<i64>,
    pub project_id: Option<i64>,
    pub name: String,
    pub username: String,
    pub scopes: Scopes,
    pub expires_on: Option<String>,
    pub revoked: bool,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_decide_read_and_write() {
        let read = Scopes::parse("read_package_registry").unwrap();
        assert!(read.can_read_packages() && !read.can_write_packages());
        let write = Scopes::parse("write_package_registry").unwrap();
        assert!(write.can_read_packages() && write.can_write_packages());
        let api = Scopes::parse("read_api, api").unwrap();
        assert!(api.can_write_packages());
        assert_eq!(api.to_stored(), "read_api,api");
        assert!(Scopes::parse("").is_err());
        assert!(Scopes::parse("sudo").is_err());
        // The container registry's scopes are taken but grant nothing here.
        let registry = Scopes::parse("read_registry,write_registry").unwrap();
        assert!(!registry.can_read_packages() && !registry.can_write_packages());
        assert!(!registry.contains(Scope::Api) && !registry.contains(Scope::ReadApi));
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(Role::from_level(role.level()), Some(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
