//! Pages of one's own account: sign in and out, change the password, personal access tokens.

use crate::access::Operation;
use crate::routes::Routes;
use actix_web::http::Method;
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::return_to::local_path;
use super::{
    Chrome, Fields, PageResult, Visitor, form, form_status, page_error, see_other, served_over_tls,
    session_cookie, session_secret, show, token_state, visit,
};
use crate::access;
use crate::db::now_millis;
use crate::devices::{self, DeviceToken};
use crate::error::Error;
use crate::model::PersonalAccessToken;
use crate::registry::{audit, tokens};
use crate::server::AppState;
use crate::sessions;
use crate::throttle::Subject;

/// The cookie that ties the sign-in form to the browser that loaded it (no session yet, so
/// the form's token is checked against this cookie instead).
const SIGN_IN_COOKIE: &str = "wh_sign_in";

/// A wrong password waits this long before the answer, so guessing is slow even below the
/// per-address limit.
const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(400);

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/users/sign_in",
        Operation::PublicSignIn,
        sign_in_page,
    );
    routes.add(
        Method::POST,
        "/users/sign_in",
        Operation::PublicSignIn,
        sign_in,
    );
    routes.add(
        Method::POST,
        "/users/sign_out",
        Operation::PublicSignIn,
        sign_out,
    );
    routes.add(
        Method::GET,
        "/-/user_settings/password",
        Operation::AccountPassword,
        password_page,
    );
    routes.add(
        Method::POST,
        "/-/user_settings/password",
        Operation::AccountPassword,
        change_password,
    );
    routes.add(
        Method::GET,
        "/-/user_settings/personal_access_tokens",
        Operation::TokensList,
        tokens_page,
    );
    routes.add(
        Method::POST,
        "/-/user_settings/personal_access_tokens",
        Operation::TokensCreate,
        create_token,
    );
    routes.add(
        Method::POST,
        "/-/user_settings/personal_access_tokens/{id}/revoke",
        Operation::TokensRevoke,
        revoke_token,
    );
}

#[derive(Template)]
#[template(path = "web/sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    form_token: String,
    return_to: String,
    username: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

async fn sign_in_page(
    req: HttpRequest,
    query: web::Query<ReturnTo>,
    state: web::Data<AppState>,
) -> PageResult {
    let return_to = local_path(query.return_to.as_deref());
    render_sign_in(&req, &state, return_to, String::new(), None)
}

fn render_sign_in(
    req: &HttpRequest,
    state: &AppState,
    return_to: String,
    username: String,
    problem: Option<String>,
) -> PageResult {
    let form_token = crate::secrets::new_token("").map_err(|e| page_error(req, e))?;
    let page = SignInPage {
        chrome: Chrome::default(),
        form_token: form_token.clone(),
        return_to,
        username,
        problem,
    };
    let status = if page.problem.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut response = show(req, &page, status)?;
    let cookie = Cookie::build(SIGN_IN_COOKIE, form_token)
        .path("/users/sign_in")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(served_over_tls(req, state))
        .finish();
    response
        .add_cookie(&cookie)
        .map_err(|e| page_error(req, Error::internal(e)))?;
    Ok(response)
}

#[derive(Deserialize)]
struct SignInForm {
    csrf_token: String,
    username: String,
    password: String,
    return_to: Option<String>,
}

