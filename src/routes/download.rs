//! Sending a stored blob: large reads off the async workers (or a stream from the bucket, or
//! a redirect to a presigned URL of it), single byte ranges, ETag and Last-Modified, so pip's
//! and uv's HEAD, Range and conditional requests all work.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use actix_web::body::SizedStream;
use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, HttpDate,
};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::if_none_match;
use crate::blobs::{BlobStore, Sha256Hex};
use crate::error::{Error, Result};

/// Reads this large keep the copy cheap per byte (the deps notes measured 1 MiB reads at about
/// three quarters of nginx's sendfile, against a third for 64 KiB).
const CHUNK: usize = 1 << 20;

/// What to send: a blob and how to describe it.
pub struct Download<'a> {
    pub blobs: &'a BlobStore,
    pub blob: Sha256Hex,
    pub etag: String,
    pub filename: &'a str,
    pub content_type: &'static str,
}

/// Sends a blob the index holds: one missing from the store is lost data, a 500.
pub async fn send(req: &HttpRequest, download: Download<'_>) -> Result<HttpResponse> {
    let (blobs, blob) = (download.blobs, download.blob.clone());
    send_if_held(req, download).await?.ok_or_else(|| {
        Error::internal(format!(
            "blob {} is missing from {}",
            blob.as_str(),
            blobs.describe()
        ))
    })
}

/// Sends a blob, or `None` when the store does not hold it (an upstream file evicted since
/// the request looked, which the caller fetches again).
pub async fn send_if_held(
    req: &HttpRequest,
    download: Download<'_>,
) -> Result<Option<HttpResponse>> {
    // Content never changes under a name, so it may be cached for good.
    let cache_control = "private, max-age=31536000, immutable";
    if if_none_match(req, &download.etag) {
        return Ok(Some(
            HttpResponse::NotModified()
                .insert_header((header::ETAG, download.etag))
                .insert_header((header::CACHE_CONTROL, cache_control))
                .finish(),
        ));
    }
    let (source, length, modified) = match download.blobs.s3() {
        Some(s3) if s3.redirect_downloads => {
            // The bucket serves the bytes (and the Range); the URL is good for minutes.
            let url = s3.presigned_url(&download.blob).await?;
            return Ok(Some(
                HttpResponse::Found()
                    .insert_header((header::LOCATION, url))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish(),
            ));
        }
        Some(s3) => {
            if req.method() == Method::GET && !req.headers().contains_key(header::RANGE) {
                // The common case, pip's and uv's: the whole file, asked for once.
                let Some((object, body)) = s3.get_whole(&download.blob).await? else {
                    return Ok(None);
                };
                (
                    Source::Fetched(Box::pin(body)),
                    object.size,
                    object.modified,
                )
            } else {
                let Some(object) = s3.head_async(&download.blob).await? else {
                    return Ok(None);
                };
                (Source::Bucket, object.size, object.modified)
            }
        }
        None => {
            let path = download.blobs.path(&download.blob);
            let shown = path.display().to_string();
            let opened = web::block(move || -> std::io::Result<_> {
                let file = File::open(&path)?;
                let meta = file.metadata()?;
                Ok((Source::File(file), meta.len(), meta.modified()?))
            })
            .await?;
            match opened {
                Ok(opened) => opened,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::internal(format!("blob {shown} is unreadable: {e}"))),
            }
        }
    };

    let range = requested_range(req, &download.etag, length);
    let mut response = HttpResponse::build(StatusCode::OK);
    response
        .insert_header((header::CONTENT_TYPE, download.content_type))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, download.etag.clone()))
        .insert_header((header::LAST_MODIFIED, HttpDate::from(modified)))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(download.filename.to_string())],
        });
    let (start, end) = match range {
        RangeRequest::Whole => (0, length),
        RangeRequest::Part(start, end) => {
            response.status(StatusCode::PARTIAL_CONTENT);
            response.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{length}", end - 1),
            ));
            (start, end)
        }
        RangeRequest::Unsatisfiable => {
            return Ok(Some(
                HttpResponse::RangeNotSatisfiable()
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{length}")))
                    .finish(),
            ));
        }
    };
    Ok(Some(match source {
        Source::File(file) => response.body(SizedStream::new(
            end - start,
            chunks(file, start, end - start),
        )),
        Source::Fetched(body) => response.body(SizedStream::new(
            end - start,
            futures_util::StreamExt::map(body, |r| {
                r.map_err(actix_web::error::ErrorServiceUnavailable)
            }),
        )),
        Source::Bucket => {
            let s3 = download.blobs.s3().expect("a bucket source has a bucket");
            let body = futures_util::StreamExt::map(
                s3.stream(&download.blob, (start, end), length),
                |r| r.map_err(actix_web::error::ErrorServiceUnavailable),
            );
            response.body(SizedStream::new(end - start, body))
        }
    }))
}

