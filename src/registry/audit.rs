//! The audit trail: every change records who made it, what it is about and from which address;
//! admins read all of it, a group's owners their group's, a project's maintainers their project's.

use std::cell::Cell;
use std::net::IpAddr;

use rusqlite::Connection;

use super::directory::{self, Target};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db::audit::{EntityType, EventRow, Filter, NewEvent, Scope};
use crate::db::{self, Db, now_millis};
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind};

thread_local! {
    /// The client of the request this thread is serving (see [`from_client`]).
    static CLIENT: Cell<Option<IpAddr>> = const { Cell::new(None) };
}

/// Runs `work` for a request from `client`: every event it records carries that address.
/// The address is known where a request's database work starts (`routes::RequestAuth` and the
/// web pages' `visit`), the events are recorded many calls deeper, and that work runs on one
/// blocking thread; a scoped thread-local carries the address there instead of every service
/// taking it as a parameter. It is put back afterwards, so a pooled thread never lends one
/// request's address to the next.
pub fn from_client<T>(client: Option<IpAddr>, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<IpAddr>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CLIENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CLIENT.with(|c| c.replace(client)));
    work()
}

/// What an event is about: the user, group or project whose trail it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// The instance as a whole (nothing narrower).
    Nothing,
    User(i64),
    Group(i64),
    Project(i64),
}

impl About {
    /// A group, or for a personal namespace its user.
    pub fn namespace(namespace: &Namespace) -> About {
        match (namespace.kind, namespace.owner_user_id) {
            (NamespaceKind::User, Some(user)) => About::User(user),
            (NamespaceKind::User, None) => About::Nothing,
            (NamespaceKind::Group, _) => About::Group(namespace.id),
        }
    }

    /// The project or group a membership, token or setting belongs to.
    pub fn target(target: &Target) -> About {
        match target {
            Target::Project(project) => About::Project(project.id),
            Target::Group(group) => About::namespace(group),
        }
    }

    fn entity(self) -> Option<(EntityType, i64)> {
        match self {
            About::Nothing => None,
            About::User(id) => Some((EntityType::User, id)),
            About::Group(id) => Some((EntityType::Group, id)),
            About::Project(id) => Some((EntityType::Project, id)),
        }
    }
}

/// Records that `caller` did `action` to `target` (text that names it: a path, a file).
pub fn record(
    conn: &Connection,
    caller: &Caller,
    action: &str,
    about: About,
    target: &str,
) -> Result<()> {
    record_with(conn, caller, action, about, target, None)
}

/// [`record`], with what else the change said (a JSON object: the old and new value, …).
pub fn record_with(
    conn: &Connection,
    caller: &Caller,
    action: &str,
    about: About,
    target: &str,
    details: Option<serde_json::Value>,
) -> Result<()> {
    let author_id = match caller {
        Caller::User(user) => Some(user.user_id),
        _ => None,
    };
    insert(
        conn,
        &caller.actor(),
        author_id,
        action,
        about,
        target,
        details,
    )
}

fn insert(
    conn: &Connection,
    actor: &str,
    author_id: Option<i64>,
    action: &str,
    about: About,
    target: &str,
    details: Option<serde_json::Value>,
) -> Result<()> {
    let ip_address = CLIENT.with(Cell::get).map(|ip| ip.to_string());
    let details = details.map(|d| d.to_string());
    let target = bounded(target);
    db::audit::insert(
        conn,
        &NewEvent {
            actor,
            author_id,
            action,
            target: &target,
            entity: about.entity(),
            ip_address: ip_address.as_deref(),
            details: details.as_deref(),
            created_at: now_millis(),
        },
    )
}

/// Targets are kept to this many characters: some hold text a user typed (a token's name,
/// a failed sign-in's username), and one event must not store megabytes of it.
const MAX_TARGET_CHARS: usize = 300;

/// `target`, cut to [`MAX_TARGET_CHARS`] (an ellipsis saying it was cut).
fn bounded(target: &str) -> std::borrow::Cow<'_, str> {
    match target.char_indices().nth(MAX_TARGET_CHARS) {
        None => target.into(),
        Some((end, _)) => format!("{}…", &target[..end]).into(),
    }
}

/// A web sign-in that failed (wrong password, unknown or blocked user): recorded against the
/// account it named, when there is one, so its owner and admins see guessing. Failed API
/// credentials are not recorded (a stale CI token would flood the trail; the throttle counts
/// them).
pub fn record_failed_sign_in(conn: &Connection, username: &str) -> Result<()> {
    let username = username.trim();
    let account = db::users::find_by_name(conn, username)?;
    let about = account
        .as_ref()
        .map_or(About::Nothing, |u| About::User(u.id));
    let target: String = username.chars().take(100).collect();
    insert(
        conn,
        "anonymous",
        None,
        "session.fail",
        about,
        &target,
        Some(serde_json::json!({"failed_login": "STANDARD"})),
    )
}

/// Which page of a listing (1-based) and how long one is (GitLab's default 20, at most 100).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: usize,
    pub size: usize,
}

impl Page {
    pub fn new(number: Option<usize>, size: Option<usize>) -> Page {
        Page {
            number: number.unwrap_or(1).max(1),
            size: size.unwrap_or(20).clamp(1, 100),
        }
    }
}

/// One page of events, newest first, and how many pass the filter in all.
pub type Listing = (Vec<EventRow>, i64);

