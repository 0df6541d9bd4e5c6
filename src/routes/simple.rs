//! Rendering simple pages (PEP 503, 592, 658, 691, 700, 714) as HTML or JSON.

use askama::Template;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::registry::catalog::StoredFile;
use crate::registry::index::{IndexEntry, PackagePage};
use crate::upstream::pages::UpstreamPage;

/// Characters that cannot stand in one URL path segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

const API_VERSION: &str = "1.1";

#[derive(Template)]
#[template(path = "simple_index.html")]
struct IndexHtml<'a> {
    entries: &'a [IndexEntry],
    link_prefix: &'a str,
}

/// One file as a page shows it.
struct FileView<'a> {
    filename: &'a str,
    url: String,
    sha256: &'a str,
    requires_python: Option<&'a str>,
    metadata_sha256: Option<&'a str>,
    /// `Some(reason)` (possibly empty) when yanked.
    yanked: Option<&'a str>,
    size: Option<i64>,
    upload_time: Option<String>,
}

#[derive(Template)]
#[template(path = "simple_package.html")]
struct PackageHtml<'a> {
    name: &'a str,
    files: Vec<FileView<'a>>,
}

/// The project or group index. `link_prefix` makes links relative to the page as it was
/// requested (with or without its trailing slash), so they work behind any proxy.
pub fn render_index(format: Format, entries: &[IndexEntry], link_prefix: &str) -> Result<String> {
    if format.is_json() {
        let projects: Vec<_> = entries
            .iter()
            .map(|e| json!({ "name": e.display_name }))
            .collect();
        return Ok(
            json!({ "meta": { "api-version": API_VERSION }, "projects": projects }).to_string(),
        );
    }
    IndexHtml {
        entries,
        link_prefix,
    }
    .render()
    .map_err(Error::internal)
}

/// One package's page. `files_prefix` leads from the page to the `files/` route.
pub fn render_package(format: Format, page: &PackagePage, files_prefix: &str) -> Result<String> {
    let files: Vec<FileView<'_>> = page
        .files
        .iter()
        .map(|f| file_view(f, files_prefix))
        .collect();
    render_files(format, &page.name, &page.versions, files)
}

/// A package page answered from an upstream: the same page, every link leading to this server.
pub fn render_upstream_package(
    format: Format,
    page: &UpstreamPage,
    files_prefix: &str,
) -> Result<String> {
    let files: Vec<FileView<'_>> = page
        .files
        .iter()
        .map(|f| FileView {
            filename: &f.filename,
            url: link(files_prefix, &f.sha256, &f.filename),
            sha256: &f.sha256,
            requires_python: f.requires_python.as_deref(),
            metadata_sha256: f.metadata_sha256.as_deref(),
            yanked: f.yanked.as_deref(),
            size: f.size,
            upload_time: f.upload_time.clone(),
        })
        .collect();
    render_files(format, &page.name, &page.versions, files)
}

fn render_files(
    format: Format,
    name: &str,
    versions: &[String],
    files: Vec<FileView<'_>>,
) -> Result<String> {
    if format.is_json() {
        return Ok(package_json(name, versions, &files));
    }
    PackageHtml { name, files }
        .render()
        .map_err(Error::internal)
}

/// Where a file is served: `PREFIX` + `SHA256/FILENAME`, the name encoded as one path segment.
pub(super) fn file_url(files_prefix: &str, file: &StoredFile) -> String {
    link(files_prefix, &file.sha256, &file.filename)
}

fn link(files_prefix: &str, sha256: &str, filename: &str) -> String {
    format!(
        "{files_prefix}{sha256}/{}",
        utf8_percent_encode(filename, PATH_SEGMENT)
    )
}

fn file_view<'a>(file: &'a StoredFile, files_prefix: &str) -> FileView<'a> {
    FileView {
        filename: &file.filename,
        url: file_url(files_prefix, file),
        sha256: &file.sha256,
        requires_python: file.requires_python.as_deref(),
        metadata_sha256: file.core_metadata.as_deref(),
        yanked: file
            .yanked
            .then(|| file.yanked_reason.as_deref().unwrap_or("")),
        size: Some(file.size),
        upload_time: Some(crate::model::iso8601(file.created_at)),
    }
}

#[derive(Serialize)]
struct JsonFile<'a> {
    filename: &'a str,
    url: &'a str,
    hashes: serde_json::Value,
    #[serde(rename = "requires-python", skip_serializing_if = "Option::is_none")]
    requires_python: Option<&'a str>,
    // PEP 714: never `dist-info-metadata` in JSON; several pip releases crash on it.
    #[serde(rename = "core-metadata")]
    core_metadata: serde_json::Value,
    yanked: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    #[serde(rename = "upload-time", skip_serializing_if = "Option::is_none")]
    upload_time: Option<&'a str>,
}

