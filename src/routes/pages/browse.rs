//! Pages for looking around: explore, a group, a project with its packages and set-up, one
//! package version, and file downloads for signed-in browsers.

use crate::access::Operation;
use crate::routes::Routes;
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

pub use super::pager::{PAGE_ROWS, Pager};
use super::{Chrome, PageResult, Visitor, page_error, show, show_large, site_url, visit};
use crate::access::{self, GroupReader, ProjectReader, Viewer};
use crate::blobs::Sha256Hex;
use crate::error::Error;
use crate::model::{Namespace, NamespaceKind, Project, Role};
use crate::registry::directory::{self, Filters, Place};
use crate::registry::{catalog, description};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(Method::GET, "/", Operation::PublicList, explore);
    routes.add(Method::GET, "/explore", Operation::PublicList, explore);
}

/// A date as the pages show it (UTC).
pub fn day(millis: i64) -> String {
    crate::model::iso8601(millis)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// A moment as the pages show it: `2026-11-26 09:30 UTC`.
pub fn moment(millis: i64) -> String {
    let text = crate::model::iso8601(millis);
    format!(
        "{} {} UTC",
        text.get(..10).unwrap_or_default(),
        text.get(11..16).unwrap_or_default()
    )
}

/// A size for people: `1.4 MB`.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A group or project in a list.
struct Entry {
    path: String,
    visibility: &'static str,
    /// The visitor's role here, if a member.
    role: Option<&'static str>,
}

/// An entry with the visitor's own role, looked up in memberships loaded once per page
/// (`project` is false for a group).
fn entry(viewer: &Viewer, path: &str, visibility: &'static str, project: bool) -> Entry {
    let role = if project {
        viewer.project_role(path)
    } else {
        viewer.group_role(path)
    };
    Entry {
        path: path.to_owned(),
        visibility,
        role: role.map(Role::as_str),
    }
}

/// Members' own entries first, then by path.
fn members_first(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        (a.role.is_none(), a.path.to_lowercase()).cmp(&(b.role.is_none(), b.path.to_lowercase()))
    });
}

#[derive(Template)]
#[template(path = "web/explore.html")]
struct ExplorePage {
    chrome: Chrome,
    groups: Vec<Entry>,
    projects: Vec<Entry>,
    /// The neighbouring pages of groups, if any.
    prev: Option<usize>,
    next: Option<usize>,
}

/// Groups on one explore page: a server may hold thousands, read a page at a time.
const EXPLORE_PAGE: usize = 50;

/// `?page=N` of the explore page (from 1).
#[derive(Deserialize)]
struct ExploreQuery {
    page: Option<usize>,
}

async fn explore(
    req: HttpRequest,
    query: web::Query<ExploreQuery>,
    state: web::Data<AppState>,
) -> PageResult {
    let number = query.page.unwrap_or(1).max(1);
    let window = directory::Window {
        limit: EXPLORE_PAGE,
        offset: (number - 1).saturating_mul(EXPLORE_PAGE),
    };
    let page = visit(&req, &state, move |conn, visitor| {
        let caller = visitor.caller();
        let viewer = Viewer::load(conn, &caller)?;
        let (total, found) = directory::explore_groups(conn, &caller, window)?;
        let groups = found
            .iter()
            .map(|g| entry(&viewer, &g.full_path, g.visibility.as_str(), false))
            .collect();
        let mut projects = Vec::new();
        for project in directory::projects(conn, &caller, &Filters::default(), None)? {
            let visibility = project.visibility.as_str();
            projects.push(entry(&viewer, &project.full_path, visibility, true));
        }
        members_first(&mut projects);
        Ok(ExplorePage {
            chrome: visitor.chrome(),
            groups,
            projects,
            prev: (number > 1).then(|| number - 1),
            next: (window.offset + window.limit < total).then(|| number + 1),
        })
    })
    .await?;
    show(&req, &page, StatusCode::OK)
}

/// A web address split into the group or project it names and the page below it:
/// `acme/models/-/packages/5` is (`acme/models`, `packages/5`).
pub fn split_place(path: &str) -> (&str, &str) {
    let path = path.trim_matches('/');
    match path.split_once("/-/") {
        Some((place, rest)) => (place, rest.trim_matches('/')),
        None => (path.strip_suffix("/-").unwrap_or(path), ""),
    }
}