async fn sign_in(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> PageResult {
    let fields: SignInForm = form(&body).map_err(|e| page_error(&req, e))?;
    let expected = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_owned());
    if expected.as_deref() != Some(fields.csrf_token.as_str()) {
        return Err(page_error(
            &req,
            Error::forbidden(
                "The sign-in form has expired or did not come from this site. Reload it and try \
                 again (cookies must be enabled).",
            ),
        ));
    }
    // Valid credentials are never refused for what others did from the same address, so the
    // password is checked even when the address is past its limit (a wrong one then gets
    // 429). What bounds guessing is the account's own count: an account with too many failed
    // passwords in the window takes passwords only from browsers holding a device cookie for
    // it (set by an earlier sign-in, counted on their own) until the window ends; any other
    // browser gets 429 unchecked, so a stranger's guesses cannot lock the owner out of the
    // browsers they use. Its tokens keep working.
    let now = Instant::now();
    let account = Subject::account(&fields.username);
    let device = req
        .cookie(devices::COOKIE)
        .and_then(|c| DeviceToken::parse(c.value()));
    let locked = state.throttle.check(&account, now).err();
    let too_many = |wait: Duration| page_error(&req, Error::TooManyRequests(wait.as_secs()));
    if let Some(wait) = locked {
        let device_wait = device
            .as_ref()
            .map(|d| state.throttle.check(&Subject::device(d), now));
        match device_wait {
            None => return Err(too_many(wait)),
            Some(Err(device_wait)) => return Err(too_many(device_wait)),
            Some(Ok(())) => {}
        }
    }
    let username = fields.username.clone();
    let found = state
        .db
        .run(move |conn| sessions::find_account(conn, &username))
        .await
        .map_err(|e| page_error(&req, e))?;
    let device = device.filter(|d| {
        found
            .as_ref()
            .is_some_and(|(id, hash)| d.is_valid_for(*id, hash, now_millis()))
    });
    if let (Some(wait), None) = (locked, &device) {
        return Err(too_many(wait));
    }
    let address = super::super::site::client_addr(&req, &state);
    let client = address.map(Subject::address);
    let address_wait = client
        .as_ref()
        .and_then(|c| state.throttle.check(c, now).err());
    let opened = check_and_open(&state, found, fields.password, address)
        .await
        .map_err(|e| page_error(&req, e))?;
    let return_to = local_path(fields.return_to.as_deref());
    let Some((opened, device_token)) = opened else {
        let device = device.as_ref().map(Subject::device);
        for subject in client.iter().chain([&account]).chain(device.as_ref()) {
            state.throttle.record_failure(subject, now);
        }
        // Recorded while the address is within its limit, so a guesser past it (answered
        // 429) cannot flood the audit trail; the throttle goes on counting them.
        if address_wait.is_none() {
            let username = fields.username.clone();
            state
                .db
                .run(move |conn| {
                    audit::from_client(address, || audit::record_failed_sign_in(conn, &username))
                })
                .await
                .map_err(|e| page_error(&req, e))?;
        }
        actix_web::rt::time::sleep(FAILED_SIGN_IN_DELAY).await;
        if let Some(wait) = address_wait {
            return Err(too_many(wait));
        }
        let problem = Some("Invalid username or password.".to_owned());
        return render_sign_in(&req, &state, return_to, fields.username, problem);
    };
    let mut response = see_other(&return_to);
    let cookie = session_cookie(&req, &state, opened.secret, sessions::SESSION_DAYS);
    let device_cookie = devices::cookie(device_token, served_over_tls(&req, &state));
    for cookie in [&cookie, &device_cookie] {
        response
            .add_cookie(cookie)
            .map_err(|e| page_error(&req, Error::internal(e)))?;
    }
    Ok(response)
}

/// Password checks (argon2: tens of milliseconds of one core and 19 MiB each) run at most
/// this many at a time, on half the cores, so a flood of sign-ins (which the throttle lets
/// through while the account is not under attack) queues up instead of starving pip.
fn password_checks() -> &'static tokio::sync::Semaphore {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    CHECKS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Checks a password against the account `sessions::find_account` found (without holding a
/// database connection) and opens a session when it matches, with a new device cookie for
/// the browser; `None` for a wrong name or password, or a blocked user.
async fn check_and_open(
    state: &AppState,
    account: Option<(i64, String)>,
    password: String,
    address: Option<std::net::IpAddr>,
) -> Result<Option<(sessions::NewSession, String)>, Error> {
    let device_token = account
        .as_ref()
        .map(|(id, hash)| devices::make(*id, hash, now_millis()));
    let user_id = {
        let _turn = password_checks()
            .acquire()
            .await
            .map_err(|e| Error::internal(format!("password check queue: {e}")))?;
        web::block(move || sessions::check_password(account.as_ref(), &password)).await?
    };
    match (user_id, device_token) {
        (Some(user_id), Some(device_token)) => {
            let opened = state
                .db
                .run(move |conn| audit::from_client(address, || sessions::open(conn, user_id)))
                .await?;
            Ok(opened.map(|opened| (opened, device_token)))
        }
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    pub(super) csrf_token: String,
}

async fn sign_out(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> PageResult {
    let fields: CsrfOnly = form(&body).map_err(|e| page_error(&req, e))?;
    let secret = session_secret(&req);
    visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.csrf_token)?;
        match &secret {
            Some(secret) => sessions::sign_out(conn, secret),
            None => Ok(()),
        }
    })
    .await?;
    let mut response = see_other("/explore");
    response
        .add_removal_cookie(&session_cookie(&req, &state, String::new(), 0))
        .map_err(|e| page_error(&req, Error::internal(e)))?;
    Ok(response)
}

#[derive(Template)]
#[template(path = "web/password.html")]
struct PasswordPage {
    chrome: Chrome,
    problem: Option<String>,
    changed: bool,
}

/// The signed-in visitor, or a 401 (which sends the browser to the sign-in form).
fn signed_in(visitor: &Visitor) -> Result<&sessions::WebSession, Error> {
    visitor.session.as_ref().ok_or(Error::Unauthorized)
}

