//! The "Upstream indexes" section of a top-level group's settings page and its forms, for
//! owners: the upstreams in order (never a password), the name rules, add and remove.

use super::Fields;
use crate::access::{self, Operation};
use crate::auth::Caller;
use crate::error::Error;
use crate::model::Namespace;
use crate::registry::directory::Target;
use crate::registry::membership;
use crate::registry::upstreams::{self, UpstreamEntry, UpstreamInput};

/// One upstream as the page lists it.
pub struct UpstreamRow {
    pub id: i64,
    pub position: i64,
    pub url: String,
    pub username: String,
    pub has_password: bool,
    pub cache_hours: i64,
}

impl UpstreamRow {
    fn new(entry: UpstreamEntry) -> UpstreamRow {
        UpstreamRow {
            id: entry.id,
            position: entry.position,
            url: entry.url,
            username: entry.username.unwrap_or_default(),
            has_password: entry.has_password,
            cache_hours: entry.cache_hours,
        }
    }
}

pub struct RuleRow {
    pub id: i64,
    pub kind: &'static str,
    pub pattern: String,
}

/// What the section shows.
pub struct UpstreamSection {
    pub upstreams: Vec<UpstreamRow>,
    pub rules: Vec<RuleRow>,
    pub default_hours: i64,
}

/// The section for this settings target: only a top-level group's, and only to whoever may
/// list its upstreams (owners).
pub fn section(
    conn: &rusqlite::Connection,
    caller: &Caller,
    target: &Target,
) -> Result<Option<UpstreamSection>, Error> {
    let Target::Group(group) = target else {
        return Ok(None);
    };
    let on = membership::on(target);
    if group.parent_id.is_some() || !access::allowed(conn, caller, Operation::UpstreamsList, on)? {
        return Ok(None);
    }
    let reference = group.id.to_string();
    let upstreams = upstreams::list(conn, caller, &reference)?
        .into_iter()
        .map(UpstreamRow::new)
        .collect();
    let rules = upstreams::list_rules(conn, caller, &reference)?
        .into_iter()
        .map(|r| RuleRow {
            id: r.id,
            kind: r.kind.as_str(),
            pattern: r.pattern,
        })
        .collect();
    Ok(Some(UpstreamSection {
        upstreams,
        rules,
        default_hours: upstreams::DEFAULT_CACHE_HOURS,
    }))
}

/// Carries out one of the section's forms (`pattern` as in `places`; `number` the id its
/// path took). A project has no upstreams: after the table's answer, it is told so.
pub fn form(
    conn: &mut rusqlite::Connection,
    caller: &Caller,
    target: &Target,
    pattern: &str,
    number: Option<i64>,
    fields: &Fields,
) -> Result<(), Error> {
    let group: &Namespace = match target {
        Target::Group(group) => group,
        Target::Project(_) => {
            access::judge(
                conn,
                caller,
                Operation::UpstreamsManage,
                membership::on(target),
            )?;
            return Err(Error::bad_request(
                "Upstreams are set on a top-level group; its projects use them.",
            ));
        }
    };
    let reference = group.id.to_string();
    let id = || number.ok_or_else(|| Error::not_found("There is no such page."));
    match pattern {
        "settings/upstreams" => {
            let cache_hours = match fields.optional("cache_hours") {
                Some(text) => Some(text.trim().parse::<i64>().map_err(|_| {
                    Error::bad_request("The cache validity is a whole number of hours.")
                })?),
                None => None,
            };
            let input = UpstreamInput {
                url: fields.get("url"),
                username: fields.optional("username"),
                password: fields.optional("password"),
                cache_hours,
            };
            upstreams::add(conn, caller, &reference, &input)?;
        }
        "settings/upstreams/{upstream_id}/remove" => {
            upstreams::remove(conn, caller, &reference, id()?)?;
        }
        "settings/upstream_rules" => {
            let (kind, pattern) = (fields.get("kind"), fields.get("pattern"));
            upstreams::add_rule(conn, caller, &reference, &kind, &pattern)?;
        }
        "settings/upstream_rules/{rule_id}/remove" => {
            upstreams::remove_rule(conn, caller, &reference, id()?)?;
        }
        _ => return Err(Error::not_found("There is no such page.")),
    }
    Ok(())
}
