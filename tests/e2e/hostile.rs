//! A catalogue of hostile requests: each gets a 4xx that names the problem, the server stays
//! up, and nothing is written (no temporary file, no blob, no row).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{Server, basic, get, sha256_hex, tar_gz, upload, wheel, zip_bytes};

const BOUNDARY: &str = "XyZhostileBoundary";
/// No answer at all (the status line never came).
const DROPPED: u16 = 0;
/// Broken chunked framing: actix-http ends such a connection itself, usually before our 400
/// gets out. Either outcome is accepted; nothing may be written and the server must stay up.
const BAD_FRAMING: u16 = 1;

/// One raw HTTP/1.1 exchange on a fresh connection; returns (status, body). The server must
/// answer: a dropped connection fails the case.
fn exchange(addr: &str, request: &[u8]) -> (u16, String) {
    // A server that refuses a request line closes at once; a reset can then overtake its
    // answer on the client side. Ask again a few times before calling it a failure.
    for _ in 0..3 {
        let answer = exchange_once(addr, request);
        if answer.0 != DROPPED {
            return answer;
        }
    }
    (DROPPED, String::new())
}

fn exchange_once(addr: &str, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may answer and close before reading all of a large hostile body.
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn http(method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n")
        .into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    }) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A multipart body from raw parts (each part's header block and content given as bytes).
fn parts(list: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (head, content) in list {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(head);
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn field(name: &str) -> Vec<u8> {
    format!("Content-Disposition: form-data; name=\"{name}\"").into_bytes()
}

fn file_head(filename: &str) -> Vec<u8> {
    let mut head = b"Content-Disposition: form-data; name=\"content\"; filename=\"".to_vec();
    head.extend_from_slice(filename.as_bytes());
    head.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream");
    head
}

/// A twine-like form for `name`/`version` carrying `file` as `filename`, plus extra fields.
fn form(
    name: &str,
    version: &str,
    filename: &str,
    file: &[u8],
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let (n, v, f) = (field("name"), field("version"), file_head(filename));
    let extra_heads: Vec<Vec<u8>> = extra.iter().map(|(k, _)| field(k)).collect();
    let mut list: Vec<(&[u8], &[u8])> = vec![(&n, name.as_bytes()), (&v, version.as_bytes())];
    for ((_, value), head) in extra.iter().zip(&extra_heads) {
        list.push((head, value));
    }
    list.push((&f, file));
    parts(&list)
}

#[test]
fn hostile_requests_get_a_4xx_and_change_nothing() {
    let server = Server::start_with(&[
        "--max-upload-size",
        "1MiB",
        "--upload-idle-timeout-seconds",
        "1",
    ]);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    let auth = basic("__token__", &token);
    let api_url = server.project_api("g/p");
    let (good_file, good) = wheel("good", "1.0", &[]);
    assert_eq!(
        upload(&api_url, Some(&auth), "good", "1.0", &good_file, &good, &[]).status,
        201
    );
    let sha = sha256_hex(&good);
    let (other_file, other) = wheel("good", "2.0", &[]);

    let path = "/api/v4/projects/g%2Fp/packages/pypi";
    let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
    let with = |extra: &[(&str, String)]| -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("Authorization", auth.clone()),
            ("Content-Type", multipart.clone()),
        ];
        for (n, v) in extra {
            h.push((Box::leak(n.to_string().into_boxed_str()), v.clone()));
        }
        h
    };
    let post = |body: Vec<u8>| http("POST", path, &with(&[]), &body);
    let upload_of = |name: &str, version: &str, filename: &str, file: &[u8]| {
        post(form(name, version, filename, file, &[]))
    };

    let bomb_meta = vec![b'a'; 32 << 20];
    let zip_bomb = zip_bytes(&[("good-2.0.dist-info/METADATA", &bomb_meta)]);
    let zeros = vec![0u8; 300 << 20];
    let tar_bomb = tar_gz(&[
        ("good-2.0/zeros.bin", &zeros),
        ("good-2.0/PKG-INFO", b"Name: good\nVersion: 2.0\n"),
    ]);
    drop(zeros);
    let no_meta = zip_bytes(&[("good/__init__.py", b"")]);
    let two_meta = zip_bytes(&[
        ("a-2.0.dist-info/METADATA", b"Name: good\nVersion: 2.0\n"),
        ("b-2.0.dist-info/METADATA", b"Name: good\nVersion: 2.0\n"),
    ]);
    let wrong_meta = zip_bytes(&[("good-2.0.dist-info/METADATA", b"Name: evil\nVersion: 2.0\n")]);
    let nameless_meta = zip_bytes(&[("good-2.0.dist-info/METADATA", b"Version: 2.0\n")]);
    let no_pkg_info = tar_gz(&[("good-2.0/setup.py", b"")]);
    let (_, changed) = crate::support::wheel_with("good", "1.0", &["idna"], None);
    let many_fields: Vec<u8> = {
        let heads: Vec<Vec<u8>> = (0..10_000).map(|i| field(&format!("f{i}"))).collect();
        let list: Vec<(&[u8], &[u8])> = heads.iter().map(|h| (h.as_slice(), &b"x"[..])).collect();
        parts(&list)
    };
    let big_field = vec![b'x'; 5 << 20];
    let long_name = "a".repeat(300);
    let long_filename = format!("{}-2.0.tar.gz", "a".repeat(300));
    let huge_header = "x".repeat(200 << 10);
    let long_url = format!(
        "/api/v4/projects/{}/packages/pypi/simple/",
        "a".repeat(20 << 10)
    );
    let oversize = vec![1u8; 2 << 20];
    let nested = {
        let head = b"Content-Disposition: form-data; name=\"content\"; filename=\"good-2.0.tar.gz\"\r\nContent-Type: multipart/mixed; boundary=inner".to_vec();
        parts(&[
            (&field("name"), b"good"),
            (&field("version"), b"2.0"),
            (&head, b"--inner\r\n\r\nx\r\n--inner--"),
        ])
    };

    type Case = (&'static str, Vec<u8>, u16, &'static str);
    let mut cases: Vec<Case> = vec![
        // Malformed multipart
        ("no boundary", http("POST", path, &[("Authorization", auth.clone()), ("Content-Type", "multipart/form-data".into())], b"x"), 400, "malformed"),
        ("boundary mismatch", post(b"--other\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ngood\r\n--other--\r\n".to_vec()), 400, ""),
        ("no closing boundary", post(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ngood").into_bytes()), 400, ""),
        ("empty body", post(Vec::new()), 400, ""),
        ("part without Content-Disposition", post(parts(&[(b"Content-Type: text/plain", b"x")])), 400, ""),
        ("part without a name", post(parts(&[(b"Content-Disposition: form-data", b"x")])), 400, ""),
        ("file part without filename", post(parts(&[(&field("name"), b"good"), (&field("version"), b"2.0"), (&field("content"), &other)])), 400, "no filename"),
        ("two file parts", post(parts(&[(&field("name"), b"good"), (&field("version"), b"2.0"), (&file_head(&other_file), &other), (&file_head(&other_file), &other)])), 400, "more than one"),
        ("nested multipart", post(nested), 400, ""),
        ("invalid UTF-8 field", post(form("good", "2.0", &other_file, &other, &[("summary", b"\xff\xfe")])), 400, "UTF-8"),
        ("oversized field", post(form("good", "2.0", &other_file, &other, &[("description", &big_field)])), 413, "too large"),
        ("10,000 fields", post(many_fields), 400, "more than 1000 fields"),
        ("text/plain upload", http("POST", path, &[("Authorization", auth.clone()), ("Content-Type", "text/plain".into())], b"x"), 415, "multipart"),
        ("no content type", http("POST", path, &[("Authorization", auth.clone())], b"x"), 415, "multipart"),
        ("missing file", post(parts(&[(&field("name"), b"good"), (&field("version"), b"2.0")])), 400, "\\\"content\\\""),
        // Filenames
        ("relative traversal", upload_of("good", "2.0", "../../etc/good-2.0.tar.gz", &other), 400, "plain file name"),
        ("absolute path", upload_of("good", "2.0", "/etc/good-2.0.tar.gz", &other), 400, "plain file name"),
        ("backslash path", upload_of("good", "2.0", "..\\\\good-2.0.tar.gz", &other), 400, "plain file name"),
        ("NUL in filename", upload_of("good", "2.0", "good-2.0\0.tar.gz", &other), 400, "malformed"),
        ("tab in filename", upload_of("good", "2.0", "good-2.0\t.tar.gz", &other), 400, "plain file name"),
        ("hidden file", upload_of("good", "2.0", ".good-2.0.tar.gz", &other), 400, "plain file name"),
        ("overlong filename", upload_of("good", "2.0", &long_filename, &other), 400, "plain file name"),
        ("egg", upload_of("good", "2.0", "good-2.0.egg", &other), 400, "neither a wheel"),
        ("bad wheel name", upload_of("good", "2.0", "good-2.0-py3.whl", &other), 400, "not a valid wheel filename"),
        ("non-ASCII name in filename", upload_of("good", "2.0", "göod-2.0.tar.gz", &other), 400, "does not match"),
        // Names and versions
        ("name mismatch", upload_of("evil", "2.0", &other_file, &other), 400, "does not match name"),
        ("version mismatch", upload_of("good", "3.0", &other_file, &other), 400, "does not match name"),
        ("invalid name", upload_of("go od", "2.0", &other_file, &other), 400, "not a valid distribution name"),
        ("overlong name", upload_of(&long_name, "2.0", &other_file, &other), 400, "not a valid distribution name"),
        ("invalid version", upload_of("good", "two", &other_file, &other), 400, "not a valid PEP 440 version"),
        ("missing name", post(parts(&[(&field("version"), b"2.0"), (&file_head(&other_file), &other)])), 400, "\\\"name\\\" is missing"),
        ("missing version", post(parts(&[(&field("name"), b"good"), (&file_head(&other_file), &other)])), 400, "\\\"version\\\" is missing"),
        // Digests
        ("wrong sha256", post(form("good", "2.0", &other_file, &other, &[("sha256_digest", "0".repeat(64).as_bytes())])), 400, "sha256_digest does not match"),
        ("non-hex sha256", post(form("good", "2.0", &other_file, &other, &[("sha256_digest", b"zzz")])), 400, "sha256_digest does not match"),
        ("wrong md5", post(form("good", "2.0", &other_file, &other, &[("md5_digest", b"00000000000000000000000000000000")])), 400, "md5_digest does not match"),
        ("wrong blake2", post(form("good", "2.0", &other_file, &other, &[("blake2_256_digest", "f".repeat(64).as_bytes())])), 400, "blake2_256_digest does not match"),
        // Archives
        ("not a zip", upload_of("good", "2.0", &other_file, b"PK but not really"), 400, "not a readable zip"),
        ("zip bomb", upload_of("good", "2.0", &other_file, &zip_bomb), 400, "larger than"),
        ("tar bomb", upload_of("good", "2.0", "good-2.0.tar.gz", &tar_bomb), 400, "expands past the size limit"),
        ("wheel without METADATA", upload_of("good", "2.0", &other_file, &no_meta), 400, "METADATA"),
        ("wheel with two METADATA", upload_of("good", "2.0", &other_file, &two_meta), 400, "exactly one"),
        ("metadata for another name", upload_of("good", "2.0", &other_file, &wrong_meta), 400, "metadata names"),
        ("metadata without Name", upload_of("good", "2.0", &other_file, &nameless_meta), 400, "no Name"),
        ("sdist without PKG-INFO", upload_of("good", "2.0", "good-2.0.tar.gz", &no_pkg_info), 400, "PKG-INFO"),
        ("gzip garbage", upload_of("good", "2.0", "good-2.0.tar.gz", b"\x1f\x8b\x08garbage"), 400, "tar.gz"),
        ("zip sdist garbage", upload_of("good", "2.0", "good-2.0.zip", b"garbage"), 400, "zip"),
        ("empty file", upload_of("good", "2.0", &other_file, b""), 400, "empty"),
        ("oversize file", upload_of("good", "2.0", &other_file, &oversize), 413, "larger than the limit"),
        ("same name, other bytes", upload_of("good", "1.0", &good_file, &changed), 400, "File already exists"),
        // Credentials and HTTP
        ("garbage credentials", http("GET", &format!("{path}/simple/"), &[("Authorization", "Basic !!!".into())], b""), 401, "Unauthorized"),
        ("non-UTF-8 credentials", { let mut r = http("GET", &format!("{path}/simple/"), &[], b""); let at = r.len() - 2; r.splice(at..at, b"Authorization: Basic \xff\xfe\r\n".iter().copied()); r }, 401, ""),
        ("unknown scheme", http("GET", &format!("{path}/simple/"), &[("Authorization", "Negotiate abc".into())], b""), 401, ""),
        ("anonymous upload", http("POST", path, &[("Content-Type", multipart.clone())], &form("good", "2.0", &other_file, &other, &[])), 401, ""),
        ("huge header", http("GET", &format!("{path}/simple/"), &[("X-Huge", huge_header.clone())], b""), 431, ""),
        ("very long URL", http("GET", &long_url, &[], b""), 401, "Unauthorized"),
        ("bad percent encoding", http("GET", "/api/v4/projects/%zz/packages/pypi/simple/", &[], b""), 401, ""),
        ("NUL in project id", http("GET", "/api/v4/projects/g%00p/packages/pypi/simple/", &[("Authorization", auth.clone())], b""), 404, ""),
        ("absolute project path", http("GET", "/api/v4/projects/%2Fetc%2Fpasswd/packages/pypi/simple/", &[("Authorization", auth.clone())], b""), 404, ""),
        ("traversal in file route", http("GET", &format!("{path}/files/{sha}/..%2F..%2Fwheelhouse.db"), &[("Authorization", auth.clone())], b""), 404, ""),
        ("traversal in sha", http("GET", &format!("{path}/files/..%2F..%2F..%2Fwheelhouse.db/{good_file}"), &[("Authorization", auth.clone())], b""), 404, ""),
        ("raw non-UTF-8 path", b"GET /api/v4/projects/\xff\xfe/packages/pypi/simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), 400, ""),
        ("bad Content-Length", http("POST", path, &[("Authorization", auth.clone()), ("Content-Type", multipart.clone()), ("Content-Length", "-5".into())], b""), 400, ""),
        ("garbage chunk sizes", http("POST", path, &[("Authorization", auth.clone()), ("Content-Type", multipart.clone()), ("Transfer-Encoding", "chunked".into())], b"zz\r\n"), BAD_FRAMING, ""),
        ("body that stops", http("POST", path, &[("Authorization", auth.clone()), ("Content-Type", multipart.clone()), ("Content-Length", "100000".into())], &form("good", "2.0", &other_file, &other, &[])[..200]), 408, "sent nothing"),
        ("headers that stop", b"GET /-/health HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(), 408, ""),
        ("unknown package id", http("DELETE", "/api/v4/projects/g%2Fp/packages/999", &[("Authorization", auth.clone())], b""), 404, "Not Found"),
        ("non-numeric package id", http("DELETE", "/api/v4/projects/g%2Fp/packages/abc", &[("Authorization", auth.clone())], b""), 404, ""),
        ("yank with bad JSON", http("POST", "/api/v4/projects/g%2Fp/packages/1/yank", &[("Authorization", auth.clone()), ("Content-Type", "application/json".into())], b"{not json"), 400, "JSON"),
        ("bad pagination", http("GET", "/api/v4/projects/g%2Fp/packages?page=abc", &[("Authorization", auth.clone())], b""), 400, "query"),
        ("page past the end of memory", http("GET", "/api/v4/projects/g%2Fp/packages?page=18446744073709551615&per_page=99999999999", &[("Authorization", auth.clone())], b""), 200, "[]"),
    ];
    assert!(cases.len() >= 50, "{} cases", cases.len());

    let blobs = server.blob_count();
    for (label, request, expected, message) in cases.drain(..) {
        let (status, body) = exchange(server.addr(), &request);
        if expected == BAD_FRAMING {
            assert!(
                status == 400 || status == DROPPED,
                "{label}: {status} {body}"
            );
        } else {
            assert_eq!(status, expected, "{label}: {body}");
        }
        assert!(
            body.contains(message),
            "{label}: expected {message:?} in {body:?}"
        );
        assert_eq!(
            get(&server.url("/-/health"), None).status,
            200,
            "{label}: server down"
        );
        // Temporary files of a dropped upload go when its handler ends; wait for that, bounded.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.tmp_files() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.tmp_files(), 0, "{label}: temporary file left");
        assert_eq!(server.blob_count(), blobs, "{label}: a blob was stored");
    }
    let page = crate::support::request(
        "GET",
        &format!("{api_url}/simple/good/"),
        &[
            ("Authorization", &auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    )
    .json();
    assert_eq!(
        page["versions"],
        serde_json::json!(["1.0"]),
        "nothing new was stored"
    );
    assert_eq!(page["files"][0]["hashes"]["sha256"], sha);
}
