//! The caller as lists see it: their memberships, loaded once per request, so that deciding
//! which of thousands of groups and projects to show costs no query per item. Every answer
//! still comes from the permission table (`decide`), with the `Who` built here in memory.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;

use super::table::{Decision, Operation, Via, Who, decide};
use crate::auth::Caller;
use crate::db;
use crate::db::group_pages::Seen;
use crate::error::Result;
use crate::model::{Namespace, Project, Role, Scopes, Visibility};

/// Where a membership is held: a namespace (a group, or a user's own namespace, which its
/// owner holds as owner) or one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Namespace,
    Project,
}

/// One membership, by the full path of what it is held on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub full_path: String,
    pub held: Held,
    pub role: Role,
}

/// Where a deploy token is at home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Home {
    /// A project token: that project only (by id).
    Project(i64),
    /// A group token: the group and everything below (by full path).
    Group(String),
    Nowhere,
}

#[derive(Debug, Clone)]
enum Kind {
    Anonymous,
    Operator,
    User { admin: bool, via: Via, roles: Roles },
    DeployToken { home: Home, scopes: Scopes },
}

/// A user's memberships, indexed by path so that each question costs a few look-ups (one
/// per level of the path), however many memberships there are.
#[derive(Debug, Clone, Default)]
struct Roles {
    /// The highest role held on each namespace (group or personal namespace).
    namespaces: HashMap<String, Role>,
    /// The role held on each project.
    projects: HashMap<String, Role>,
    /// Every path with a membership strictly below it.
    inside: HashSet<String>,
}

impl Roles {
    fn new(memberships: Vec<Membership>) -> Roles {
        let mut roles = Roles::default();
        for m in memberships {
            roles
                .inside
                .extend(ancestors(&m.full_path).map(str::to_string));
            let map = match m.held {
                Held::Namespace => &mut roles.namespaces,
                Held::Project => &mut roles.projects,
            };
            let role = map.entry(m.full_path).or_insert(m.role);
            *role = (*role).max(m.role);
        }
        roles
    }
}

/// The caller with everything the table needs to judge any group or project in memory.
#[derive(Debug, Clone)]
pub struct Viewer {
    kind: Kind,
}

/// Whether `path` is `ancestor` or lies below it (`acme` holds `acme/x`, never `acme2`).
pub fn within(path: &str, ancestor: &str) -> bool {
    path == ancestor || strictly_below(path, ancestor)
}

fn strictly_below(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len()
        && path.starts_with(ancestor)
        && path.as_bytes()[ancestor.len()] == b'/'
}

/// The parent paths of a full path, nearest first (`a/b/c` → `a/b`, `a`).
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices()
        .rev()
        .filter(|&(_, c)| c == '/')
        .map(move |(i, _)| &path[..i])
}

impl Viewer {
    /// Loads the caller's memberships (one query) or a deploy token's home (one query).
    pub fn load(conn: &Connection, caller: &Caller) -> Result<Viewer> {
        let kind = match caller {
            Caller::Anonymous => Kind::Anonymous,
            Caller::Operator => Kind::Operator,
            Caller::User(user) => Kind::User {
                admin: user.is_admin,
                via: match user.token_id {
                    Some(_) => Via::Token(user.scopes.clone()),
                    None => Via::Session,
                },
                roles: Roles::new(
                    db::members::memberships(conn, user.user_id)?
                        .into_iter()
                        .filter_map(|(full_path, on_project, level)| {
                            Some(Membership {
                                full_path,
                                held: if on_project {
                                    Held::Project
                                } else {
                                    Held::Namespace
                                },
                                role: Role::from_level(level)?,
                            })
                        })
                        .collect(),
                ),
            },
            Caller::DeployToken(token) => Kind::DeployToken {
                home: match (token.project_id, token.namespace_id) {
                    (Some(id), _) => Home::Project(id),
                    (None, Some(id)) => db::namespaces::find(conn, id)?
                        .map_or(Home::Nowhere, |ns| Home::Group(ns.full_path)),
                    (None, None) => Home::Nowhere,
                },
                scopes: token.scopes.clone(),
            },
        };
        Ok(Viewer { kind })
    }

