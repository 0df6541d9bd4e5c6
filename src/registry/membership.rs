//! Members of projects and groups, for the API, the web and the command line alike: each
//! operation judged by the permission table and by the rules that keep owners in control.

use rusqlite::Connection;

use super::audit::{self, About};
use super::directory::{Target, Window};
use crate::access::{self, MemberDecision, On, Operation};
use crate::auth::Caller;
use crate::db;
use crate::db::bots::Home;
use crate::db::members::Source;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Namespace, Role, User};

/// A project or group by id or full path, if the caller may see it.
pub fn target(
    conn: &Connection,
    caller: &Caller,
    is_group: bool,
    reference: &str,
) -> Result<Target> {
    Ok(if is_group {
        Target::Group(super::directory::group(conn, caller, reference)?)
    } else {
        Target::Project(super::directory::project(conn, caller, reference)?)
    })
}

fn source(target: &Target) -> (Source, i64, Option<i64>) {
    match target {
        Target::Project(p) => (Source::Project(p.id), p.namespace_id, Some(p.id)),
        Target::Group(g) => (Source::Namespace(g.id), g.id, None),
    }
}

/// The place as a bot's home names it.
pub(super) fn home(target: &Target) -> Home {
    match target {
        Target::Project(p) => Home::Project(p.id),
        Target::Group(g) => Home::Group(g.id),
    }
}

pub fn label(target: &Target) -> &str {
    match target {
        Target::Project(p) => &p.full_path,
        Target::Group(g) => &g.full_path,
    }
}

/// Direct members, or (`inherited`) everyone with a role through the groups above too.
pub fn list(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    inherited: bool,
) -> Result<Vec<(User, Role)>> {
    access::judge(conn, caller, Operation::MembersList, on(target))?;
    listed(conn, target, inherited)
}

/// One page of the direct members, or (`inherited`) of everyone with a role through the
/// groups above too; `only` these users if any. How many there are, and the page.
pub fn page(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    inherited: bool,
    only: &[i64],
    window: Window,
) -> Result<(usize, Vec<(User, Role)>)> {
    access::judge(conn, caller, Operation::MembersList, on(target))?;
    let (direct, namespace_id, project_id) = source(target);
    let (limit, offset) = (window.limit, window.offset);
    if inherited {
        db::member_pages::inherited(conn, namespace_id, project_id, only, limit, offset)
    } else {
        db::member_pages::direct(conn, direct, only, limit, offset)
    }
}

/// One member, direct or (`inherited`) through the groups above too, as `page` finds them.
pub fn get(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    user_id: i64,
    inherited: bool,
) -> Result<(User, Role)> {
    let one = Window {
        limit: 1,
        offset: 0,
    };
    page(conn, caller, target, inherited, &[user_id], one)?
        .1
        .pop()
        .ok_or_else(member_not_found)
}

/// One page of the direct members a group's web page shows to whoever may see the page, by
/// username, and how many there are.
pub fn page_on_page(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    window: Window,
) -> Result<(usize, Vec<(User, Role)>)> {
    access::judge(conn, caller, Operation::PageView, on(target))?;
    let (direct, _, _) = source(target);
    db::member_pages::direct(conn, direct, &[], window.limit, window.offset)
}

fn listed(conn: &Connection, target: &Target, inherited: bool) -> Result<Vec<(User, Role)>> {
    let (direct, namespace_id, project_id) = source(target);
    if inherited {
        db::members::list_inherited(conn, namespace_id, project_id)
    } else {
        db::members::list(conn, direct)
    }
}

fn member_not_found() -> Error {
    Error::not_found("404 Member Not Found")
}

/// Adds (`must_exist: false`) or changes (`true`) a direct member's role. Judged by the
/// permission table (maintainers and up, or the operator) and by `member_change`: nobody
/// reaches a member or a role above their own, and a group keeps an owner.
pub fn set(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    user_id: i64,
    role: Role,
    must_exist: bool,
) -> Result<(User, Role)> {
    let op = if must_exist {
        Operation::MembersChange
    } else {
        Operation::MembersAdd
    };
    access::judge(conn, caller, op, on(target))?;
    let (direct, _, _) = source(target);
    let user =
        db::users::find(conn, user_id)?.ok_or_else(|| Error::not_found("404 User Not Found"))?;
    match (db::members::direct_role(conn, direct, user_id)?, must_exist) {
        (None, true) => return Err(member_not_found()),
        (Some(_), false) => return Err(Error::conflict("Member already exists")),
        _ => {}
    }
    access::bots::may_join(conn, user_id, home(target))?;
    check_change(conn, caller, target, user_id, Some(role))?;
    let tx = conn.unchecked_transaction()?;
    db::members::upsert(&tx, direct, user_id, role, now_millis())?;
    let what = format!("{} {} {}", label(target), user.username, role.as_str());
    let action = if must_exist {
        "member.change"
    } else {
        "member.add"
    };
    audit::record(&tx, caller, action, About::target(target), &what)?;
    tx.commit()?;
    Ok((user, role))
}