/// The breadcrumb of a path: each ancestor's path with its last segment.
fn crumbs(full_path: &str) -> Vec<(String, String)> {
    let mut crumbs = Vec::new();
    let mut so_far = String::new();
    for segment in full_path.split('/') {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(segment);
        crumbs.push((so_far.clone(), segment.to_owned()));
    }
    crumbs
}

#[derive(Deserialize)]
pub(super) struct PlaceQuery {
    filter: Option<String>,
    /// The page of a group's subgroups and members (of a settings page's members).
    page: Option<usize>,
}

pub(super) async fn place_page(
    req: HttpRequest,
    query: web::Query<PlaceQuery>,
    state: web::Data<AppState>,
) -> PageResult {
    let path = req.match_info().get("path").unwrap_or_default().to_owned();
    let (place_path, rest) = split_place(&path);
    let (place_path, rest) = (place_path.to_owned(), rest.to_owned());
    // The page is found in the one list of place routes (`places`), which the route
    // inventory shows too.
    let (route, taken) = super::places::find(false, &rest)
        .ok_or_else(|| page_error(&req, Error::not_found("There is no such page.")))?;
    let number = taken.first().and_then(|t| t.parse::<i64>().ok());
    let segment = taken.first().cloned().unwrap_or_default();
    match route.pattern {
        "settings" => {
            let pager = Pager::new(query.page);
            return super::settings::settings_page(req, state, place_path, pager).await;
        }
        "package_files/{file_id}/download" => {
            return download(req, state, place_path, number).await;
        }
        _ => {}
    }
    let site = site_url(&req, &state);
    let query = query.into_inner();
    let pager = Pager::new(query.page);
    let filter = query.filter.filter(|f| !f.trim().is_empty());
    let page = visit(&req, &state, move |conn, visitor| {
        let place = directory::place(conn, &visitor.caller(), &place_path)?;
        match (place, route.pattern) {
            (Place::Group(reader), "") => {
                group_page(conn, visitor, &reader, pager).map(Page::Group)
            }
            (Place::Group(reader), "upstream/{name}") => {
                upstream_page(conn, visitor, &reader, &site, &segment).map(Page::Upstream)
            }
            (Place::Project(reader), "" | "packages") => {
                project_page(conn, visitor, &reader, &site, filter).map(Page::Project)
            }
            (Place::Project(reader), "packages/{package_id}") => {
                let id = number.ok_or_else(|| Error::not_found("There is no such page."))?;
                package_page(conn, visitor, &reader, &site, id).map(|p| Page::Package(Box::new(p)))
            }
            _ => Err(Error::not_found("There is no such page.")),
        }
    })
    .await?;
    match page {
        Page::Group(page) => show_large(&req, page, StatusCode::OK).await,
        Page::Project(page) => show_large(&req, page, StatusCode::OK).await,
        Page::Upstream(page) => show_large(&req, page, StatusCode::OK).await,
        Page::Package(mut page) => {
            render_late(&state, &mut page)
                .await
                .map_err(|e| page_error(&req, e))?;
            show_large(&req, *page, StatusCode::OK).await
        }
    }
}

enum Page {
    Group(GroupPage),
    Upstream(UpstreamPage),
    Project(ProjectPage),
    Package(Box<PackagePage>),
}

/// A member as the group and settings pages list them.
pub struct MemberRow {
    pub user_id: i64,
    pub username: String,
    pub role: &'static str,
    pub level: i64,
}

impl MemberRow {
    /// One page of the direct members of a project or group, and how many there are.
    pub fn direct(
        conn: &rusqlite::Connection,
        caller: &crate::auth::Caller,
        target: &crate::registry::directory::Target,
        window: directory::Window,
    ) -> Result<(usize, Vec<MemberRow>), Error> {
        let (total, rows) =
            crate::registry::membership::page_on_page(conn, caller, target, window)?;
        let rows = rows
            .into_iter()
            .map(|(user, role)| MemberRow {
                user_id: user.id,
                username: user.username,
                role: role.as_str(),
                level: role.level(),
            })
            .collect();
        Ok((total, rows))
    }
}

#[derive(Template)]
#[template(path = "web/group.html")]
struct GroupPage {
    chrome: Chrome,
    group: Namespace,
    crumbs: Vec<(String, String)>,
    subgroups: Vec<Entry>,
    projects: Vec<Entry>,
    members: Vec<MemberRow>,
    /// How many subgroups and direct members there are (a page shows `PAGE_ROWS` of each).
    subgroups_total: usize,
    members_total: usize,
    pager: Pager,
    may_manage: bool,
    /// Names held from the top-level group's upstreams, with how many files of each.
    cached: Vec<(String, i64)>,
}

