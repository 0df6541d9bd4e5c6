//! GitLab's REST API for the settings of projects and groups that maintainers manage:
//! members (list direct and `/all`, add, change role, remove) and deploy tokens.

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::api_views::{DeployTokenView, ErrorView, MemberView, NewTokenBody};
use super::paging::{PageQuery, Paging};
use super::{as_api_user, param, params};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::registry::{deploy_tokens, membership};
use crate::server::AppState;

/// Members and deploy tokens work alike for projects and groups: one route for both, with
/// the kind as the first path segment, as GitLab's URLs have it.
const OWNER: &str = "/api/v4/{kind:projects|groups}/{id}";

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        &format!("{OWNER}/members"),
        Operation::MembersList,
        list_members,
    );
    routes.add(
        Method::GET,
        &format!("{OWNER}/members/all"),
        Operation::MembersList,
        list_all_members,
    );
    routes.add(
        Method::GET,
        &format!("{OWNER}/members/all/{{user_id}}"),
        Operation::MembersList,
        show_inherited_member,
    );
    routes.add(
        Method::GET,
        &format!("{OWNER}/members/{{user_id}}"),
        Operation::MembersList,
        show_member,
    );
    routes.add(
        Method::POST,
        &format!("{OWNER}/members"),
        Operation::MembersAdd,
        add_member,
    );
    routes.add(
        Method::PUT,
        &format!("{OWNER}/members/{{user_id}}"),
        Operation::MembersChange,
        edit_member,
    );
    routes.add(
        Method::DELETE,
        &format!("{OWNER}/members/{{user_id}}"),
        Operation::MembersRemove,
        remove_member,
    );
    routes.add(
        Method::GET,
        &format!("{OWNER}/deploy_tokens"),
        Operation::DeployTokensList,
        list_tokens,
    );
    routes.add(
        Method::POST,
        &format!("{OWNER}/deploy_tokens"),
        Operation::DeployTokensCreate,
        create_token,
    );
    routes.add(
        Method::GET,
        &format!("{OWNER}/deploy_tokens/{{token_id}}"),
        Operation::DeployTokensList,
        show_token,
    );
    routes.add(
        Method::DELETE,
        &format!("{OWNER}/deploy_tokens/{{token_id}}"),
        Operation::DeployTokensRevoke,
        revoke_token,
    );
}

/// Whether a project or a group owns the members or tokens: the `{kind}` the route's pattern
/// admits, named for the OpenAPI description.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "only described: `owner` reads the segment the route matched"
)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Projects,
    Groups,
}

/// `/api/v4/{kind}/{id}/…`: a project's or a group's.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only described: `owner` reads the path")]
pub struct OwnerPath {
    kind: OwnerKind,
    /// The numeric id or the URL-encoded full path.
    id: String,
}

/// The owner a request names: (is it a group, its id or path).
fn owner(req: &HttpRequest) -> (bool, String) {
    (param(req, "kind") == "groups", param(req, "id"))
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/members",
    tag = "members",
    params(OwnerPath, PageQuery, ("user_ids[]" = Option<Vec<i64>>, Query, style = Form, explode, description = "Only these users")),
    responses((status = 200, description = "Direct members", body = [MemberView]))
)]
async fn list_members(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    members(req, query.paging(), state, false).await
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/members/all",
    tag = "members",
    params(OwnerPath, PageQuery, ("user_ids[]" = Option<Vec<i64>>, Query, style = Form, explode, description = "Only these users")),
    responses((status = 200, description = "Direct and inherited members, each with the highest role", body = [MemberView]))
)]
async fn list_all_members(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    members(req, query.paging(), state, true).await
}

/// Direct members, or with `inherited` everyone with a role through a parent group too
/// (each with their highest role); with `user_ids[]`, only those users. One page, by
/// username, cut by the database.
async fn members(
    req: HttpRequest,
    paging: Paging,
    state: web::Data<AppState>,
    inherited: bool,
) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let only = params::query_ids(&req, "user_ids")?;
    let (total, members) = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        let window = paging.window();
        membership::page(conn, &api.caller(), &target, inherited, &only, window)
    })
    .await?;
    let items: Vec<MemberView> = members
        .iter()
        .map(|(u, r)| MemberView::new(u, *r))
        .collect();
    Ok(paging.respond_page(&req, total, items))
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/members/{user_id}",
    tag = "members",
    params(OwnerPath, ("user_id" = i64, Path)),
    responses((status = 200, description = "A direct member", body = MemberView), (status = 404, description = "Not a direct member", body = ErrorView))
)]
async fn show_member(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    member(req, state, false).await
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/members/all/{user_id}",
    tag = "members",
    params(OwnerPath, ("user_id" = i64, Path)),
    responses((status = 200, description = "A direct or inherited member with the highest role", body = MemberView), (status = 404, description = "Not a member", body = ErrorView))
)]
async fn show_inherited_member(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    member(req, state, true).await
}

