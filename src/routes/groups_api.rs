//! GitLab's REST API for reading groups, subgroups and projects (what `gl.groups` and
//! `gl.projects` list and get).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::paging::Paging;
use super::{as_api_user, json_body, lenient_bool, param};
use crate::error::{Error, Result};
use crate::model::{Namespace, NamespaceKind, Project, Visibility};
use crate::registry::directory::{self, Filters};
use crate::registry::structure;
use crate::server::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v4/groups", web::get().to(list_groups))
        .route("/api/v4/groups/{id}", web::get().to(show_group))
        .route(
            "/api/v4/groups/{id}/subgroups",
            web::get().to(list_subgroups),
        )
        .route(
            "/api/v4/groups/{id}/projects",
            web::get().to(list_group_projects),
        )
        .route("/api/v4/projects", web::get().to(list_projects))
        .route("/api/v4/projects/{id}", web::get().to(show_project))
        .route("/api/v4/groups", web::post().to(create_group))
        .route("/api/v4/groups/{id}", web::put().to(update_group))
        .route("/api/v4/groups/{id}", web::delete().to(delete_group))
        .route("/api/v4/projects", web::post().to(create_project))
        .route("/api/v4/projects/{id}", web::put().to(update_project))
        .route("/api/v4/projects/{id}", web::delete().to(delete_project));
}

fn last_segment(full_path: &str) -> &str {
    full_path.rsplit('/').next().unwrap_or(full_path)
}

fn group_json(group: &Namespace) -> Value {
    let path = last_segment(&group.full_path);
    json!({
        "id": group.id,
        "name": path,
        "path": path,
        "full_name": group.full_path.replace('/', " / "),
        "full_path": group.full_path,
        "description": "",
        "visibility": group.visibility.as_str(),
        "parent_id": group.parent_id,
    })
}

fn project_json(project: &Project, namespace: &Namespace) -> Value {
    let path = last_segment(&project.full_path);
    let kind = match namespace.kind {
        NamespaceKind::User => "user",
        NamespaceKind::Group => "group",
    };
    json!({
        "id": project.id,
        "name": path,
        "path": path,
        "path_with_namespace": project.full_path,
        "name_with_namespace": project.full_path.replace('/', " / "),
        "description": "",
        "visibility": project.visibility.as_str(),
        "packages_enabled": true,
        "namespace": {
            "id": namespace.id,
            "name": last_segment(&namespace.full_path),
            "path": last_segment(&namespace.full_path),
            "kind": kind,
            "full_path": namespace.full_path,
            "parent_id": namespace.parent_id,
        },
    })
}

#[derive(Deserialize, Default)]
struct ListQuery {
    search: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    membership: bool,
    #[serde(default, deserialize_with = "lenient_bool")]
    owned: bool,
    visibility: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    include_subgroups: bool,
    page: Option<usize>,
    per_page: Option<usize>,
}

impl ListQuery {
    fn filters(&self) -> Filters {
        Filters {
            search: self.search.clone(),
            membership: self.membership,
            owned: self.owned,
            visibility: self.visibility.clone(),
        }
    }

