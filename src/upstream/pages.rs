//! A project page from a group's upstreams: the guard that keeps the group's names off them,
//! then the cached copy while fresh, revalidated when stale, and kept when the upstream is down.

use rusqlite::Connection;

use super::fetch::{Failure, PageAnswer};
use super::rules::{NameDecision, NameRules};
use super::{Upstreams, parse};
use crate::db::upstreams::{self as store, FileRow, PageRow, Upstream};
use crate::db::{Db, now_millis};
use crate::error::{Error, Result};
use crate::python::version::Version;

/// A name the group index may answer from upstreams: decided with the database, fetched
/// without it.
#[derive(Debug)]
pub struct PagePlan {
    /// The top-level group whose upstreams serve the name.
    pub root_id: i64,
    pub name: String,
    pub upstreams: Vec<Upstream>,
    /// The [`super::VIA_HEADER`] the upstreams are sent (set by the caller that fetches).
    pub via: String,
}

/// Whether `name` (normalized) goes upstream for the group `group_id`: only when its top-level
/// group has upstreams, no project under it ever published the name, and no rule keeps it.
/// Every project counts, including those the caller cannot see: a private name is never
/// answered from outside, whoever asks.
pub fn plan(conn: &Connection, group_id: i64, name: &str) -> Result<Option<PagePlan>> {
    let root_id = store::root_of(conn, group_id)?;
    let upstreams = store::list(conn, root_id)?;
    if upstreams.is_empty() || store::is_published(conn, root_id, name)? {
        return Ok(None);
    }
    let rules = NameRules::new(store::list_rules(conn, root_id)?);
    if rules.decide(name) != NameDecision::Upstream {
        return Ok(None);
    }
    Ok(Some(PagePlan {
        root_id,
        name: name.to_string(),
        upstreams,
        via: String::new(),
    }))
}

/// The answer of the first upstream that has the name.
#[derive(Debug)]
pub struct UpstreamPage {
    pub name: String,
    /// PEP 440 order, oldest first.
    pub versions: Vec<String>,
    /// By (PEP 440 version, filename).
    pub files: Vec<FileRow>,
    /// Served from the cache because the upstream could not be asked (it is down).
    pub stale: bool,
}

impl Upstreams {
    /// Asks the plan's upstreams in order. One that is down is stood in for by its cached page
    /// (marked stale); one that is down with nothing cached is skipped, and if no upstream has
    /// the name, that is a 502 naming the failures rather than a 404 that would be wrong.
    pub async fn page(&self, db: &Db, plan: PagePlan) -> Result<UpstreamPage> {
        let mut failures: Vec<String> = Vec::new();
        for upstream in plan.upstreams {
            let (id, name) = (upstream.id, plan.name.clone());
            let cached = db
                .run(move |conn| {
                    Ok(match store::find_page(conn, id, &name)? {
                        Some(page) => {
                            let files = store::page_files(conn, id, &name)?;
                            Some((page, files))
                        }
                        None => None,
                    })
                })
                .await?;
            if let Some((page, files)) = &cached
                && now_millis() - page.checked_at < fresh_for(&upstream, page.found)
            {
                if page.found {
                    return Ok(answer(&plan.name, files.clone(), false));
                }
                continue;
            }
            match self
                .refresh(db, &upstream, &plan.name, cached, &plan.via)
                .await
            {
                Ok(Some(page)) => return Ok(page),
                Ok(None) => continue,
                Err(failure) => {
                    tracing::warn!("{}", failure.reason);
                    failures.push(failure.reason);
                }
            }
        }
        if failures.is_empty() {
            Err(Error::not_found("404 Package Not Found"))
        } else {
            Err(Error::bad_gateway(format!(
                "502 Bad Gateway: {}",
                failures.join("; ")
            )))
        }
    }

