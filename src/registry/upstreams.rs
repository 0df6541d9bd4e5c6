//! A top-level group's upstream indexes and name rules, for the API, the web and the command
//! line alike: owners (or the operator) only, judged by the permission table. No answer of
//! this service carries an upstream's password.

use rusqlite::{Connection, TransactionBehavior};

use super::audit::{self, About};
use super::directory;
use super::validate::{check_cache_hours, check_credentials, check_url};
use crate::access::{self, On, Operation};
use crate::auth::Caller;
use crate::db::now_millis;
use crate::db::upstreams::{self as store, Rule, RuleKind, Upstream};
use crate::error::{Error, Result};
use crate::model::Namespace;
use crate::upstream::rules::normalize_pattern;

/// How many upstreams one group may ask, in turn, for a name: each is a request on a miss.
pub const MAX_UPSTREAMS: usize = 20;
/// How many name rules one group may hold: every upstream lookup checks them all.
pub const MAX_RULES: usize = 1000;
/// The freshness window of a cached page unless the owner says otherwise (GitLab's default).
pub const DEFAULT_CACHE_HOURS: i64 = 24;
/// A year: longer would mean never revalidating.
pub const MAX_CACHE_HOURS: i64 = 8760;

/// An upstream as this service shows it: whether it has a password, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamEntry {
    pub id: i64,
    pub group_id: i64,
    pub position: i64,
    pub url: String,
    pub username: Option<String>,
    pub has_password: bool,
    pub cache_hours: i64,
    pub created_at: i64,
}

impl From<Upstream> for UpstreamEntry {
    fn from(u: Upstream) -> UpstreamEntry {
        UpstreamEntry {
            id: u.id,
            group_id: u.group_id,
            position: u.position,
            url: u.url,
            username: u.username,
            has_password: u.password.is_some(),
            cache_hours: u.cache_hours,
            created_at: u.created_at,
        }
    }
}

/// A new upstream as asked for: checked by [`add`].
#[derive(Debug, Clone, Default)]
pub struct UpstreamInput {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub cache_hours: Option<i64>,
}