fn group_page(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    reader: &GroupReader,
    pager: Pager,
) -> Result<GroupPage, Error> {
    let group = reader.group().clone();
    let caller = visitor.caller();
    let viewer = Viewer::load(conn, &caller)?;
    let (subgroups_total, found) = directory::subgroups_page(
        conn,
        &caller,
        &group.full_path,
        &Filters::default(),
        pager.window(),
    )?;
    let subgroups = found
        .iter()
        .map(|sub| entry(&viewer, &sub.full_path, sub.visibility.as_str(), false))
        .collect();
    let mut projects = Vec::new();
    for project in reader
        .projects()
        .iter()
        .filter(|p| p.namespace_id == group.id)
    {
        let visibility = project.visibility.as_str();
        projects.push(entry(&viewer, &project.full_path, visibility, true));
    }
    let target = crate::registry::directory::Target::Group(group.clone());
    let (members_total, members) =
        MemberRow::direct(conn, &visitor.caller(), &target, pager.window())?;
    let may_manage = super::settings::may_maintain(conn, visitor, access::On::Group(&group))?;
    let cached = crate::upstream::view::cached_names(conn, group.id)?;
    Ok(GroupPage {
        cached,
        chrome: visitor.chrome(),
        crumbs: crumbs(&group.full_path),
        group,
        subgroups,
        projects,
        members,
        subgroups_total,
        members_total,
        pager: pager.with_totals(&[subgroups_total, members_total]),
        may_manage,
    })
}

#[derive(Template)]
#[template(path = "web/upstream_package.html")]
struct UpstreamPage {
    chrome: Chrome,
    crumbs: Vec<(String, String)>,
    name: String,
    /// The group index, as pip takes it.
    index: String,
    upstream_url: String,
    checked: String,
    /// Newest first: version, then each file's name, size, requires-python, whether held.
    versions: Vec<(String, Vec<UpstreamFileRow>)>,
}

struct UpstreamFileRow {
    filename: String,
    size: String,
    requires_python: String,
    yanked: bool,
    held: bool,
}

/// A name as the group's upstreams gave it: its versions and which files are held here.
fn upstream_page(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    reader: &GroupReader,
    site: &str,
    requested: &str,
) -> Result<UpstreamPage, Error> {
    let group = reader.group().clone();
    let name = crate::python::DistName::parse(requested)
        .map_err(|_| Error::not_found("There is no such page."))?;
    let cached = crate::upstream::view::cached_package(conn, group.id, name.normalized())?;
    let (upstream_url, checked, versions) = match cached {
        None => (String::new(), String::new(), Vec::new()),
        Some(cached) => {
            let versions = cached
                .versions
                .into_iter()
                .map(|(version, files)| {
                    let rows = files
                        .into_iter()
                        .map(|(file, held)| UpstreamFileRow {
                            size: file.size.map(size).unwrap_or_default(),
                            requires_python: file.requires_python.unwrap_or_default(),
                            yanked: file.yanked.is_some(),
                            filename: file.filename,
                            held,
                        })
                        .collect();
                    (version, rows)
                })
                .collect();
            (cached.upstream_url, moment(cached.checked_at), versions)
        }
    };
    let index = format!("{site}/api/v4/groups/{}/-/packages/pypi/simple", group.id);
    Ok(UpstreamPage {
        chrome: visitor.chrome(),
        crumbs: crumbs(&group.full_path),
        name: name.normalized().to_string(),
        index,
        upstream_url,
        checked,
        versions,
    })
}

/// The addresses clients use for one project.
struct SetUp {
    /// The project's simple index.
    index: String,
    /// The index with `__token__:TOKEN@` in it, as pip takes credentials.
    index_with_token: String,
    /// The simple index of the group the project is in, if it is in a group.
    group_index: Option<String>,
    /// Where twine and uv publish.
    upload: String,
    /// The index name uv and poetry use for it.
    source_name: String,
    /// The name as uv's environment variables spell it (`UV_INDEX_<NAME>_USERNAME`).
    env_name: String,
}

