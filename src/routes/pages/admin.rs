//! The admin area: users (add, block, make admin, reset password), every group and project,
//! and the disk they use.

use crate::access::Operation;
use crate::routes::Routes;
use actix_web::http::Method;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::browse::{PAGE_ROWS, Pager, day};
use super::{
    Chrome, Fields, PageResult, Visitor, form, form_status, page_error, see_other, show, visit,
};
use crate::access::{self, ApiAdmin};
use crate::error::Error;
use crate::registry::users;
use crate::registry::users::UserChanges;
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(Method::GET, "/admin", Operation::UsersAdmin, admin_page);
    routes.add(
        Method::POST,
        "/admin/users",
        Operation::UsersAdmin,
        add_user,
    );
    routes.add(
        Method::POST,
        "/admin/users/{id}/{action}",
        Operation::UsersAdmin,
        change_user,
    );
    routes.add(
        Method::GET,
        "/admin/audit_logs",
        Operation::AuditList,
        audit_page,
    );
}

struct UserRow {
    id: i64,
    username: String,
    email: String,
    is_admin: bool,
    blocked: bool,
    created: String,
}

struct ProjectUsage {
    path: String,
    visibility: &'static str,
    files: i64,
    size: String,
}

#[derive(Template)]
#[template(path = "web/admin.html")]
struct AdminPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    groups: Vec<GroupRow>,
    /// How many users and groups there are: a page shows `PAGE_ROWS` of each.
    users_total: usize,
    groups_total: usize,
    pager: Pager,
    projects: Vec<ProjectUsage>,
    total_files: i64,
    total_size: String,
    database_size: String,
    /// After a reset or a new user without a password: (username, password), shown once.
    password: Option<(String, String)>,
    problem: Option<String>,
    own_id: i64,
}

fn admin_of(visitor: &Visitor) -> Result<ApiAdmin, Error> {
    visitor.session.as_ref().ok_or(Error::Unauthorized)?;
    access::api_admin(&visitor.caller())
}

fn admin_view(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    database_bytes: u64,
    password: Option<(String, String)>,
    problem: Option<String>,
    pager: Pager,
) -> Result<AdminPage, Error> {
    let admin = admin_of(visitor)?;
    let filter = users::UserFilter::default();
    let (users, users_total) =
        users::page(conn, &admin.caller(), &filter, pager.number, PAGE_ROWS)?;
    let users = users
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            username: u.username,
            email: u.email.unwrap_or_default(),
            is_admin: u.is_admin,
            blocked: u.is_blocked,
            created: day(u.created_at),
        })
        .collect();
    let usage = crate::registry::catalog::disk_usage(conn, &admin)?;
    let total_files = usage.iter().map(|u| u.files).sum();
    let total_bytes = usage.iter().map(|u| u.bytes).sum();
    let (groups_total, groups) = usage_groups(conn, &admin, pager)?;
    Ok(AdminPage {
        chrome: visitor.chrome(),
        users,
        groups,
        users_total,
        groups_total,
        pager: pager.with_totals(&[users_total, groups_total]),
        projects: usage
            .into_iter()
            .map(|u| ProjectUsage {
                path: u.project.full_path,
                visibility: u.project.visibility.as_str(),
                files: u.files,
                size: super::browse::size(u.bytes),
            })
            .collect(),
        total_files,
        total_size: super::browse::size(total_bytes),
        database_size: super::browse::size(database_bytes as i64),
        password,
        problem,
        own_id: admin.user_id(),
    })
}

/// A group on the admin page: its full path and visibility.
type GroupRow = (String, &'static str);

/// One page of every group, and how many there are.
fn usage_groups(
    conn: &rusqlite::Connection,
    admin: &ApiAdmin,
    pager: Pager,
) -> Result<(usize, Vec<GroupRow>), Error> {
    let caller = admin.api().caller();
    let filters = crate::registry::directory::Filters::default();
    let (total, groups) =
        crate::registry::directory::groups_page(conn, &caller, &filters, vec![], pager.window())?;
    let rows = groups
        .into_iter()
        .map(|g| (g.full_path, g.visibility.as_str()))
        .collect();
    Ok((total, rows))
}

/// The size of the database file and its write-ahead log.
fn database_bytes(state: &AppState) -> u64 {
    ["wheelhouse.db", "wheelhouse.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(state.config.data_dir.join(name)).ok())
        .map(|m| m.len())
        .sum()
}

/// `?page=N` of the admin page's users and groups (from 1).
#[derive(serde::Deserialize)]
struct AdminQuery {
    page: Option<usize>,
}

async fn admin_page(
    req: HttpRequest,
    query: web::Query<AdminQuery>,
    state: web::Data<AppState>,
) -> PageResult {
    let db_bytes = database_bytes(&state);
    let pager = Pager::new(query.page);
    let page = visit(&req, &state, move |conn, visitor| {
        admin_view(conn, visitor, db_bytes, None, None, pager)
    })
    .await?;
    show(&req, &page, form_status(&page.problem))
}

async fn add_user(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> PageResult {
    let fields = Fields::parse(&body).map_err(|e| page_error(&req, e))?;
    let db_bytes = database_bytes(&state);
    let page = visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.get("csrf_token"))?;
        let admin = admin_of(visitor)?;
        let username = fields.get("username").trim().to_owned();
        // A typed password is taken as typed: spaces may be part of it.
        let typed = fields.optional("password");
        let password = match &typed {
            Some(p) => p.clone(),
            None => crate::secrets::new_password()?,
        };
        let created = users::create(
            conn,
            &admin.caller(),
            &username,
            None,
            fields.optional("email").as_deref().map(str::trim),
            Some(&password),
            fields.optional("admin").is_some(),
        );
        match created {
            Ok((user, _)) => {
                let shown = typed.is_none().then_some((user.username, password));
                admin_view(conn, visitor, db_bytes, shown, None, Pager::new(None))
            }
            Err(Error::BadRequest(problem) | Error::Conflict(problem)) => admin_view(
                conn,
                visitor,
                db_bytes,
                None,
                Some(problem),
                Pager::new(None),
            ),
            Err(other) => Err(other),
        }
    })
    .await?;
    show(&req, &page, form_status(&page.problem))
}

