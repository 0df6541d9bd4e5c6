//! GitLab's audit events API: the instance's events for admins, a group's (with everything
//! under it) for its owners, a project's for its maintainers.

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api_views::IdPath;
use super::paging::Paging;
use super::{as_api_user, param};
use crate::db::audit::{EntityType, EventRow, Filter};
use crate::error::{Error, Result};
use crate::model::iso8601;
use crate::registry::audit::{self, Listing, Page, Trail};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/audit_events",
        Operation::AuditList,
        list_all,
    );
    routes.add(
        Method::GET,
        "/api/v4/audit_events/{event_id}",
        Operation::AuditList,
        show_any,
    );
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/audit_events",
        Operation::AuditGroup,
        list_group,
    );
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/audit_events/{event_id}",
        Operation::AuditGroup,
        show_group,
    );
    routes.add(
        Method::GET,
        "/api/v4/projects/{id}/audit_events",
        Operation::AuditProject,
        list_project,
    );
    routes.add(
        Method::GET,
        "/api/v4/projects/{id}/audit_events/{event_id}",
        Operation::AuditProject,
        show_project,
    );
}

/// One audit event in GitLab's shape.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    /// The acting user's id; none for the command line, a deploy token or a failed sign-in.
    pub author_id: Option<i64>,
    /// The user, group or project the event is about (`Gitlab::Audit::InstanceScope` with id
    /// 1 for events about the instance as a whole).
    pub entity_id: i64,
    pub entity_type: String,
    /// What happened (`upload`, `token.create`, `session.fail`, …).
    pub event_name: String,
    /// `author_name`, `target_details`, `ip_address`, `entity_path`, `custom_message` (the
    /// event name again) and whatever else the change said (`visibility: {from, to}`, …).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// ISO 8601, UTC.
    pub created_at: String,
}

impl AuditEventView {
    pub fn new(row: &EventRow) -> AuditEventView {
        let (entity_type, entity_id) = match row.entity {
            Some((kind, id)) => (kind.as_str().to_owned(), id),
            None => ("Gitlab::Audit::InstanceScope".to_owned(), 1),
        };
        let mut details = row
            .details
            .as_deref()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        let author_name = row
            .actor
            .split_once(':')
            .map_or(row.actor.as_str(), |(_, name)| name);
        details["author_name"] = author_name.into();
        details["author_class"] = match row.actor.split_once(':') {
            Some(("user", _)) => "User",
            Some(("deploy-token", _)) => "DeployToken",
            _ if row.actor == "cli" => "CommandLine",
            _ => "Anonymous",
        }
        .into();
        details["target_details"] = row.target.clone().into();
        details["custom_message"] = row.action.clone().into();
        details["ip_address"] = row.ip_address.clone().into();
        details["entity_path"] = row.entity_path.clone().into();
        AuditEventView {
            id: row.id,
            author_id: row.author_id,
            entity_id,
            entity_type,
            event_name: row.action.clone(),
            details,
            created_at: iso8601(row.created_at),
        }
    }
}

/// GitLab's filters and paging.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events at or after this time (ISO 8601, or a day `YYYY-MM-DD`).
    created_after: Option<String>,
    /// Events before this time.
    created_before: Option<String>,
    /// `User`, `Group` or `Project` (the instance list only).
    #[param(pattern = "^(User|Group|Project)$")]
    entity_type: Option<String>,
    /// With `entity_type`: that one user, group or project.
    entity_id: Option<i64>,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

impl AuditQuery {
    fn filter(&self) -> Result<Filter> {
        let time = |text: &Option<String>| text.as_deref().map(audit::parse_time).transpose();
        let entity_type = self
            .entity_type
            .as_deref()
            .map(|text| {
                EntityType::parse(text).ok_or_else(|| {
                    Error::bad_request(format!(
                        "400 Bad request - entity_type \"{text}\" is not User, Group or Project"
                    ))
                })
            })
            .transpose()?;
        Ok(Filter {
            created_after: time(&self.created_after)?,
            created_before: time(&self.created_before)?,
            entity_type,
            entity_id: self.entity_id,
            ..Filter::default()
        })
    }

    fn paging(&self) -> Paging {
        Paging {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

/// `…/audit_events/{event_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(
    dead_code,
    reason = "only described: handlers read the path through `param`"
)]
pub struct EventPath {
    /// The event's id.
    event_id: i64,
}

fn event_id(req: &HttpRequest) -> Result<i64> {
    param(req, "event_id")
        .parse()
        .map_err(|_| Error::not_found("404 Audit Event Not Found"))
}

fn listed(req: &HttpRequest, paging: Paging, (rows, total): Listing) -> HttpResponse {
    let views = rows.iter().map(AuditEventView::new).collect();
    paging.respond_page(req, usize::try_from(total).unwrap_or(0), views)
}

/// One page of `trail` as GitLab's list answers it.
async fn list_trail(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
    trail: Trail,
) -> Result<HttpResponse> {
    let (filter, paging) = (query.filter()?, query.paging());
    let (number, size) = paging.numbers();
    let listing = as_api_user(&req, &state, false, move |conn, api| {
        let page = Page::new(Some(number), Some(size));
        audit::list(conn, &api.caller(), &trail, &filter, page)
    })
    .await?;
    Ok(listed(&req, paging, listing))
}

/// One event of `trail`.
async fn show_in_trail(
    req: HttpRequest,
    state: web::Data<AppState>,
    trail: Trail,
) -> Result<HttpResponse> {
    let id = event_id(&req);
    let row = as_api_user(&req, &state, false, move |conn, api| {
        audit::get(conn, &api.caller(), &trail, id?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AuditEventView::new(&row)))
}

#[utoipa::path(
    get,
    path = "/api/v4/audit_events",
    tag = "audit events",
    params(AuditQuery),
    responses((status = 200, description = "The instance's events, newest first, one page (admins)", body = [AuditEventView]))
)]
async fn list_all(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    list_trail(req, query, state, Trail::Instance).await
}

