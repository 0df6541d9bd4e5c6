//! Pages and forms for maintainers: a project's or group's settings (visibility, the upload
//! policy, members and roles, deploy tokens, a top-level group's upstreams) and yank, unyank
//! and delete of package versions.

use actix_web::{HttpRequest, web};
use askama::Template;

use super::browse::{MemberRow, Pager, split_place};
use super::places;
use super::upstreams::{self, UpstreamSection};
use super::{
    Chrome, Fields, PageResult, Visitor, form_status, page_error, see_other, show, token_state,
    visit,
};
use crate::access::{self, ApiUser, Operation};
use crate::error::Error;
use crate::model::{DeployToken, Role};
use crate::registry::directory::Target;
use crate::registry::directory::{self, Place};
use crate::registry::manage::{self, FileRef, PackageRef};
use crate::registry::{deploy_tokens, membership, structure, users};
use crate::server::AppState;

/// Whether the visitor may change this project's or group's settings and packages (the
/// pages show the controls only then; the forms ask again).
pub fn may_maintain(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    on: access::On<'_>,
) -> Result<bool, Error> {
    access::allowed(conn, &visitor.caller(), Operation::SettingsShow, on)
}

/// The signed-in visitor as a user of the management services.
fn api_of(visitor: &Visitor) -> Result<ApiUser, Error> {
    visitor.session.as_ref().ok_or(Error::Unauthorized)?;
    access::api_user(&visitor.caller(), true)
}

/// A deploy token as the settings page lists it.
struct DeployTokenRow {
    id: i64,
    name: String,
    username: String,
    scopes: String,
    expires: String,
    state: &'static str,
}

impl DeployTokenRow {
    fn new(token: &DeployToken) -> DeployTokenRow {
        let state = token_state(token.revoked, token.expires_on.as_deref());
        DeployTokenRow {
            id: token.id,
            name: token.name.clone(),
            username: token.username.clone(),
            scopes: token.scopes.to_stored().replace(',', ", "),
            expires: token.expires_on.clone().unwrap_or_else(|| "never".into()),
            state,
        }
    }
}

