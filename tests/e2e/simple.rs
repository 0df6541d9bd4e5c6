//! The simple pages and file route as clients see them: names, negotiation, links, caching,
//! HEAD and Range.

use crate::support::{Server, basic, get, request, upload, wheel_with};

struct Fixture {
    server: Server,
    api: String,
    sha: String,
    filename: String,
    bytes: Vec<u8>,
}

fn fixture() -> Fixture {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/pub", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "maintainer"]);
    let api = server.project_api("acme/pub");
    let (filename, bytes) = wheel_with("My.Pkg_Name", "1.0", &[], Some(">=3.8,<4"));
    let resp = upload(
        &api,
        Some(&basic("__token__", &token)),
        "My.Pkg_Name",
        "1.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let sha = crate::support::sha256_hex(&bytes);
    Fixture {
        server,
        api,
        sha,
        filename,
        bytes,
    }
}

const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[test]
fn every_pep_503_spelling_finds_the_package_directly() {
    let f = fixture();
    for spelling in [
        "My.Pkg_Name",
        "my-pkg-name",
        "my_pkg_name",
        "MY--PKG..NAME",
        "my-pkg-name/",
    ] {
        let resp = get(&format!("{}/simple/{spelling}", f.api), None);
        assert_eq!(resp.status, 200, "{spelling}");
        assert!(resp.text().contains(&f.filename));
    }
    let missing = get(&format!("{}/simple/requests/", f.api), None);
    assert_eq!(missing.status, 404, "unknown names are never forwarded");
}

#[test]
fn negotiates_json_for_pip_and_html_for_browsers() {
    let f = fixture();
    let url = format!("{}/simple/my-pkg-name/", f.api);
    let json = request("GET", &url, &[("Accept", PIP_ACCEPT)]);
    assert_eq!(
        json.header("content-type"),
        Some("application/vnd.pypi.simple.v1+json")
    );
    assert_eq!(json.header("vary"), Some("Accept, Accept-Encoding"));
    let body = json.json();
    assert_eq!(body["name"], "my-pkg-name");
    assert_eq!(body["files"][0]["requires-python"], ">=3.8,<4");
    assert_eq!(body["files"][0]["hashes"]["sha256"], f.sha);
    assert_eq!(body["files"][0]["size"], f.bytes.len());
    assert!(
        body["files"][0]["upload-time"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(!json.text().contains("dist-info-metadata"));

    let html = request("GET", &url, &[("Accept", BROWSER_ACCEPT)]);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = html.text();
    assert!(
        text.contains("data-requires-python=\"&#62;=3.8,&#60;4\""),
        "{text}"
    );
    assert!(text.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"));
    let v1 = request(
        "GET",
        &url,
        &[("Accept", "application/vnd.pypi.simple.v1+html")],
    );
    assert_eq!(
        v1.header("content-type"),
        Some("application/vnd.pypi.simple.v1+html")
    );
    let index = request(
        "GET",
        &format!("{}/simple/", f.api),
        &[("Accept", "application/vnd.pypi.simple.latest+json")],
    );
    assert_eq!(index.json()["projects"][0]["name"], "My.Pkg_Name");
}

/// Follows the page's own links, from both spellings of the page URL.
#[test]
fn relative_links_resolve_from_either_trailing_slash_form() {
    let f = fixture();
    for index_url in [format!("{}/simple/", f.api), format!("{}/simple", f.api)] {
        let html = get(&index_url, None).text();
        let href = html
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let page_url = resolve(&index_url, &href);
        assert!(page_url.ends_with("/simple/my-pkg-name/"), "{page_url}");
        for page in [page_url.clone(), page_url.trim_end_matches('/').to_string()] {
            let text = get(&page, None).text();
            let file_href = text
                .split("href=\"")
                .nth(1)
                .unwrap()
                .split('#')
                .next()
                .unwrap()
                .to_string();
            let file_url = resolve(&page, &file_href);
            let file = get(&file_url, None);
            assert_eq!(file.status, 200, "{file_url}");
            assert_eq!(file.body, f.bytes);
            let meta_hash = text
                .split("data-core-metadata=\"sha256=")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            let meta = get(&format!("{file_url}.metadata"), None);
            assert_eq!(meta.status, 200);
            assert_eq!(
                crate::support::sha256_hex(&meta.body),
                meta_hash,
                "PEP 658 hash"
            );
            assert!(
                meta.text()
                    .starts_with("Metadata-Version: 2.1\nName: My.Pkg_Name\n")
            );
        }
    }
}

/// RFC 3986 resolution of a relative reference (enough for `a/`, `../x`).
fn resolve(base: &str, reference: &str) -> String {
    let dir = &base[..base.rfind('/').unwrap() + 1];
    let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
    let mut rest = reference;
    while let Some(r) = rest.strip_prefix("../") {
        parts.pop();
        rest = r;
    }
    format!("{}/{rest}", parts.join("/"))
}

#[test]
fn pages_carry_etags_and_answer_304() {
    let f = fixture();
    let url = format!("{}/simple/my-pkg-name/", f.api);
    let first = get(&url, None);
    let etag = first.header("etag").unwrap().to_string();
    let again = request("GET", &url, &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = request("GET", &url, &[("If-None-Match", "\"nope\"")]);
    assert_eq!(other.status, 200);
    // An upload is visible in the very next request: the old tag no longer matches.
    let token = f
        .server
        .cli(&["token", "add", "dev", "--name", "again", "--scopes", "api"]);
    let (filename, bytes) = wheel_with("My.Pkg_Name", "1.1", &[], None);
    let resp = upload(
        &f.api,
        Some(&basic("__token__", &token)),
        "my-pkg-name",
        "1.1",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(resp.status, 201);
    let fresh = request("GET", &url, &[("If-None-Match", &etag)]);
    assert_eq!(fresh.status, 200);
    assert!(fresh.text().contains(&filename));
    assert_ne!(fresh.header("etag"), Some(etag.as_str()));
}

#[test]
fn files_support_head_range_and_etag() {
    let f = fixture();
    let url = format!("{}/files/{}/{}", f.api, f.sha, f.filename);
    let head = request("HEAD", &url, &[]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(f.bytes.len().to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(format!("\"{}\"", f.sha).as_str()));
    assert!(head.body.is_empty());
    let range = request("GET", &url, &[("Range", "bytes=0-9")]);
    assert_eq!(range.status, 206);
    assert_eq!(range.body, &f.bytes[..10]);
    assert_eq!(range.header("accept-ranges"), Some("bytes"));
    let cached = request("GET", &url, &[("If-None-Match", &format!("\"{}\"", f.sha))]);
    assert_eq!(cached.status, 304);
    assert_eq!(
        range.header("content-range"),
        Some(format!("bytes 0-9/{}", f.bytes.len()).as_str())
    );
    let tail = request("GET", &url, &[("Range", "bytes=-5")]);
    assert_eq!(
        (tail.status, tail.body.as_slice()),
        (206, &f.bytes[f.bytes.len() - 5..])
    );
    let beyond = request(
        "GET",
        &url,
        &[("Range", &format!("bytes={}-", f.bytes.len()))],
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{}", f.bytes.len()).as_str())
    );
    // A range for another version of the resource gets the whole (current) file.
    let stale = request(
        "GET",
        &url,
        &[("Range", "bytes=0-9"), ("If-Range", "\"other\"")],
    );
    assert_eq!((stale.status, stale.body.len()), (200, f.bytes.len()));
    assert!(head.header("last-modified").is_some());
    // Both the digest and the name must match a stored file.
    let wrong_sha = format!("{}/files/{}/{}", f.api, "0".repeat(64), f.filename);
    assert_eq!(get(&wrong_sha, None).status, 404);
    let wrong_case = format!("{}/files/{}/{}", f.api, f.sha.to_uppercase(), f.filename);
    assert_eq!(get(&wrong_case, None).status, 404);
    let wrong_name = format!("{}/files/{}/other-1.0-py3-none-any.whl", f.api, f.sha);
    assert_eq!(get(&wrong_name, None).status, 404);
    let traversal = format!("{}/files/{}/..%2F..%2Fwheelhouse.db", f.api, f.sha);
    assert_eq!(get(&traversal, None).status, 404);
}

#[test]
fn health_and_home_answer() {
    let f = fixture();
    assert_eq!(get(&f.server.url("/-/health"), None).status, 200);
    let home = get(&f.server.url("/"), None);
    assert!(home.text().contains("Wheelhouse"));
    assert_eq!(get(&f.server.url("/-/static/style.css"), None).status, 200);
    // Not signed in, a missing page asks for signing in as a private one would (trust.rs).
    assert_eq!(get(&f.server.url("/nothing/here"), None).status, 303);
}

/// Spec: a group page merges a package's files from several projects; a filename held by two
/// projects is listed and served once, with the bytes first published: a sibling project
/// cannot swap what an existing filename serves.
#[test]
fn group_pages_merge_projects_and_the_first_published_filename_wins() {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/a", "--visibility", "public"]);
    server.cli(&["project", "add", "g/b", "--visibility", "public"]);
    let auth = basic("__token__", &server.user_with_token("dev", "api"));
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let put = |project: &str, dist: &(String, Vec<u8>), version: &str| {
        let resp = upload(
            &server.project_api(project),
            Some(&auth),
            "shared",
            version,
            &dist.0,
            &dist.1,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    };
    put("g/a", &wheel_with("shared", "1.0", &[], None), "1.0");
    put("g/b", &wheel_with("shared", "2.0", &[], None), "2.0");
    let older = wheel_with("shared", "3.0", &[], None);
    let newer = wheel_with("shared", "3.0", &["idna"], None);
    put("g/a", &older, "3.0");
    put("g/b", &newer, "3.0");
    let page = request(
        "GET",
        &format!("{}/simple/shared/", server.group_api("g")),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    )
    .json();
    assert_eq!(page["versions"], serde_json::json!(["1.0", "2.0", "3.0"]));
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{page}");
    let (first, second) = (
        crate::support::sha256_hex(&older.1),
        crate::support::sha256_hex(&newer.1),
    );
    assert_eq!(files[2]["hashes"]["sha256"], first.as_str());
    let group_file = |sha: &str| {
        get(
            &format!("{}/files/{sha}/{}", server.group_api("g"), older.0),
            None,
        )
    };
    let served = group_file(&first);
    assert_eq!(served.status, 200);
    assert_eq!(served.body, older.1);
    assert_eq!(
        group_file(&second).status,
        404,
        "the later bytes are not served"
    );
    // Each project still serves its own bytes.
    let own = get(
        &format!("{}/files/{second}/{}", server.project_api("g/b"), newer.0),
        None,
    );
    assert_eq!(own.body, newer.1);
}

#[test]
fn a_wrong_method_on_a_package_route_is_a_405_that_says_so() {
    let f = fixture();
    let index = format!("{}/simple/", f.api);
    let resp = crate::support::post(&index, &[], b"x".to_vec());
    assert_eq!(resp.status, 405, "{}", resp.text());
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
    let message = resp.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("not to its simple index"), "{message}");
    let file = format!("{}/files/{}/{}", f.api, f.sha, f.filename);
    let resp = request("DELETE", &file, &[]);
    assert_eq!(resp.status, 405);
    assert!(resp.json()["message"].is_string());
    assert_eq!(request("PUT", &f.api, &[]).status, 405);
    assert_eq!(
        request("POST", &format!("{}/nothing", f.api), &[]).status,
        404
    );

    // The explanation is in the status line too, where twine and uv look.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(f.server.addr()).unwrap();
    let path = index.split_once(f.server.addr()).unwrap().1;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = String::new();
    stream.read_to_string(&mut head).unwrap();
    let status_line = head.lines().next().unwrap();
    assert!(
        status_line.starts_with("HTTP/1.1 405 Method Not Allowed: this address answers GET, HEAD;"),
        "{status_line}"
    );
}
