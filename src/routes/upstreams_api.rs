//! The REST API for a top-level group's upstream indexes and name rules (owners), shaped
//! like GitLab's group resources: `/groups/:id/upstreams` and `/groups/:id/upstream_rules`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api_views::{ErrorView, IdPath};
use super::{Routes, as_api_user, param, params};
use crate::access::Operation;
use crate::db::upstreams::Rule;
use crate::error::{Error, Result};
use crate::model::iso8601;
use crate::registry::upstreams::{self, UpstreamChange, UpstreamEntry, UpstreamInput};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    const UPSTREAMS: &str = "/api/v4/groups/{id}/upstreams";
    const ONE: &str = "/api/v4/groups/{id}/upstreams/{upstream_id}";
    const RULES: &str = "/api/v4/groups/{id}/upstream_rules";
    routes.add(Method::GET, UPSTREAMS, Operation::UpstreamsList, list);
    routes.add(Method::POST, UPSTREAMS, Operation::UpstreamsManage, add);
    routes.add(Method::GET, ONE, Operation::UpstreamsList, show);
    routes.add(Method::PUT, ONE, Operation::UpstreamsManage, update);
    routes.add(Method::DELETE, ONE, Operation::UpstreamsManage, remove);
    routes.add(Method::GET, RULES, Operation::UpstreamsList, list_rules);
    routes.add(Method::POST, RULES, Operation::UpstreamsManage, add_rule);
    routes.add(
        Method::DELETE,
        "/api/v4/groups/{id}/upstream_rules/{rule_id}",
        Operation::UpstreamsManage,
        remove_rule,
    );
}

/// One upstream index of a group. Its password is never shown, only whether it has one.
#[derive(Serialize, ToSchema)]
pub struct UpstreamView {
    pub id: i64,
    pub group_id: i64,
    /// 1 is asked first.
    pub position: i64,
    /// The simple index, ending in `/`.
    pub url: String,
    pub username: Option<String>,
    pub has_password: bool,
    /// How long a cached page stays fresh before it is revalidated.
    pub cache_validity_hours: i64,
    /// ISO 8601, UTC.
    pub created_at: String,
}

impl UpstreamView {
    fn new(entry: &UpstreamEntry) -> UpstreamView {
        UpstreamView {
            id: entry.id,
            group_id: entry.group_id,
            position: entry.position,
            url: entry.url.clone(),
            username: entry.username.clone(),
            has_password: entry.has_password,
            cache_validity_hours: entry.cache_hours,
            created_at: iso8601(entry.created_at),
        }
    }
}

/// A name rule of a group's upstreams.
#[derive(Serialize, ToSchema)]
pub struct UpstreamRuleView {
    pub id: i64,
    /// `reserve`: the group's own, never upstream; `deny`: never upstream; `allow`: when any
    /// exist, only matching names go upstream.
    pub kind: String,
    /// A PEP 503-normalized name where `*` stands for any run of characters.
    pub pattern: String,
    /// ISO 8601, UTC.
    pub created_at: String,
}

impl UpstreamRuleView {
    fn new(rule: &Rule) -> UpstreamRuleView {
        UpstreamRuleView {
            id: rule.id,
            kind: rule.kind.as_str().to_owned(),
            pattern: rule.pattern.clone(),
            created_at: iso8601(rule.created_at),
        }
    }
}

/// `…/upstreams/{upstream_id}` of a group.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only described: handlers read the path")]
pub struct UpstreamPath {
    /// The group's numeric id or URL-encoded full path.
    id: String,
    upstream_id: i64,
}

/// `…/upstream_rules/{rule_id}` of a group.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "only described: handlers read the path")]
pub struct RulePath {
    /// The group's numeric id or URL-encoded full path.
    id: String,
    rule_id: i64,
}

/// A new upstream.
#[derive(Deserialize, ToSchema)]
struct NewUpstreamBody {
    /// An http or https simple index (PEP 503/691), without credentials, query or fragment.
    #[schema(example = "https://pypi.org/simple/")]
    #[serde(default)]
    url: String,
    /// With `password`, sent to the upstream with HTTP Basic.
    username: Option<String>,
    password: Option<String>,
    /// 0 to 8760; 24 unless given.
    #[schema(minimum = 0, maximum = 8760)]
    #[serde(
        alias = "cache_hours",
        default,
        deserialize_with = "super::params::opt_int"
    )]
    cache_validity_hours: Option<i64>,
}

/// A change to an upstream: only what is given changes. Give `username` and `password`
/// together (both empty removes them).
#[derive(Deserialize, Default, ToSchema)]
struct UpstreamChangeBody {
    #[schema(minimum = 0, maximum = 8760)]
    #[serde(
        alias = "cache_hours",
        default,
        deserialize_with = "super::params::opt_int"
    )]
    cache_validity_hours: Option<i64>,
    /// The new place in the order, from 1.
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "super::params::opt_int")]
    position: Option<i64>,
    username: Option<String>,
    password: Option<String>,
}

