//! Receiving a `multipart/form-data` upload: the file streams to a temporary blob while it is
//! hashed; the text fields are collected, each bounded.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderMap};
use actix_web::rt::time::timeout;
use actix_web::web;
use futures_util::StreamExt;

use crate::blobs::BlobStore;
use crate::error::{Error, Result};
use crate::registry::upload::{ReceivedFile, UploadForm};

/// Bounds on the text part of a form: long descriptions fit, a flood of fields does not.
const MAX_FIELDS: usize = 1_000;
const MAX_FIELD_BYTES: usize = 4 << 20;
const MAX_TEXT_BYTES: usize = 16 << 20;

/// Only multipart/form-data is an upload; anything else is refused before reading the body.
pub fn check_content_type(headers: &HeaderMap) -> Result<()> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(
            "an upload must be sent as multipart/form-data".into(),
        ))
    }
}

fn bad_stream(err: actix_multipart::MultipartError) -> Error {
    Error::bad_request(format!("the upload form is malformed: {err}"))
}

/// Uploads larger than this stream to object storage as they arrive (S3's smallest part is
/// 5 MiB: below two parts, one PUT after the checks costs no more).
const STREAM_FROM_BYTES: u64 = 10 << 20;

/// The request body's declared length (0 when not declared, as with chunked encoding).
fn body_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads the whole form. The file goes to disk chunk by chunk (memory does not grow with it);
/// past `max_file_bytes` the upload stops with 413 and the partial file is removed (dropping
/// the temporary blob removes it on every error path).
pub async fn receive(
    headers: &HeaderMap,
    payload: web::Payload,
    blobs: &BlobStore,
    max_file_bytes: u64,
    idle_timeout: Duration,
) -> Result<(UploadForm, ReceivedFile)> {
    let mut multipart = Multipart::new(headers, payload);
    // actix bounds the time to send headers, not the body: a client that stops sending would
    // hold a connection and a temporary file for ever.
    let idle = |what: &str| {
        Error::RequestTimeout(format!(
            "the upload sent nothing for {} s ({what})",
            idle_timeout.as_secs()
        ))
    };
    let mut form = UploadForm::default();
    let mut file: Option<ReceivedFile> = None;
    let (mut fields, mut text_bytes) = (0usize, 0usize);
    while let Some(field) = timeout(idle_timeout, multipart.next())
        .await
        .map_err(|_| idle("between parts"))?
    {
        let mut field = field.map_err(bad_stream)?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(Error::bad_request(format!(
                "the upload form has more than {MAX_FIELDS} fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "content" {
            if file.is_some() {
                return Err(Error::bad_request(
                    "the upload form has more than one \"content\" file",
                ));
            }
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string)
                .ok_or_else(|| Error::bad_request("the \"content\" part has no filename"))?;
            let mut temp = blobs.temp_file()?;
            // twine and uv send the digest before the file: a large file can then go on to
            // the bucket while it arrives (a small one is one PUT once it is checked).
            let declared = body_length(headers);
            if let Some(claimed) = form.get("sha256_digest")
                && declared > STREAM_FROM_BYTES
                && declared <= max_file_bytes
            {
                blobs.stream_to_bucket(&mut temp, claimed);
            }
            while let Some(chunk) = timeout(idle_timeout, field.next())
                .await
                .map_err(|_| idle("in the file"))?
            {
                let chunk = chunk.map_err(bad_stream)?;
                if temp.size() + chunk.len() as u64 > max_file_bytes {
                    return Err(Error::PayloadTooLarge(format!(
                        "the file is larger than the limit of {max_file_bytes} bytes"
                    )));
                }
                // Page-cache writes of one chunk; fsync happens once, off the async workers.
                temp.write_and_stream(chunk).await?;
            }
            file = Some(ReceivedFile { filename, temp });
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = timeout(idle_timeout, field.next())
                .await
                .map_err(|_| idle("in a field"))?
            {
                let chunk = chunk.map_err(bad_stream)?;
                text_bytes += chunk.len();
                if value.len() + chunk.len() > MAX_FIELD_BYTES || text_bytes > MAX_TEXT_BYTES {
                    return Err(Error::PayloadTooLarge(format!(
                        "the form field \"{}\" is too large",
                        crate::python::name::truncate_for_message(&name)
                    )));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| {
                Error::bad_request(format!(
                    "the form field \"{}\" is not valid UTF-8",
                    crate::python::name::truncate_for_message(&name)
                ))
            })?;
            form.add(&name, value);
        }
    }
    let file =
        file.ok_or_else(|| Error::bad_request("the form field \"content\" (the file) is missing"))?;
    Ok((form, file))
}