fn list_in(conn: &Connection, scope: &Scope, filter: &Filter, page: Page) -> Result<Listing> {
    let offset = (page.number - 1).saturating_mul(page.size);
    db::audit::list(
        conn,
        scope,
        filter,
        page.size as i64,
        i64::try_from(offset).unwrap_or(i64::MAX),
    )
}

fn not_found() -> Error {
    Error::not_found("404 Audit Event Not Found")
}

/// Whose trail is read: the whole instance (admins and the command line), a group with the
/// subgroups and projects under it now (owners), or one project (maintainers and up).
#[derive(Debug, Clone)]
pub enum Trail {
    Instance,
    Group(String),
    Project(String),
}

impl Trail {
    /// The events `caller` asks for, judged once by the permission table.
    fn scope(&self, conn: &Connection, caller: &Caller) -> Result<Scope> {
        Ok(match self {
            Trail::Instance => {
                access::judge(conn, caller, Operation::AuditList, On::Nothing)?;
                Scope::Everything
            }
            Trail::Group(reference) => {
                let group = directory::group(conn, caller, reference)?;
                access::judge(conn, caller, Operation::AuditGroup, On::Group(&group))?;
                Scope::Group {
                    id: group.id,
                    full_path: group.full_path,
                }
            }
            Trail::Project(reference) => {
                let project = directory::project(conn, caller, reference)?;
                access::judge(conn, caller, Operation::AuditProject, On::Project(&project))?;
                Scope::Project(project.id)
            }
        })
    }
}

/// One page of a trail, newest first.
pub fn list(
    conn: &Connection,
    caller: &Caller,
    trail: &Trail,
    filter: &Filter,
    page: Page,
) -> Result<Listing> {
    let scope = trail.scope(conn, caller)?;
    list_in(conn, &scope, filter, page)
}

/// One event of a trail; an event outside it is as missing as one that never was.
pub fn get(conn: &Connection, caller: &Caller, trail: &Trail, id: i64) -> Result<EventRow> {
    let scope = trail.scope(conn, caller)?;
    db::audit::find(conn, &scope, id)?.ok_or_else(not_found)
}

/// A time given on the command line, the API or the web page: a day (`2026-11-30`, its start
/// in UTC) or an ISO 8601 / RFC 3339 time (`2026-11-30T12:00:00Z`); unix milliseconds.
pub fn parse_time(text: &str) -> Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    let bad = || {
        Error::bad_request(format!(
            "400 Bad request - \"{text}\" is not a date (YYYY-MM-DD) or an ISO 8601 time \
             (YYYY-MM-DDTHH:MM:SSZ)"
        ))
    };
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok((at.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let day = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| bad())?;
    Ok(day.midnight().assume_utc().unix_timestamp() * 1000)
}

/// How events name an actor, from what a person types: a username stands for `user:NAME`;
/// `cli`, `anonymous` and `kind:name` forms are taken as they are.
pub fn actor_of(text: &str) -> String {
    let text = text.trim();
    if text.contains(':') || text == "cli" || text == "anonymous" {
        text.to_owned()
    } else {
        format!("user:{text}")
    }
}

/// Events are pruned this many at a time, each batch its own short write.
const PRUNE_BATCH: i64 = 500;

/// Deletes events older than `retention_days` before `now` (unix milliseconds); 0 keeps every
/// event. Each batch takes a connection and gives it back, so pruning a long backlog never
/// keeps others from writing for long. Returns how many were deleted.
pub fn prune(db: &Db, retention_days: u32, now: i64) -> Result<usize> {
    if retention_days == 0 {
        return Ok(0);
    }
    let cutoff = now - i64::from(retention_days) * 86_400_000;
    let mut total = 0;
    loop {
        let deleted = db::audit::prune_before(&*db.get()?, cutoff, PRUNE_BATCH)?;
        total += deleted;
        if (deleted as i64) < PRUNE_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_days_and_iso_times() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00").unwrap(), 0);
        let err = parse_time("yesterday").unwrap_err().to_string();
        assert!(err.contains("\"yesterday\" is not a date"), "{err}");
        assert!(parse_time("2026-13-01").is_err());
    }

    #[test]
    fn a_username_names_a_user_actor() {
        assert_eq!(actor_of("alice"), "user:alice");
        assert_eq!(actor_of(" cli "), "cli");
        assert_eq!(
            actor_of("deploy-token:gitlab+deploy-token-1"),
            "deploy-token:gitlab+deploy-token-1"
        );
    }

    #[test]
    fn pages_start_at_one_and_hold_at_most_a_hundred() {
        let page = Page::new(Some(0), Some(1000));
        assert_eq!((page.number, page.size), (1, 100));
        let page = Page::new(None, None);
        assert_eq!((page.number, page.size), (1, 20));
    }

    #[test]
    fn long_targets_are_cut() {
        assert_eq!(bounded("acme/tools"), "acme/tools");
        let long = "é".repeat(MAX_TARGET_CHARS + 10);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_TARGET_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            bounded(&long[..MAX_TARGET_CHARS * 2]).chars().count(),
            MAX_TARGET_CHARS
        );
    }

    #[test]
    fn the_client_address_is_scoped_to_the_work() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let inside = from_client(Some(ip), || CLIENT.with(Cell::get));
        assert_eq!(inside, Some(ip));
        assert_eq!(CLIENT.with(Cell::get), None);
    }
}