#[derive(Template)]
#[template(path = "web/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    path: String,
    is_project: bool,
    /// Each visibility with whether it is the current one.
    visibilities: Vec<(&'static str, bool)>,
    /// The display name and description, which owners change here.
    name: String,
    description: String,
    allow_file_replace: bool,
    is_owner: bool,
    members: Vec<MemberRow>,
    /// How many direct members there are (a page shows `PAGE_ROWS`).
    members_total: usize,
    pager: Pager,
    deploy_tokens: Vec<DeployTokenRow>,
    /// A top-level group's upstreams and name rules, for its owners.
    upstreams: Option<UpstreamSection>,
    /// A deploy token just created: (username, secret), shown only now.
    created: Option<(String, String)>,
    problem: Option<String>,
    roles: [(&'static str, i64); 5],
}

const ROLES: [(&str, i64); 5] = [
    ("guest", 10),
    ("reporter", 20),
    ("developer", 30),
    ("maintainer", 40),
    ("owner", 50),
];

/// The settings target at a path, if the visitor maintains it (others get 404 or 403), and
/// whether the visitor may also change its visibility (owners).
fn target_of(
    conn: &rusqlite::Connection,
    api: &ApiUser,
    path: &str,
) -> Result<(Target, bool), Error> {
    let caller = api.caller();
    let target = match directory::place(conn, &caller, path)? {
        Place::Project(reader) => Target::Project(reader.project().clone()),
        Place::Group(reader) => Target::Group(reader.group().clone()),
    };
    let on = membership::on(&target);
    access::judge(conn, &caller, Operation::SettingsShow, on)?;
    let is_owner = access::allowed(conn, &caller, Operation::PlaceUpdate, on)?;
    Ok((target, is_owner))
}

fn settings_view(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    path: &str,
    created: Option<(String, String)>,
    problem: Option<String>,
    pager: Pager,
) -> Result<SettingsPage, Error> {
    let api = api_of(visitor)?;
    let (target, is_owner) = target_of(conn, &api, path)?;
    let (members_total, members) = MemberRow::direct(conn, &api.caller(), &target, pager.window())?;
    let deploy_tokens = deploy_tokens::list(conn, &api.caller(), &target)?
        .iter()
        .map(DeployTokenRow::new)
        .collect();
    let upstreams = upstreams::section(conn, &api.caller(), &target)?;
    let (is_project, visibility, allow_file_replace, full_path, name, description) = match target {
        Target::Project(p) => (
            true,
            p.visibility,
            p.allow_file_replace,
            p.full_path,
            p.name,
            p.description,
        ),
        Target::Group(g) => (
            false,
            g.visibility,
            false,
            g.full_path,
            g.name,
            g.description,
        ),
    };
    Ok(SettingsPage {
        chrome: visitor.chrome(),
        path: full_path,
        is_project,
        visibilities: ["private", "internal", "public"]
            .into_iter()
            .map(|v| (v, v == visibility.as_str()))
            .collect(),
        name,
        description,
        allow_file_replace,
        is_owner,
        members,
        deploy_tokens,
        upstreams,
        created,
        problem,
        roles: ROLES,
        members_total,
        pager: pager.with_totals(&[members_total]),
    })
}

pub async fn settings_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: String,
    pager: Pager,
) -> PageResult {
    let page = visit(&req, &state, move |conn, visitor| {
        settings_view(conn, visitor, &path, None, None, pager)
    })
    .await?;
    show(&req, &page, actix_web::http::StatusCode::OK)
}

/// Every form on a group or project page posts to `PATH/-/…`; the part after `-/` says which.
pub(super) async fn place_form(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> PageResult {
    let path = req.match_info().get("path").unwrap_or_default().to_owned();
    let (place, action) = split_place(&path);
    let (place, action) = (place.to_owned(), action.to_owned());
    let fields = Fields::parse(&body).map_err(|e| page_error(&req, e))?;
    let blobs = state.blobs.clone();
    let outcome = visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.get("csrf_token"))?;
        let api = api_of(visitor)?;
        // The form is found in the one list of place routes (`places`), which the route
        // inventory shows too.
        let (route, taken) = places::find(true, &action).ok_or_else(no_such_page)?;
        let number = || {
            taken
                .first()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(no_such_page)
        };
        match route.pattern {
            "packages/{package_id}/yank"
            | "packages/{package_id}/unyank"
            | "packages/{package_id}/delete" => {
                let change = route.pattern.rsplit('/').next().unwrap_or_default();
                change_package(conn, &blobs, visitor, &place, number()?, change, &fields)
            }
            "settings/general" => {
                let visibility = fields
                    .optional("visibility")
                    .map(|v| v.parse())
                    .transpose()?;
                // Absent fields (an older form) leave the name and description as they are.
                let text = structure::Text {
                    name: fields.sent("name").map(|n| n.trim().to_owned()),
                    description: fields.sent("description"),
                };
                let outcome = match target_of(conn, &api, &place)?.0 {
                    Target::Project(_) => {
                        let replace = fields.optional("allow_file_replace").is_some();
                        structure::update_project(
                            conn,
                            &api.caller(),
                            &place,
                            visibility,
                            Some(replace),
                            &text,
                        )
                        .map(drop)
                    }
                    Target::Group(_) => {
                        structure::update_group(conn, &api.caller(), &place, visibility, &text)
                            .map(drop)
                    }
                };
                match outcome {
                    Ok(()) => Ok(Done::Back(settings_url(&place))),
                    // A name the rules refuse shows above the form, as for deploy tokens.
                    Err(Error::BadRequest(problem)) => {
                        let page = settings_view(
                            conn,
                            visitor,
                            &place,
                            None,
                            Some(problem),
                            Pager::new(None),
                        )?;
                        Ok(Done::Show(Box::new(page)))
                    }
                    Err(other) => Err(other),
                }
            }
            "settings/members" => {
                let (target, _) = target_of(conn, &api, &place)?;
                let username = fields.get("username");
                let filter = users::UserFilter {
                    username: Some(username.trim()),
                    ..users::UserFilter::default()
                };
                let user = users::list(conn, &api.caller(), &filter)?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        Error::bad_request(format!(
                            "There is no user named \"{}\".",
                            username.trim()
                        ))
                    })?;
                membership::set(conn, &api.caller(), &target, user.id, fields.role()?, false)?;
                Ok(Done::Back(settings_url(&place)))
            }
            "settings/members/{user_id}" => {
                let user_id = number()?;
                let (target, _) = target_of(conn, &api, &place)?;
                membership::set(conn, &api.caller(), &target, user_id, fields.role()?, true)?;
                Ok(Done::Back(settings_url(&place)))
            }
            "settings/members/{user_id}/remove" => {
                let user_id = number()?;
                let (target, _) = target_of(conn, &api, &place)?;
                membership::remove(conn, &api.caller(), &target, user_id)?;
                Ok(Done::Back(settings_url(&place)))
            }
            "settings/deploy_tokens" => {
                let (target, _) = target_of(conn, &api, &place)?;
                let scopes = fields.all("scope");
                let expires = fields.optional("expires_at");
                let name = fields.get("name");
                let outcome = if scopes.is_empty() {
                    Err(Error::bad_request("Choose at least one scope."))
                } else {
                    deploy_tokens::create(
                        conn,
                        &api.caller(),
                        &target,
                        name.trim(),
                        None,
                        &scopes,
                        expires.as_deref(),
                    )
                };
                let (created, problem) = match outcome {
                    Ok((token, secret)) => (Some((token.username, secret)), None),
                    Err(Error::BadRequest(problem)) => (None, Some(problem)),
                    Err(other) => return Err(other),
                };
                let page =
                    settings_view(conn, visitor, &place, created, problem, Pager::new(None))?;
                Ok(Done::Show(Box::new(page)))
            }
            "settings/deploy_tokens/{token_id}/revoke" => {
                let id = number()?;
                let (target, _) = target_of(conn, &api, &place)?;
                deploy_tokens::revoke(conn, &api.caller(), &target, id)?;
                Ok(Done::Back(settings_url(&place)))
            }
            "settings/upstreams"
            | "settings/upstreams/{upstream_id}/remove"
            | "settings/upstream_rules"
            | "settings/upstream_rules/{rule_id}/remove" => {
                let (target, _) = target_of(conn, &api, &place)?;
                let id = taken.first().and_then(|t| t.parse().ok());
                match upstreams::form(conn, &api.caller(), &target, route.pattern, id, &fields) {
                    Ok(()) => Ok(Done::Back(settings_url(&place))),
                    // What was wrong shows above the form, as for deploy tokens.
                    Err(Error::BadRequest(problem) | Error::Conflict(problem)) => {
                        let page = settings_view(
                            conn,
                            visitor,
                            &place,
                            None,
                            Some(problem),
                            Pager::new(None),
                        )?;
                        Ok(Done::Show(Box::new(page)))
                    }
                    Err(other) => Err(other),
                }
            }
            _ => Err(no_such_page()),
        }
    })
    .await?;
    match outcome {
        Done::Back(location) => Ok(see_other(&location)),
        Done::Show(page) => show(&req, page.as_ref(), form_status(&page.problem)),
    }
}

