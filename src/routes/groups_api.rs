//! GitLab's REST API for reading groups, subgroups and projects (what `gl.groups` and
//! `gl.projects` list and get).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::api_views::{ErrorView, GroupView, IdPath, ProjectView, accepted};
use super::paging::Paging;
use super::place_settings::Settings;
use super::{as_api_user, param, params};
use crate::error::Result;
use crate::model::{Namespace, Project};
use crate::registry::directory::{self, Filters};
use crate::registry::structure;
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/groups",
        Operation::PlacesList,
        list_groups,
    );
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}",
        Operation::PlaceShow,
        show_group,
    );
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/subgroups",
        Operation::PlaceShow,
        list_subgroups,
    );
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/projects",
        Operation::PlaceShow,
        list_group_projects,
    );
    routes.add(
        Method::GET,
        "/api/v4/projects",
        Operation::PlacesList,
        list_projects,
    );
    routes.add(
        Method::GET,
        "/api/v4/projects/{id}",
        Operation::PlaceShow,
        show_project,
    );
    routes.add(
        Method::POST,
        "/api/v4/groups",
        Operation::GroupCreate,
        create_group,
    );
    routes.add(
        Method::PUT,
        "/api/v4/groups/{id}",
        Operation::PlaceUpdate,
        update_group,
    );
    routes.add(
        Method::DELETE,
        "/api/v4/groups/{id}",
        Operation::PlaceDelete,
        delete_group,
    );
    routes.add(
        Method::POST,
        "/api/v4/projects",
        Operation::ProjectCreate,
        create_project,
    );
    routes.add(
        Method::PUT,
        "/api/v4/projects/{id}",
        Operation::PlaceUpdate,
        update_project,
    );
    routes.add(
        Method::DELETE,
        "/api/v4/projects/{id}",
        Operation::PlaceDelete,
        delete_project,
    );
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    search: Option<String>,
    #[serde(default, deserialize_with = "params::flag")]
    membership: bool,
    #[serde(default, deserialize_with = "params::flag")]
    owned: bool,
    #[param(pattern = "^(private|internal|public)$")]
    visibility: Option<String>,
    #[serde(default, deserialize_with = "params::flag")]
    include_subgroups: bool,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

impl ListQuery {
    fn filters(&self) -> Filters {
        Filters {
            search: self.search.clone(),
            membership: self.membership,
            owned: self.owned,
            visibility: self.visibility.clone(),
        }
    }

    fn paging(&self) -> Paging {
        Paging {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v4/groups",
    tag = "groups",
    params(
        ListQuery,
        ("skip_groups[]" = Option<Vec<i64>>, Query, style = Form, explode, description = "Groups to leave out, by id"),
    ),
    responses((status = 200, description = "Groups the caller can see, one page", body = [GroupView]))
)]
async fn list_groups(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (filters, paging) = (query.filters(), query.paging());
    let skip = params::query_ids(&req, "skip_groups")?;
    let (total, groups) = as_api_user(&req, &state, false, move |conn, api| {
        directory::groups_page(conn, &api.caller(), &filters, skip, paging.window())
    })
    .await?;
    let views = groups.iter().map(GroupView::new).collect();
    Ok(paging.respond_page(&req, total, views))
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}",
    tag = "groups",
    params(IdPath),
    responses((status = 200, description = "The group", body = GroupView))
)]
async fn show_group(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let group = as_api_user(&req, &state, false, move |conn, api| {
        directory::group(conn, &api.caller(), &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(GroupView::new(&group)))
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/subgroups",
    tag = "groups",
    params(IdPath, ListQuery),
    responses((status = 200, description = "Direct subgroups, one page", body = [GroupView]))
)]
async fn list_subgroups(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let (filters, paging) = (query.filters(), query.paging());
    let (total, groups) = as_api_user(&req, &state, false, move |conn, api| {
        let window = paging.window();
        directory::subgroups_page(conn, &api.caller(), &reference, &filters, window)
    })
    .await?;
    let views = groups.iter().map(GroupView::new).collect();
    Ok(paging.respond_page(&req, total, views))
}

/// Projects with their namespaces, for the JSON.
pub(super) fn with_namespaces(
    conn: &rusqlite::Connection,
    projects: Vec<Project>,
) -> Result<Vec<(Project, Namespace)>> {
    projects
        .into_iter()
        .map(|p| {
            let ns = directory::namespace_of(conn, &p)?;
            Ok((p, ns))
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/projects",
    tag = "groups",
    params(IdPath, ListQuery),
    responses((status = 200, description = "The group's projects, one page", body = [ProjectView]))
)]
async fn list_group_projects(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let within = Some((param(&req, "id"), query.include_subgroups));
    projects_page(req, query, state, within).await
}

#[utoipa::path(
    get,
    path = "/api/v4/projects",
    tag = "projects",
    params(ListQuery),
    responses((status = 200, description = "Projects the caller can see, one page", body = [ProjectView]))
)]
async fn list_projects(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    projects_page(req, query, state, None).await
}

