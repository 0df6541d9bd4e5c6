//! The GitLab-style REST API for packages of a project: list, show, files, delete, and yank
//! (which GitLab lacks; it follows GitLab's `POST …/action` style).

use super::Routes;
use crate::access::Operation;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::api_views::{FilePath, IdPath, PackageFileView, PackagePath, PackageView};
use super::paging::Paging;
use super::{RequestAuth, param, params};
use crate::access;
use crate::error::{Error, Result};
use crate::registry::catalog::{PackageRow, StoredFile};
use crate::registry::index;
use crate::registry::manage::{self, FileRef, PackageRef};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    let base = "/api/v4/projects/{id}/packages";
    routes.add(Method::GET, base, Operation::PackagesRead, list_packages);
    routes.add(
        Method::GET,
        "/api/v4/groups/{id}/packages",
        Operation::PackagesRead,
        list_group_packages,
    );
    routes.add(
        Method::GET,
        &format!("{base}/{{package_id}}"),
        Operation::PackagesRead,
        show_package,
    );
    routes.add(
        Method::DELETE,
        &format!("{base}/{{package_id}}"),
        Operation::PackagesDelete,
        delete_package,
    );
    routes.add(
        Method::GET,
        &format!("{base}/{{package_id}}/package_files"),
        Operation::PackagesRead,
        list_files,
    );
    routes.add(
        Method::DELETE,
        &format!("{base}/{{package_id}}/package_files/{{file_id}}"),
        Operation::PackagesDelete,
        delete_file,
    );
    routes.add(
        Method::POST,
        &format!("{base}/{{package_id}}/yank"),
        Operation::PackagesYank,
        yank_package,
    );
    routes.add(
        Method::POST,
        &format!("{base}/{{package_id}}/unyank"),
        Operation::PackagesYank,
        unyank_package,
    );
    routes.add(
        Method::POST,
        &format!("{base}/{{package_id}}/package_files/{{file_id}}/yank"),
        Operation::PackagesYank,
        yank_file,
    );
    routes.add(
        Method::POST,
        &format!("{base}/{{package_id}}/package_files/{{file_id}}/unyank"),
        Operation::PackagesYank,
        unyank_file,
    );
}

/// A numeric path parameter; anything else names nothing (404).
fn id_param(req: &HttpRequest, name: &str) -> Result<i64> {
    param(req, name)
        .parse()
        .map_err(|_| Error::not_found("404 Not Found"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    package_name: Option<String>,
    package_type: Option<String>,
    #[param(pattern = "^(created_at|name|version|type)$")]
    order_by: Option<String>,
    #[param(pattern = "^(asc|desc)$")]
    sort: Option<String>,
    #[serde(default, deserialize_with = "super::params::flag")]
    exclude_subgroups: bool,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

impl ListQuery {
    /// GitLab's `order_by` (created_at, name, version, type) and `sort` (asc, desc).
    fn order(&self, rows: &mut [(PackageRow, Option<String>)]) -> Result<()> {
        let by = self.order_by.as_deref().unwrap_or("created_at");
        match by {
            "created_at" => rows.sort_by_key(|(r, _)| (r.created_at, r.id)),
            "name" => rows.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
            "version" => rows.sort_by(|(a, _), (b, _)| {
                crate::python::version::compare_strs(&a.version, &b.version).then(a.id.cmp(&b.id))
            }),
            "type" => rows.sort_by_key(|(r, _)| r.id),
            other => {
                return Err(Error::bad_request(format!(
                    "400 Bad request - order_by \"{other}\" is not one of created_at, name, version, type"
                )));
            }
        }
        match self.sort.as_deref().unwrap_or("asc") {
            "asc" => {}
            "desc" => rows.reverse(),
            other => {
                return Err(Error::bad_request(format!(
                    "400 Bad request - sort \"{other}\" is not asc or desc"
                )));
            }
        }
        Ok(())
    }

    /// Wheelhouse holds PyPI packages only: another `package_type` lists nothing.
    fn wants_pypi(&self) -> bool {
        self.package_type.as_deref().is_none_or(|t| t == "pypi")
    }
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/packages",
    tag = "packages",
    params(IdPath, ListQuery),
    responses((status = 200, description = "The project's packages, one page", body = [PackageView]))
)]
async fn list_packages(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (auth, reference) = (RequestAuth::new(&req, &state), param(&req, "id"));
    let name = query.package_name.clone();
    let rows = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let reader =
                    access::read_project(conn, caller, access::find_project(conn, &reference)?)?;
                index::packages(conn, &reader, name.as_deref())
            })
        })
        .await?;
    let rows = rows.into_iter().map(|row| (row, None)).collect();
    listed(&req, &query, rows)
}

#[utoipa::path(
    get,
    path = "/api/v4/groups/{id}/packages",
    tag = "packages",
    params(IdPath, ListQuery),
    responses((status = 200, description = "The packages of the group's projects, one page", body = [PackageView]))
)]
async fn list_group_packages(
    req: HttpRequest,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (auth, reference) = (RequestAuth::new(&req, &state), param(&req, "id"));
    let (name, exclude_subgroups) = (query.package_name.clone(), query.exclude_subgroups);
    let rows = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let reader =
                    access::read_group(conn, caller, access::find_group(conn, &reference)?)?;
                index::group_packages(conn, &reader, exclude_subgroups, name.as_deref())
            })
        })
        .await?;
    let rows = rows
        .into_iter()
        .map(|(row, path)| (row, Some(path)))
        .collect();
    listed(&req, &query, rows)
}

