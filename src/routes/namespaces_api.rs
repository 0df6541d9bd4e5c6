//! GitLab's REST API for walking the group tree: every subgroup below a group
//! (`descendant_groups`), and the namespaces scripts look up to find a `namespace_id`.

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api_views::{ErrorView, GroupView, IdPath};
use super::paging::Paging;
use super::{as_api_user, param};
use crate::error::Result;
use crate::model::{Namespace, NamespaceKind};
use crate::registry::{directory, namespaces};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/descendant_groups",
        Operation::PlaceShow,
        list_descendant_groups,
    );
    routes.add(
        Method::GET,
        "/api/v4/namespaces",
        Operation::PlacesList,
        list_namespaces,
    );
    routes.add(
        Method::GET,
        "/api/v4/namespaces/{id}",
        Operation::PlacesList,
        show_namespace,
    );
    routes.add(
        Method::GET,
        "/api/v4/namespaces/{id}/exists",
        Operation::PlacesList,
        namespace_exists,
    );
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct TreeQuery {
    /// Only groups whose full path contains this (case-insensitive).
    search: Option<String>,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/descendant_groups",
    tag = "groups",
    params(IdPath, TreeQuery),
    responses((status = 200, description = "Every visible subgroup at any depth, one page", body = [GroupView]), (status = 404, description = "No such group", body = ErrorView))
)]
async fn list_descendant_groups(
    req: HttpRequest,
    query: web::Query<TreeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let search = query.search.clone();
    let (total, groups) = as_api_user(&req, &state, false, move |conn, api| {
        let (caller, window) = (api.caller(), paging.window());
        directory::descendants_page(conn, &caller, &reference, search.as_deref(), window)
    })
    .await?;
    let views = groups.iter().map(GroupView::new).collect();
    Ok(paging.respond_page(&req, total, views))
}

/// A namespace as GitLab's `/namespaces` shows it.
#[derive(Serialize, ToSchema)]
pub struct NamespaceView {
    pub id: i64,
    pub name: String,
    pub path: String,
    /// `user` (someone's personal namespace) or `group`.
    pub kind: &'static str,
    pub full_path: String,
    pub parent_id: Option<i64>,
}

impl NamespaceView {
    fn new(namespace: &Namespace) -> NamespaceView {
        let path = namespace.full_path.rsplit('/').next().unwrap_or_default();
        NamespaceView {
            id: namespace.id,
            name: namespace.name.clone(),
            path: path.to_owned(),
            kind: match namespace.kind {
                NamespaceKind::User => "user",
                NamespaceKind::Group => "group",
            },
            full_path: namespace.full_path.clone(),
            parent_id: namespace.parent_id,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v4/namespaces",
    tag = "namespaces",
    params(TreeQuery),
    responses((status = 200, description = "The caller's own namespace and the groups they may see (an admin: all), one page", body = [NamespaceView]))
)]
async fn list_namespaces(
    req: HttpRequest,
    query: web::Query<TreeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let search = query.search.clone();
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (total, found) = as_api_user(&req, &state, false, move |conn, api| {
        namespaces::page(conn, &api.caller(), search, paging.window())
    })
    .await?;
    let views = found.iter().map(NamespaceView::new).collect();
    Ok(paging.respond_page(&req, total, views))
}

#[utoipa::path(
    get,
    path = "/api/v4/namespaces/{id}",
    tag = "namespaces",
    params(IdPath),
    responses((status = 200, description = "The namespace", body = NamespaceView), (status = 404, description = "No such namespace the caller may see", body = ErrorView))
)]
async fn show_namespace(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let found = as_api_user(&req, &state, false, move |conn, api| {
        namespaces::get(conn, &api.caller(), &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(NamespaceView::new(&found)))
}

/// `?parent_id=`: look below this group instead of at the top level.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExistsQuery {
    parent_id: Option<i64>,
}

/// Whether a path is taken, and a free one to take instead.
#[derive(Serialize, ToSchema)]
struct ExistsView {
    exists: bool,
    suggests: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/v4/namespaces/{id}/exists",
    tag = "namespaces",
    params(("id" = String, Path, description = "The path asked about"), ExistsQuery),
    responses((status = 200, description = "Whether the path is taken", body = ExistsView), (status = 404, description = "No such parent group", body = ErrorView))
)]
async fn namespace_exists(
    req: HttpRequest,
    query: web::Query<ExistsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (path, parent) = (param(&req, "id"), query.parent_id);
    let (exists, suggests) = as_api_user(&req, &state, false, move |conn, api| {
        namespaces::exists(conn, &api.caller(), &path, parent)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ExistsView { exists, suggests }))
}