/// One page of the projects the caller may see: all, or one group's (`within`: its id or
/// path, and whether its subgroups' projects count).
async fn projects_page(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
    within: Option<(String, bool)>,
) -> Result<HttpResponse> {
    let filters = query.filters();
    let projects = as_api_user(&req, &state, false, move |conn, api| {
        let within = within.as_ref().map(|(group, deep)| (group.as_str(), *deep));
        let found = directory::projects(conn, &api.caller(), &filters, within)?;
        with_namespaces(conn, found)
    })
    .await?;
    let views = projects.iter().map(|(p, ns)| ProjectView::new(p, ns));
    Ok(query.paging().respond(&req, views.collect()))
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}",
    tag = "projects",
    params(IdPath),
    responses((status = 200, description = "The project", body = ProjectView))
)]
async fn show_project(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let (project, namespace) = as_api_user(&req, &state, false, move |conn, api| {
        let project = directory::project(conn, &api.caller(), &reference)?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&project, &namespace)))
}

#[utoipa::path(
    post,
    path = "/api/v4/groups",
    tag = "groups",
    request_body = Settings,
    responses((status = 201, description = "The new group", body = GroupView), (status = 409, description = "The path is taken", body = ErrorView))
)]
async fn create_group(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let settings = params::input::<Settings>(&req, &body)?;
    let (path, visibility) = settings.for_creation()?;
    let group = as_api_user(&req, &state, true, move |conn, api| {
        let (parent, text) = (settings.parent_id, settings.text());
        structure::create_group(conn, &api.caller(), &path, parent, visibility, &text)
    })
    .await?;
    Ok(HttpResponse::Created().json(GroupView::new(&group)))
}

#[utoipa::path(
    put,
    path = "/api/v4/groups/{id}",
    tag = "groups",
    params(IdPath),
    request_body = Option<Settings>,
    responses((status = 200, description = "The changed group", body = GroupView))
)]
async fn update_group(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let settings = params::input::<Settings>(&req, &body)?;
    let (visibility, text) = (settings.visibility()?, settings.text());
    let group = as_api_user(&req, &state, true, move |conn, api| {
        structure::update_group(conn, &api.caller(), &reference, visibility, &text)
    })
    .await?;
    Ok(HttpResponse::Ok().json(GroupView::new(&group)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/groups/{id}",
    tag = "groups",
    params(IdPath),
    responses((status = 202, description = "Removed", body = ErrorView), (status = 409, description = "The group is not empty", body = ErrorView))
)]
async fn delete_group(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    as_api_user(&req, &state, true, move |conn, api| {
        structure::delete_group(conn, &api.caller(), &reference)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(accepted()))
}

#[utoipa::path(
    post,
    path = "/api/v4/projects",
    tag = "projects",
    request_body = Settings,
    responses((status = 201, description = "The new project", body = ProjectView), (status = 409, description = "The path is taken", body = ErrorView))
)]
async fn create_project(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let settings = params::input::<Settings>(&req, &body)?;
    let (path, visibility) = settings.for_creation()?;
    let (project, namespace) = as_api_user(&req, &state, true, move |conn, api| {
        let project = structure::create_project(
            conn,
            &api.caller(),
            &path,
            settings.namespace_id,
            visibility,
            &settings.text(),
        )?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Created().json(ProjectView::new(&project, &namespace)))
}

#[utoipa::path(
    put,
    path = "/api/v4/projects/{id}",
    tag = "projects",
    params(IdPath),
    request_body = Option<Settings>,
    responses((status = 200, description = "The changed project", body = ProjectView))
)]
async fn update_project(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let settings = params::input::<Settings>(&req, &body)?;
    let visibility = settings.visibility()?;
    let (project, namespace) = as_api_user(&req, &state, true, move |conn, api| {
        let project = structure::update_project(
            conn,
            &api.caller(),
            &reference,
            visibility,
            settings.allow_file_replace,
            &settings.text(),
        )?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&project, &namespace)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/projects/{id}",
    tag = "projects",
    params(IdPath),
    responses((status = 202, description = "Removed with its packages", body = ErrorView))
)]
async fn delete_project(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let blobs = state.blobs.clone();
    as_api_user(&req, &state, true, move |conn, api| {
        structure::delete_project(conn, &blobs, &api.caller(), &reference)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(accepted()))
}
