//! Operations routes: embedded static files, health and readiness checks, metrics, and the 404
//! for everything else.

use super::Routes;
use crate::access::Operation;
use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use rust_embed::RustEmbed;

use crate::error::{Error, Result};
use crate::server::AppState;

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct Static;

pub fn configure(routes: &mut Routes) {
    routes.add(Method::GET, "/-/health", Operation::PublicHealth, health);
    routes.add(Method::HEAD, "/-/health", Operation::PublicHealth, health);
    routes.add(
        Method::GET,
        "/-/readiness",
        Operation::PublicHealth,
        readiness,
    );
    // Open to all by the table, like health: the route answers only to its own token.
    routes.add(Method::GET, "/-/metrics", Operation::PublicHealth, metrics);
    routes.add(
        Method::GET,
        "/-/static/{file}",
        Operation::PublicStatic,
        static_file,
    );
    routes.config(|cfg| {
        cfg.default_service(web::to(fallback));
    });
}

/// What no route took: a 405 naming the methods when an API address exists for others (a JSON
/// error, as every API answer is), else the 404.
async fn fallback(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        let allowed = allowed_methods(req.path());
        if !allowed.is_empty() {
            let allow = allowed.join(", ");
            // The classic slip: twine or uv pointed at the index page instead of the project.
            let hint = if req.method() == Method::POST && req.path().contains("/pypi/simple") {
                "; uploads go to the project's address ending in /packages/pypi, not to its simple index"
            } else {
                ""
            };
            let message = format!("405 Method Not Allowed: this address answers {allow}{hint}");
            let not_allowed = crate::error::NotAllowed { allow, message };
            return Error::MethodNotAllowed(Box::new(not_allowed)).error_response();
        }
    }
    super::pages::not_found(req).await
}

/// The methods the routes matching `path` answer, from the route inventory.
fn allowed_methods(path: &str) -> Vec<&'static str> {
    static ROUTES: std::sync::OnceLock<Vec<(ResourceDef, Method)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        super::inventory()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/"))
            .map(|r| (ResourceDef::new(r.path.as_str()), r.method))
            .collect()
    });
    let mut allowed: Vec<&'static str> = routes
        .iter()
        .filter(|(def, _)| def.is_match(path))
        .map(|(_, method)| method.as_str())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    allowed
}

/// Answers 200 once the database answers: what a load balancer or systemd check wants.
async fn health(state: web::Data<AppState>) -> Result<HttpResponse> {
    state
        .db
        .run(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })))
}

/// Answers 200 when the server can do its work: the database answers and an upload could be
/// written to the data directory; else 503 naming what is wrong (a load balancer stops sending
/// traffic, an operator sees why).
async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let database = state
        .db
        .run(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await;
    if let Err(e) = database {
        tracing::warn!("readiness: the database does not answer: {e}");
        return unready("the database does not answer");
    }
    let blobs = state.blobs.clone();
    let writable = web::block(move || blobs.check_writable()).await;
    if let Err(e) = writable
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::warn!("readiness: the data directory is not writable: {e}");
        return unready("the data directory is not writable");
    }
    if let Some(bucket) = state.blobs.s3()
        && let Err(e) = bucket.probe().await
    {
        tracing::warn!("readiness: {} does not answer: {e}", bucket.describe());
        return unready("the object storage does not answer");
    }
    HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
}

fn unready(reason: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .json(serde_json::json!({ "status": "unavailable", "reason": reason }))
}

/// The Prometheus text exposition, only for `Authorization: Bearer <metrics_token>`; anyone
/// else (and everyone when no token is configured) gets a bare 404, the same whether metrics
/// are configured or not, so a prober learns nothing.
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&state.config.metrics_token, presented) {
        (Some(token), Some(presented)) => token.matches(presented.trim()),
        _ => false,
    };
    if !allowed {
        return Err(Error::not_found("404 Not Found"));
    }
    let metrics = crate::metrics::metrics();
    // Read before the query: a write meanwhile leaves the next scrape due again.
    let generation = state.pages.generation()?;
    if metrics.blob_usage_due(generation) {
        let usage = state
            .db
            .run(|conn| crate::db::usage::blob_usage(conn))
            .await?;
        metrics.set_blob_usage(&usage, generation);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(metrics.render()))
}

async fn static_file(req: HttpRequest) -> Result<HttpResponse> {
    let name = req.match_info().get("file").unwrap_or_default();
    let file = Static::get(name).ok_or_else(|| Error::not_found("404 Not Found"))?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else if name.ends_with(".js") {
        "text/javascript; charset=utf-8"
    } else if name.ends_with(".svg") {
        "image/svg+xml"
    } else {
        "application/octet-stream"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(file.data.into_owned()))
}