async fn password_page(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let chrome = visit(&req, &state, |_, visitor| {
        signed_in(visitor)?;
        Ok(visitor.chrome())
    })
    .await?;
    let page = PasswordPage {
        chrome,
        problem: None,
        changed: false,
    };
    show(&req, &page, StatusCode::OK)
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

async fn change_password(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> PageResult {
    let fields: PasswordForm = form(&body).map_err(|e| page_error(&req, e))?;
    let csrf = fields.csrf_token.clone();
    let stored = visit(&req, &state, move |conn, visitor| {
        let session = visitor.check_form(&csrf)?;
        sessions::password_hash_of(conn, session)
    })
    .await?;
    // argon2 as for sign-in: one check at a time, holding no connection, so that a user
    // posting this form in a loop cannot take the threads and connections everyone needs.
    let checked = stored.clone();
    let new_hash = {
        let _turn = password_checks()
            .acquire()
            .await
            .map_err(|e| page_error(&req, Error::internal(format!("password check queue: {e}"))))?;
        let (current, new) = (fields.current_password, fields.new_password);
        web::block(move || sessions::new_password_hash(&checked, &current, &new))
            .await
            .map_err(|e| page_error(&req, Error::internal(e)))?
    };
    let csrf = fields.csrf_token;
    let (chrome, outcome) = visit(&req, &state, move |conn, visitor| {
        let outcome = new_hash.and_then(|hash| {
            let session = visitor.check_form(&csrf)?;
            sessions::set_password(conn, session, &stored, &hash)
        });
        match outcome {
            Ok(()) => Ok((visitor.chrome(), None)),
            Err(Error::BadRequest(problem)) => Ok((visitor.chrome(), Some(problem))),
            Err(other) => Err(other),
        }
    })
    .await?;
    let page = PasswordPage {
        chrome,
        changed: outcome.is_none(),
        problem: outcome,
    };
    show(&req, &page, form_status(&page.problem))
}

/// A token as the tokens page lists it.
struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    created: String,
    last_used: String,
    expires: String,
    state: &'static str,
}

impl TokenRow {
    fn new(token: &PersonalAccessToken) -> TokenRow {
        let state = token_state(token.revoked, token.expires_on.as_deref());
        TokenRow {
            id: token.id,
            name: token.name.clone(),
            scopes: token.scopes.to_stored().replace(',', ", "),
            created: super::browse::day(token.created_at),
            last_used: token
                .last_used_at
                .map_or_else(|| "never".to_owned(), super::browse::moment),
            expires: token.expires_on.clone().unwrap_or_else(|| "never".into()),
            state,
        }
    }
}

#[derive(Template)]
#[template(path = "web/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    /// A token just created: its name and its secret, shown only now.
    created: Option<(String, String)>,
    problem: Option<String>,
}

fn own_tokens(
    conn: &mut rusqlite::Connection,
    visitor: &Visitor,
    usage: &crate::usage::TokenUsage,
) -> Result<(access::ApiUser, Vec<TokenRow>), Error> {
    signed_in(visitor)?;
    // Last use is noted in memory; write it first so the list shows it.
    usage.flush(conn)?;
    let api = access::api_user(&visitor.caller(), true)?;
    let rows = tokens::list(conn, &api.caller(), Some(api.user_id()))?
        .iter()
        .map(TokenRow::new)
        .collect();
    Ok((api, rows))
}

async fn tokens_page(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let usage = state.token_usage.clone();
    let (chrome, tokens) = visit(&req, &state, move |conn, visitor| {
        let (_, rows) = own_tokens(conn, visitor, &usage)?;
        Ok((visitor.chrome(), rows))
    })
    .await?;
    let page = TokensPage {
        chrome,
        tokens,
        created: None,
        problem: None,
    };
    show(&req, &page, StatusCode::OK)
}

async fn create_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> PageResult {
    let fields = Fields::parse(&body).map_err(|e| page_error(&req, e))?;
    let usage = state.token_usage.clone();
    let limits = state.token_limits.clone();
    let page = visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.get("csrf_token"))?;
        let api = access::api_user(&visitor.caller(), true)?;
        let (name, scopes) = (fields.get("name"), fields.all("scope"));
        let outcome = if name.trim().is_empty() {
            Err(Error::bad_request("Give the token a name."))
        } else if scopes.is_empty() {
            Err(Error::bad_request("Choose at least one scope."))
        } else {
            tokens::create(
                conn,
                &api.caller(),
                &limits,
                api.user_id(),
                name.trim(),
                &scopes,
                fields.optional("expires_at").as_deref(),
            )
        };
        let (created, problem) = match outcome {
            Ok((token, secret)) => (Some((token.name, secret)), None),
            Err(Error::BadRequest(problem)) => (None, Some(problem)),
            Err(other) => return Err(other),
        };
        let (_, tokens) = own_tokens(conn, visitor, &usage)?;
        Ok(TokensPage {
            chrome: visitor.chrome(),
            tokens,
            created,
            problem,
        })
    })
    .await?;
    show(&req, &page, form_status(&page.problem))
}

async fn revoke_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> PageResult {
    let fields: CsrfOnly = form(&body).map_err(|e| page_error(&req, e))?;
    let id = req
        .match_info()
        .get("id")
        .unwrap_or_default()
        .parse::<i64>();
    visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.csrf_token)?;
        let id = id.map_err(|_| Error::not_found("No such token."))?;
        let api = access::api_user(&visitor.caller(), true)?;
        tokens::revoke(conn, &api.caller(), id)
    })
    .await?;
    Ok(see_other("/-/user_settings/personal_access_tokens"))
}