impl SetUp {
    fn new(site: &str, project: &Project, namespace: &Namespace) -> SetUp {
        let api = format!("{site}/api/v4/projects/{}/packages/pypi", project.id);
        let host = site
            .split_once("://")
            .map_or(site, |(_, rest)| rest)
            .to_owned();
        let source_name = project
            .full_path
            .rsplit('/')
            .next()
            .unwrap_or("wheelhouse")
            .to_owned();
        let (scheme, _) = site.split_once("://").unwrap_or(("http", site));
        SetUp {
            index: format!("{api}/simple"),
            index_with_token: format!(
                "{scheme}://__token__:TOKEN@{host}/api/v4/projects/{}/packages/pypi/simple",
                project.id
            ),
            env_name: source_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect(),
            group_index: (namespace.kind == NamespaceKind::Group).then(|| {
                format!(
                    "{site}/api/v4/groups/{}/-/packages/pypi/simple",
                    namespace.id
                )
            }),
            upload: api,
            source_name,
        }
    }
}

/// A package as the project page lists it.
struct PackageLine {
    name: String,
    latest_version: String,
    latest_id: i64,
    versions: usize,
    updated: String,
}

#[derive(Template)]
#[template(path = "web/project.html")]
struct ProjectPage {
    chrome: Chrome,
    project: Project,
    crumbs: Vec<(String, String)>,
    packages: Vec<PackageLine>,
    filter: String,
    setup: SetUp,
    may_manage: bool,
}

fn project_page(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    reader: &ProjectReader,
    site: &str,
    filter: Option<String>,
) -> Result<ProjectPage, Error> {
    let project = reader.project().clone();
    let namespace = directory::namespace_of(conn, &project)?;
    let packages = catalog::packages(conn, reader, filter.as_deref().map(str::trim))?
        .into_iter()
        .map(|p| PackageLine {
            name: p.display_name,
            latest_version: p.latest_version,
            latest_id: p.latest_id,
            versions: p.version_count,
            updated: day(p.updated_at),
        })
        .collect();
    let may_manage = super::settings::may_maintain(conn, visitor, access::On::Project(&project))?;
    Ok(ProjectPage {
        chrome: visitor.chrome(),
        crumbs: crumbs(&project.full_path),
        setup: SetUp::new(site, &project, &namespace),
        project,
        packages,
        filter: filter.unwrap_or_default(),
        may_manage,
    })
}

/// A file as the package page lists it.
struct FileLine {
    id: i64,
    filename: String,
    size: String,
    sha256: String,
    uploaded: String,
    uploader: String,
    requires_python: String,
    yanked: bool,
    yanked_reason: String,
}

/// A version in the package page's list.
struct VersionLine {
    id: i64,
    version: String,
    date: String,
    files: i64,
    yanked: bool,
    current: bool,
}

/// The metadata fields the page shows, ready to print.
#[derive(Default)]
struct About {
    summary: String,
    license: String,
    requires_python: String,
    author: String,
    dependencies: Vec<String>,
    classifiers: Vec<String>,
    /// (label, URL), only http(s) URLs.
    links: Vec<(String, String)>,
    description_html: String,
    /// The description and its content type, when its HTML was never stored (a version from
    /// before rendered descriptions were kept): rendered once, after the database work.
    unrendered: Option<(String, Option<String>)>,
}

