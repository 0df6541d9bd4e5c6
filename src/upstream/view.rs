//! What a group's pages show of its upstreams: the names held in its cache, and for one name
//! the versions its upstream listed and which of their files are held.

use std::collections::HashSet;

use rusqlite::Connection;

use super::pages;
use crate::db::upstreams::{self as store, FileRow};
use crate::error::Result;
use crate::python::version::Version;

/// Most names a group page lists.
const LISTED_NAMES: i64 = 50;

/// The cached names of the top-level group above `group_id`, most recently used first, with
/// how many files of each are held; empty when it has no upstreams.
pub fn cached_names(conn: &Connection, group_id: i64) -> Result<Vec<(String, i64)>> {
    let root_id = store::root_of(conn, group_id)?;
    let mut names = Vec::new();
    // A name cached before a project here published it (or a rule kept it) is the group's
    // now: listing it would tell any reader of the group a private project's name.
    for (name, files) in store::cached_names(conn, root_id, LISTED_NAMES)? {
        if pages::plan(conn, root_id, &name)?.is_some() {
            names.push((name, files));
        }
    }
    Ok(names)
}

/// One name as the group's upstreams gave it, from the cache only (viewing never fetches).
pub struct CachedPackage {
    /// The upstream whose page answers for the name.
    pub upstream_url: String,
    /// When that upstream last confirmed the page (ms since the epoch).
    pub checked_at: i64,
    /// Newest first: the version and its files, each with whether it is held here.
    pub versions: Vec<(String, Vec<(FileRow, bool)>)>,
}

/// What the group index would answer for `name` from upstreams, from the cache: `None` when
/// nothing is cached, or the name never goes upstream (the group's own, or kept by a rule).
/// The two are not told apart, so the page says no more about private names than the index.
pub fn cached_package(
    conn: &Connection,
    group_id: i64,
    name: &str,
) -> Result<Option<CachedPackage>> {
    let Some(plan) = pages::plan(conn, group_id, name)? else {
        return Ok(None);
    };
    for upstream in &plan.upstreams {
        let Some(page) = store::find_page(conn, upstream.id, &plan.name)? else {
            continue;
        };
        if !page.found {
            continue;
        }
        let held: HashSet<String> = store::cached_filenames(conn, plan.root_id, &plan.name)?
            .into_iter()
            .collect();
        let mut files = store::page_files(conn, upstream.id, &plan.name)?;
        // Newest first; each version parsed once (a page may list 100,000 files).
        files.sort_by_cached_key(|f| {
            let version = Version::parse(&f.version).ok();
            (std::cmp::Reverse(version), f.filename.clone())
        });
        let mut versions: Vec<(String, Vec<(FileRow, bool)>)> = Vec::new();
        for file in files {
            let is_held = held.contains(&file.filename);
            match versions.last_mut() {
                Some((version, list)) if *version == file.version => list.push((file, is_held)),
                _ => versions.push((file.version.clone(), vec![(file, is_held)])),
            }
        }
        return Ok(Some(CachedPackage {
            upstream_url: upstream.url.clone(),
            checked_at: page.checked_at,
            versions,
        }));
    }
    Ok(None)
}
