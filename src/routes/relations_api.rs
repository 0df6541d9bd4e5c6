//! GitLab's REST API for what belongs to whom: a user's personal projects and memberships,
//! the groups a project lies in, and (for admins) every deploy token.

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api_views::{DeployTokenView, ErrorView, GroupView, IdPath, ProjectView};
use super::groups_api::with_namespaces;
use super::paging::Paging;
use super::{as_api_admin, as_api_user, param, params};
use crate::error::{Error, Result};
use crate::registry::{deploy_tokens, directory, relations};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/users/{user_id}/projects",
        Operation::UsersList,
        user_projects,
    );
    routes.add(
        Method::GET,
        "/api/v4/users/{user_id}/memberships",
        Operation::UsersAdmin,
        user_memberships,
    );
    routes.add(
        Method::GET,
        "/api/v4/projects/{id}/groups",
        Operation::PlaceShow,
        project_groups,
    );
    routes.add(
        Method::GET,
        "/api/v4/deploy_tokens",
        Operation::UsersAdmin,
        all_deploy_tokens,
    );
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

impl PageQuery {
    fn paging(&self) -> Paging {
        Paging {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

fn user_id(req: &HttpRequest) -> Result<i64> {
    param(req, "user_id")
        .parse()
        .map_err(|_| Error::not_found("404 User Not Found"))
}

#[utoipa::path(
    get,
    path = "/api/v4/users/{user_id}/projects",
    tag = "users",
    params(("user_id" = i64, Path), PageQuery),
    responses((status = 200, description = "Projects in the user's personal namespace that the caller may see, one page", body = [ProjectView]), (status = 404, description = "No such user", body = ErrorView))
)]
async fn user_projects(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let id = user_id(&req)?;
    let projects = as_api_user(&req, &state, false, move |conn, api| {
        with_namespaces(conn, relations::user_projects(conn, &api.caller(), id)?)
    })
    .await?;
    let views = projects.iter().map(|(p, ns)| ProjectView::new(p, ns));
    Ok(query.paging().respond(&req, views.collect()))
}

/// `?type=Project` or `?type=Namespace`: only memberships of that kind.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MembershipQuery {
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = "^(Project|Namespace)$")]
    kind: Option<String>,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

/// A direct membership as GitLab's `/users/:id/memberships` shows it.
#[derive(Serialize, ToSchema)]
struct MembershipView {
    source_id: i64,
    /// The group's or project's full path.
    source_name: String,
    /// `Project` or `Namespace` (a group).
    source_type: &'static str,
    access_level: i64,
}

#[utoipa::path(
    get,
    path = "/api/v4/users/{user_id}/memberships",
    tag = "users",
    params(("user_id" = i64, Path), MembershipQuery),
    responses((status = 200, description = "The user's direct memberships (admins only), one page", body = [MembershipView]), (status = 400, description = "An unknown type", body = ErrorView), (status = 403, description = "Not an admin", body = ErrorView), (status = 404, description = "No such user", body = ErrorView))
)]
async fn user_memberships(
    req: HttpRequest,
    query: web::Query<MembershipQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let id = user_id(&req)?;
    if query
        .kind
        .as_deref()
        .is_some_and(|k| !matches!(k, "Project" | "Namespace"))
    {
        return Err(Error::bad_request(
            "400 Bad request - type does not have a valid value",
        ));
    }
    let found = as_api_user(&req, &state, false, move |conn, api| {
        relations::user_memberships(conn, &api.caller(), id)
    })
    .await?;
    let views = found
        .iter()
        .map(|m| MembershipView {
            source_id: m.source_id,
            source_name: m.source_path.clone(),
            source_type: if m.is_project { "Project" } else { "Namespace" },
            access_level: m.role.level(),
        })
        .filter(|v| query.kind.as_deref().is_none_or(|k| k == v.source_type))
        .collect();
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    Ok(paging.respond(&req, views))
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/groups",
    tag = "projects",
    params(IdPath, PageQuery),
    responses((status = 200, description = "The groups the project lies in, top-level first, one page", body = [GroupView]), (status = 404, description = "No such project", body = ErrorView))
)]
async fn project_groups(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let groups = as_api_user(&req, &state, false, move |conn, api| {
        directory::project_groups(conn, &api.caller(), &reference)
    })
    .await?;
    Ok(query
        .paging()
        .respond(&req, groups.iter().map(GroupView::new).collect()))
}

/// `?active=true`: only tokens neither revoked nor expired.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeployTokensQuery {
    #[serde(default, deserialize_with = "params::flag")]
    active: bool,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v4/deploy_tokens",
    tag = "deploy tokens",
    params(DeployTokensQuery),
    responses((status = 200, description = "Every deploy token of every project and group (admins only), without secrets, one page", body = [DeployTokenView]), (status = 403, description = "Not an admin", body = ErrorView))
)]
async fn all_deploy_tokens(
    req: HttpRequest,
    query: web::Query<DeployTokensQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let active = query.active;
    let tokens = as_api_admin(&req, &state, move |conn, api| {
        deploy_tokens::list_all(conn, &api.caller(), active)
    })
    .await?;
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let views = tokens.iter().map(|t| DeployTokenView::new(t, None));
    Ok(paging.respond(&req, views.collect()))
}
