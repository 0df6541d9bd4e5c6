//! What every request leaves behind: its metrics (by route pattern, never by raw path) and
//! one access-log line that carries no secret.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};

use crate::metrics::RouteSeries;
use crate::server::AppState;

/// The series of the route that answered, set by the route itself (`route_tag`).
#[derive(Clone)]
struct RouteTag(Arc<RouteSeries>);

/// Marks a request as answered by the route of these series.
pub async fn route_tag(
    series: Arc<RouteSeries>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    req.extensions_mut().insert(RouteTag(series));
    next.call(req).await
}

/// Counts the request and writes its access-log line.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let received = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let response = next.call(req).await?;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let sent = match response.response().body().size() {
        BodySize::Sized(n) => n,
        BodySize::None | BodySize::Stream => 0,
    };
    let request = response.request();
    let series = request
        .extensions()
        .get::<RouteTag>()
        .map(|tag| tag.0.clone())
        .unwrap_or_else(|| crate::metrics::metrics().unmatched());
    series.observe(status, took, received, sent);
    let addr = request
        .app_data::<web::Data<AppState>>()
        .and_then(|state| super::site::client_addr(request, state))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    tracing::info!(
        target: "wheelhouse::access",
        method = %request.method(),
        path = %loggable_path(request),
        status,
        bytes = sent,
        duration_ms = took.as_micros() as f64 / 1000.0,
        caller = %caller_kind(request),
        addr = %addr,
        "request"
    );
    Ok(response)
}

/// The path and query as logged: the path as sent (the request target never holds the
/// user-info part of a URL), and the query with the value of anything that may be a secret
/// (`private_token=`, `access_token=`, `password=`) replaced.
fn loggable_path(req: &HttpRequest) -> String {
    let path = req.path();
    let query = req.query_string();
    if query.is_empty() {
        return path.to_owned();
    }
    let mut out = format!("{path}?");
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let lower = key.to_ascii_lowercase();
        let secret = ["token", "password", "secret", "key"]
            .iter()
            .any(|word| lower.contains(word));
        out.push_str(key);
        if secret {
            out.push_str("=[redacted]");
        } else if pair.contains('=') {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// What kind of credentials the request presented (never their value): `anonymous`,
/// `token` (a personal access token however sent), `basic` (a password or deploy token),
/// `session` (a web session cookie) or `bearer` (the metrics token and other bearers).
fn caller_kind(req: &HttpRequest) -> &'static str {
    let headers = req.headers();
    if headers.contains_key("private-token") {
        return "token";
    }
    if let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = authorization.split_once(' ').unwrap_or((authorization, ""));
        return if scheme.eq_ignore_ascii_case("basic") {
            basic_kind(rest.trim())
        } else {
            "bearer"
        };
    }
    if req.cookie(super::pages::SESSION_COOKIE).is_some() {
        return "session";
    }
    "anonymous"
}

fn basic_kind(encoded: &str) -> &'static str {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_default();
    let user = decoded.split(|&b| b == b':').next().unwrap_or_default();
    if user == b"__token__" || decoded.windows(6).any(|w| w == b":whpat") {
        "token"
    } else {
        "basic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn secrets_in_the_query_never_reach_the_log() {
        let req = TestRequest::with_uri(
            "/api/v4/projects?private_token=whpat-secret&page=2&access_token=x&search",
        )
        .to_http_request();
        let logged = loggable_path(&req);
        assert_eq!(
            logged,
            "/api/v4/projects?private_token=[redacted]&page=2&access_token=[redacted]&search"
        );
        let plain = TestRequest::with_uri("/simple/x/").to_http_request();
        assert_eq!(loggable_path(&plain), "/simple/x/");
    }

    #[test]
    fn callers_are_named_by_kind() {
        use base64::Engine;
        let basic = |user_pass: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user_pass)
            )
        };
        let kind = |name: &str, value: &str| {
            caller_kind(
                &TestRequest::default()
                    .insert_header((name, value))
                    .to_http_request(),
            )
        };
        assert_eq!(kind("PRIVATE-TOKEN", "x"), "token");
        assert_eq!(kind("Authorization", &basic("__token__:x")), "token");
        assert_eq!(kind("Authorization", &basic("alice:pw")), "basic");
        assert_eq!(kind("Authorization", "Bearer x"), "bearer");
        assert_eq!(
            caller_kind(&TestRequest::default().to_http_request()),
            "anonymous"
        );
    }
}
