//! GitLab's REST API for the caller, users and personal access tokens (the part python-gitlab's
//! `gl.auth()`, `gl.version()` and `personal_access_tokens` use).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::api_views::{ErrorView, NewTokenBody, PersonalAccessTokenView, UserView, VersionView};
use super::paging::Paging;
use super::{as_api_admin, as_api_user, param, params};
use crate::access;
use crate::error::{Error, Result};
use crate::registry::users::UserChanges;
use crate::registry::{tokens, users};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/version",
        Operation::PublicApiInfo,
        version,
    );
    routes.add(
        Method::GET,
        "/api/v4/user",
        Operation::AccountShow,
        current_user,
    );
    routes.add(
        Method::GET,
        "/api/v4/personal_access_tokens",
        Operation::TokensList,
        list_tokens,
    );
    routes.add(
        Method::GET,
        "/api/v4/personal_access_tokens/{token}",
        Operation::TokensList,
        show_token,
    );
    routes.add(
        Method::DELETE,
        "/api/v4/personal_access_tokens/{token}",
        Operation::TokensRevoke,
        revoke_token,
    );
    routes.add(
        Method::POST,
        "/api/v4/personal_access_tokens/{token}/rotate",
        Operation::TokensRevoke,
        rotate_token,
    );
    routes.add(
        Method::POST,
        "/api/v4/user/personal_access_tokens",
        Operation::TokensCreate,
        create_own_token,
    );
    routes.add(
        Method::POST,
        "/api/v4/users/{user_id}/personal_access_tokens",
        Operation::UsersAdmin,
        create_token_for,
    );
    routes.add(
        Method::GET,
        "/api/v4/users",
        Operation::UsersList,
        list_users,
    );
    routes.add(
        Method::POST,
        "/api/v4/users",
        Operation::UsersAdmin,
        create_user,
    );
    routes.add(
        Method::GET,
        "/api/v4/users/{user_id}",
        Operation::UsersList,
        show_user,
    );
    routes.add(
        Method::PUT,
        "/api/v4/users/{user_id}",
        Operation::UsersAdmin,
        update_user,
    );
    routes.add(
        Method::DELETE,
        "/api/v4/users/{user_id}",
        Operation::UsersAdmin,
        delete_user,
    );
    routes.add(
        Method::POST,
        "/api/v4/users/{user_id}/block",
        Operation::UsersAdmin,
        block_user,
    );
    routes.add(
        Method::POST,
        "/api/v4/users/{user_id}/unblock",
        Operation::UsersAdmin,
        unblock_user,
    );
}

/// `self` names the token the request came with.
fn token_id(raw: &str, api: &access::ApiUser) -> Result<i64> {
    match raw {
        "self" => api
            .token_id()
            .ok_or_else(|| Error::not_found("404 Not Found")),
        other => other.parse().map_err(|_| Error::not_found("404 Not Found")),
    }
}

#[utoipa::path(
    get,
    path = "/api/v4/version",
    tag = "meta",
    responses((status = 200, description = "The API level and this build", body = VersionView))
)]
async fn version() -> HttpResponse {
    // python-gitlab reads `version` and `revision`; GitLab tooling compares the version, so
    // it names the GitLab API level this one follows.
    HttpResponse::Ok().json(VersionView {
        version: "17.0.0".to_owned(),
        revision: format!("wheelhouse-{}", env!("CARGO_PKG_VERSION")),
    })
}

#[utoipa::path(
    get,
    path = "/api/v4/user",
    tag = "users",
    responses((status = 200, description = "The user the token belongs to", body = UserView))
)]
async fn current_user(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let user = as_api_user(&req, &state, false, |conn, api| {
        users::get(conn, &api.caller(), api.user_id())
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default, deserialize_with = "params::opt_int")]
    user_id: Option<i64>,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v4/personal_access_tokens",
    tag = "personal access tokens",
    params(ListQuery),
    responses((status = 200, description = "The caller's tokens (admins: anyone's with `user_id`)", body = [PersonalAccessTokenView]))
)]
async fn list_tokens(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (user_id, usage) = (query.user_id, state.token_usage.clone());
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (total, list) = as_api_user(&req, &state, false, move |conn, api| {
        // Last use is noted in memory; write it first so the list shows it.
        usage.flush(conn)?;
        tokens::page(conn, &api.caller(), user_id, paging.window())
    })
    .await?;
    let views = list
        .iter()
        .map(|t| PersonalAccessTokenView::new(t, None))
        .collect();
    Ok(paging.respond_page(&req, total, views))
}

