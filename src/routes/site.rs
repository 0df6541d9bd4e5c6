//! The request's origin as far as it can be believed (see `proxy`): the client address the
//! throttle counts, and the scheme and host that absolute links use. Nothing here reads
//! actix's `connection_info()`, which believes `Forwarded` / `X-Forwarded-*` from anyone.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, web};

use crate::proxy::{self, Origin};
use crate::server::AppState;

struct RequestHeaders<'a>(&'a HttpRequest);

impl proxy::Headers for RequestHeaders<'_> {
    fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

fn origin_with(req: &HttpRequest, state: &AppState) -> Option<Origin> {
    let peer = req.peer_addr()?.ip();
    Some(proxy::origin(
        peer,
        &state.config.trusted_proxies,
        state.config.forwarded_header,
        &RequestHeaders(req),
    ))
}

fn origin(req: &HttpRequest) -> Option<Origin> {
    let state = req.app_data::<web::Data<AppState>>()?;
    origin_with(req, state)
}

/// The client address failures are counted against.
pub(crate) fn client_addr(req: &HttpRequest, state: &AppState) -> Option<IpAddr> {
    origin_with(req, state).map(|o| o.client)
}

/// What a trusted proxy says the client came over, else `https` on this server's own TLS
/// listener and `http` on a plain one.
pub(crate) fn scheme(req: &HttpRequest) -> String {
    origin(req)
        .and_then(|o| o.forwarded_proto)
        .unwrap_or_else(|| {
            let tls = req.app_config().secure();
            if tls { "https" } else { "http" }.to_owned()
        })
}

/// The host (and port) the client addressed: from a trusted proxy, else the `Host` header.
pub(crate) fn host(req: &HttpRequest) -> String {
    if let Some(host) = origin(req).and_then(|o| o.forwarded_host) {
        return host;
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(proxy::valid_host)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| {
            req.app_data::<web::Data<AppState>>()
                .map(|s| s.config.listen.clone())
                .unwrap_or_else(|| "localhost".to_owned())
        })
}

/// This server's address as clients should use it: the configured external URL, else the
/// scheme and host of the request as received (through trusted proxies only).
pub(crate) fn base_url(req: &HttpRequest, state: &AppState) -> String {
    match &state.config.external_url {
        Some(external) => external.trim_end_matches('/').to_owned(),
        None => format!("{}://{}", scheme(req), host(req)),
    }
}
