//! An upstream index's project page (PEP 691 JSON or PEP 503 HTML) read defensively into file rows.
//!
//! The upstream is not trusted: a page may be malformed, huge or hostile. Whatever it says, the
//! result holds only files of the project asked for, each with a sha256 we can check the bytes
//! against and an http(s) URL, and bounded text. Bad input is an error or a skipped file, never
//! a panic.

use std::cell::RefCell;
use std::collections::HashSet;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer,
};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::db::upstreams::FileRow;
use crate::error::{Error, Result};
use crate::python::Filename;
use crate::python::name::truncate_for_message;

/// More files than any real project lists; a page past it is refused rather than cut, since a
/// cut page would silently hide versions.
pub const MAX_FILES: usize = 100_000;
/// Longer URLs are skipped: no real index needs them, and they are stored per file.
const MAX_URL_LEN: usize = 4096;
/// Bound on `requires-python` (longer: file skipped) and a yank reason (longer: truncated).
const MAX_TEXT_LEN: usize = 1024;

/// The files of project `name` (PEP 503 normal form) that the page at `page_url` lists, in page
/// order, the first of each filename kept. `FileRow::version` is the normalized PEP 440 version.
pub fn parse_page(
    body: &[u8],
    content_type: Option<&str>,
    page_url: &Url,
    name: &str,
) -> Result<Vec<FileRow>> {
    let links = match page_format(content_type, body)? {
        Format::Json => json_links(body, page_url)?,
        Format::Html => html_links(body, page_url)?,
    };
    accept_all(links, name, MAX_FILES)
}

fn accept_all(links: Vec<Link>, name: &str, max_files: usize) -> Result<Vec<FileRow>> {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for link in links {
        let Some(row) = accept(link, name) else {
            continue;
        };
        if !seen.insert(row.filename.clone()) {
            continue;
        }
        if rows.len() == max_files {
            return Err(Error::bad_gateway(format!(
                "the upstream page lists more than {max_files} files"
            )));
        }
        rows.push(row);
    }
    Ok(rows)
}

enum Format {
    Json,
    Html,
}

fn page_format(content_type: Option<&str>, body: &[u8]) -> Result<Format> {
    let essence = content_type
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|essence| !essence.is_empty());
    match essence.as_deref() {
        None => Ok(sniff(body)),
        Some(
            "application/vnd.pypi.simple.v1+json"
            | "application/vnd.pypi.simple.latest+json"
            | "application/json",
        ) => Ok(Format::Json),
        Some(
            "application/vnd.pypi.simple.v1+html"
            | "application/vnd.pypi.simple.latest+html"
            | "text/html",
        ) => Ok(Format::Html),
        Some(other) if other.starts_with("application/vnd.pypi.simple.") => {
            Err(Error::bad_gateway(format!(
                "the upstream answered in {}; Wheelhouse reads simple API version 1",
                truncate_for_message(other)
            )))
        }
        Some(other) => Err(Error::bad_gateway(format!(
            "the upstream answered with content type {}, not a simple index page",
            truncate_for_message(other)
        ))),
    }
}

/// Without a content type, a page is JSON only if it plainly starts as an object, as PEP 503
/// pages have always been HTML.
fn sniff(body: &[u8]) -> Format {
    match without_bom(body).iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Format::Json,
        _ => Format::Html,
    }
}

/// JSON may open with a UTF-8 byte-order mark (RFC 8259 lets a parser ignore it); serde does not.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// One file as the page gave it, before any check.
struct Link {
    /// Resolved against the page (or its `<base>`), fragment still on.
    url: Url,
    filename: String,
    sha256: Option<String>,
    requires_python: Option<String>,
    yanked: Option<String>,
    metadata_sha256: Option<String>,
    size: Option<i64>,
    upload_time: Option<String>,
}