#[utoipa::path(
    get,
    path = "/api/v4/audit_events/{event_id}",
    tag = "audit events",
    params(EventPath),
    responses((status = 200, description = "One event (admins)", body = AuditEventView))
)]
async fn show_any(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    show_in_trail(req, state, Trail::Instance).await
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/audit_events",
    tag = "audit events",
    params(IdPath, AuditQuery),
    responses((status = 200, description = "The events of the group and of the subgroups and projects in it, newest first, one page (owners)", body = [AuditEventView]))
)]
async fn list_group(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let trail = Trail::Group(param(&req, "id"));
    list_trail(req, query, state, trail).await
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/audit_events/{event_id}",
    tag = "audit events",
    params(IdPath, EventPath),
    responses((status = 200, description = "One event of the group or of something in it (owners)", body = AuditEventView))
)]
async fn show_group(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let trail = Trail::Group(param(&req, "id"));
    show_in_trail(req, state, trail).await
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/audit_events",
    tag = "audit events",
    params(IdPath, AuditQuery),
    responses((status = 200, description = "The project's events, newest first, one page (maintainers and up)", body = [AuditEventView]))
)]
async fn list_project(
    req: HttpRequest,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let trail = Trail::Project(param(&req, "id"));
    list_trail(req, query, state, trail).await
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/audit_events/{event_id}",
    tag = "audit events",
    params(IdPath, EventPath),
    responses((status = 200, description = "One event of the project (maintainers and up)", body = AuditEventView))
)]
async fn show_project(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let trail = Trail::Project(param(&req, "id"));
    show_in_trail(req, state, trail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> EventRow {
        EventRow {
            id: 7,
            actor: "user:alice".into(),
            author_id: Some(3),
            action: "project.update".into(),
            target: "acme/tools".into(),
            entity: Some((EntityType::Project, 5)),
            entity_path: Some("acme/tools".into()),
            ip_address: Some("192.0.2.7".into()),
            details: Some(r#"{"visibility":{"from":"public","to":"private"}}"#.into()),
            created_at: 1000,
        }
    }

    #[test]
    fn an_event_has_gitlabs_fields_and_keeps_what_the_change_said() {
        let view = serde_json::to_value(AuditEventView::new(&row())).unwrap();
        assert_eq!(view["entity_type"], "Project");
        assert_eq!(view["entity_id"], 5);
        assert_eq!(view["author_id"], 3);
        assert_eq!(view["created_at"], "1970-01-01T00:00:01.000000Z");
        let details = &view["details"];
        assert_eq!(details["author_name"], "alice");
        assert_eq!(details["author_class"], "User");
        assert_eq!(details["ip_address"], "192.0.2.7");
        assert_eq!(details["target_details"], "acme/tools");
        assert_eq!(details["custom_message"], "project.update");
        assert_eq!(details["visibility"]["to"], "private");
    }

    #[test]
    fn an_event_from_before_the_trail_could_be_read_is_the_instances() {
        let old = EventRow {
            actor: "cli".into(),
            author_id: None,
            entity: None,
            entity_path: None,
            ip_address: None,
            details: None,
            ..row()
        };
        let view = serde_json::to_value(AuditEventView::new(&old)).unwrap();
        assert_eq!(view["entity_type"], "Gitlab::Audit::InstanceScope");
        assert_eq!(view["entity_id"], 1);
        assert_eq!(view["author_id"], serde_json::Value::Null);
        assert_eq!(view["details"]["author_name"], "cli");
        assert_eq!(view["details"]["ip_address"], serde_json::Value::Null);
    }

    #[test]
    fn filters_read_gitlab_parameters_and_name_bad_ones() {
        let query = AuditQuery {
            created_after: Some("1970-01-02".into()),
            entity_type: Some("group".into()),
            entity_id: Some(4),
            ..AuditQuery::default()
        };
        let filter = query.filter().unwrap();
        assert_eq!(filter.created_after, Some(86_400_000));
        assert_eq!(filter.entity_type, Some(EntityType::Group));
        assert_eq!(filter.entity_id, Some(4));
        let bad = AuditQuery {
            entity_type: Some("Instance".into()),
            ..AuditQuery::default()
        };
        let err = bad.filter().unwrap_err().to_string();
        assert!(err.contains("entity_type \"Instance\""), "{err}");
    }
}
