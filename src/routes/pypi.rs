//! The PyPI package API under /api/v4: simple pages, files and uploads, for projects and groups.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::simple;
use super::upload_form;
use super::{RequestAuth, Routes, download, if_none_match, param, read_route};
use crate::access::{self, IndexKind, Operation};
use crate::blobs::Sha256Hex;
use crate::cache::{CachedPage, PageKey};
use crate::error::{Error, Result};
use crate::format::{self, Format};
use crate::registry::index;
use crate::registry::upload::{self, UploadOutcome};
use crate::server::AppState;

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
    };
    if let Some(page) = state.pages.get(&key)? {
        if let Some(token_id) = page.token_id {
            state.token_usage.note_now(token_id);
        }
        return Ok(page_response(req, format, page));
    }
    let generation = state.pages.generation()?;
    let reference = key.reference.clone();
    let (body, token_id, known) = state
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
                let body = match package {
                    None => {
                        let prefix = if trailing_slash { "" } else { "simple/" };
                        simple::render_index(format, &index::package_names(conn, &scope)?, prefix)
                    }
                    Some(name) => {
                        let prefix = if trailing_slash {
                            "../../files/"
                        } else {
                            "../files/"
                        };
                        simple::render_package(
                            format,
                            &index::package_page(conn, &scope, &name)?,
                            prefix,
                        )
                    }
                }?;
                Ok((body, token_id, known))
            })
        })
        .await?;
    let page = CachedPage::new(body, token_id);
    // Credentials that resolved to no one (junk on a public index) got the anonymous answer:
    // it is kept under the anonymous key, so made-up credentials cannot fill the cache with
    // keys of their own and push out everyone else's pages.
    let key = if known {
        key
    } else {
        PageKey {
            credentials: None,
            ..key
        }
    };
    state.pages.put(key, generation, page.clone());
    Ok(page_response(req, format, page))
}

/// A simple page with its negotiated type, `Vary: Accept`, and an ETag answering `If-None-Match`.
fn page_response(req: &HttpRequest, format: Format, page: CachedPage) -> HttpResponse {
    let not_modified = if_none_match(req, &page.etag);
    let mut response = HttpResponse::build(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    response
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::ETAG, page.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if not_modified {
        response.finish()
    } else {
        response.body(page.body)
    }
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
    let stored = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let scope = access::read_index(conn, caller, kind, &reference)?;
                index::file(conn, &scope, &sha256, &filename)
            })
        })
        .await?;
    let (blob, content_type) = if wants_metadata {
        // Only what the index offers (PEP 643): an sdist's dynamic PKG-INFO is not served.
        (stored.core_metadata.as_deref(), "text/plain; charset=utf-8")
    } else {
        (Some(stored.sha256.as_str()), "application/octet-stream")
    };
    let blob = blob
        .and_then(Sha256Hex::parse)
        .ok_or_else(|| Error::not_found("404 File Not Found"))?;
    download::send(
        &req,
        download::Download {
            path: state.blobs.path(&blob),
            etag: format!("\"{}\"", blob.as_str()),
            filename: &requested,
            content_type,
        },
    )
    .await
}

async fn upload_file(
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
    let outcome = state
        .db
        .run_pooled(move |db| upload::publish(db, &blobs, &limits, &writer, &form, received))
        .await?;
    Ok(match outcome {
        UploadOutcome::Created => HttpResponse::Created().json(json!({ "message": "201 Created" })),
        UploadOutcome::AlreadyStored => HttpResponse::Ok().json(json!({
            "message": "200 OK: this file is already stored with the same content"
        })),
    })
}
