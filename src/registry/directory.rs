//! Groups and projects as the management API and the web pages list them: only what the
//! caller may see, by the same rules as the package routes.

use rusqlite::Connection;

use crate::access::{self, Viewer};
use crate::auth::Caller;
use crate::db;
use crate::db::group_pages::GroupFilter;
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Role};

/// Filters of GitLab's group and project lists.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// Part of the path, any case.
    pub search: Option<String>,
    /// Only where the caller is a member (any role, inherited counts).
    pub membership: bool,
    /// Only where the caller's role is owner.
    pub owned: bool,
    /// `private`, `internal` or `public`.
    pub visibility: Option<String>,
}

impl Filters {
    /// The caller's own role where the filters ask about it (`membership`, `owned`); else
    /// none. `project` is false for a group.
    fn role(&self, viewer: &Viewer, full_path: &str, project: bool) -> Option<Role> {
        if !(self.membership || self.owned) {
            None
        } else if project {
            viewer.project_role(full_path)
        } else {
            viewer.group_role(full_path)
        }
    }

    fn admits(&self, full_path: &str, visibility: &str, role: Option<Role>) -> bool {
        self.search
            .as_deref()
            .is_none_or(|s| full_path.to_lowercase().contains(&s.to_lowercase()))
            && self.visibility.as_deref().is_none_or(|v| v == visibility)
            && (!self.membership || role.is_some())
            && (!self.owned || role == Some(Role::Owner))
    }
}

fn group_not_found() -> Error {
    Error::not_found("404 Group Not Found")
}

/// Each list below costs a constant number of queries: the caller's memberships once
/// (`Viewer`), the candidate rows once, and every decision in memory by the permission table.
pub fn groups(conn: &Connection, caller: &Caller, filters: &Filters) -> Result<Vec<Namespace>> {
    let viewer = Viewer::load(conn, caller)?;
    let candidates = db::namespaces::list_groups(conn)?
        .into_iter()
        .filter(|g| {
            let role = filters.role(&viewer, &g.full_path, false);
            filters.admits(&g.full_path, g.visibility.as_str(), role)
        })
        .collect();
    seen_groups(conn, &viewer, candidates, None)
}

/// The groups among `candidates` the viewer may know; the projects that could make one
/// visible are loaded once, and only when some group is not visible by itself.
fn seen_groups(
    conn: &Connection,
    viewer: &Viewer,
    candidates: Vec<Namespace>,
    below: Option<&str>,
) -> Result<Vec<Namespace>> {
    if candidates.iter().all(|g| viewer.sees_group_itself(g)) {
        return Ok(candidates);
    }
    let projects = match below {
        Some(path) => db::projects::list_below(conn, path)?,
        None => db::projects::list(conn)?,
    };
    Ok(viewer.seen_groups(candidates, &projects))
}

/// A group by id or full path; one the caller may not see does not exist.
pub fn group(conn: &Connection, caller: &Caller, reference: &str) -> Result<Namespace> {
    let viewer = Viewer::load(conn, caller)?;
    visible_group(conn, &viewer, access::find_group(conn, reference)?)
}

fn visible_group(conn: &Connection, viewer: &Viewer, group: Namespace) -> Result<Namespace> {
    let path = group.full_path.clone();
    seen_groups(conn, viewer, vec![group], Some(&path))?
        .pop()
        .ok_or_else(group_not_found)
}

/// A page of groups: how many to show and how many to pass over first.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: usize,
    pub offset: usize,
}

impl Filters {
    /// These filters for the database, with what the viewer sees.
    fn for_db(&self, viewer: &Viewer) -> GroupFilter {
        let only_within = if self.owned {
            Some(viewer.member_paths(Role::Owner))
        } else if self.membership {
            Some(viewer.member_paths(Role::Guest))
        } else {
            None
        };
        GroupFilter {
            seen: viewer.seen(),
            search: self.search.as_deref().map(str::to_lowercase),
            visibility: self.visibility.clone(),
            only_within,
            ..GroupFilter::default()
        }
    }
}

