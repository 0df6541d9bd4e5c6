//! Operations routes: embedded static files, a health check, and the 404 for everything else.

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
