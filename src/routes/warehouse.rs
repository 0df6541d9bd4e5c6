//! The Warehouse-style JSON API (`…/pypi/NAME/json`, `…/pypi/NAME/VERSION/json`) that
//! Dependabot, Renovate and Poetry still read, under the project and group prefixes.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{RequestAuth, Routes, encoded, param, read_route};
use crate::access::{self, IndexKind, Operation};
use crate::auth::Caller;
use crate::cache::{CachedPage, PageKey, WarehouseKey};
use crate::encoding;
use crate::error::Result;
use crate::format::Format;
use crate::model::iso8601;
use crate::python::Filename;
use crate::registry::catalog::StoredFile;
use crate::registry::index::{self, Release};
use crate::server::AppState;

pub fn configure(routes: &mut Routes) {
    for (prefix, kind) in [
        ("/api/v4/projects/{id}/packages/pypi", IndexKind::Project),
        ("/api/v4/groups/{id}/-/packages/pypi", IndexKind::Group),
    ] {
        for suffix in [
            "/pypi/{name}/json",
            "/pypi/{name}/json/",
            "/pypi/{name}/{version}/json",
            "/pypi/{name}/{version}/json/",
        ] {
            let path = format!("{prefix}{suffix}");
            read_route(routes, &path, Operation::PackagesRead, kind, project_json);
        }
    }
}

/// The JSON from the page cache while the database is unchanged; else checked and queried on
/// the database's pool, then serialized and compressed (once per coding, for every later
/// request) on the CPU threads, so a large release never holds up a database call.
async fn project_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    kind: IndexKind,
) -> Result<HttpResponse> {
    let (auth, name) = (RequestAuth::new(&req, &state), param(&req, "name"));
    let version = req
        .match_info()
        .get("version")
        .map(|_| param(&req, "version"));
    // Tools that read this API expect absolute URLs: from the configured external URL, else
    // from the request as received (Host, or what a trusted proxy forwarded).
    let path = req.path();
    let api_root = &path[..path
        .find("/pypi/pypi/")
        .map_or(path.len(), |i| i + "/pypi/".len())];
    let base = format!("{}{api_root}", super::site::base_url(&req, &state));
    let key = PageKey {
        credentials: auth.cache_key(),
        day: crate::auth::today(),
        kind,
        reference: param(&req, "id"),
        package: Some(name.clone()),
        // One representation, with absolute links: neither varies the answer.
        format: Format::JsonV1,
        trailing_slash: false,
        warehouse: Some(WarehouseKey {
            version: version.clone(),
            base: base.clone(),
        }),
    };
    if let Some(page) = state.pages.get(&key)? {
        if let Some(token_id) = page.token_id {
            state.token_usage.note_now(token_id);
        }
        return Ok(respond(&req, &page));
    }
    let generation = state.pages.generation()?;
    let (reference, wants_version) = (key.reference.clone(), version.is_some());
    let (release, token_id, known) = state
        .db
        .run(move |conn| {
            auth.authorized(conn, |conn, caller| {
                let token_id = match caller {
                    Caller::User(user) => user.token_id,
                    _ => None,
                };
                let scope = access::read_index(conn, caller, kind, &reference)?;
                let release = index::release(conn, &scope, &name, version.as_deref())?;
                Ok((release, token_id, !matches!(caller, Caller::Anonymous)))
            })
        })
        .await?;
    // Reading the metadata file is I/O (a download on S3), the blocking pool's kind of work.
    let blobs = state.blobs.clone();
    let (release, license_expression) = web::block(move || {
        let expression = index::license_expression(&blobs, &release);
        (release, expression)
    })
    .await?;
    // Without an external URL the links (and so the key) follow the request's Host: only a
    // few hosts are kept, so a client that sends a new Host each time neither fills the cache
    // for everyone nor makes each answer compress again.
    let kept = state.config.external_url.is_some()
        || state.pages.admit_host(&super::site::base_url(&req, &state));
    let page = crate::cpu::run(move || {
        let mut body = render(&release, &base, wants_version);
        body["info"]["license_expression"] = json!(license_expression);
        // Poetry sends `Accept-Encoding: gzip`; a long description compresses well.
        let page = CachedPage::new(body.to_string(), token_id);
        Arc::new(match kept {
            true => page.compress(&encoding::COMPRESSED),
            false => page,
        })
    })
    .await?;
    if !kept {
        return Ok(respond(&req, &page));
    }
    state.pages.put_for(key, known, generation, page.clone());
    Ok(respond(&req, &page))
}

