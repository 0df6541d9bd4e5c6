//! GitLab's namespaces on the API, how scripts find a `namespace_id`: the caller's own
//! namespace and the groups they may see (an admin: every namespace).

use rusqlite::Connection;

use super::directory::{self, Filters, Window};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind};

fn namespace_not_found() -> Error {
    Error::not_found("404 Namespace Not Found")
}

/// Whether the caller may see this user's personal namespace: their own, or any for an admin.
fn sees_personal(caller: &Caller, namespace: &Namespace) -> bool {
    match caller {
        Caller::User(user) => user.is_admin || namespace.owner_user_id == Some(user.user_id),
        Caller::Operator => true,
        Caller::Anonymous | Caller::DeployToken(_) => false,
    }
}

/// One page of the namespaces the caller may see (their own personal namespace, or every
/// one for an admin, first; then the groups, each by path, `search` in the path) and how
/// many there are, each part counted and cut in the database.
pub fn page(
    conn: &Connection,
    caller: &Caller,
    search: Option<String>,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let lowered = search.as_deref().map(str::to_lowercase);
    // Whose personal namespaces the caller sees: everyone's, their own, or none (the same
    // answers as `sees_personal`).
    let (personal_total, mut found) = match caller {
        Caller::User(user) if !user.is_admin => {
            let owner = Some(user.user_id);
            let (limit, offset) = (window.limit, window.offset);
            db::group_pages::personal_page(conn, owner, lowered.as_deref(), limit, offset)?
        }
        Caller::User(_) | Caller::Operator => {
            let (limit, offset) = (window.limit, window.offset);
            db::group_pages::personal_page(conn, None, lowered.as_deref(), limit, offset)?
        }
        Caller::Anonymous | Caller::DeployToken(_) => (0, Vec::new()),
    };
    let groups_window = Window {
        limit: window.limit - found.len().min(window.limit),
        offset: window.offset.saturating_sub(personal_total),
    };
    let filters = Filters {
        search,
        ..Filters::default()
    };
    // The count is wanted even when the page is full of personal namespaces.
    let (groups_total, groups) =
        directory::groups_page(conn, caller, &filters, Vec::new(), groups_window)?;
    found.extend(groups);
    Ok((personal_total + groups_total, found))
}

/// A namespace by id or full path; one the caller may not see does not exist.
pub fn get(conn: &Connection, caller: &Caller, reference: &str) -> Result<Namespace> {
    let found = match reference.parse::<i64>() {
        Ok(id) => db::namespaces::find(conn, id)?,
        Err(_) => db::namespaces::find_by_path(conn, reference.trim_matches('/'))?,
    }
    .ok_or_else(namespace_not_found)?;
    match found.kind {
        NamespaceKind::User if sees_personal(caller, &found) => Ok(found),
        NamespaceKind::User => Err(namespace_not_found()),
        NamespaceKind::Group => {
            directory::group(conn, caller, &found.id.to_string()).map_err(|_| namespace_not_found())
        }
    }
}

/// Whether `path` is taken at the top level, or (with `parent`) below a group the caller may
/// see, and free paths to take instead. At the top level a hidden group's path counts as
/// taken: creating a group there says so to anyone, so this tells nothing more. Below a
/// group only subgroups the caller may see count.
pub fn exists(
    conn: &Connection,
    caller: &Caller,
    path: &str,
    parent: Option<i64>,
) -> Result<(bool, Vec<String>)> {
    let prefix = match parent {
        Some(id) => format!(
            "{}/",
            directory::group(conn, caller, &id.to_string())?.full_path
        ),
        None => String::new(),
    };
    let taken = |candidate: &str| -> Result<bool> {
        let full = format!("{prefix}{candidate}");
        Ok(if parent.is_some() {
            directory::group(conn, caller, &full).is_ok()
        } else {
            db::namespaces::find_by_path(conn, &full)?.is_some()
        })
    };
    if !taken(path)? {
        return Ok((false, Vec::new()));
    }
    // GitLab suggests the path with the first free number after it; a bounded search.
    for n in 1..=100 {
        let candidate = format!("{path}{n}");
        if !taken(&candidate)? {
            return Ok((true, vec![candidate]));
        }
    }
    Ok((true, Vec::new()))
}

/// How many groups the "New group" and "New project" forms offer to choose from; any other
/// is typed by its full path.
pub const CREATABLE_SHOWN: usize = 100;

/// Where the caller may create, at most `CREATABLE_SHOWN` places (and `chosen`, if the caller
/// may create there): the groups that may hold a new subgroup, or the namespaces (the
/// caller's own first) that may hold a new project. What the web's "New group" and "New
/// project" forms offer; the creation itself is judged again when it happens. Candidates
/// come from the database (groups where the caller's role reaches maintainer, or every group
/// for an admin), a page at a time, each judged by the table.
pub fn creatable(
    conn: &Connection,
    caller: &Caller,
    projects: bool,
    chosen: Option<i64>,
) -> Result<Vec<Namespace>> {
    let operation = if projects {
        Operation::ProjectCreate
    } else {
        Operation::SubgroupCreate
    };
    let mut candidates = Vec::new();
    // A project may go into the caller's own namespace, offered first.
    if let (true, Caller::User(user)) = (projects, caller) {
        let own = Some(user.user_id);
        candidates.extend(db::group_pages::personal_page(conn, own, None, 1, 0)?.1);
    }
    let window = Window {
        limit: CREATABLE_SHOWN,
        offset: 0,
    };
    let (_, groups) = directory::creatable_groups(conn, caller, window)?;
    let listed = |id: i64, list: &[Namespace]| list.iter().any(|n| n.id == id);
    candidates.extend(groups);
    if let Some(id) = chosen.filter(|id| !listed(*id, &candidates))
        && let Some(namespace) = db::namespaces::find(conn, id)?
        && namespace.kind == NamespaceKind::Group
    {
        candidates.push(namespace);
    }
    let mut found = Vec::new();
    for namespace in candidates {
        let wanted = match namespace.kind {
            NamespaceKind::User => true,
            NamespaceKind::Group if projects => {
                access::allowed(conn, caller, operation, On::Namespace(&namespace))?
            }
            NamespaceKind::Group => {
                access::allowed(conn, caller, operation, On::Group(&namespace))?
            }
        };
        if wanted {
            found.push(namespace);
        }
    }
    Ok(found)
}
