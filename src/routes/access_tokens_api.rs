//! GitLab's REST API for project and group access tokens (tokens of a bot member).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_views::{ErrorView, scope_names};
use super::members_api::OwnerPath;
use super::paging::Paging;
use super::{as_api_user, param, params};
use crate::error::{Error, Result};
use crate::model::iso8601;
use crate::registry::access_tokens::{self, AccessToken};
use crate::registry::membership;
use crate::server::AppState;

const OWNER: &str = "/api/v4/{kind:projects|groups}/{id}/access_tokens";

pub fn configure(routes: &mut Routes) {
    let one = format!("{OWNER}/{{access_token_id}}");
    routes.add(Method::GET, OWNER, Operation::AccessTokensList, list);
    routes.add(Method::POST, OWNER, Operation::AccessTokensCreate, create);
    routes.add(Method::GET, &one, Operation::AccessTokensList, show);
    routes.add(Method::DELETE, &one, Operation::AccessTokensRevoke, revoke);
    routes.add(
        Method::POST,
        &format!("{one}/rotate"),
        Operation::AccessTokensRevoke,
        rotate,
    );
}

/// A project or group access token, as GitLab shows one.
#[derive(Serialize, ToSchema)]
pub struct AccessTokenView {
    pub id: i64,
    pub name: String,
    pub revoked: bool,
    pub active: bool,
    pub scopes: Vec<String>,
    /// The token's bot user.
    pub user_id: i64,
    /// The bot's role on the project or group.
    pub access_level: Option<i64>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// YYYY-MM-DD; the token stops working on that day.
    pub expires_at: Option<String>,
    /// The secret: only in the answer that created or rotated the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl AccessTokenView {
    fn new((token, role): &AccessToken, secret: Option<String>) -> AccessTokenView {
        AccessTokenView {
            id: token.id,
            name: token.name.clone(),
            revoked: token.revoked,
            active: !token.revoked && !crate::auth::is_expired(token.expires_on.as_deref()),
            scopes: scope_names(&token.scopes.to_stored()),
            user_id: token.user_id,
            access_level: role.map(|r| r.level()),
            created_at: iso8601(token.created_at),
            last_used_at: token.last_used_at.map(iso8601),
            expires_at: token.expires_on.clone(),
            token: secret,
        }
    }
}

/// A new access token.
#[derive(Deserialize, ToSchema)]
pub struct NewAccessToken {
    name: String,
    /// A list, or one comma-separated string (`"api,read_api"`).
    #[schema(value_type = Vec<crate::model::Scope>)]
    #[serde(deserialize_with = "params::list")]
    scopes: Vec<String>,
    /// The bot's role: 10, 20, 30, 40 (the default) or 50; never above the creator's own.
    #[serde(default, deserialize_with = "params::opt_int")]
    #[schema(value_type = Option<i64>)]
    access_level: Option<i64>,
    /// YYYY-MM-DD after today (a timestamp's day counts); left out: a year from today.
    #[schema(format = Date)]
    #[serde(default, deserialize_with = "params::opt_text")]
    expires_at: Option<String>,
}

/// A rotation's new expiry (left out: a week from today).
#[derive(Deserialize, Default, ToSchema)]
pub struct RotateAccessToken {
    #[schema(format = Date)]
    #[serde(default, deserialize_with = "params::opt_text")]
    expires_at: Option<String>,
}

fn owner(req: &HttpRequest) -> (bool, String) {
    (param(req, "kind") == "groups", param(req, "id"))
}

fn token_id(req: &HttpRequest) -> Result<i64> {
    param(req, "access_token_id")
        .parse()
        .map_err(|_| Error::not_found("404 Access Token Not Found"))
}

/// GitLab's `page` and `per_page`: a place may hold thousands of tokens, read a page at a time.
#[derive(Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/access_tokens",
    tag = "access tokens",
    params(OwnerPath),
    responses((status = 200, description = "Access tokens (without secrets)", body = [AccessTokenView]))
)]
async fn list(
    req: HttpRequest,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (page, per_page) = paging.numbers();
    let offset = (page - 1).saturating_mul(per_page);
    let (total, tokens) = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        access_tokens::list(conn, &api.caller(), &target, offset, per_page)
    })
    .await?;
    let views: Vec<_> = tokens
        .iter()
        .map(|t| AccessTokenView::new(t, None))
        .collect();
    Ok(paging.respond_page(&req, total, views))
}

#[utoipa::path(
    post,
    path = "/api/v4/{kind}/{id}/access_tokens",
    tag = "access tokens",
    params(OwnerPath),
    request_body = NewAccessToken,
    responses((status = 201, description = "The token with its secret, shown once", body = AccessTokenView))
)]
async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (is_group, reference) = owner(&req);
    let new: NewAccessToken = params::input(&req, &body)?;
    let limits = state.token_limits.clone();
    let (token, secret) = as_api_user(&req, &state, true, move |conn, api| {
        let caller = api.caller();
        let target = membership::target(conn, &caller, is_group, &reference)?;
        let (level, expires) = (new.access_level, new.expires_at.as_deref());
        access_tokens::create(
            conn,
            &caller,
            &limits,
            &target,
            &new.name,
            &new.scopes,
            level,
            expires,
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(AccessTokenView::new(&token, Some(secret))))
}

#[utoipa::path(
    get,
    path = "/api/v4/{kind}/{id}/access_tokens/{access_token_id}",
    tag = "access tokens",
    params(OwnerPath, ("access_token_id" = i64, Path)),
    responses((status = 200, description = "The token (without its secret)", body = AccessTokenView), (status = 404, description = "No such token here", body = ErrorView))
)]
async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ((is_group, reference), id) = (owner(&req), token_id(&req)?);
    let token = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        access_tokens::get(conn, &api.caller(), &target, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AccessTokenView::new(&token, None)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/{kind}/{id}/access_tokens/{access_token_id}",
    tag = "access tokens",
    params(OwnerPath, ("access_token_id" = i64, Path)),
    responses((status = 204, description = "Revoked; the token's bot is deactivated"))
)]
async fn revoke(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let ((is_group, reference), id) = (owner(&req), token_id(&req)?);
    as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        access_tokens::revoke(conn, &api.caller(), &target, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v4/{kind}/{id}/access_tokens/{access_token_id}/rotate",
    tag = "access tokens",
    params(OwnerPath, ("access_token_id" = i64, Path)),
    request_body = Option<RotateAccessToken>,
    responses((status = 200, description = "The new token with its secret; the old one is revoked", body = AccessTokenView))
)]
async fn rotate(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let ((is_group, reference), id) = (owner(&req), token_id(&req)?);
    let rotation: RotateAccessToken = params::input(&req, &body)?;
    let limits = state.token_limits.clone();
    let token = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, &api.caller(), is_group, &reference)?;
        let expires = rotation.expires_at.as_deref();
        access_tokens::rotate(conn, &api.caller(), &limits, &target, id, expires)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AccessTokenView::new(&token.0, Some(token.1))))
}