#[utoipa::path(
    get,
    path = "/api/v4/personal_access_tokens/{token}",
    tag = "personal access tokens",
    params(("token" = String, Path, description = "The token's id, or `self` for the token of the request")),
    responses((status = 200, description = "The token", body = PersonalAccessTokenView))
)]
async fn show_token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let raw = param(&req, "token");
    let token = as_api_user(&req, &state, false, move |conn, api| {
        tokens::get(conn, &api.caller(), token_id(&raw, api)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(PersonalAccessTokenView::new(&token, None)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/personal_access_tokens/{token}",
    tag = "personal access tokens",
    params(("token" = String, Path, description = "The token's id, or `self` for the token of the request")),
    responses((status = 204, description = "Revoked"))
)]
async fn revoke_token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let raw = param(&req, "token");
    as_api_user(&req, &state, true, move |conn, api| {
        tokens::revoke(conn, &api.caller(), token_id(&raw, api)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default, ToSchema)]
struct RotateBody {
    #[schema(format = Date)]
    #[serde(default, deserialize_with = "params::opt_text")]
    expires_at: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v4/personal_access_tokens/{token}/rotate",
    tag = "personal access tokens",
    params(("token" = String, Path, description = "The token's id, or `self` for the token of the request")),
    request_body = Option<RotateBody>,
    responses((status = 200, description = "The new token with its secret; the old one stops at once", body = PersonalAccessTokenView))
)]
async fn rotate_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let raw = param(&req, "token");
    let body: RotateBody = params::input(&req, &body)?;
    let limits = state.token_limits.clone();
    let (token, secret) = as_api_user(&req, &state, true, move |conn, api| {
        let id = token_id(&raw, api)?;
        tokens::rotate(conn, &api.caller(), &limits, id, body.expires_at.as_deref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(PersonalAccessTokenView::new(&token, Some(secret))))
}

#[utoipa::path(
    post,
    path = "/api/v4/user/personal_access_tokens",
    tag = "personal access tokens",
    request_body = NewTokenBody,
    responses((status = 201, description = "The token with its secret, shown once", body = PersonalAccessTokenView))
)]
async fn create_own_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let body = params::input(&req, &body)?;
    create_token(req, body, state, None).await
}

#[utoipa::path(
    post,
    path = "/api/v4/users/{user_id}/personal_access_tokens",
    tag = "personal access tokens",
    params(("user_id" = i64, Path)),
    request_body = NewTokenBody,
    responses((status = 201, description = "The token with its secret, shown once", body = PersonalAccessTokenView))
)]
async fn create_token_for(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let user_id = param(&req, "user_id")
        .parse()
        .map_err(|_| Error::not_found("404 User Not Found"))?;
    let body = params::input(&req, &body)?;
    create_token(req, body, state, Some(user_id)).await
}

async fn create_token(
    req: HttpRequest,
    body: NewTokenBody,
    state: web::Data<AppState>,
    user_id: Option<i64>,
) -> Result<HttpResponse> {
    let limits = state.token_limits.clone();
    let (token, secret) = as_api_user(&req, &state, true, move |conn, api| {
        let owner = user_id.unwrap_or(api.user_id());
        tokens::create(
            conn,
            &api.caller(),
            &limits,
            owner,
            &body.name,
            &body.scopes,
            body.expires_at.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(PersonalAccessTokenView::new(&token, Some(secret))))
}

fn user_id_param(req: &HttpRequest) -> Result<i64> {
    param(req, "user_id")
        .parse()
        .map_err(|_| Error::not_found("404 User Not Found"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsersQuery {
    username: Option<String>,
    search: Option<String>,
    /// Only blocked users (admins).
    #[serde(default, deserialize_with = "params::flag")]
    blocked: bool,
    /// Only active users.
    #[serde(default, deserialize_with = "params::flag")]
    active: bool,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/v4/users",
    tag = "users",
    params(UsersQuery),
    responses((status = 200, description = "Users (non-admins see active ones), one page", body = [UserView]))
)]
async fn list_users(
    req: HttpRequest,
    query: web::Query<UsersQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let (username, search) = (query.username.clone(), query.search.clone());
    let (blocked, active) = (query.blocked, query.active);
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (number, size) = paging.numbers();
    let (views, total) = as_api_user(&req, &state, false, move |conn, api| {
        let caller = api.caller();
        let filter = users::UserFilter {
            username: username.as_deref(),
            search: search.as_deref(),
            blocked,
            active,
        };
        let (found, total) = users::page(conn, &caller, &filter, number, size)?;
        let private = |id| users::sees_private_fields(&caller, id);
        let views: Vec<UserView> = found
            .iter()
            .map(|u| UserView::new(u, private(u.id)))
            .collect();
        Ok((views, total))
    })
    .await?;
    Ok(paging.respond_page(&req, total, views))
}

#[utoipa::path(
    get,
    path = "/api/v4/users/{user_id}",
    tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 200, description = "The user", body = UserView))
)]
async fn show_user(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let id = user_id_param(&req)?;
    let (user, show_email) = as_api_user(&req, &state, false, move |conn, api| {
        let caller = api.caller();
        Ok((
            users::get(conn, &caller, id)?,
            users::sees_private_fields(&caller, id),
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, show_email)))
}

#[derive(Deserialize, ToSchema)]
struct NewUser {
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_-]{0,40}$")]
    username: String,
    /// The display name; the username unless given.
    #[schema(min_length = 1, max_length = 255, pattern = "^[^\\x00-\\x1f\\x7f]+$")]
    name: Option<String>,
    email: Option<String>,
    #[schema(min_length = 8)]
    password: Option<String>,
    #[serde(default, deserialize_with = "params::flag")]
    admin: bool,
}