/// Where the bytes come from.
enum Source {
    File(File),
    /// The whole object, its `GET` already answered.
    Fetched(std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send>>),
    /// A part of the object (or a `HEAD`), read when the body is first polled.
    Bucket,
}

/// A file being fetched from an upstream as it is verified, to one client of the fetch. Ranges
/// are answered with the whole file (allowed by RFC 9110) until it is held.
pub fn stream_fetched(filename: &str, fetch: crate::upstream::files::Streaming) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename.to_string())],
        });
    match fetch.length {
        Some(length) => response.body(SizedStream::new(length, fetch.body)),
        None => response.streaming(fetch.body),
    }
}

/// The file from `start`, `remaining` bytes, in large reads on the blocking pool.
fn chunks(
    file: File,
    start: u64,
    remaining: u64,
) -> impl futures_util::Stream<Item = std::result::Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(
        (Some(file), start, remaining, true),
        |(file, offset, remaining, first)| async move {
            let mut file = file?;
            if remaining == 0 {
                return None;
            }
            let read = web::block(move || -> std::io::Result<(File, Vec<u8>)> {
                if first {
                    file.seek(SeekFrom::Start(offset))?;
                }
                let mut buf = vec![0u8; CHUNK.min(remaining as usize)];
                let n = file.read(&mut buf)?;
                if n == 0 {
                    // The blob is shorter than its length said: never send made-up bytes.
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "blob ended early",
                    ));
                }
                buf.truncate(n);
                Ok((file, buf))
            })
            .await;
            match read {
                Ok(Ok((file, buf))) => {
                    let n = buf.len() as u64;
                    Some((
                        Ok(Bytes::from(buf)),
                        (Some(file), offset + n, remaining - n, false),
                    ))
                }
                Ok(Err(e)) => Some((
                    Err(actix_web::error::ErrorInternalServerError(e)),
                    (None, 0, 0, false),
                )),
                Err(e) => Some((
                    Err(actix_web::error::ErrorInternalServerError(e)),
                    (None, 0, 0, false),
                )),
            }
        },
    )
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Whole,
    /// `[start, end)`
    Part(u64, u64),
    Unsatisfiable,
}

/// One byte range (RFC 9110 §14): `a-b`, `a-` or `-n`. Several ranges, other units, or an
/// `If-Range` that names another version get the whole file, as the RFC allows.
fn requested_range(req: &HttpRequest, etag: &str, length: u64) -> RangeRequest {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header(header::IF_RANGE).is_some_and(|tag| tag.trim() != etag) {
        return RangeRequest::Whole;
    }
    match header(header::RANGE) {
        Some(value) => parse_range(value, length),
        None => RangeRequest::Whole,
    }
}

fn parse_range(value: &str, length: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.saturating_add(1).min(length))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, length)),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => {
            Some((length.saturating_sub(suffix), length))
        }
        _ => return RangeRequest::Whole,
    };
    match parsed {
        Some((start, end)) if start < length && start < end => RangeRequest::Part(start, end),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_byte_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeRequest::Part(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), RangeRequest::Part(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), RangeRequest::Part(90, 100));
        assert_eq!(
            parse_range("bytes=95-200", 100),
            RangeRequest::Part(95, 100)
        );
        assert_eq!(parse_range("bytes=-200", 100), RangeRequest::Part(0, 100));
    }

    #[test]
    fn refuses_or_ignores_the_rest() {
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=200-300", 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=9-1", 100), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=abc", 100), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Whole);
    }
}
