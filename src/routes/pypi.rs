//! The PyPI package API under /api/v4: simple pages, files and uploads, for projects and groups.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::encoded;
use super::simple;
use super::upload_form;
use super::{RequestAuth, Routes, download, param, read_route};
use crate::access::{self, IndexKind, Operation};
use crate::blobs::Sha256Hex;
use crate::cache::{CachedPage, PageKey};
use crate::encoding;
use crate::error::{Error, Result};
use crate::format::{self, Format};
use crate::python::DistName;
use crate::registry::index;
use crate::registry::upload::{self, UploadOutcome};
use crate::server::AppState;
use crate::upstream;

pub fn configure(routes: &mut Routes) {
    for (prefix, kind) in [
        ("/api/v4/projects/{id}/packages/pypi", IndexKind::Project),
        ("/api/v4/groups/{id}/-/packages/pypi", IndexKind::Group),
    ] {
        // A trailing slash is optional everywhere; each form is its own route (never a redirect,
        // which twine and uv treat as a failed upload).
        for suffix in ["/simple", "/simple/"] {
            let path = format!("{prefix}{suffix}");
            read_route(routes, &path, Operation::PackagesRead, kind, simple_index);
        }
        for suffix in ["/simple/{name}", "/simple/{name}/"] {
            let path = format!("{prefix}{suffix}");
            read_route(routes, &path, Operation::PackagesRead, kind, package_page);
        }
        let path = format!("{prefix}/files/{{sha256}}/{{filename}}");
        read_route(routes, &path, Operation::PackagesDownload, kind, file);
        if kind == IndexKind::Project {
            for suffix in ["", "/"] {
                let path = format!("{prefix}{suffix}");
                routes.add(Method::POST, &path, Operation::PackagesUpload, upload_file);
            }
        }
    }
    // Publishers without a password (pdm, uv) first ask for PyPI's trusted-publishing audience
    // at the host's root; a JSON 404 lets them fall back to asking for credentials, where the
    // sign-in page that would otherwise answer makes pdm crash on a body that is not JSON.
    for method in [Method::GET, Method::POST] {
        routes.add(
            method,
            "/_/oidc/{rest:.*}",
            Operation::PublicApiInfo,
            trusted_publishing,
        );
    }
}

async fn trusted_publishing() -> Result<HttpResponse> {
    Err(Error::not_found(
        "404 Not Found: trusted publishing (OIDC) is not supported; publish with a personal, \
         project or deploy token as the password",
    ))
}

async fn simple_index(
    req: HttpRequest,
    state: web::Data<AppState>,
    kind: IndexKind,
) -> Result<HttpResponse> {
    simple_page(&req, &state, kind, None).await
}

async fn package_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    kind: IndexKind,
) -> Result<HttpResponse> {
    let name = param(&req, "name");
    simple_page(&req, &state, kind, Some(name)).await
}