/// One page of packages, filtered and ordered as asked; group lists name each one's project.
fn listed(
    req: &HttpRequest,
    query: &ListQuery,
    mut rows: Vec<(PackageRow, Option<String>)>,
) -> Result<HttpResponse> {
    if !query.wants_pypi() {
        rows.clear();
    }
    query.order(&mut rows)?;
    let items = rows
        .iter()
        .map(|(row, project_path)| PackageView::new(row, project_path.clone()))
        .collect::<Vec<_>>();
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    Ok(paging.respond(req, items))
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/packages/{package_id}",
    tag = "packages",
    params(PackagePath),
    responses((status = 200, description = "One version of a package", body = PackageView))
)]
async fn show_package(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let (row, _) = read_package(&req, &state).await?;
    Ok(HttpResponse::Ok().json(PackageView::new(&row, None)))
}

#[utoipa::path(
    get,
    path = "/api/v4/projects/{id}/packages/{package_id}/package_files",
    tag = "packages",
    params(PackagePath),
    responses((status = 200, description = "The version's files", body = [PackageFileView]))
)]
async fn list_files(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let (_, files) = read_package(&req, &state).await?;
    Ok(HttpResponse::Ok().json(files.iter().map(PackageFileView::new).collect::<Vec<_>>()))
}

async fn read_package(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(PackageRow, Vec<StoredFile>)> {
    let (auth, reference) = (RequestAuth::new(req, state), param(req, "id"));
    let package_id = id_param(req, "package_id")?;
    state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let reader =
                    access::read_project(conn, caller, access::find_project(conn, &reference)?)?;
                index::package(conn, &reader, package_id)
            })
        })
        .await
}

/// What a management request acts on.
enum Action {
    Delete,
    Yank(String),
    Unyank,
}

async fn manage(
    req: &HttpRequest,
    state: &AppState,
    file: bool,
    action: Action,
) -> Result<Vec<StoredFile>> {
    let (auth, reference) = (RequestAuth::new(req, state), param(req, "id"));
    let package = PackageRef::Id(id_param(req, "package_id")?);
    let file = if file {
        FileRef::Id(id_param(req, "file_id")?)
    } else {
        FileRef::All
    };
    let blobs = state.blobs.clone();
    state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let project = access::find_project(conn, &reference)?;
                let maintainer = access::maintain_project(conn, caller, project)?;
                match action {
                    Action::Delete => manage::delete(conn, &blobs, &maintainer, &package, &file),
                    Action::Yank(reason) => {
                        manage::set_yanked(conn, &maintainer, &package, &file, Some(&reason))
                    }
                    Action::Unyank => manage::set_yanked(conn, &maintainer, &package, &file, None),
                }
            })
        })
        .await
}

/// The optional JSON body of a yank: `{"reason": "…"}`. An empty body means no reason.
#[derive(Deserialize, Default, ToSchema)]
struct YankBody {
    reason: Option<String>,
}

fn yank_reason(req: &HttpRequest, body: &web::Bytes) -> Result<String> {
    Ok(params::input::<YankBody>(req, body)?
        .reason
        .unwrap_or_default())
}

#[utoipa::path(
    delete,
    path = "/api/v4/projects/{id}/packages/{package_id}",
    tag = "packages",
    params(PackagePath),
    responses((status = 204, description = "Removed with its files"))
)]
async fn delete_package(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    manage(&req, &state, false, Action::Delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    delete,
    path = "/api/v4/projects/{id}/packages/{package_id}/package_files/{file_id}",
    tag = "packages",
    params(FilePath),
    responses((status = 204, description = "Removed"))
)]
async fn delete_file(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    manage(&req, &state, true, Action::Delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v4/projects/{id}/packages/{package_id}/yank",
    tag = "packages",
    params(PackagePath),
    request_body = Option<YankBody>,
    responses((status = 200, description = "The version's files, yanked", body = [PackageFileView]))
)]
async fn yank_package(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let files = manage(&req, &state, false, Action::Yank(yank_reason(&req, &body)?)).await?;
    Ok(HttpResponse::Ok().json(files.iter().map(PackageFileView::new).collect::<Vec<_>>()))
}

#[utoipa::path(
    post,
    path = "/api/v4/projects/{id}/packages/{package_id}/unyank",
    tag = "packages",
    params(PackagePath),
    responses((status = 200, description = "The version's files, no longer yanked", body = [PackageFileView]))
)]
async fn unyank_package(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let files = manage(&req, &state, false, Action::Unyank).await?;
    Ok(HttpResponse::Ok().json(files.iter().map(PackageFileView::new).collect::<Vec<_>>()))
}

#[utoipa::path(
    post,
    path = "/api/v4/projects/{id}/packages/{package_id}/package_files/{file_id}/yank",
    tag = "packages",
    params(FilePath),
    request_body = Option<YankBody>,
    responses((status = 200, description = "The version's files", body = [PackageFileView]))
)]
async fn yank_file(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let files = manage(&req, &state, true, Action::Yank(yank_reason(&req, &body)?)).await?;
    Ok(HttpResponse::Ok().json(files.iter().map(PackageFileView::new).collect::<Vec<_>>()))
}

#[utoipa::path(
    post,
    path = "/api/v4/projects/{id}/packages/{package_id}/package_files/{file_id}/unyank",
    tag = "packages",
    params(FilePath),
    responses((status = 200, description = "The version's files", body = [PackageFileView]))
)]
async fn unyank_file(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let files = manage(&req, &state, true, Action::Unyank).await?;
    Ok(HttpResponse::Ok().json(files.iter().map(PackageFileView::new).collect::<Vec<_>>()))
}