/// The checks every file passes, whatever the page's format; `None` skips the file.
fn accept(link: Link, name: &str) -> Option<FileRow> {
    let mut url = link.url;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    let url = String::from(url);
    if url.len() > MAX_URL_LEN {
        return None;
    }
    // The same rules as an upload's filename: the name reaches paths, URLs and headers.
    let filename = Filename::parse(&link.filename).ok()?;
    let version = filename.version_of(name)?;
    // A file whose digest we cannot check is never offered.
    let sha256 = link.sha256.as_deref().and_then(sha256_hex)?;
    let requires_python = match link.requires_python {
        Some(text) if text.len() > MAX_TEXT_LEN || text.chars().any(char::is_control) => {
            // Dropping the constraint would offer the file to Pythons it does not support.
            return None;
        }
        Some(text) if text.is_empty() => None,
        other => other,
    };
    Some(FileRow {
        filename: filename.as_str().to_string(),
        version,
        url,
        sha256,
        size: link.size.filter(|&size| size >= 0),
        requires_python,
        yanked: link.yanked.map(|reason| truncate_at(reason, MAX_TEXT_LEN)),
        metadata_sha256: link.metadata_sha256.as_deref().and_then(sha256_hex),
        upload_time: link
            .upload_time
            .filter(|text| OffsetDateTime::parse(text, &Rfc3339).is_ok()),
    })
}