/// The index (`package: None`) or a package page: from the page cache while the database is
/// unchanged, else checked, queried and rendered on the blocking pool.
async fn simple_page(
    req: &HttpRequest,
    state: &AppState,
    kind: IndexKind,
    package: Option<String>,
) -> Result<HttpResponse> {
    let format = format::choose(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let auth = RequestAuth::new(req, state);
    let trailing_slash = req.path().ends_with('/');
    let key = PageKey {
        credentials: auth.cache_key(),
        day: crate::auth::today(),
        kind,
        reference: param(req, "id"),
        package: package.clone(),
        format,
        trailing_slash,
        warehouse: None,
    };
    if let Some(page) = state.pages.get(&key)? {
        if let Some(token_id) = page.token_id {
            state.token_usage.note_now(token_id);
        }
        return Ok(page_response(req, format, &page));
    }
    let generation = state.pages.generation()?;
    let reference = key.reference.clone();
    let via = state.upstreams.via(via_header(req));
    let (answer, token_id, known) = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let token_id = match caller {
                    crate::auth::Caller::User(user) => user.token_id,
                    _ => None,
                };
                let known = !matches!(caller, crate::auth::Caller::Anonymous);
                let scope = access::read_index(conn, caller, kind, &reference)?;
                // Links are relative to the page as requested: from `…/simple/` a package is at
                // `NAME/`, from `…/simple` at `simple/NAME/`; from `…/simple/NAME/` the files are
                // at `../../files/`, from `…/simple/NAME` at `../files/`.
                let answer = match package {
                    None => {
                        let prefix = if trailing_slash { "" } else { "simple/" };
                        let names = index::package_names(conn, &scope)?;
                        Answer::Page(simple::render_index(format, &names, prefix)?)
                    }
                    Some(name) => match index::package_page(conn, &scope, &name) {
                        Ok(page) => Answer::Page(simple::render_package(
                            format,
                            &page,
                            files_prefix(trailing_slash),
                        )?),
                        Err(missing @ Error::NotFound(_)) => {
                            match upstream_plan(conn, &scope, &name, via)? {
                                Some(plan) => Answer::Upstream(plan),
                                None => return Err(missing),
                            }
                        }
                        Err(other) => return Err(other),
                    },
                };
                Ok((answer, token_id, known))
            })
        })
        .await?;
    let body = match answer {
        Answer::Page(body) => body,
        // Upstream answers change with time, not with the database: never in the page cache.
        Answer::Upstream(plan) => {
            let page = state.upstreams.page(&state.db, plan).await?;
            let body =
                simple::render_upstream_package(format, &page, files_prefix(trailing_slash))?;
            let page_for_request = encoded::for_request(req, body, token_id).await?;
            let mut response = page_response(req, format, &page_for_request);
            if page.stale {
                response.headers_mut().insert(
                    header::HeaderName::from_static(STALE_HEADER),
                    header::HeaderValue::from_static("stale"),
                );
            }
            return Ok(response);
        }
    };
    let page = crate::cpu::run(move || {
        Arc::new(CachedPage::new(body, token_id).compress(&encoding::COMPRESSED))
    })
    .await?;
    state.pages.put_for(key, known, generation, page.clone());
    Ok(page_response(req, format, &page))
}

/// Says that a page came from the cache because its upstream could not be asked.
const STALE_HEADER: &str = "x-wheelhouse-upstream";

/// What a page request turned out to be: rendered, or a name to ask the group's upstreams for.
enum Answer {
    Page(String),
    Upstream(upstream::pages::PagePlan),
}

fn files_prefix(trailing_slash: bool) -> &'static str {
    if trailing_slash {
        "../../files/"
    } else {
        "../files/"
    }
}

/// A name the group index does not hold may come from its upstreams (a project index never
/// goes upstream). A name that is not a valid project name is never asked for.
fn upstream_plan(
    conn: &rusqlite::Connection,
    scope: &access::Reader,
    requested: &str,
    via: Option<String>,
) -> Result<Option<upstream::pages::PagePlan>> {
    let (access::Reader::Group(group), Ok(name), Some(via)) =
        (scope, DistName::parse(requested), via)
    else {
        return Ok(None);
    };
    let plan = upstream::pages::plan(conn, group.group().id, name.normalized())?;
    Ok(plan.map(|plan| upstream::pages::PagePlan { via, ..plan }))
}