/// A new name rule.
#[derive(Deserialize, ToSchema)]
struct RuleBody {
    #[schema(pattern = "^(reserve|allow|deny)$")]
    #[serde(default)]
    kind: String,
    /// Letters, digits, `-`, `_`, `.` and `*` (any run of characters); stored normalized.
    #[schema(example = "acme-*")]
    #[serde(default)]
    pattern: String,
}

fn number(req: &HttpRequest, name: &str, missing: &'static str) -> Result<i64> {
    param(req, name)
        .parse()
        .map_err(|_| Error::not_found(missing))
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/upstreams",
    tag = "upstreams",
    params(IdPath),
    responses((status = 200, description = "The group's upstreams in the order they are asked", body = [UpstreamView]))
)]
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let found = as_api_user(&req, &state, false, move |conn, api| {
        upstreams::list(conn, &api.caller(), &group)
    })
    .await?;
    Ok(HttpResponse::Ok().json(found.iter().map(UpstreamView::new).collect::<Vec<_>>()))
}

#[utoipa::path(
    post,
    path = "/api/v4/groups/{id}/upstreams",
    tag = "upstreams",
    params(IdPath),
    request_body = NewUpstreamBody,
    responses((status = 201, description = "The new upstream, asked after the others", body = UpstreamView), (status = 409, description = "The group already has this upstream", body = ErrorView))
)]
async fn add(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let body: NewUpstreamBody = params::input(&req, &body)?;
    let input = UpstreamInput {
        url: body.url,
        username: body.username,
        password: body.password,
        cache_hours: body.cache_validity_hours,
    };
    let added = as_api_user(&req, &state, true, move |conn, api| {
        upstreams::add(conn, &api.caller(), &group, &input)
    })
    .await?;
    Ok(HttpResponse::Created().json(UpstreamView::new(&added)))
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/upstreams/{upstream_id}",
    tag = "upstreams",
    params(UpstreamPath),
    responses((status = 200, description = "The upstream", body = UpstreamView))
)]
async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let id = number(&req, "upstream_id", "404 Upstream Not Found")?;
    let found = as_api_user(&req, &state, false, move |conn, api| {
        upstreams::show(conn, &api.caller(), &group, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UpstreamView::new(&found)))
}

#[utoipa::path(
    put,
    path = "/api/v4/groups/{id}/upstreams/{upstream_id}",
    tag = "upstreams",
    params(UpstreamPath),
    request_body = Option<UpstreamChangeBody>,
    responses((status = 200, description = "The changed upstream", body = UpstreamView))
)]
async fn update(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let id = number(&req, "upstream_id", "404 Upstream Not Found")?;
    let body: UpstreamChangeBody = params::input(&req, &body)?;
    let change = UpstreamChange {
        cache_hours: body.cache_validity_hours,
        position: body.position,
        username: body.username,
        password: body.password,
    };
    let changed = as_api_user(&req, &state, true, move |conn, api| {
        upstreams::update(conn, &api.caller(), &group, id, &change)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UpstreamView::new(&changed)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/groups/{id}/upstreams/{upstream_id}",
    tag = "upstreams",
    params(UpstreamPath),
    responses((status = 204, description = "Removed, with its cached pages"))
)]
async fn remove(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let id = number(&req, "upstream_id", "404 Upstream Not Found")?;
    as_api_user(&req, &state, true, move |conn, api| {
        upstreams::remove(conn, &api.caller(), &group, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/upstream_rules",
    tag = "upstreams",
    params(IdPath),
    responses((status = 200, description = "The group's name rules", body = [UpstreamRuleView]))
)]
async fn list_rules(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let found = as_api_user(&req, &state, false, move |conn, api| {
        upstreams::list_rules(conn, &api.caller(), &group)
    })
    .await?;
    let views: Vec<_> = found.iter().map(UpstreamRuleView::new).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[utoipa::path(
    post,
    path = "/api/v4/groups/{id}/upstream_rules",
    tag = "upstreams",
    params(IdPath),
    request_body = RuleBody,
    responses((status = 201, description = "The new rule", body = UpstreamRuleView), (status = 409, description = "The group already has this rule", body = ErrorView))
)]
async fn add_rule(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let body: RuleBody = params::input(&req, &body)?;
    let added = as_api_user(&req, &state, true, move |conn, api| {
        upstreams::add_rule(conn, &api.caller(), &group, &body.kind, &body.pattern)
    })
    .await?;
    Ok(HttpResponse::Created().json(UpstreamRuleView::new(&added)))
}

#[utoipa::path(
    delete,
    path = "/api/v4/groups/{id}/upstream_rules/{rule_id}",
    tag = "upstreams",
    params(RulePath),
    responses((status = 204, description = "Removed"))
)]
async fn remove_rule(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let group = param(&req, "id");
    let id = number(&req, "rule_id", "404 Rule Not Found")?;
    as_api_user(&req, &state, true, move |conn, api| {
        upstreams::remove_rule(conn, &api.caller(), &group, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