fn package_json(name: &str, versions: &[String], views: &[FileView<'_>]) -> String {
    let files: Vec<JsonFile<'_>> = views
        .iter()
        .map(|view| JsonFile {
            filename: view.filename,
            url: &view.url,
            hashes: json!({ "sha256": view.sha256 }),
            requires_python: view.requires_python,
            core_metadata: match view.metadata_sha256 {
                Some(sha) => json!({ "sha256": sha }),
                None => json!(false),
            },
            yanked: match view.yanked {
                None => json!(false),
                Some("") => json!(true),
                Some(reason) => json!(reason),
            },
            size: view.size,
            upload_time: view.upload_time.as_deref(),
        })
        .collect();
    // PEP 700 (1.1) makes `size` mandatory: an upstream's HTML page that gave no sizes is 1.0.
    let version = if views.iter().all(|v| v.size.is_some()) {
        API_VERSION
    } else {
        "1.0"
    };
    json!({
        "meta": { "api-version": version },
        "name": name,
        "versions": versions,
        "files": files,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(filename: &str, version: &str) -> StoredFile {
        StoredFile {
            id: 1,
            project_id: 1,
            package_id: 1,
            filename: filename.into(),
            version: version.into(),
            size: 10,
            sha256: "ab".repeat(32),
            md5: String::new(),
            blake2b_256: String::new(),
            requires_python: Some(">=3.8,<4".into()),
            metadata_sha256: Some("cd".repeat(32)),
            core_metadata: Some("cd".repeat(32)),
            yanked: false,
            yanked_reason: None,
            created_at: 1_700_000_000_123,
            entered_root_at: 1_700_000_000_123,
        }
    }

    #[test]
    fn html_escapes_and_links_relatively() {
        let page = PackagePage {
            name: "pkg".into(),
            versions: vec!["1.0".into()],
            files: vec![stored("pkg-1.0+local-py3-none-any.whl", "1.0")],
        };
        let html = render_package(Format::Html, &page, "../../files/").unwrap();
        assert!(
            html.contains("data-requires-python=\"&#62;=3.8,&#60;4\""),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                "href=\"../../files/{}/pkg-1.0+local-py3-none-any.whl#sha256=",
                "ab".repeat(32)
            )),
            "{html}"
        );
        assert!(html.contains(&format!(
            "data-core-metadata=\"sha256={}\"",
            "cd".repeat(32)
        )));
        assert!(html.contains("data-dist-info-metadata="));
        assert!(!html.contains("data-yanked"));
        assert!(html.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"));
    }

    #[test]
    fn index_escapes_names() {
        let entries = [IndexEntry {
            name: "a-b".into(),
            display_name: "<A_b>".into(),
        }];
        let html = render_index(Format::Html, &entries, "simple/").unwrap();
        assert!(
            html.contains("<a href=\"simple/a-b/\">&#60;A_b&#62;</a>"),
            "{html}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_index(Format::JsonV1, &entries, "").unwrap()).unwrap();
        assert_eq!(json["meta"]["api-version"], "1.1");
        assert_eq!(json["projects"][0]["name"], "<A_b>");
    }

    #[test]
    fn json_follows_pep_691_and_700() {
        let mut yanked = stored("pkg-2.0.tar.gz", "2.0");
        yanked.yanked = true;
        yanked.requires_python = None;
        yanked.core_metadata = None;
        let page = PackagePage {
            name: "pkg".into(),
            versions: vec!["1.0".into(), "2.0".into()],
            files: vec![stored("pkg-1.0-py3-none-any.whl", "1.0"), yanked],
        };
        let text = render_package(Format::JsonV1, &page, "../files/").unwrap();
        assert!(!text.contains("dist-info-metadata"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let first = &json["files"][0];
        assert_eq!(first["upload-time"], "2023-11-14T22:13:20.123000Z");
        assert_eq!(first["core-metadata"]["sha256"], "cd".repeat(32));
        assert_eq!(first["yanked"], false);
        assert_eq!(first["size"], 10);
        assert_eq!(json["files"][1]["yanked"], true);
        assert_eq!(json["files"][1]["core-metadata"], false);
        assert!(json["files"][1].get("requires-python").is_none());
        assert_eq!(json["versions"], serde_json::json!(["1.0", "2.0"]));
    }
}
