//! GitLab's REST API for the settings of projects and groups that maintainers manage:
//! members (list direct and `/all`, add, change role, remove) and deploy tokens.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{as_api_user, json_required, param};
use crate::error::{Error, Result};
use crate::model::{DeployToken, Role, User};
use crate::registry::{deploy_tokens, membership};
use crate::server::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for (prefix, is_group) in [
        ("/api/v4/projects/{id}", false),
        ("/api/v4/groups/{id}", true),
    ] {
        let list = move |req, state| list_members(req, state, is_group, false);
        let all = move |req, state| list_members(req, state, is_group, true);
        let add = move |req, body, state| add_member(req, body, state, is_group);
        let edit = move |req, body, state| edit_member(req, body, state, is_group);
        let remove = move |req, state| remove_member(req, state, is_group);
        cfg.route(&format!("{prefix}/members"), web::get().to(list))
            .route(&format!("{prefix}/members/all"), web::get().to(all))
            .route(&format!("{prefix}/members"), web::post().to(add))
            .route(
                &format!("{prefix}/members/{{user_id}}"),
                web::put().to(edit),
            )
            .route(
                &format!("{prefix}/members/{{user_id}}"),
                web::delete().to(remove),
            );
        let tokens = move |req, state| list_tokens(req, state, is_group);
        let create = move |req, body, state| create_token(req, body, state, is_group);
        let revoke = move |req, state| revoke_token(req, state, is_group);
        cfg.route(&format!("{prefix}/deploy_tokens"), web::get().to(tokens))
            .route(&format!("{prefix}/deploy_tokens"), web::post().to(create))
            .route(
                &format!("{prefix}/deploy_tokens/{{token_id}}"),
                web::delete().to(revoke),
            );
    }
}

fn member_json(user: &User, role: Role) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.username,
        "state": if user.is_blocked { "blocked" } else { "active" },
        "access_level": role.level(),
        "expires_at": null,
    })
}

async fn list_members(
    req: HttpRequest,
    state: web::Data<AppState>,
    is_group: bool,
    inherited: bool,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let members = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        membership::list(conn, &target, inherited)
    })
    .await?;
    let items: Vec<Value> = members.iter().map(|(u, r)| member_json(u, *r)).collect();
    Ok(HttpResponse::Ok().json(items))
}

/// `{"user_id": 3, "access_level": 30}` (what python-gitlab sends).
#[derive(Deserialize)]
struct MemberBody {
    user_id: Option<i64>,
    access_level: i64,
}

fn member_body(body: &web::Bytes) -> Result<(Option<i64>, Role)> {
    let parsed: MemberBody = json_required(body)?;
    let role = Role::from_level(parsed.access_level).ok_or_else(|| {
        Error::bad_request("400 Bad request - access_level must be 10, 20, 30, 40 or 50")
    })?;
    Ok((parsed.user_id, role))
}

async fn add_member(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let (user_id, role) = member_body(&body)?;
    let user_id =
        user_id.ok_or_else(|| Error::bad_request("400 Bad request - user_id is missing"))?;
    let (user, role) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        membership::set(conn, api, &target, user_id, role, false)
    })
    .await?;
    Ok(HttpResponse::Created().json(member_json(&user, role)))
}

fn user_id_param(req: &HttpRequest) -> Result<i64> {
    param(req, "user_id")
        .parse()
        .map_err(|_| Error::not_found("404 Member Not Found"))
}

async fn edit_member(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let (reference, user_id) = (param(&req, "id"), user_id_param(&req)?);
    let (_, role) = member_body(&body)?;
    let (user, role) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        membership::set(conn, api, &target, user_id, role, true)
    })
    .await?;
    Ok(HttpResponse::Ok().json(member_json(&user, role)))
}

async fn remove_member(
    req: HttpRequest,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let (reference, user_id) = (param(&req, "id"), user_id_param(&req)?);
    as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        membership::remove(conn, api, &target, user_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn deploy_token_json(token: &DeployToken, secret: Option<&str>) -> Value {
    let mut body = json!({
        "id": token.id,
        "name": token.name,
        "username": token.username,
        "expires_at": token.expires_on,
        "scopes": token.scopes.to_stored().split(',').collect::<Vec<_>>(),
        "revoked": token.revoked,
        "expired": crate::auth::is_expired(token.expires_on.as_deref()),
    });
    if let Some(secret) = secret {
        body["token"] = json!(secret);
    }
    body
}

async fn list_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let tokens = as_api_user(&req, &state, false, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        deploy_tokens::list(conn, api, &target)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        tokens
            .iter()
            .map(|t| deploy_token_json(t, None))
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
struct NewDeployToken {
    name: String,
    scopes: Vec<String>,
    expires_at: Option<String>,
}

async fn create_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let new: NewDeployToken = json_required(&body)?;
    let (token, secret) = as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        deploy_tokens::create(
            conn,
            api,
            &target,
            &new.name,
            &new.scopes,
            new.expires_at.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(deploy_token_json(&token, Some(&secret))))
}

async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    is_group: bool,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let token_id: i64 = param(&req, "token_id")
        .parse()
        .map_err(|_| Error::not_found("404 Deploy Token Not Found"))?;
    as_api_user(&req, &state, true, move |conn, api| {
        let target = membership::target(conn, api, is_group, &reference)?;
        deploy_tokens::revoke(conn, api, &target, token_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
