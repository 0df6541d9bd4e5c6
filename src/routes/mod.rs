//! HTTP routes: thin adapters from requests to services and back.

mod access_tokens_api;
mod api;
mod api_views;
mod audit_api;
pub use audit_api::AuditEventView;
mod download;
mod encoded;
mod groups_api;
mod inventory;
pub use inventory::{RouteSpec, Routes};
mod members_api;
mod namespaces_api;
mod observe;
pub use observe::observe;
mod openapi;
mod ops;
mod pages;
mod paging;
mod params;
mod place_settings;
mod pypi;
mod relations_api;
mod simple;
mod site;
mod transfer_api;
mod upload_form;
mod upstreams_api;
mod users_api;
mod warehouse;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::access::IndexKind;
use crate::auth::{self, Credentials};
use crate::error::Result;
use crate::server::AppState;

/// Registers every route of the server.
pub fn configure(cfg: &mut web::ServiceConfig) {
    declare(&mut Routes::registering(cfg));
}

/// Every route the server registers, in the order actix tries them, each with the operation
/// of the permission table (`access::table`) it performs. Built by the same declarations
/// that register the routes, so the list cannot miss one.
pub fn inventory() -> Vec<RouteSpec> {
    let mut routes = Routes::listing();
    declare(&mut routes);
    routes.into_specs()
}

fn declare(routes: &mut Routes) {
    pypi::configure(routes);
    warehouse::configure(routes);
    api::configure(routes);
    users_api::configure(routes);
    groups_api::configure(routes);
    members_api::configure(routes);
    namespaces_api::configure(routes);
    relations_api::configure(routes);
    transfer_api::configure(routes);
    access_tokens_api::configure(routes);
    upstreams_api::configure(routes);
    audit_api::configure(routes);
    openapi::configure(routes);
    routes.web_pages(pages::configure);
    ops::configure(routes);
    // Group and project pages take every other path, so they go last.
    routes.web_pages(pages::configure_places);
}

/// A GET and HEAD route that knows which kind of index it serves.
fn read_route<F, Fut>(
    routes: &mut Routes,
    path: &str,
    operation: crate::access::Operation,
    kind: IndexKind,
    handler: F,
) where
    F: Fn(HttpRequest, web::Data<AppState>, IndexKind) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Result<HttpResponse>> + 'static,
{
    routes.get_head(path, operation, move |req, state| handler(req, state, kind));
}

/// The credentials of one request and where it came from: resolved to a `Caller` inside the
/// request's database work, with failed credentials counted against the client address.
struct RequestAuth {
    credentials: Option<Credentials>,
    addr: Option<std::net::IpAddr>,
    throttle: std::sync::Arc<crate::throttle::FailureThrottle>,
    token_usage: std::sync::Arc<crate::usage::TokenUsage>,
    /// Whom an admin acts as (GitLab's `sudo`, see `auth::act_as`).
    sudo: Option<String>,
}

impl RequestAuth {
    fn new(req: &HttpRequest, state: &AppState) -> RequestAuth {
        RequestAuth {
            sudo: sudo(req),
            credentials: request_credentials(req),
            addr: site::client_addr(req, state),
            throttle: state.throttle.clone(),
            token_usage: state.token_usage.clone(),
        }
    }

    /// What identifies these credentials in the page cache.
    fn cache_key(&self) -> Option<[u8; 32]> {
        use sha2::{Digest, Sha256};
        let key = crate::cache::credentials_key(self.credentials.as_ref()?);
        Some(match &self.sudo {
            None => key,
            // Acting as someone else is another caller for the cache.
            Some(name) => Sha256::new()
                .chain_update(key)
                .chain_update(name.as_bytes())
                .finalize()
                .into(),
        })
    }

    /// Resolves the caller and runs `work` with it. Credentials are looked up first (one
    /// indexed query by digest), so valid ones are never refused by the throttle, even from an
    /// address that others use for guessing: 192-bit secrets cannot be guessed, so telling a
    /// throttled guesser that a token is valid teaches nothing. Credentials that resolve to
    /// no one get 429 while their address is past its limit, and count as a failure when the
    /// request ends in 401. Credentials that match nothing on a public project (read
    /// anonymously, as GitLab does) are not a failure, so a stale CI token is not throttled
    /// for reading public packages.
    fn authorized<T>(
        &self,
        conn: &mut rusqlite::Connection,
        work: impl FnOnce(&mut rusqlite::Connection, &auth::Caller) -> Result<T>,
    ) -> Result<T> {
        let now = std::time::Instant::now();
        let resolved = auth::resolve(conn, self.credentials.as_ref());
        let failing = match (&self.credentials, self.addr) {
            (Some(_), Some(addr))
                if !matches!(
                    resolved,
                    Ok(auth::Caller::User(_) | auth::Caller::DeployToken(_))
                ) =>
            {
                Some(crate::throttle::Subject::address(addr))
            }
            _ => None,
        };
        if let Some(subject) = &failing {
            self.throttle
                .check(subject, now)
                .map_err(|wait| crate::error::Error::TooManyRequests(wait.as_secs()))?;
        }
        let sudo = self.sudo.as_deref();
        let outcome = resolved.and_then(|caller| {
            let caller = auth::act_as(conn, caller, sudo)?;
            if let auth::Caller::User(auth::UserCaller {
                token_id: Some(id), ..
            }) = &caller
            {
                self.token_usage.note_now(*id);
            }
            crate::registry::audit::from_client(self.addr, || {
                work(conn, &caller).map_err(|e| crate::access::hidden_if_missing(&caller, e))
            })
        });
        if let (Some(subject), Err(crate::error::Error::Unauthorized)) = (&failing, &outcome) {
            self.throttle.record_failure(subject, now);
        }
        outcome
    }
}

fn request_credentials(req: &HttpRequest) -> Option<Credentials> {
    let header_str = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    auth::credentials(
        header_str(header::AUTHORIZATION.as_str()),
        header_str("private-token"),
    )
}

/// GitLab's `sudo`: the `Sudo` header, or else the `sudo` query parameter.
fn sudo(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get("sudo").and_then(|v| v.to_str().ok());
    header.map(str::to_owned).or_else(|| {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(key, _)| key == "sudo")
            .map(|(_, value)| value.into_owned())
    })
}

/// A path parameter, percent-decoded (so `acme%2Fml` is the path `acme/ml`).
fn param(req: &HttpRequest, name: &str) -> String {
    let raw = req.match_info().get(name).unwrap_or_default();
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `If-None-Match` names this entity tag (or `*`); weak tags compare by their value.
fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// Runs management-API work on the blocking pool as the calling user; `write` asks for a
/// token with the `api` scope.
async fn as_api_user<T, F>(req: &HttpRequest, state: &AppState, write: bool, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection, &crate::access::ApiUser) -> Result<T> + Send + 'static,
{
    let auth = RequestAuth::new(req, state);
    state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                work(conn, &crate::access::api_user(caller, write)?)
            })
        })
        .await
}

/// Runs management-API work on the blocking pool as an admin (403 for anyone else).
async fn as_api_admin<T, F>(req: &HttpRequest, state: &AppState, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection, &crate::access::ApiAdmin) -> Result<T> + Send + 'static,
{
    let auth = RequestAuth::new(req, state);
    state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                work(conn, &crate::access::api_admin(caller)?)
            })
        })
        .await
}