#[utoipa::path(
    post,
    path = "/api/v4/users",
    tag = "users",
    request_body = NewUser,
    responses((status = 201, description = "The new user", body = UserView), (status = 409, description = "The username is taken", body = ErrorView))
)]
async fn create_user(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let new: NewUser = params::input(&req, &body)?;
    let user = as_api_admin(&req, &state, move |conn, admin| {
        let (email, password) = (new.email.as_deref(), new.password.as_deref());
        users::create(
            conn,
            &admin.caller(),
            &new.username,
            new.name.as_deref(),
            email,
            password,
            new.admin,
        )
        .map(|(user, _)| user)
    })
    .await?;
    Ok(HttpResponse::Created().json(UserView::new(&user, true)))
}

/// The fields of GitLab's user update this server keeps; others (bio …) are ignored, and the
/// username stays (a rename would move the personal namespace).
#[derive(Deserialize, Default, ToSchema)]
struct UserUpdate {
    /// The display name; empty goes back to the username.
    #[schema(max_length = 255, pattern = "^[^\\x00-\\x1f\\x7f]*$")]
    name: Option<String>,
    email: Option<String>,
    #[schema(min_length = 8)]
    password: Option<String>,
    #[serde(default, deserialize_with = "params::opt_flag")]
    admin: Option<bool>,
    username: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v4/users/{user_id}",
    tag = "users",
    params(("user_id" = i64, Path)),
    request_body = Option<UserUpdate>,
    responses((status = 200, description = "The changed user", body = UserView))
)]
async fn update_user(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let id = user_id_param(&req)?;
    let update: UserUpdate = params::input(&req, &body)?;
    let user = as_api_admin(&req, &state, move |conn, admin| {
        let current = users::get(conn, &admin.caller(), id)?;
        if update.username.is_some_and(|name| name != current.username) {
            return Err(Error::bad_request(
                "400 Bad request - usernames cannot be changed here",
            ));
        }
        let changes = UserChanges {
            name: update.name,
            email: update.email,
            password: update.password,
            is_admin: update.admin,
        };
        users::update(conn, &admin.caller(), id, &changes)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, true)))
}

/// What an admin does to a user.
enum UserChange {
    Block,
    Unblock,
    Delete,
}

async fn change_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    change: UserChange,
) -> Result<bool> {
    let id = user_id_param(&req)?;
    as_api_admin(&req, &state, move |conn, admin| match change {
        UserChange::Block => users::set_blocked(conn, &admin.caller(), id, true),
        UserChange::Unblock => users::set_blocked(conn, &admin.caller(), id, false),
        UserChange::Delete => users::delete(conn, &admin.caller(), id).map(|()| true),
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v4/users/{user_id}/block",
    tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 201, description = "Blocked: `true`; already blocked: `null`", body = Option<bool>, content_type = "application/json"))
)]
async fn block_user(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let changed = change_user(req, state, UserChange::Block).await?;
    // GitLab's answers, which python-gitlab passes on: `true`, or `null` for a user who was
    // blocked already.
    Ok(HttpResponse::Created().json(changed.then_some(true)))
}

#[utoipa::path(
    post,
    path = "/api/v4/users/{user_id}/unblock",
    tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 201, description = "Unblocked: `true`; already active: `false`", body = bool, content_type = "application/json"))
)]
async fn unblock_user(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let changed = change_user(req, state, UserChange::Unblock).await?;
    Ok(HttpResponse::Created().json(changed))
}

#[utoipa::path(
    delete,
    path = "/api/v4/users/{user_id}",
    tag = "users",
    params(("user_id" = i64, Path)),
    responses((status = 204, description = "Removed"), (status = 409, description = "The user still has personal projects", body = ErrorView))
)]
async fn delete_user(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    change_user(req, state, UserChange::Delete).await?;
    Ok(HttpResponse::NoContent().finish())
}