fn respond(req: &HttpRequest, page: &CachedPage) -> HttpResponse {
    encoded::respond(req, page, "application/json", "Accept-Encoding")
}

/// Shapes a release as Warehouse does; `for_version` leaves out `releases`, as Warehouse's
/// version endpoint does.
fn render(release: &Release, base: &str, for_version: bool) -> Value {
    let meta = &release.metadata;
    let name = &release.page.name;
    let files_of = |version: &str| -> Vec<Value> {
        release
            .page
            .files
            .iter()
            .filter(|f| f.version == version)
            .map(|f| file_json(f, base))
            .collect()
    };
    let urls = files_of(&release.version);
    let chosen: Vec<&StoredFile> = release
        .page
        .files
        .iter()
        .filter(|f| f.version == release.version)
        .collect();
    let all_yanked = !chosen.is_empty() && chosen.iter().all(|f| f.yanked);
    let project_urls: BTreeMap<String, String> = meta
        .project_urls
        .iter()
        .filter_map(|entry| entry.split_once(','))
        .map(|(label, url)| (label.trim().to_string(), url.trim().to_string()))
        .collect();
    let page_url = format!("{base}simple/{name}/");
    let mut body = json!({
        "info": {
            "author": meta.author.clone().unwrap_or_default(),
            "author_email": meta.author_email.clone().unwrap_or_default(),
            "bugtrack_url": null,
            "classifiers": meta.classifiers,
            "description": meta.description.clone().unwrap_or_default(),
            "description_content_type": meta.description_content_type,
            "docs_url": null,
            "download_url": "",
            "downloads": { "last_day": -1, "last_month": -1, "last_week": -1 },
            "home_page": meta.home_page.clone().unwrap_or_default(),
            "keywords": meta.keywords.clone().unwrap_or_default(),
            "license": meta.license.clone().unwrap_or_default(),
            "maintainer": meta.maintainer.clone().unwrap_or_default(),
            "maintainer_email": meta.maintainer_email.clone().unwrap_or_default(),
            "name": meta.name,
            "package_url": page_url,
            "platform": null,
            "project_url": page_url,
            "project_urls": if project_urls.is_empty() { Value::Null } else { json!(project_urls) },
            "release_url": format!("{base}pypi/{name}/{}/json", release.version),
            "requires_dist": if meta.requires_dist.is_empty() { Value::Null } else { json!(meta.requires_dist) },
            "requires_python": meta.requires_python.clone().unwrap_or_default(),
            "summary": meta.summary.clone().unwrap_or_default(),
            "version": release.version,
            "yanked": all_yanked,
            "yanked_reason": chosen.iter().find_map(|f| f.yanked_reason.clone()),
        },
        "last_serial": release.page.files.iter().map(|f| f.id).max().unwrap_or(0),
        "urls": urls,
        "vulnerabilities": [],
    });
    if !for_version {
        let releases: serde_json::Map<String, Value> = release
            .page
            .versions
            .iter()
            .map(|v| (v.clone(), json!(files_of(v))))
            .collect();
        body["releases"] = Value::Object(releases);
    }
    body
}

fn file_json(file: &StoredFile, base: &str) -> Value {
    let parsed = Filename::parse(&file.filename).ok();
    let packagetype = parsed.as_ref().map_or("sdist", |f| f.kind().filetype());
    let python_version = parsed.as_ref().map_or("source", |f| f.python_tag());
    let uploaded = iso8601(file.created_at);
    json!({
        "comment_text": "",
        "digests": { "blake2b_256": file.blake2b_256, "md5": file.md5, "sha256": file.sha256 },
        "downloads": -1,
        "filename": file.filename,
        "has_sig": false,
        "md5_digest": file.md5,
        "packagetype": packagetype,
        "python_version": python_version,
        "requires_python": file.requires_python,
        "size": file.size,
        "upload_time": uploaded.get(..19).unwrap_or_default(),
        "upload_time_iso_8601": uploaded,
        "url": super::simple::file_url(&format!("{base}files/"), file),
        "yanked": file.yanked,
        "yanked_reason": file.yanked_reason,
    })
}