/// One page of the groups the caller may see (all of them, `skip` left out) and how many
/// there are: filtered, counted and cut in the database, so it costs the page and a count.
pub fn groups_page(
    conn: &Connection,
    caller: &Caller,
    filters: &Filters,
    skip: Vec<i64>,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let viewer = Viewer::load(conn, caller)?;
    let filter = GroupFilter {
        skip,
        ..filters.for_db(&viewer)
    };
    db::group_pages::page(conn, &filter, window.limit, window.offset)
}

/// One page of the groups the explore page lists: the caller's own (where they hold a role)
/// first, then the others they may see, each part by path; how many there are in all.
pub fn explore_groups(
    conn: &Connection,
    caller: &Caller,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let viewer = Viewer::load(conn, caller)?;
    let mine = viewer.member_paths(Role::Guest);
    let everything = Filters::default().for_db(&viewer);
    let (mine_total, mut found) = if mine.is_empty() {
        (0, Vec::new())
    } else {
        let filter = GroupFilter {
            only_within: Some(mine.clone()),
            ..everything.clone()
        };
        db::group_pages::page(conn, &filter, window.limit, window.offset)?
    };
    let filter = GroupFilter {
        not_within: (!mine.is_empty()).then_some(mine),
        ..everything
    };
    let rest = window.limit - found.len().min(window.limit);
    let offset = window.offset.saturating_sub(mine_total);
    let (others_total, others) = db::group_pages::page(conn, &filter, rest, offset)?;
    found.extend(others);
    Ok((mine_total + others_total, found))
}

/// A page of the groups where the caller may be able to create (their role there reaches
/// maintainer; every group for an admin or the operator), by path: candidates for the
/// "New group" and "New project" forms, which the table still judges one by one.
pub fn creatable_groups(
    conn: &Connection,
    caller: &Caller,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let viewer = Viewer::load(conn, caller)?;
    let mut filter = Filters::default().for_db(&viewer);
    let everywhere = match caller {
        Caller::User(user) => user.is_admin,
        Caller::Operator => true,
        Caller::Anonymous | Caller::DeployToken(_) => false,
    };
    if !everywhere {
        filter.only_within = Some(viewer.member_paths(Role::Maintainer));
    }
    db::group_pages::page(conn, &filter, window.limit, window.offset)
}

/// One page of the direct subgroups the caller may see, and how many there are.
pub fn subgroups_page(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
    filters: &Filters,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let viewer = Viewer::load(conn, caller)?;
    let parent = visible_group(conn, &viewer, access::find_group(conn, reference)?)?;
    let filter = GroupFilter {
        parent: Some(parent.id),
        ..filters.for_db(&viewer)
    };
    db::group_pages::page(conn, &filter, window.limit, window.offset)
}

/// One page of the subgroups at any depth below the group that the caller may see (the
/// full_path range `path/` .. `path0`), and how many there are.
pub fn descendants_page(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
    search: Option<&str>,
    window: Window,
) -> Result<(usize, Vec<Namespace>)> {
    let viewer = Viewer::load(conn, caller)?;
    let parent = visible_group(conn, &viewer, access::find_group(conn, reference)?)?;
    let filters = Filters {
        search: search.map(str::to_string),
        ..Filters::default()
    };
    let filter = GroupFilter {
        below: Some(parent.full_path.clone()),
        ..filters.for_db(&viewer)
    };
    db::group_pages::page(conn, &filter, window.limit, window.offset)
}

/// The groups a project the caller may see lies in, the top-level group first.
pub fn project_groups(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
) -> Result<Vec<Namespace>> {
    let project = project(conn, caller, reference)?;
    let viewer = Viewer::load(conn, caller)?;
    let above = db::namespaces::list_groups(conn)?
        .into_iter()
        .filter(|g| project.full_path.starts_with(&format!("{}/", g.full_path)))
        .collect();
    seen_groups(conn, &viewer, above, None)
}

