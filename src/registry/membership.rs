//! Members of projects and groups through the management API.

use rusqlite::Connection;

use super::admin::Target;
use crate::access::{self, ApiUser};
use crate::db;
use crate::db::members::Source;
use crate::db::now_millis;
use crate::error::{Error, Result};
use crate::model::{Role, User};

/// A project or group by id or full path, if the caller may see it.
pub fn target(conn: &Connection, api: &ApiUser, is_group: bool, reference: &str) -> Result<Target> {
    if is_group {
        let group = super::directory::group(conn, &api.caller(), reference)?;
        Ok(Target::Group(group))
    } else {
        Ok(Target::Project(super::directory::project(
            conn,
            &api.caller(),
            reference,
        )?))
    }
}

fn source(target: &Target) -> (Source, i64, Option<i64>) {
    match target {
        Target::Project(p) => (Source::Project(p.id), p.namespace_id, Some(p.id)),
        Target::Group(g) => (Source::Namespace(g.id), g.id, None),
    }
}

/// The caller's right to change the target's settings (maintainers and up).
pub fn maintainer(
    conn: &Connection,
    api: &ApiUser,
    target: &Target,
) -> Result<access::TargetMaintainer> {
    let (_, namespace_id, project_id) = source(target);
    access::api_maintain(conn, api, namespace_id, project_id)
}

pub fn label(target: &Target) -> &str {
    match target {
        Target::Project(p) => &p.full_path,
        Target::Group(g) => &g.full_path,
    }
}

/// Direct members, or (`inherited`) everyone with a role through the groups above too.
pub fn list(conn: &Connection, target: &Target, inherited: bool) -> Result<Vec<(User, Role)>> {
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

/// Adds (`must_exist: false`) or changes (`true`) a direct member's role.
pub fn set(
    conn: &Connection,
    api: &ApiUser,
    target: &Target,
    user_id: i64,
    role: Role,
    must_exist: bool,
) -> Result<(User, Role)> {
    let (direct, namespace_id, project_id) = source(target);
    let manager = access::api_maintain(conn, api, namespace_id, project_id)?;
    if !manager.may_grant(role) {
        return Err(Error::forbidden("403 Forbidden: only owners make owners"));
    }
    let user =
        db::users::find(conn, user_id)?.ok_or_else(|| Error::not_found("404 User Not Found"))?;
    match (db::members::direct_role(conn, direct, user_id)?, must_exist) {
        (None, true) => return Err(member_not_found()),
        (Some(_), false) => return Err(Error::conflict("Member already exists")),
        _ => {}
    }
    db::members::upsert(conn, direct, user_id, role, now_millis())?;
    let what = format!("{} {} {}", label(target), user.username, role.as_str());
    db::packages::insert_audit(conn, manager.actor(), "member.set", &what, now_millis())?;
    Ok((user, role))
}

pub fn remove(conn: &Connection, api: &ApiUser, target: &Target, user_id: i64) -> Result<()> {
    let (direct, namespace_id, project_id) = source(target);
    let manager = access::api_maintain(conn, api, namespace_id, project_id)?;
    let current = db::members::direct_role(conn, direct, user_id)?.ok_or_else(member_not_found)?;
    if !manager.may_grant(current) {
        return Err(Error::forbidden("403 Forbidden: only owners remove owners"));
    }
    db::members::delete(conn, direct, user_id)?;
    let what = format!("{} user {user_id}", label(target));
    db::packages::insert_audit(conn, manager.actor(), "member.remove", &what, now_millis())
}