/// Exactly 64 hex digits, lower-cased.
fn sha256_hex(text: &str) -> Option<String> {
    (text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

fn truncate_at(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

// ---- PEP 691 JSON (with PEP 700 and 714) ----

#[derive(Deserialize)]
struct JsonPage {
    meta: Option<JsonMeta>,
    files: Vec<JsonEntry>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: Option<Value>,
}

/// A malformed entry (not an object, a duplicate key) is skipped, not the whole page.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonEntry {
    File(Box<JsonFile>),
    Other(serde::de::IgnoredAny),
}

/// Every field loosely typed, so one odd value skips a field or a file, never the page; fields
/// not named here are skipped by serde without being kept.
#[derive(Deserialize)]
struct JsonFile {
    filename: Option<Value>,
    url: Option<Value>,
    hashes: Option<Value>,
    #[serde(rename = "requires-python")]
    requires_python: Option<Value>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<Value>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<Value>,
    yanked: Option<Value>,
    size: Option<Value>,
    #[serde(rename = "upload-time")]
    upload_time: Option<Value>,
}

fn json_links(body: &[u8], page_url: &Url) -> Result<Vec<Link>> {
    let page: JsonPage = serde_json::from_slice(without_bom(body)).map_err(|err| {
        Error::bad_gateway(format!(
            "the upstream's JSON page is not a PEP 691 project page: {}",
            truncate_for_message(&err.to_string())
        ))
    })?;
    if let Some(Value::String(version)) = page.meta.and_then(|meta| meta.api_version)
        && version.trim().split('.').next() != Some("1")
    {
        return Err(Error::bad_gateway(format!(
            "the upstream speaks simple API version {}; Wheelhouse reads version 1.x",
            truncate_for_message(&version)
        )));
    }
    Ok(page
        .files
        .into_iter()
        .filter_map(|entry| match entry {
            JsonEntry::File(file) => json_link(*file, page_url),
            JsonEntry::Other(_) => None,
        })
        .collect())
}

fn json_link(file: JsonFile, page_url: &Url) -> Option<Link> {
    let string = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    let sha256_of = |value: Option<Value>| match value {
        Some(Value::Object(mut hashes)) => string(hashes.remove("sha256")),
        _ => None,
    };
    let requires_python = match file.requires_python {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        // A constraint we cannot read: offering the file anyway could break an install.
        Some(_) => return None,
    };
    // PEP 714: `core-metadata` when present, the older key only in its absence. `true` alone
    // names no digest to check the metadata against, so it counts as none.
    let metadata = match file.core_metadata {
        None | Some(Value::Null) => file.dist_info_metadata,
        present => present,
    };
    // PEP 691 wants `true` or a non-empty reason; pip reads an empty string as not yanked.
    let yanked = match file.yanked {
        Some(Value::Bool(true)) => Some(String::new()),
        Some(Value::String(reason)) if !reason.is_empty() => Some(reason),
        _ => None,
    };
    Some(Link {
        url: page_url.join(&string(file.url)?).ok()?,
        filename: string(file.filename)?,
        sha256: sha256_of(file.hashes),
        requires_python,
        yanked,
        metadata_sha256: sha256_of(metadata),
        size: file.size.as_ref().and_then(Value::as_i64),
        upload_time: string(file.upload_time),
    })
}

// ---- PEP 503 HTML (with PEP 592, 658 and 714) ----

/// An `<a>` as the page gave it, entities already decoded by the tokenizer.
struct Anchor {
    href: String,
    requires_python: Option<String>,
    yanked: Option<String>,
    metadata: Option<String>,
}

#[derive(Default)]
struct Anchors {
    base: Option<String>,
    anchors: Vec<Anchor>,
}

struct Sink(RefCell<Anchors>);

fn attribute(tag: &Tag, name: &str) -> Option<String> {
    tag.attrs
        .iter()
        .find(|attr| &*attr.name.local == name)
        .map(|attr| attr.value.to_string())
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        if tag.kind != TagKind::StartTag {
            return TokenSinkResult::Continue;
        }
        let mut found = self.0.borrow_mut();
        match tag.name.as_ref() {
            "a" => {
                if let Some(href) = attribute(&tag, "href") {
                    found.anchors.push(Anchor {
                        href,
                        requires_python: attribute(&tag, "data-requires-python"),
                        yanked: attribute(&tag, "data-yanked"),
                        // PEP 714: the older name only when the new one is absent.
                        metadata: attribute(&tag, "data-core-metadata")
                            .or_else(|| attribute(&tag, "data-dist-info-metadata")),
                    });
                }
            }
            // pip resolves every link against the first `<base href>`, wherever it stands.
            "base" if found.base.is_none() => found.base = attribute(&tag, "href"),
            // Links inside scripts and styles are text, to pip as to a browser.
            "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
            "style" => return TokenSinkResult::RawData(RawKind::Rawtext),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn html_links(body: &[u8], page_url: &Url) -> Result<Vec<Link>> {
    // Simple index pages are UTF-8 (as every index serves them); anything else is not one,
    // and guessing at it could only invent links.
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::bad_gateway(format!(
            "the upstream sent an HTML page that is not UTF-8 ({e})"
        ))
    })?;
    let tokenizer = Tokenizer::new(Sink(RefCell::new(Anchors::default())), Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(text));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let found = tokenizer.sink.0.into_inner();
    let base = found
        .base
        .and_then(|href| page_url.join(&href).ok())
        .unwrap_or_else(|| page_url.clone());
    Ok(found
        .anchors
        .into_iter()
        .filter_map(|anchor| html_link(anchor, &base))
        .collect())
}

fn html_link(anchor: Anchor, base: &Url) -> Option<Link> {
    let url = base.join(&anchor.href).ok()?;
    // pip's rule: the last non-empty path segment, percent-decoded; a `%2F` in it is refused
    // later by `Filename::parse`.
    let segment = url.path().trim_end_matches('/').rsplit('/').next()?;
    let filename = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?
        .into_owned();
    // `#sha256=HEX`, possibly among other `key=value` pairs joined by `&`.
    let sha256 = url
        .fragment()
        .and_then(|fragment| {
            fragment
                .split('&')
                .find_map(|kv| kv.strip_prefix("sha256="))
        })
        .map(str::to_string);
    // PEP 658 names one `hash=value`; only a sha256 can be checked.
    let metadata_sha256 = anchor
        .metadata
        .and_then(|value| value.trim().strip_prefix("sha256=").map(str::to_string));
    Some(Link {
        url,
        filename,
        sha256,
        // As pip: an empty attribute is no constraint.
        requires_python: anchor.requires_python,
        // PEP 592: present means yanked, its value (possibly empty) the reason.
        yanked: anchor.yanked,
        metadata_sha256,
        size: None,
        upload_time: None,
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