/// Projects the caller may see: all of them, or those of one group (and, with
/// `include_subgroups`, of its subgroups).
pub fn projects(
    conn: &Connection,
    caller: &Caller,
    filters: &Filters,
    within: Option<(&str, bool)>,
) -> Result<Vec<Project>> {
    let viewer = Viewer::load(conn, caller)?;
    let candidates = match within {
        None => db::projects::list(conn)?,
        Some((reference, include_subgroups)) => {
            let parent = visible_group(conn, &viewer, access::find_group(conn, reference)?)?;
            db::projects::list_below(conn, &parent.full_path)?
                .into_iter()
                .filter(|p| include_subgroups || p.namespace_id == parent.id)
                .collect()
        }
    };
    Ok(candidates
        .into_iter()
        .filter(|p| {
            let role = filters.role(&viewer, &p.full_path, true);
            filters.admits(&p.full_path, p.visibility.as_str(), role) && viewer.sees_project(p)
        })
        .collect())
}

/// A project by id or full path; one the caller may not see does not exist.
pub fn project(conn: &Connection, caller: &Caller, reference: &str) -> Result<Project> {
    let project = access::find_project(conn, reference)?;
    if access::sees_project(conn, caller, &project)? {
        Ok(project)
    } else {
        Err(Error::not_found("404 Project Not Found"))
    }
}

/// The namespace a project lives in (for its JSON).
pub fn namespace_of(conn: &Connection, project: &Project) -> Result<Namespace> {
    db::namespaces::find(conn, project.namespace_id)?
        .ok_or_else(|| Error::internal("project without namespace"))
}

/// What a web address names: a project or a group the caller may see.
#[derive(Debug)]
pub enum Place {
    Project(access::ProjectReader),
    Group(access::GroupReader),
}

/// The project or group at `full_path` (a project wins: paths are unique across both). One the
/// caller may not see answers as the package routes do: 401 to the anonymous, else 404.
pub fn place(conn: &Connection, caller: &Caller, full_path: &str) -> Result<Place> {
    // One answer for a hidden project, a hidden group and nothing at all: the kind in the
    // words ("Project" or "Group") would tell which paths hold a private project.
    let unseen = |error: Error| match error {
        Error::NotFound(_) | Error::PlaceNotFound(_) => place_not_found(),
        other => other,
    };
    if let Some(project) = db::projects::find_by_path(conn, full_path)? {
        return Ok(Place::Project(
            access::read_project(conn, caller, project).map_err(unseen)?,
        ));
    }
    let group = db::namespaces::find_by_path(conn, full_path)?
        .filter(|ns| ns.kind == crate::model::NamespaceKind::Group)
        .ok_or_else(place_not_found)?;
    Ok(Place::Group(
        access::read_group(conn, caller, group).map_err(unseen)?,
    ))
}

fn place_not_found() -> Error {
    Error::PlaceNotFound("404 Not Found")
}

/// Either a project or a group, found by full path (a project and a group never share one).
pub enum Target {
    Project(Project),
    Group(Namespace),
}

/// Finds a group or project by full path whoever asks: for the command line, whose operator
/// may know everything (everyone else goes through `group`, `project` and `place`).
pub fn find_target(conn: &Connection, full_path: &str) -> Result<Target> {
    let path = full_path.trim_matches('/');
    if let Some(project) = db::projects::find_by_path(conn, path)? {
        return Ok(Target::Project(project));
    }
    match db::namespaces::find_by_path(conn, path)? {
        Some(ns) if ns.kind == NamespaceKind::Group => Ok(Target::Group(ns)),
        Some(_) => Err(Error::bad_request(format!(
            "\"{path}\" is a user's personal namespace, not a group or project"
        ))),
        None => Err(Error::not_found(format!(
            "no group or project at \"{path}\""
        ))),
    }
}
