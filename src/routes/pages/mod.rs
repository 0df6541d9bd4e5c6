//! The web interface: server-rendered pages and forms for browsers, signed in by a session
//! cookie, with the same access rules as every other route.

mod account;
mod admin;
mod browse;
mod create;
mod pager;
mod places;
mod return_to;
mod settings;
mod upstreams;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, guard, web};
use askama::Template;

use crate::auth::Caller;
use crate::error::Error;
use crate::routes::Routes;
use crate::server::AppState;
use crate::sessions::WebSession;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "wh_session";

/// What every HTML page sends: no script but our own file, no framing, no guessing of types.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

pub fn configure(routes: &mut Routes) {
    account::configure(routes);
    admin::configure(routes);
    browse::configure(routes);
    create::configure(routes);
}

/// Group and project pages (`/GROUP/PROJECT/-/…`) take every path no other route took, so
/// they go last. Paths under `/api/` are never pages: an unknown one falls through to the
/// default service and its JSON 404.
pub fn configure_places(routes: &mut Routes) {
    routes.dispatcher(places::inventory(), || {
        web::resource("/{path:.+}")
            .guard(guard::fn_guard(|ctx| {
                !ctx.head().uri.path().starts_with("/api/")
            }))
            .route(web::get().to(browse::place_page))
            .route(web::post().to(settings::place_form))
    });
}

/// Who is looking at a page: a signed-in session or nobody.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: Option<WebSession>,
}

impl Visitor {
    /// The caller the access rules judge.
    pub fn caller(&self) -> Caller {
        match &self.session {
            Some(session) => Caller::User(session.user.clone()),
            None => Caller::Anonymous,
        }
    }

    /// What the layout shows: the user's name and the token of the sign-out form.
    pub fn chrome(&self) -> Chrome {
        match &self.session {
            Some(session) => Chrome {
                username: Some(session.user.username.clone()),
                is_admin: session.user.is_admin,
                csrf_token: session.csrf_token.clone(),
            },
            None => Chrome::default(),
        }
    }

    /// Forms change things only with the token of the session that showed them.
    pub fn check_form(&self, token: &str) -> Result<&WebSession, Error> {
        let session = self.session.as_ref().ok_or(Error::Unauthorized)?;
        if !constant_time_eq(session.csrf_token.as_bytes(), token.as_bytes()) {
            return Err(Error::forbidden(
                "This form has expired or did not come from this site (its CSRF token does not \
                 match your session). Reload the page and try again.",
            ));
        }
        Ok(session)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The layout's data, part of every page.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub username: Option<String>,
    pub is_admin: bool,
    pub csrf_token: String,
}

/// The session cookie a request carries, if any.
fn session_secret(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() < 200)
}

/// A failure on a page: shown as a page in the same style (never a stack trace); a page that
/// needs signing in sends the browser to the sign-in form, and back afterwards.
#[derive(Debug)]
pub struct PageError {
    error: Error,
    return_to: String,
    /// The layout of the visitor who met the error (signed out when not known).
    chrome: Chrome,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: &'static str,
    message: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self.error, Error::Unauthorized) {
            let target = format!(
                "/users/sign_in?return_to={}",
                percent_encoding::utf8_percent_encode(&self.return_to, QUERY_VALUE)
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        if let Error::Internal(detail) = &self.error {
            tracing::error!("{detail}");
        }
        let status = self.status_code();
        let message = match &self.error {
            Error::Internal(_) => "Something went wrong on the server; it has been logged.".into(),
            other => other.to_string(),
        };
        let page = ErrorPage {
            chrome: self.chrome.clone(),
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        };
        let mut response = match page.render() {
            Ok(body) => html(status, body),
            Err(_) => HttpResponse::build(status).body(page.message),
        };
        if let Error::TooManyRequests(seconds) | Error::RateLimited(_, seconds) = &self.error
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Characters escaped in a query value (everything but unreserved characters and `/`).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

type PageResult<T = HttpResponse> = Result<T, PageError>;

/// Runs page work on the blocking pool for the visitor the session cookie names.
async fn visit<T, F>(req: &HttpRequest, state: &AppState, work: F) -> PageResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection, &Visitor) -> Result<T, Error> + Send + 'static,
{
    let secret = session_secret(req);
    let client = super::site::client_addr(req, state);
    let (chrome, outcome) = state
        .db
        .run(move |conn| {
            let session = match &secret {
                Some(secret) => crate::sessions::resolve(conn, secret)?,
                None => None,
            };
            let visitor = Visitor { session };
            // The layout goes with a failure too, so an error page still shows who is signed in.
            let outcome = crate::registry::audit::from_client(client, || {
                work(conn, &visitor).map_err(|e| unseen(&visitor, e))
            });
            Ok((visitor.chrome(), outcome))
        })
        .await
        .map_err(|error| page_error(req, error))?;
    outcome.map_err(|error| PageError {
        chrome,
        ..page_error(req, error)
    })
}

/// A visitor who is not signed in and meets a 404 is sent to sign in, as GitLab does: a
/// missing project then looks exactly like a private one (which asks for signing in).
fn unseen(visitor: &Visitor, error: Error) -> Error {
    match error {
        Error::NotFound(_) | Error::PlaceNotFound(_) if visitor.session.is_none() => {
            Error::Unauthorized
        }
        other => other,
    }
}

fn page_error(req: &HttpRequest, error: Error) -> PageError {
    let return_to = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{query}", req.path()),
    };
    PageError {
        error,
        return_to,
        chrome: Chrome::default(),
    }
}