async fn change_user(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> PageResult {
    let fields: super::account::CsrfOnly = form(&body).map_err(|e| page_error(&req, e))?;
    let id = req
        .match_info()
        .get("id")
        .unwrap_or_default()
        .parse::<i64>();
    let action = req
        .match_info()
        .get("action")
        .unwrap_or_default()
        .to_owned();
    let db_bytes = database_bytes(&state);
    let page = visit(&req, &state, move |conn, visitor| {
        visitor.check_form(&fields.csrf_token)?;
        let admin = admin_of(visitor)?;
        let id = id.map_err(|_| Error::not_found("There is no such user."))?;
        let mut shown = None;
        match action.as_str() {
            "block" | "unblock" => {
                users::set_blocked(conn, &admin.caller(), id, action == "block")?;
            }
            "make_admin" | "remove_admin" => {
                let changes = UserChanges {
                    is_admin: Some(action == "make_admin"),
                    ..UserChanges::default()
                };
                users::update(conn, &admin.caller(), id, &changes)?;
            }
            "reset_password" => {
                let password = crate::secrets::new_password()?;
                let changes = UserChanges {
                    password: Some(password.clone()),
                    ..UserChanges::default()
                };
                let user = users::update(conn, &admin.caller(), id, &changes)?;
                shown = Some((user.username, password));
            }
            _ => return Err(Error::not_found("There is no such page.")),
        }
        match shown {
            Some(_) => admin_view(conn, visitor, db_bytes, shown, None, Pager::new(None)).map(Some),
            None => Ok(None),
        }
    })
    .await?;
    match page {
        Some(page) => show(&req, &page, form_status(&page.problem)),
        None => Ok(see_other("/admin")),
    }
}

/// One event as the audit page shows it (every field escaped by the template: targets and
/// failed sign-in names are whatever someone typed).
struct EventLine {
    time: String,
    actor: String,
    address: String,
    action: String,
    about: String,
    target: String,
}

#[derive(Template)]
#[template(path = "web/audit_events.html")]
struct AuditPage {
    chrome: Chrome,
    events: Vec<EventLine>,
    total: i64,
    page: usize,
    pages: usize,
    actor: String,
    action: String,
    since: String,
    newer: Option<String>,
    older: Option<String>,
    problem: Option<String>,
}

/// The audit page's filters and page, as its form sends them.
#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    page: Option<usize>,
}

impl AuditQuery {
    /// This page's address with another page number, the filters kept.
    fn href(&self, page: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("since", &self.since),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(key, value.trim());
            }
        }
        query.append_pair("page", &page.to_string());
        format!("/admin/audit_logs?{}", query.finish())
    }
}

const AUDIT_PAGE_SIZE: usize = 50;

fn audit_view(
    conn: &rusqlite::Connection,
    visitor: &Visitor,
    query: &AuditQuery,
) -> Result<AuditPage, Error> {
    use crate::registry::audit;
    let admin = admin_of(visitor)?;
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let since = text(&query.since).map(|s| audit::parse_time(&s));
    let problem = match &since {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let filter = crate::db::audit::Filter {
        created_after: since.and_then(Result::ok),
        actor: text(&query.actor).map(|a| audit::actor_of(&a)),
        action: text(&query.action),
        ..Default::default()
    };
    let page = audit::Page::new(query.page, Some(AUDIT_PAGE_SIZE));
    let (rows, total) = audit::list(
        conn,
        &admin.caller(),
        &audit::Trail::Instance,
        &filter,
        page,
    )?;
    let pages = usize::try_from(total)
        .unwrap_or(0)
        .div_ceil(page.size)
        .max(1);
    let events = rows
        .into_iter()
        .map(|row| EventLine {
            time: crate::model::iso8601(row.created_at)
                .replace('T', " ")
                .chars()
                .take(19)
                .collect(),
            actor: row.actor,
            address: row.ip_address.unwrap_or_default(),
            action: row.action,
            about: match (row.entity, row.entity_path) {
                (Some((kind, _)), Some(path)) => format!("{} {path}", kind.as_str()),
                (Some((kind, id)), None) => format!("{} {id} (gone)", kind.as_str()),
                (None, _) => String::new(),
            },
            target: row.target,
        })
        .collect();
    Ok(AuditPage {
        chrome: visitor.chrome(),
        events,
        total,
        page: page.number,
        pages,
        actor: query.actor.clone(),
        action: query.action.clone(),
        since: query.since.clone(),
        newer: (page.number > 1).then(|| query.href(page.number - 1)),
        older: (page.number < pages).then(|| query.href(page.number + 1)),
        problem,
    })
}

async fn audit_page(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let query = web::Query::<AuditQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| {
            page_error(
                &req,
                Error::bad_request(format!("bad query parameters: {e}")),
            )
        })?;
    let page = visit(&req, &state, move |conn, visitor| {
        audit_view(conn, visitor, &query)
    })
    .await?;
    show(&req, &page, form_status(&page.problem))
}