/// The servers an upstream request came through (`None` for a client's own request).
fn via_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(upstream::VIA_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// A simple page in its negotiated type and coding, `Vary` on both.
fn page_response(req: &HttpRequest, format: Format, page: &CachedPage) -> HttpResponse {
    encoded::respond(req, page, format.content_type(), "Accept, Accept-Encoding")
}

async fn file(
    req: HttpRequest,
    state: web::Data<AppState>,
    kind: IndexKind,
) -> Result<HttpResponse> {
    let (auth, reference) = (RequestAuth::new(&req, &state), param(&req, "id"));
    let (sha256, requested) = (param(&req, "sha256"), param(&req, "filename"));
    // PEP 658: `FILE.metadata` is the core metadata of FILE.
    let (filename, wants_metadata) = match requested.strip_suffix(".metadata") {
        Some(file) => (file.to_string(), true),
        None => (requested.clone(), false),
    };
    let wants = wants_metadata;
    let blobs = state.blobs.clone();
    let via = state.upstreams.via(via_header(&req));
    let found = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let scope = access::read_index(conn, caller, kind, &reference)?;
                match index::file(conn, &scope, &sha256, &filename) {
                    Ok(stored) => Ok(Found::Stored(stored)),
                    Err(missing @ Error::NotFound(_)) => {
                        // A request that came through this server already (a loop) is answered
                        // from here only.
                        let (access::Reader::Group(group), Some(via)) = (&scope, via) else {
                            return Err(missing);
                        };
                        let group_id = group.group().id;
                        upstream::files::plan(conn, &blobs, group_id, &sha256, &filename, wants)?
                            .map(|plan| Found::Upstream(upstream::files::FilePlan { via, ..plan }))
                            .ok_or(missing)
                    }
                    Err(other) => Err(other),
                }
            })
        })
        .await?;
    let content_type = if wants_metadata {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let blob = match found {
        Found::Stored(stored) if wants_metadata => {
            // Only what the index offers (PEP 643): an sdist's dynamic PKG-INFO is not served.
            stored.core_metadata.as_deref().and_then(Sha256Hex::parse)
        }
        Found::Stored(stored) => Sha256Hex::parse(&stored.sha256),
        Found::Upstream(plan) if plan.last_used_at.is_some() => {
            state.upstreams.touch(&state.db, &plan).await?;
            let held = download::send_if_held(
                &req,
                download::Download {
                    blobs: &state.blobs,
                    blob: plan.blob.clone(),
                    etag: format!("\"{}\"", plan.blob.as_str()),
                    filename: &requested,
                    content_type,
                },
            )
            .await?;
            // Evicted since the plan was made (the cache cap, `gc`), even if fetched back by
            // another request meanwhile: fetched again (or joined), not a 500.
            return match held {
                Some(sent) => Ok(sent),
                None => fetch_upstream(&state, plan, content_type).await,
            };
        }
        Found::Upstream(plan) => return fetch_upstream(&state, plan, content_type).await,
    };
    let blob = blob.ok_or_else(|| Error::not_found("404 File Not Found"))?;
    download::send(
        &req,
        download::Download {
            blobs: &state.blobs,
            blob: blob.clone(),
            etag: format!("\"{}\"", blob.as_str()),
            filename: &requested,
            content_type,
        },
    )
    .await
}

/// A file (or its metadata) that an upstream lists and the cache does not hold: fetched now.
async fn fetch_upstream(
    state: &AppState,
    plan: upstream::files::FilePlan,
    content_type: &'static str,
) -> Result<HttpResponse> {
    if plan.wants_metadata {
        let bytes = state
            .upstreams
            .fetch_metadata(&state.db, &state.blobs, plan)
            .await?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .body(bytes));
    }
    let filename = plan.file.filename.clone();
    let fetch = state
        .upstreams
        .fetch_file(&state.db, &state.blobs, plan)
        .await?;
    Ok(download::stream_fetched(&filename, fetch))
}

/// A file the index links to: stored here, or listed by one of the group's upstreams.
enum Found {
    Stored(crate::registry::catalog::StoredFile),
    Upstream(upstream::files::FilePlan),
}

async fn upload_file(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let answer = receive_upload(req, payload, state).await;
    let metrics = crate::metrics::metrics();
    match &answer {
        Ok(_) => metrics.upload_accepted(),
        Err(error) => metrics.upload_refused(error),
    }
    answer
}

async fn receive_upload(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    upload_form::check_content_type(req.headers())?;
    let (auth, reference) = (RequestAuth::new(&req, &state), param(&req, "id"));
    // Decide access before reading a byte of the body.
    let writer = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                access::write_project(conn, caller, access::find_project(conn, &reference)?)
            })
        })
        .await?;
    let (form, received) = upload_form::receive(
        req.headers(),
        payload,
        &state.blobs,
        state.config.max_upload_bytes,
        state.config.upload_idle_timeout,
    )
    .await?;
    let (blobs, limits) = (state.blobs.clone(), state.archive_limits);
    // The upload is recorded from the client that sent it (see `audit::from_client`).
    let client = super::site::client_addr(&req, &state);
    let outcome = state
        .db
        .run_pooled(move |db| {
            crate::registry::audit::from_client(client, || {
                upload::publish(db, &blobs, &limits, &writer, &form, received)
            })
        })
        .await?;
    Ok(match outcome {
        UploadOutcome::Created => HttpResponse::Created().json(json!({ "message": "201 Created" })),
        UploadOutcome::AlreadyStored => HttpResponse::Ok().json(json!({
            "message": "200 OK: this file is already stored with the same content"
        })),
    })
}
