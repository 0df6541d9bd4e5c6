//! GitLab's REST API for moving a project or a group to another namespace (`transfer`).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::api_views::{ErrorView, GroupView, IdPath, ProjectView};
use super::{as_api_user, param, params};
use crate::error::Result;
use crate::registry::{directory, transfer};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    // The owner of what moves; the target is judged again by the service (creating there).
    routes.add(
        Method::PUT,
        "/api/v4/projects/{id}/transfer",
        Operation::PlaceUpdate,
        transfer_project,
    );
    routes.add(
        Method::POST,
        "/api/v4/groups/{id}/transfer",
        Operation::PlaceUpdate,
        transfer_group,
    );
}

/// Where a project goes.
#[derive(Deserialize, Default, ToSchema)]
pub struct ProjectTarget {
    /// The id or full path of the group or user namespace to move the project into.
    #[serde(default, deserialize_with = "params::opt_reference")]
    #[schema(value_type = String)]
    namespace: Option<String>,
}

/// Where a group goes.
#[derive(Deserialize, Default, ToSchema)]
pub struct GroupTarget {
    /// The id or full path of the new parent group; absent: the group becomes top-level.
    #[serde(default, deserialize_with = "params::opt_reference")]
    #[schema(value_type = Option<String>)]
    group_id: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v4/projects/{id}/transfer",
    tag = "projects",
    params(IdPath),
    request_body = ProjectTarget,
    responses(
        (status = 200, description = "The moved project (its visibility narrowed to the new group's where it was wider)", body = ProjectView),
        (status = 409, description = "The path is taken in the target namespace", body = ErrorView)
    )
)]
async fn transfer_project(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let target = params::input::<ProjectTarget>(&req, &body)?.namespace;
    let (project, namespace) = as_api_user(&req, &state, true, move |conn, api| {
        let caller = api.caller();
        let project = transfer::transfer_project(conn, &caller, &reference, target.as_deref())?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(&project, &namespace)))
}

#[utoipa::path(
    post,
    path = "/api/v4/groups/{id}/transfer",
    tag = "groups",
    params(IdPath),
    request_body = Option<GroupTarget>,
    responses(
        (status = 201, description = "The moved group", body = GroupView),
        (status = 409, description = "The path is taken in the new parent", body = ErrorView)
    )
)]
async fn transfer_group(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let target = params::input::<GroupTarget>(&req, &body)?.group_id;
    let group = as_api_user(&req, &state, true, move |conn, api| {
        transfer::transfer_group(conn, &api.caller(), &reference, target.as_deref())
    })
    .await?;
    Ok(HttpResponse::Created().json(GroupView::new(&group)))
}