/// What a form leads to: back to a page, or a page shown at once (a new secret).
enum Done {
    Back(String),
    Show(Box<SettingsPage>),
}

fn no_such_page() -> Error {
    Error::not_found("There is no such page.")
}

fn settings_url(place: &str) -> String {
    format!("/{place}/-/settings")
}

impl Fields {
    fn role(&self) -> Result<Role, Error> {
        self.get("access_level")
            .parse::<i64>()
            .ok()
            .and_then(Role::from_level)
            .ok_or_else(|| Error::bad_request("Choose a role."))
    }
}

/// Yank (with an optional reason), unyank or delete one version, for maintainers.
fn change_package(
    conn: &mut rusqlite::Connection,
    blobs: &crate::blobs::BlobStore,
    visitor: &Visitor,
    place: &str,
    package_id: i64,
    change: &str,
    fields: &Fields,
) -> Result<Done, Error> {
    let Place::Project(reader) = directory::place(conn, &visitor.caller(), place)? else {
        return Err(no_such_page());
    };
    let maintainer = access::maintain_project(conn, &visitor.caller(), reader.project().clone())?;
    let package = PackageRef::Id(package_id);
    let back = format!("/{place}/-/packages/{package_id}");
    match change {
        "yank" => {
            let reason = fields.get("reason");
            manage::set_yanked(
                conn,
                &maintainer,
                &package,
                &FileRef::All,
                Some(reason.trim()),
            )?;
            Ok(Done::Back(back))
        }
        "unyank" => {
            manage::set_yanked(conn, &maintainer, &package, &FileRef::All, None)?;
            Ok(Done::Back(back))
        }
        "delete" => {
            if fields.optional("confirm").is_none() {
                return Err(Error::bad_request(
                    "Tick the box to confirm that the version and its files should be deleted.",
                ));
            }
            manage::delete(conn, blobs, &maintainer, &package, &FileRef::All)?;
            Ok(Done::Back(format!("/{place}/-/packages")))
        }
        _ => Err(no_such_page()),
    }
}
