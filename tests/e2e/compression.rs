//! Pages on the wire: gzip or zstd when the client asks (`Accept-Encoding`), identity when it
//! does not, one entity tag per coding, and pip and uv installing through compressed pages.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::{Server, basic, client, run_ok, upload, wheel};

/// A response exactly as it crossed the socket (no client decoding anything).
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body decoded by its `Content-Encoding`.
    fn decoded(&self) -> Vec<u8> {
        match self.header("content-encoding") {
            None => self.body.clone(),
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Some("zstd") => zstd::stream::decode_all(&self.body[..]).unwrap(),
            Some(other) => panic!("unexpected coding {other}"),
        }
    }
}

/// One HTTP/1.1 request on its own connection, read to the end.
fn raw(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let response = Raw {
        status: status.parse().unwrap(),
        headers,
        body: bytes[split + 4..].to_vec(),
    };
    assert!(response.header("transfer-encoding").is_none());
    response
}

/// A public project holding `many` with 40 versions: a page of a few kilobytes.
fn seeded() -> (Server, String) {
    let server = Server::start_logged();
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/pub", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "maintainer"]);
    let api = server.project_api("acme/pub");
    for minor in 0..40 {
        let version = format!("1.{minor}");
        let (filename, bytes) = wheel("many", &version, &[]);
        let auth = basic("__token__", &token);
        let resp = upload(&api, Some(&auth), "many", &version, &filename, &bytes, &[]);
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let path = api.trim_start_matches(&server.base).to_string();
    (server, path)
}

const PIP_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

#[test]
fn pages_are_compressed_only_when_asked_with_a_tag_per_coding() {
    let (server, api) = seeded();
    let page = format!("{api}/simple/many/");
    for accept in ["text/html", PIP_ACCEPT] {
        let plain = raw(&server, "GET", &page, &[("Accept", accept)]);
        assert_eq!(plain.status, 200);
        assert_eq!(
            plain.header("content-encoding"),
            None,
            "not asked: not compressed"
        );
        assert_eq!(plain.header("vary"), Some("Accept, Accept-Encoding"));
        let tag = plain.header("etag").unwrap().to_string();

        let gzip = raw(
            &server,
            "GET",
            &page,
            &[("Accept", accept), ("Accept-Encoding", "gzip, deflate")],
        );
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        assert_eq!(gzip.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(gzip.decoded(), plain.body, "the same page");
        assert!(
            gzip.body.len() * 3 < plain.body.len(),
            "{} of {}",
            gzip.body.len(),
            plain.body.len()
        );
        let gzip_tag = gzip.header("etag").unwrap().to_string();
        assert_eq!(gzip_tag, format!("{}-gz\"", tag.trim_end_matches('"')));
        let length: usize = gzip.header("content-length").unwrap().parse().unwrap();
        assert_eq!(length, gzip.body.len());

        let zstd = raw(
            &server,
            "GET",
            &page,
            &[
                ("Accept", accept),
                ("Accept-Encoding", "gzip, deflate, zstd"),
            ],
        );
        assert_eq!(zstd.header("content-encoding"), Some("zstd"), "uv's header");
        assert_eq!(zstd.decoded(), plain.body);
        let zstd_tag = zstd.header("etag").unwrap().to_string();
        assert!(zstd_tag != tag && zstd_tag != gzip_tag);

        // q-values: gzip refused, or identity preferred.
        for header in ["gzip;q=0", "gzip;q=0.5, identity", "br, deflate"] {
            let resp = raw(
                &server,
                "GET",
                &page,
                &[("Accept", accept), ("Accept-Encoding", header)],
            );
            assert_eq!(resp.header("content-encoding"), None, "{header}");
            assert_eq!(resp.body, plain.body);
        }

        // A 304 only for the tag of the coding that would be sent.
        let revalidate = |coding: &str, tag: &str| {
            raw(
                &server,
                "GET",
                &page,
                &[
                    ("Accept", accept),
                    ("Accept-Encoding", coding),
                    ("If-None-Match", tag),
                ],
            )
        };
        let fresh = revalidate("gzip", &gzip_tag);
        assert_eq!((fresh.status, fresh.body.len()), (304, 0));
        assert_eq!(fresh.header("etag"), Some(gzip_tag.as_str()));
        assert_eq!(revalidate("identity", &tag).status, 304);
        assert_eq!(revalidate("zstd", &zstd_tag).status, 304);
        let other = revalidate("gzip", &tag);
        assert_eq!(
            other.status, 200,
            "the identity tag does not name the gzip bytes"
        );
        assert_eq!(other.header("content-encoding"), Some("gzip"));
        assert_eq!(revalidate("identity", &gzip_tag).status, 200);
        let both = format!("{tag}, W/{gzip_tag}");
        assert_eq!(revalidate("gzip", &both).status, 304);

        let head = raw(
            &server,
            "HEAD",
            &page,
            &[("Accept", accept), ("Accept-Encoding", "gzip")],
        );
        assert_eq!(head.header("content-encoding"), Some("gzip"));
        assert!(head.body.is_empty());
    }

    // The index page, and the same page again from the cache: the same bytes.
    let index = format!("{api}/simple/");
    let first = raw(&server, "GET", &index, &[("Accept-Encoding", "gzip")]);
    let again = raw(&server, "GET", &index, &[("Accept-Encoding", "gzip")]);
    assert_eq!(first.body, again.body);
    assert_eq!(first.header("etag"), again.header("etag"));

    // The Warehouse JSON that Poetry reads.
    let json = format!("{api}/pypi/many/json");
    let plain = raw(&server, "GET", &json, &[]);
    assert_eq!(plain.header("content-encoding"), None);
    let gzip = raw(
        &server,
        "GET",
        &json,
        &[("Accept-Encoding", "gzip, deflate")],
    );
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.header("vary"), Some("Accept-Encoding"));
    assert!(gzip.body.len() * 3 < plain.body.len());
    let decoded: serde_json::Value = serde_json::from_slice(&gzip.decoded()).unwrap();
    let identity: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(decoded, identity);
    assert_eq!(decoded["info"]["version"], "1.39");
    let tag = gzip.header("etag").unwrap();
    let again = raw(
        &server,
        "GET",
        &json,
        &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)],
    );
    assert_eq!(again.status, 304);
}