    /// Fetches and stores one upstream's page: `Some` when it has the name, `None` when not;
    /// when it cannot be asked, its cached page if there is one (stale), else the failure.
    async fn refresh(
        &self,
        db: &Db,
        upstream: &Upstream,
        name: &str,
        cached: Option<(PageRow, Vec<FileRow>)>,
        via: &str,
    ) -> Result<Option<UpstreamPage>, Failure> {
        let client = self.client.clone();
        let (upstream_for_fetch, name_owned) = (upstream.clone(), name.to_string());
        let validators = cached.as_ref().map(|(page, _)| page.clone());
        let via = via.to_string();
        let resting = self.is_resting(upstream.id);
        let fetched = if resting {
            Err(Failure::other(format!(
                "upstream {} was unreachable moments ago and is asked again shortly",
                upstream.url
            )))
        } else {
            self.off_pool(move || {
                let answer =
                    client.page(&upstream_for_fetch, &name_owned, validators.as_ref(), &via)?;
                Ok::<_, Failure>(match answer {
                    PageAnswer::Page {
                        body,
                        content_type,
                        url,
                        etag,
                        last_modified,
                    } => {
                        let files =
                            parse::parse_page(&body, content_type.as_deref(), &url, &name_owned)
                                .map_err(|e| {
                                    Failure::other(format!(
                                        "upstream {} sent a page for {name_owned} that cannot \
                                         be read: {e}",
                                        upstream_for_fetch.url
                                    ))
                                })?;
                        Fetched::Page(files, etag, last_modified)
                    }
                    PageAnswer::NotFound => Fetched::NotFound,
                    PageAnswer::NotModified => Fetched::NotModified,
                })
            })
            .await
            .map_err(|e| Failure::other(format!("upstream fetch did not run: {e}")))
            .and_then(|r| r)
        };
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(failure) => {
                // Only an upstream that is down rests: an unusable answer for one name must
                // not let one reader keep the group's other names from being fetched.
                if failure.down && !resting {
                    self.rest(upstream.id);
                }
                return match cached {
                    Some((page, files)) if page.found => Ok(Some(answer(name, files, true))),
                    // The last answer was "no such name": keep to it while the upstream is down.
                    Some(_) => Ok(None),
                    None => Err(failure),
                };
            }
        };
        let (upstream_id, name_owned, now) = (upstream.id, name.to_string(), now_millis());
        let stored = db
            .run(move |conn| {
                let tx = rusqlite::Transaction::new_unchecked(
                    conn,
                    rusqlite::TransactionBehavior::Immediate,
                )?;
                let result = match fetched {
                    Fetched::NotModified => {
                        store::touch_page(&tx, upstream_id, &name_owned, now)?;
                        let page = store::find_page(&tx, upstream_id, &name_owned)?;
                        match page {
                            Some(page) if page.found => {
                                Some(store::page_files(&tx, upstream_id, &name_owned)?)
                            }
                            _ => None,
                        }
                    }
                    Fetched::NotFound => {
                        let page = page_row(upstream_id, &name_owned, false, None, None, now);
                        store::store_page(&tx, &page, &[])?;
                        None
                    }
                    Fetched::Page(files, etag, last_modified) => {
                        let page =
                            page_row(upstream_id, &name_owned, true, etag, last_modified, now);
                        store::store_page(&tx, &page, &files)?;
                        Some(files)
                    }
                };
                tx.commit()?;
                Ok(result)
            })
            .await
            .map_err(|e| Failure::other(format!("cannot keep the upstream page of {name}: {e}")))?;
        Ok(stored.map(|files| answer(name, files, false)))
    }
}

/// How long an answer stands before the upstream is asked again: the upstream's cache validity,
/// but at most a few minutes for "no such name", so a project just published upstream shows up.
fn fresh_for(upstream: &Upstream, found: bool) -> i64 {
    let validity = upstream.cache_hours.saturating_mul(3_600_000);
    if found {
        validity
    } else {
        validity.min(NOT_FOUND_FRESH_MS)
    }
}

const NOT_FOUND_FRESH_MS: i64 = 5 * 60 * 1000;

enum Fetched {
    Page(Vec<FileRow>, Option<String>, Option<String>),
    NotFound,
    NotModified,
}

fn page_row(
    upstream_id: i64,
    name: &str,
    found: bool,
    etag: Option<String>,
    last_modified: Option<String>,
    checked_at: i64,
) -> PageRow {
    PageRow {
        upstream_id,
        name: name.to_string(),
        found,
        etag,
        last_modified,
        checked_at,
    }
}

/// Sorts files by PEP 440 version (a version that does not parse first, by its text), then
/// filename. Each version is parsed once: a page may list 100,000 files, and parsing within
/// every comparison took seconds per request.
pub fn sort_files(files: &mut [FileRow]) {
    files.sort_by_cached_key(|f| {
        let parsed = Version::parse(&f.version).ok();
        let text = if parsed.is_none() {
            f.version.clone()
        } else {
            String::new()
        };
        (parsed, text, f.filename.clone())
    });
}

fn answer(name: &str, mut files: Vec<FileRow>, stale: bool) -> UpstreamPage {
    sort_files(&mut files);
    let versions =
        crate::python::version::distinct_in_order(files.iter().map(|f| f.version.as_str()));
    UpstreamPage {
        name: name.to_string(),
        versions,
        files,
        stale,
    }
}