/// An HTML answer with the headers every page carries.
fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Renders a page with this status.
fn show(req: &HttpRequest, page: &impl Template, status: StatusCode) -> PageResult {
    let body = page
        .render()
        .map_err(|e| page_error(req, Error::internal(e)))?;
    Ok(html(status, body))
}

/// Renders a page whose size grows with what a tenant stored (a package's description, a
/// group's lists) on the CPU threads: on the async worker it would hold up every other
/// request that worker serves, `/-/health` among them.
async fn show_large<T>(req: &HttpRequest, page: T, status: StatusCode) -> PageResult
where
    T: Template + Send + 'static,
{
    let body = crate::cpu::run(move || page.render())
        .await
        .map_err(|e| page_error(req, e))?
        .map_err(|e| page_error(req, Error::internal(e)))?;
    Ok(html(status, body))
}

/// A page after a form: 400 when it names a problem with the form, else 200.
fn form_status(problem: &Option<String>) -> StatusCode {
    if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// How a token (personal or deploy) stands, as the lists show it.
fn token_state(revoked: bool, expires_on: Option<&str>) -> &'static str {
    if revoked {
        "revoked"
    } else if crate::auth::is_expired(expires_on) {
        "expired"
    } else {
        "active"
    }
}

/// After a form: back to a page (303, so a reload does not post again).
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// A form body; what is wrong with it is the 400's message.
fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::bad_request(format!("The form is not what this page takes: {e}")))
}

/// Whether browsers reach this site over TLS (through a trusted proxy that says so, or by the
/// configured external URL): then cookies are Secure.
fn served_over_tls(req: &HttpRequest, state: &AppState) -> bool {
    super::site::scheme(req) == "https"
        || state
            .config
            .external_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// A form's fields in order. Checkboxes repeat their name (`scope=api&scope=read_api`),
/// which a typed form cannot read; an empty field counts as absent.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Result<Fields, Error> {
        form(body).map(Fields)
    }

    fn get(&self, key: &str) -> String {
        self.optional(key).unwrap_or_default()
    }

    fn optional(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// A field that was sent, even empty (an emptied description clears it).
    fn sent(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the site is served over TLS.
fn session_cookie(
    req: &HttpRequest,
    state: &AppState,
    value: String,
    days: i64,
) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(served_over_tls(req, state))
        .max_age(actix_web::cookie::time::Duration::days(days))
        .finish()
}

/// This server's address as clients should use it (see `site::base_url`).
fn site_url(req: &HttpRequest, state: &AppState) -> String {
    super::site::base_url(req, state)
}

/// Renders an HTML 404 for paths nothing else answers (the API keeps its JSON 404).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let error = if req.path().starts_with("/api/") {
        return Error::not_found("404 Not Found").error_response();
    } else {
        Error::not_found("There is nothing at this address, or you may not see it.")
    };
    page_error(&req, error).error_response()
}
