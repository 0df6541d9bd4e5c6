//! Sending a rendered page in the content coding the client asks for, with `Vary` and the
//! coding's own entity tag answering `If-None-Match`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use super::if_none_match;
use crate::cache::CachedPage;
use crate::encoding::{self, Coding};
use crate::error::Result;

pub fn accept_encoding(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
}

/// A page that is not kept: compressed (off the async threads and the database's pool) only
/// in the coding this client takes, if any.
pub async fn for_request(
    req: &HttpRequest,
    body: String,
    token_id: Option<i64>,
) -> Result<CachedPage> {
    let coding = encoding::negotiate(accept_encoding(req), |_| true);
    if coding == Coding::Identity || body.len() < encoding::MIN_COMPRESS {
        return Ok(CachedPage::new(body, token_id));
    }
    crate::cpu::run(move || CachedPage::new(body, token_id).compress(&[coding])).await
}

/// The page's representation for this request: 304 when the client holds that very one
/// (a tag of another coding names other bytes, so it does not match).
pub fn respond(
    req: &HttpRequest,
    page: &CachedPage,
    content_type: &'static str,
    vary: &'static str,
) -> HttpResponse {
    let (coding, representation) = page.select(accept_encoding(req));
    let not_modified = if_none_match(req, &representation.etag);
    let mut response = HttpResponse::build(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::VARY, vary))
        .insert_header((header::ETAG, representation.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if not_modified {
        return response.finish();
    }
    if coding != Coding::Identity {
        response.insert_header((header::CONTENT_ENCODING, coding.token()));
    }
    response.body(representation.body.clone())
}
