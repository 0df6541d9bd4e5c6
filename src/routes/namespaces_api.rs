//! GitLab's REST API for walking the group tree: every subgroup below a group
//! (`descendant_groups`).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::api_views::{ErrorView, GroupView, IdPath};
use super::paging::Paging;
use super::{as_api_user, param};
use crate::error::Result;
use crate::registry::directory;
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/descendant_groups",
        Operation::PlaceShow,
        list_descendant_groups,
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
    let groups = as_api_user(&req, &state, false, move |conn, api| {
        directory::descendants(conn, &api.caller(), &reference)
    })
    .await?;
    let search = query.search.as_deref().map(str::to_lowercase);
    let items = groups
        .iter()
        .filter(|g| {
            search
                .as_deref()
                .is_none_or(|s| g.full_path.to_lowercase().contains(s))
        })
        .map(GroupView::new)
        .collect();
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    Ok(paging.respond(&req, items))
}