    /// A viewer from parts (for tests and callers that already hold the memberships).
    pub fn user(admin: bool, via: Via, memberships: Vec<Membership>) -> Viewer {
        Viewer {
            kind: Kind::User {
                admin,
                via,
                roles: Roles::new(memberships),
            },
        }
    }

    pub fn anonymous() -> Viewer {
        Viewer {
            kind: Kind::Anonymous,
        }
    }

    pub fn deploy_token(home: Home, scopes: Scopes) -> Viewer {
        Viewer {
            kind: Kind::DeployToken { home, scopes },
        }
    }

    fn roles(&self) -> Option<&Roles> {
        match &self.kind {
            Kind::User { roles, .. } => Some(roles),
            _ => None,
        }
    }

    /// The highest role held on any of these namespace paths.
    fn namespace_role<'a>(&self, paths: impl Iterator<Item = &'a str>) -> Option<Role> {
        let roles = self.roles()?;
        paths.filter_map(|p| roles.namespaces.get(p).copied()).max()
    }

    /// The caller's own role on a group: the highest among memberships on it or on any group
    /// above it (admins as members only: what the `membership` and `owned` filters mean).
    pub fn group_role(&self, group_path: &str) -> Option<Role> {
        self.namespace_role(std::iter::once(group_path).chain(ancestors(group_path)))
    }

    /// The caller's own role on a project: a membership of the project itself, or of any
    /// namespace above it.
    pub fn project_role(&self, project_path: &str) -> Option<Role> {
        let own = self.roles()?.projects.get(project_path).copied();
        own.max(self.namespace_role(ancestors(project_path)))
    }

    /// A membership of something strictly inside the group (a subgroup or a project): such a
    /// member may know the group exists.
    pub fn member_inside(&self, group_path: &str) -> bool {
        self.roles()
            .is_some_and(|roles| roles.inside.contains(group_path))
    }

    fn who(&self, role: Option<Role>, member_inside: impl FnOnce() -> bool, own: bool) -> Who {
        match &self.kind {
            Kind::Anonymous => Who::Anonymous,
            Kind::Operator => Who::Operator,
            Kind::User { admin, via, .. } => Who::User {
                admin: *admin,
                role,
                member_inside: role.is_none() && !*admin && member_inside(),
                via: via.clone(),
            },
            Kind::DeployToken { scopes, .. } => Who::DeployToken {
                own,
                scopes: scopes.clone(),
            },
        }
    }

    /// The caller as the table sees it on this group.
    pub fn on_group(&self, group: &Namespace) -> Who {
        let own = match &self.kind {
            Kind::DeployToken {
                home: Home::Group(home),
                ..
            } => within(&group.full_path, home),
            _ => false,
        };
        let role = self.group_role(&group.full_path);
        let inside =
            || group.visibility == Visibility::Private && self.member_inside(&group.full_path);
        self.who(role, inside, own)
    }

    /// The caller as the table sees it on this project.
    pub fn on_project(&self, project: &Project) -> Who {
        let own = match &self.kind {
            Kind::DeployToken { home, .. } => match home {
                Home::Project(id) => *id == project.id,
                Home::Group(home) => strictly_below(&project.full_path, home),
                Home::Nowhere => false,
            },
            _ => false,
        };
        self.who(self.project_role(&project.full_path), || false, own)
    }

    /// Whether the table allows `op` on this project (the package routes' question).
    pub fn allows_on_project(&self, op: Operation, project: &Project) -> bool {
        decide(op, &self.on_project(project), project.visibility) == Decision::Allow
    }

    /// Whether the group's own page is for the caller's eyes (the table's answer for viewing
    /// it is anything but "hidden").
    pub fn sees_group_itself(&self, group: &Namespace) -> bool {
        visible(decide(
            Operation::PageView,
            &self.on_group(group),
            group.visibility,
        ))
    }

    pub fn sees_project(&self, project: &Project) -> bool {
        visible(decide(
            Operation::PageView,
            &self.on_project(project),
            project.visibility,
        ))
    }

    /// The groups the caller may know: visible by themselves, or through a project inside
    /// that the caller sees (`projects` must hold at least those below the groups asked about).
    pub fn seen_groups(&self, groups: Vec<Namespace>, projects: &[Project]) -> Vec<Namespace> {
        let itself: Vec<bool> = groups.iter().map(|g| self.sees_group_itself(g)).collect();
        if itself.iter().all(|&seen| seen) {
            return groups;
        }
        // Every group above a project the caller sees, each project walked once.
        let mut above_seen = std::collections::HashSet::new();
        for project in projects.iter().filter(|p| self.sees_project(p)) {
            above_seen.extend(ancestors(&project.full_path));
        }
        groups
            .into_iter()
            .zip(itself)
            .filter(|(g, seen)| *seen || above_seen.contains(g.full_path.as_str()))
            .map(|(g, _)| g)
            .collect()
    }
}