/// The page size logged for each request pip and uv made for `path`.
fn logged_sizes(server: &Server, path: &str) -> Vec<usize> {
    server
        .access_log()
        .lines()
        .filter(|l| l.contains(&format!("method=GET path={path} ")))
        .filter_map(|l| l.split(" bytes=").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn pip_and_uv_install_through_compressed_pages() {
    let (server, api) = seeded();
    let page = format!("{api}/simple/many/");
    let identity = raw(&server, "GET", &page, &[("Accept", PIP_ACCEPT)])
        .body
        .len();
    let before = logged_sizes(&server, &page).len();
    let index = format!("{}/simple/", server.url(&api));
    let target = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, "many"]),
    );
    assert!(target.path().join("many/__init__.py").exists());
    let pip = logged_sizes(&server, &page).split_off(before);
    assert!(!pip.is_empty(), "{}", server.access_log());
    assert!(
        pip.iter().all(|&size| size * 3 < identity),
        "pip: {pip:?} of {identity}"
    );

    let venv = tempfile::tempdir().unwrap();
    run_ok(
        client("uv")
            .args(["venv", "--quiet"])
            .arg(venv.path().join("v")),
    );
    let out = run_ok(
        client("uv")
            .args(["pip", "install", "--python"])
            .arg(venv.path().join("v/bin/python"))
            .args(["--index-url", &index, "many==1.39"]),
    );
    assert!(out.contains("many==1.39"), "{out}");
    let both = logged_sizes(&server, &page).split_off(before);
    assert!(both.len() > pip.len(), "uv asked too");
    assert!(
        both.iter().all(|&size| size * 3 < identity),
        "uv: {both:?} of {identity}"
    );
}