/// A change to an upstream: `None` leaves a field as it is. Credentials change together: an
/// empty username and password remove them.
#[derive(Debug, Clone, Default)]
pub struct UpstreamChange {
    pub cache_hours: Option<i64>,
    pub position: Option<i64>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The group a request names, if the caller may do `op` there and it is a top-level group.
/// The caller's rights are judged before the group's level, so a subgroup's 400 tells only
/// its owners which group to ask.
fn top_level(
    conn: &Connection,
    caller: &Caller,
    reference: &str,
    op: Operation,
) -> Result<Namespace> {
    let group = directory::group(conn, caller, reference)?;
    access::judge(conn, caller, op, On::Group(&group))?;
    if group.parent_id.is_some() {
        let root = group.full_path.split('/').next().unwrap_or_default();
        return Err(Error::bad_request(format!(
            "400 Bad request - upstreams are set on the top-level group {root}; its subgroups \
             use them"
        )));
    }
    Ok(group)
}

fn upstream_not_found() -> Error {
    Error::not_found("404 Upstream Not Found")
}

/// A group's upstreams in the order they are asked.
pub fn list(conn: &Connection, caller: &Caller, group: &str) -> Result<Vec<UpstreamEntry>> {
    let group = top_level(conn, caller, group, Operation::UpstreamsList)?;
    Ok(store::list(conn, group.id)?
        .into_iter()
        .map(UpstreamEntry::from)
        .collect())
}

pub fn show(conn: &Connection, caller: &Caller, group: &str, id: i64) -> Result<UpstreamEntry> {
    let group = top_level(conn, caller, group, Operation::UpstreamsList)?;
    let found = store::find(conn, group.id, id)?.ok_or_else(upstream_not_found)?;
    Ok(found.into())
}

/// Adds an upstream after the group's others.
pub fn add(
    conn: &mut Connection,
    caller: &Caller,
    group: &str,
    input: &UpstreamInput,
) -> Result<UpstreamEntry> {
    let group = top_level(conn, caller, group, Operation::UpstreamsManage)?;
    let url = check_url(&input.url)?;
    let (username, password) = check_credentials(input.username(), input.password())?;
    let cache_hours = check_cache_hours(input.cache_hours.unwrap_or(DEFAULT_CACHE_HOURS))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if store::list(&tx, group.id)?.len() >= MAX_UPSTREAMS {
        return Err(Error::bad_request(format!(
            "400 Bad request - a group has at most {MAX_UPSTREAMS} upstreams"
        )));
    }
    let new = store::NewUpstream {
        url: &url,
        username: username.as_deref(),
        password: password.as_deref(),
        cache_hours,
    };
    let now = now_millis();
    let id = store::insert(&tx, group.id, &new, now)?;
    let what = format!("{} {url}", group.full_path);
    audit::record(&tx, caller, "upstream.add", About::Group(group.id), &what)?;
    let added = store::find(&tx, group.id, id)?.ok_or_else(upstream_not_found)?;
    tx.commit()?;
    Ok(added.into())
}

/// Changes an upstream's freshness window, place in the order, or credentials.
pub fn update(
    conn: &mut Connection,
    caller: &Caller,
    group: &str,
    id: i64,
    change: &UpstreamChange,
) -> Result<UpstreamEntry> {
    let group = top_level(conn, caller, group, Operation::UpstreamsManage)?;
    let cache_hours = change.cache_hours.map(check_cache_hours).transpose()?;
    let credentials = if change.username.is_some() || change.password.is_some() {
        Some(check_credentials(
            change.username.as_deref(),
            change.password.as_deref(),
        )?)
    } else {
        None
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let all = store::list(&tx, group.id)?;
    let upstream = all
        .iter()
        .find(|u| u.id == id)
        .ok_or_else(upstream_not_found)?;
    let pair = credentials
        .as_ref()
        .map(|(u, p)| (u.as_deref(), p.as_deref()));
    store::update(&tx, group.id, id, cache_hours, pair)?;
    if let Some(position) = change.position {
        let count = all.len() as i64;
        if !(1..=count).contains(&position) {
            return Err(Error::bad_request(format!(
                "400 Bad request - position must be between 1 and {count}"
            )));
        }
        let mut order: Vec<i64> = all.iter().map(|u| u.id).filter(|&u| u != id).collect();
        order.insert(position as usize - 1, id);
        store::set_order(&tx, group.id, &order)?;
    }
    let what = format!("{} {}", group.full_path, upstream.url);
    audit::record(
        &tx,
        caller,
        "upstream.update",
        About::Group(group.id),
        &what,
    )?;
    let changed = store::find(&tx, group.id, id)?.ok_or_else(upstream_not_found)?;
    tx.commit()?;
    Ok(changed.into())
}

/// Removes an upstream (its cached pages go with it; cached files stay until evicted).
pub fn remove(
    conn: &mut Connection,
    caller: &Caller,
    group: &str,
    id: i64,
) -> Result<UpstreamEntry> {
    let group = top_level(conn, caller, group, Operation::UpstreamsManage)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let upstream = store::find(&tx, group.id, id)?.ok_or_else(upstream_not_found)?;
    store::delete(&tx, group.id, id)?;
    // The others keep their order, numbered without the gap.
    let rest: Vec<i64> = store::list(&tx, group.id)?.iter().map(|u| u.id).collect();
    store::set_order(&tx, group.id, &rest)?;
    let what = format!("{} {}", group.full_path, upstream.url);
    audit::record(
        &tx,
        caller,
        "upstream.remove",
        About::Group(group.id),
        &what,
    )?;
    tx.commit()?;
    Ok(upstream.into())
}

/// The id of a group's upstream named by id or by URL (as the command line names them).
pub fn id_of(conn: &Connection, caller: &Caller, group: &str, id_or_url: &str) -> Result<i64> {
    if let Ok(id) = id_or_url.parse::<i64>() {
        return Ok(id);
    }
    let url = check_url(id_or_url)?;
    list(conn, caller, group)?
        .into_iter()
        .find(|u| u.url == url)
        .map(|u| u.id)
        .ok_or_else(|| Error::not_found(format!("this group has no upstream {url}")))
}

/// A group's name rules.
pub fn list_rules(conn: &Connection, caller: &Caller, group: &str) -> Result<Vec<Rule>> {
    let group = top_level(conn, caller, group, Operation::UpstreamsList)?;
    store::list_rules(conn, group.id)
}

/// Adds a rule: `kind` is `reserve`, `allow` or `deny`; the pattern is stored normalized.
pub fn add_rule(
    conn: &mut Connection,
    caller: &Caller,
    group: &str,
    kind: &str,
    pattern: &str,
) -> Result<Rule> {
    let group = top_level(conn, caller, group, Operation::UpstreamsManage)?;
    let kind = RuleKind::parse(kind.trim()).ok_or_else(|| {
        Error::bad_request("400 Bad request - the kind of a rule is reserve, allow or deny")
    })?;
    let pattern = normalize_pattern(pattern)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if store::list_rules(&tx, group.id)?.len() >= MAX_RULES {
        return Err(Error::bad_request(format!(
            "400 Bad request - a group has at most {MAX_RULES} name rules"
        )));
    }
    let now = now_millis();
    let id = store::insert_rule(&tx, group.id, kind, &pattern, now)?;
    let what = format!("{} {} {pattern}", group.full_path, kind.as_str());
    audit::record(
        &tx,
        caller,
        "upstream_rule.add",
        About::Group(group.id),
        &what,
    )?;
    let rule = store::find_rule(&tx, group.id, id)?.ok_or_else(rule_not_found)?;
    tx.commit()?;
    Ok(rule)
}

fn rule_not_found() -> Error {
    Error::not_found("404 Rule Not Found")
}

pub fn remove_rule(conn: &mut Connection, caller: &Caller, group: &str, id: i64) -> Result<Rule> {
    let group = top_level(conn, caller, group, Operation::UpstreamsManage)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rule = store::find_rule(&tx, group.id, id)?.ok_or_else(rule_not_found)?;
    store::delete_rule(&tx, group.id, id)?;
    let what = format!(
        "{} {} {}",
        group.full_path,
        rule.kind.as_str(),
        rule.pattern
    );
    audit::record(
        &tx,
        caller,
        "upstream_rule.remove",
        About::Group(group.id),
        &what,
    )?;
    tx.commit()?;
    Ok(rule)
}

impl UpstreamInput {
    fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}