pub fn remove(conn: &Connection, caller: &Caller, target: &Target, user_id: i64) -> Result<()> {
    access::judge(conn, caller, Operation::MembersRemove, on(target))?;
    let (direct, _, _) = source(target);
    db::members::direct_role(conn, direct, user_id)?.ok_or_else(member_not_found)?;
    check_change(conn, caller, target, user_id, None)?;
    let name = db::users::find(conn, user_id)?.map_or_else(|| user_id.to_string(), |u| u.username);
    let tx = conn.unchecked_transaction()?;
    db::members::delete(&tx, direct, user_id)?;
    let what = format!("{} {name}", label(target));
    audit::record(&tx, caller, "member.remove", About::target(target), &what)?;
    tx.commit()?;
    Ok(())
}

/// What the permission table judges for this target.
pub fn on(target: &Target) -> On<'_> {
    match target {
        Target::Project(p) => On::Project(p),
        Target::Group(g) => On::Group(g),
    }
}

/// The rules beyond the table's row (`access::member_change`), from the roles as they are now.
fn check_change(
    conn: &Connection,
    caller: &Caller,
    target: &Target,
    user_id: i64,
    new: Option<Role>,
) -> Result<()> {
    let (direct, _, _) = source(target);
    let actor = match caller {
        Caller::Operator => None,
        _ => access::role_on(conn, caller, on(target))?,
    };
    let current = current_role(conn, target, user_id)?;
    let other_owners = match target {
        Target::Project(_) => None,
        Target::Group(group) => Some(other_owners(conn, group, user_id)?),
    };
    let direct_now = db::members::direct_role(conn, direct, user_id)?;
    match access::member_change(actor, current, new, direct_now, other_owners) {
        MemberDecision::Allow => Ok(()),
        MemberDecision::Forbidden(what) => Err(Error::forbidden(format!(
            "403 Forbidden: you cannot change or remove {what}"
        ))),
        MemberDecision::LastOwner => Err(Error::conflict(format!(
            "409 Conflict: \"{}\" would be left without an owner; make another member an \
             owner first",
            label(target)
        ))),
    }
}

/// A member's current role on the target, for `member_change`. It counts what they inherit
/// too: a group's owner is an owner of every project inside, whatever their direct role there.
pub(super) fn current_role(
    conn: &Connection,
    target: &Target,
    user_id: i64,
) -> Result<Option<Role>> {
    let (direct, namespace_id, project_id) = source(target);
    Ok(
        db::members::highest_role(conn, user_id, namespace_id, project_id)?
            .max(db::members::direct_role(conn, direct, user_id)?),
    )
}

/// The group's owners apart from this member's direct membership: the other owners
/// (inherited ones included), and the member too when a parent group makes them an owner.
fn other_owners(conn: &Connection, group: &Namespace, user_id: i64) -> Result<usize> {
    let others = db::members::list_inherited(conn, group.id, None)?
        .into_iter()
        .filter(|(user, role)| user.id != user_id && *role == Role::Owner)
        .count();
    let inherited = match group.parent_id {
        Some(parent) => db::members::highest_role(conn, user_id, parent, None)?,
        None => None,
    };
    Ok(others + usize::from(inherited == Some(Role::Owner)))
}

/// Adds or changes a member of the project or group at `full_path`, named by username (the
/// command line's form of `set`).
pub fn put_by_name(
    conn: &Connection,
    caller: &Caller,
    full_path: &str,
    username: &str,
    role: Role,
) -> Result<()> {
    let target = super::directory::find_target(conn, full_path)?;
    let user = user_named(conn, username)?;
    let (direct, _, _) = source(&target);
    let exists = db::members::direct_role(conn, direct, user.id)?.is_some();
    set(conn, caller, &target, user.id, role, exists).map(|_| ())
}

/// Removes a direct member, named by username (the command line's form of `remove`).
pub fn remove_by_name(
    conn: &Connection,
    caller: &Caller,
    full_path: &str,
    username: &str,
) -> Result<()> {
    let target = super::directory::find_target(conn, full_path)?;
    let user = user_named(conn, username)?;
    remove(conn, caller, &target, user.id).map_err(|e| match e {
        Error::NotFound(_) => Error::not_found(format!(
            "\"{username}\" is not a direct member of \"{full_path}\""
        )),
        other => other,
    })
}

fn user_named(conn: &Connection, username: &str) -> Result<User> {
    db::users::find_by_name(conn, username)?
        .ok_or_else(|| Error::not_found(format!("no user named \"{username}\"")))
}