/// One member (python-gitlab's `members.get()` and `members_all.get()`).
async fn member(
    req: HttpRequest,
    state: web::Data<AppState>,
    inherited: bool,
) -> Result<HttpResponse> {
    let ((is_group, reference), user_id) = (owner(&req), user_id_param(&req)?);
    let (user, role) = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        membership::get(conn, &api.caller(), &target, user_id, inherited)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MemberView::new(&user, role)))
}

/// `{"user_id": 3, "access_level": 30}` (what python-gitlab sends; the `gitlab` command line
/// sends the numbers as strings, which are taken too).
#[derive(Deserialize, ToSchema)]
struct MemberBody {
    #[serde(default, deserialize_with = "params::opt_int")]
    user_id: Option<i64>,
    /// 10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner.
    #[schema(minimum = 10, maximum = 50, multiple_of = 10)]
    #[serde(deserialize_with = "params::int")]
    access_level: i64,
}

fn member_body(req: &HttpRequest, body: &web::Bytes) -> Result<(Option<i64>, Role)> {
    let parsed: MemberBody = params::input(req, body)?;
    let role = Role::from_level(parsed.access_level).ok_or_else(|| {
        Error::bad_request("400 Bad request - access_level must be 10, 20, 30, 40 or 50")
    })?;
    Ok((parsed.user_id, role))
}

#[utoipa::path(
    post,
    path = "/api/v4/{kind}/{id}/members",
    tag = "members",
    params(OwnerPath),
    request_body = MemberBody,
    responses((status = 201, description = "The new member", body = MemberView), (status = 409, description = "Already a member", body = ErrorView))
)]
async fn add_member(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let (user_id, role) = member_body(&req, &body)?;
    let user_id =
        user_id.ok_or_else(|| Error::bad_request("400 Bad request - user_id is missing"))?;
    let (user, role) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        membership::set(conn, &api.caller(), &target, user_id, role, false)
    })
    .await?;
    Ok(HttpResponse::Created().json(MemberView::new(&user, role)))
}

fn user_id_param(req: &HttpRequest) -> Result<i64> {
    param(req, "user_id")
        .parse()
        .map_err(|_| Error::not_found("404 Member Not Found"))
}

#[utoipa::path(
    put,
    path = "/api/v4/{kind}/{id}/members/{user_id}",
    tag = "members",
    params(OwnerPath, ("user_id" = i64, Path)),
    request_body = MemberBody,
    responses((status = 200, description = "The member with the new role", body = MemberView))
)]
async fn edit_member(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let ((is_group, reference), user_id) = (owner(&req), user_id_param(&req)?);
    let (_, role) = member_body(&req, &body)?;
    let (user, role) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        membership::set(conn, &api.caller(), &target, user_id, role, true)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MemberView::new(&user, role)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/{kind}/{id}/members/{user_id}",
    tag = "members",
    params(OwnerPath, ("user_id" = i64, Path)),
    responses((status = 204, description = "Removed"))
)]
async fn remove_member(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ((is_group, reference), user_id) = (owner(&req), user_id_param(&req)?);
    as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        membership::remove(conn, &api.caller(), &target, user_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/deploy_tokens",
    tag = "deploy tokens",
    params(OwnerPath),
    responses((status = 200, description = "Deploy tokens (without secrets)", body = [DeployTokenView]))
)]
async fn list_tokens(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let tokens = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        deploy_tokens::list(conn, &api.caller(), &target)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        tokens
            .iter()
            .map(|t| DeployTokenView::new(t, None))
            .collect::<Vec<_>>(),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v4/{kind}/{id}/deploy_tokens",
    tag = "deploy tokens",
    params(OwnerPath),
    request_body = NewTokenBody,
    responses((status = 201, description = "The token with its secret, shown once", body = DeployTokenView))
)]
async fn create_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let new: NewTokenBody = params::input(&req, &body)?;
    let (token, secret) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        deploy_tokens::create(
            conn,
            &api.caller(),
            &target,
            &new.name,
            new.username.as_deref(),
            &new.scopes,
            new.expires_at.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(DeployTokenView::new(&token, Some(secret))))
}

fn token_id_param(req: &HttpRequest) -> Result<i64> {
    param(req, "token_id")
        .parse()
        .map_err(|_| Error::not_found("404 Deploy Token Not Found"))
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/deploy_tokens/{token_id}",
    tag = "deploy tokens",
    params(OwnerPath, ("token_id" = i64, Path)),
    responses((status = 200, description = "The token (without its secret)", body = DeployTokenView), (status = 404, description = "No such token here", body = ErrorView))
)]
async fn show_token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ((is_group, reference), token_id) = (owner(&req), token_id_param(&req)?);
    let token = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        deploy_tokens::get(conn, &api.caller(), &target, token_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DeployTokenView::new(&token, None)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/{kind}/{id}/deploy_tokens/{token_id}",
    tag = "deploy tokens",
    params(OwnerPath, ("token_id" = i64, Path)),
    responses((status = 204, description = "Revoked"))
)]
async fn revoke_token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ((is_group, reference), token_id) = (owner(&req), token_id_param(&req)?);
    as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        deploy_tokens::revoke(conn, &api.caller(), &target, token_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