    fn paging(&self) -> Paging {
        Paging {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

async fn list_groups(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let filters = query.filters();
    let groups = as_api_user(&req, &state, false, move |conn, api| {
        directory::groups(conn, api, &filters)
    })
    .await?;
    Ok(query
        .paging()
        .respond(&req, groups.iter().map(group_json).collect()))
}

async fn show_group(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let group = as_api_user(&req, &state, false, move |conn, api| {
        directory::group(conn, api, &reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(group_json(&group)))
}

async fn list_subgroups(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let groups = as_api_user(&req, &state, false, move |conn, api| {
        directory::subgroups(conn, api, &reference)
    })
    .await?;
    Ok(query
        .paging()
        .respond(&req, groups.iter().map(group_json).collect()))
}

/// Projects with their namespaces, for the JSON.
fn with_namespaces(
    conn: &rusqlite::Connection,
    projects: Vec<Project>,
) -> Result<Vec<(Project, Namespace)>> {
    projects
        .into_iter()
        .map(|p| {
            let ns = directory::namespace_of(conn, &p)?;
            Ok((p, ns))
        })
        .collect()
}

async fn list_group_projects(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let (filters, include_subgroups) = (query.filters(), query.include_subgroups);
    let projects = as_api_user(&req, &state, false, move |conn, api| {
        let within = Some((reference.as_str(), include_subgroups));
        with_namespaces(conn, directory::projects(conn, api, &filters, within)?)
    })
    .await?;
    Ok(query.paging().respond(
        &req,
        projects.iter().map(|(p, ns)| project_json(p, ns)).collect(),
    ))
}

async fn list_projects(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let filters = query.filters();
    let projects = as_api_user(&req, &state, false, move |conn, api| {
        with_namespaces(conn, directory::projects(conn, api, &filters, None)?)
    })
    .await?;
    Ok(query.paging().respond(
        &req,
        projects.iter().map(|(p, ns)| project_json(p, ns)).collect(),
    ))
}

async fn show_project(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let (project, namespace) = as_api_user(&req, &state, false, move |conn, api| {
        let project = directory::project(conn, api, &reference)?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Ok().json(project_json(&project, &namespace)))
}

/// The body of a create or update: GitLab's field names; `path` defaults to `name`.
#[derive(Deserialize, Default)]
struct Settings {
    name: Option<String>,
    path: Option<String>,
    parent_id: Option<i64>,
    namespace_id: Option<i64>,
    visibility: Option<String>,
    allow_file_replace: Option<bool>,
}

impl Settings {
    fn path(&self) -> Result<String> {
        self.path
            .clone()
            .or_else(|| self.name.clone())
            .ok_or_else(|| Error::bad_request("400 Bad request - name or path is missing"))
    }

    fn visibility(&self) -> Result<Option<Visibility>> {
        self.visibility.as_deref().map(str::parse).transpose()
    }
}

async fn create_group(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let settings = json_body::<Settings>(&body)?;
    let (path, visibility) = (
        settings.path()?,
        settings.visibility()?.unwrap_or(Visibility::Private),
    );
    let group = as_api_user(&req, &state, true, move |conn, api| {
        structure::create_group(conn, api, &path, settings.parent_id, visibility)
    })
    .await?;
    Ok(HttpResponse::Created().json(group_json(&group)))
}

async fn update_group(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let visibility = json_body::<Settings>(&body)?.visibility()?;
    let group = as_api_user(&req, &state, true, move |conn, api| {
        structure::update_group(conn, api, &reference, visibility)
    })
    .await?;
    Ok(HttpResponse::Ok().json(group_json(&group)))
}

async fn delete_group(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    as_api_user(&req, &state, true, move |conn, api| {
        structure::delete_group(conn, api, &reference)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "message": "202 Accepted" })))
}

async fn create_project(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let settings = json_body::<Settings>(&body)?;
    let (path, visibility) = (
        settings.path()?,
        settings.visibility()?.unwrap_or(Visibility::Private),
    );
    let (project, namespace) = as_api_user(&req, &state, true, move |conn, api| {
        let project =
            structure::create_project(conn, api, &path, settings.namespace_id, visibility)?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Created().json(project_json(&project, &namespace)))
}

async fn update_project(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let settings = json_body::<Settings>(&body)?;
    let visibility = settings.visibility()?;
    let (project, namespace) = as_api_user(&req, &state, true, move |conn, api| {
        let project = structure::update_project(
            conn,
            api,
            &reference,
            visibility,
            settings.allow_file_replace,
        )?;
        let namespace = directory::namespace_of(conn, &project)?;
        Ok((project, namespace))
    })
    .await?;
    Ok(HttpResponse::Ok().json(project_json(&project, &namespace)))
}

async fn delete_project(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let reference = param(&req, "id");
    let blobs = state.blobs.clone();
    as_api_user(&req, &state, true, move |conn, api| {
        structure::delete_project(conn, &blobs, api, &reference)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "message": "202 Accepted" })))
}