impl Viewer {
    /// Which groups the caller sees, for the database to apply to every group at once: each
    /// part is the table's answer (`decide`) for a kind of group, the same answers
    /// `sees_group_itself` and `seen_groups` give one group at a time.
    pub fn seen(&self) -> Seen {
        const KINDS: [Visibility; 3] = [
            Visibility::Public,
            Visibility::Internal,
            Visibility::Private,
        ];
        let sees = |who: &Who, v: Visibility| visible(decide(Operation::PageView, who, v));
        // A group where the caller holds nothing: its visibility alone decides.
        let stranger = self.who(None, || false, false);
        let visibilities: Vec<&'static str> = KINDS
            .into_iter()
            .filter(|v| sees(&stranger, *v))
            .map(Visibility::as_str)
            .collect();
        if visibilities.len() == KINDS.len() {
            return Seen {
                all: true,
                ..Seen::default()
            };
        }
        let mut seen = Seen {
            // A project seen by its visibility alone shows the groups above it; projects seen
            // through a membership lie below or inside `within`, which already shows them.
            above_projects: visibilities.clone(),
            visibilities,
            ..Seen::default()
        };
        if let Some(roles) = self.roles() {
            for (path, role) in &roles.namespaces {
                if sees(&self.who(Some(*role), || false, false), Visibility::Private) {
                    seen.within.push(path.clone());
                }
            }
            if sees(&self.who(None, || true, false), Visibility::Private) {
                seen.exact.extend(roles.inside.iter().cloned());
            }
        }
        // A deploy token sees its own group and what lies below. (A project token's project
        // path is not known here; the table lets deploy tokens know every group, so `all`
        // answered above, which `the_database_shows_what_the_table_shows` checks.)
        if let Kind::DeployToken {
            home: Home::Group(home),
            ..
        } = &self.kind
            && sees(&self.who(None, || false, true), Visibility::Private)
        {
            seen.within.push(home.clone());
        }
        seen.within.sort();
        seen.exact.sort();
        seen
    }

    /// The namespaces where the caller's own role is at least `min` (admins as members
    /// only): groups at or below them are where `membership` and `owned` lists look.
    pub fn member_paths(&self, min: Role) -> Vec<String> {
        let mut paths: Vec<String> = self
            .roles()
            .map(|roles| {
                roles
                    .namespaces
                    .iter()
                    .filter(|(_, role)| **role >= min)
                    .map(|(path, _)| path.clone())
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        paths
    }
}

fn visible(decision: Decision) -> bool {
    matches!(decision, Decision::Allow | Decision::Forbidden)
}

#[cfg(test)]
#[path = "viewer_tests.rs"]
mod tests;