impl About {
    fn new(meta: crate::python::metadata::CoreMetadata, html: Option<String>) -> About {
        let mut links: Vec<(String, String)> = meta
            .project_urls
            .iter()
            .filter_map(|entry| entry.split_once(','))
            .map(|(label, url)| (label.trim().to_owned(), url.trim().to_owned()))
            .collect();
        if let Some(home) = &meta.home_page {
            links.insert(0, ("Homepage".to_owned(), home.clone()));
        }
        // Only web links: a `javascript:` URL in metadata must never become a link.
        links.retain(|(_, url)| url.starts_with("https://") || url.starts_with("http://"));
        let author = [&meta.author, &meta.author_email]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        About {
            summary: meta.summary.clone().unwrap_or_default(),
            license: meta.license.clone().unwrap_or_default(),
            requires_python: meta.requires_python.clone().unwrap_or_default(),
            author,
            dependencies: meta.requires_dist.clone(),
            classifiers: meta.classifiers.clone(),
            links,
            unrendered: match (&html, meta.description) {
                (None, Some(source)) => Some((source, meta.description_content_type)),
                _ => None,
            },
            description_html: html.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "web/package.html")]
struct PackagePage {
    chrome: Chrome,
    project: Project,
    crumbs: Vec<(String, String)>,
    package_id: i64,
    name: String,
    version: String,
    yanked: bool,
    files: Vec<FileLine>,
    versions: Vec<VersionLine>,
    about: About,
    index: String,
    may_manage: bool,
}

fn package_page(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    reader: &ProjectReader,
    site: &str,
    package_id: i64,
) -> Result<PackagePage, Error> {
    let project = reader.project().clone();
    let detail = catalog::package(conn, reader, package_id)?;
    let files: Vec<FileLine> = detail
        .files
        .into_iter()
        .map(|(file, uploader)| FileLine {
            id: file.id,
            size: size(file.size),
            uploaded: moment(file.created_at),
            uploader: uploader.unwrap_or_else(|| "—".to_owned()),
            requires_python: file.requires_python.unwrap_or_default(),
            yanked: file.yanked,
            yanked_reason: file.yanked_reason.unwrap_or_default(),
            filename: file.filename,
            sha256: file.sha256,
        })
        .collect();
    let versions = detail
        .versions
        .into_iter()
        .map(|v| VersionLine {
            current: v.id == detail.package.id,
            id: v.id,
            version: v.version,
            date: day(v.created_at),
            files: v.file_count,
            yanked: v.yanked,
        })
        .collect();
    let may_manage = super::settings::may_maintain(conn, visitor, access::On::Project(&project))?;
    Ok(PackagePage {
        chrome: visitor.chrome(),
        crumbs: crumbs(&project.full_path),
        index: format!("{site}/api/v4/projects/{}/packages/pypi/simple", project.id),
        package_id: detail.package.id,
        name: detail.package.display_name,
        version: detail.package.version,
        yanked: !files.is_empty() && files.iter().all(|f| f.yanked),
        files,
        versions,
        about: detail
            .metadata
            .map(|meta| About::new(meta, detail.description_html))
            .unwrap_or_default(),
        project,
        may_manage,
    })
}

/// Renders a description stored before renderings were kept, off the database and the async
/// workers, and keeps the result so that this happens once per version.
async fn render_late(state: &AppState, page: &mut PackagePage) -> Result<(), Error> {
    let Some((source, content_type)) = page.about.unrendered.take() else {
        return Ok(());
    };
    let html = web::block(move || description::to_html(&source, content_type.as_deref())).await?;
    let (package_id, kept) = (page.package_id, html.clone());
    state
        .db
        .run(move |conn| catalog::keep_description(conn, package_id, &kept))
        .await?;
    page.about.description_html = html;
    Ok(())
}

/// A file for a signed-in browser (pip and uv use the API's file routes with a token).
async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    place_path: String,
    file_id: Option<i64>,
) -> PageResult {
    let file = visit(&req, &state, move |conn, visitor| {
        let Place::Project(reader) = directory::place(conn, &visitor.caller(), &place_path)? else {
            return Err(Error::not_found("There is no such file."));
        };
        let file_id = file_id.ok_or_else(|| Error::not_found("There is no such file."))?;
        catalog::file(conn, &reader, file_id)
    })
    .await?;
    let blob = Sha256Hex::parse(&file.sha256)
        .ok_or_else(|| page_error(&req, Error::internal("stored sha256 is not hex")))?;
    super::super::download::send(
        &req,
        super::super::download::Download {
            blobs: &state.blobs,
            blob: blob.clone(),
            etag: format!("\"{}\"", blob.as_str()),
            filename: &file.filename,
            content_type: "application/octet-stream",
        },
    )
    .await
    .map_err(|e| page_error(&req, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_addresses_split_into_place_and_page() {
        assert_eq!(split_place("acme/models"), ("acme/models", ""));
        assert_eq!(split_place("acme/models/"), ("acme/models", ""));
        assert_eq!(
            split_place("acme/models/-/packages"),
            ("acme/models", "packages")
        );
        assert_eq!(
            split_place("acme/ml/m/-/packages/12/"),
            ("acme/ml/m", "packages/12")
        );
        assert_eq!(split_place("acme/-/settings"), ("acme", "settings"));
    }

    #[test]
    fn sizes_and_dates_read_well() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_400_000), "1.4 MB");
        assert_eq!(size(100_000_000_000), "100.0 GB");
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(moment(90_000_000), "1970-01-02 01:00 UTC");
    }
}
