//! Load and failure behaviour: concurrent writers and readers, broken uploads, large uploads.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Server, basic, eventually, get, multipart, request, upload, wheel};

fn private_project() -> (Server, String, String) {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let api = server.project_api("g/p");
    (server, api, basic("__token__", &token))
}

/// 50 uploaders and 64 readers at once, with admin commands beside them: no 5xx, no
/// "database is locked", no lost upload.
#[test]
fn concurrent_uploads_reads_and_cli_never_fail() {
    let (server, api, auth) = private_project();
    let deadline = Instant::now() + Duration::from_secs(20);
    std::thread::scope(|scope| {
        let mut uploaders = Vec::new();
        for worker in 0..50 {
            let (api, auth) = (&api, &auth);
            uploaders.push(scope.spawn(move || {
                for round in 0..4 {
                    let version = format!("{worker}.{round}");
                    let (filename, bytes) = wheel("busy", &version, &[]);
                    let resp = upload(api, Some(auth), "busy", &version, &filename, &bytes, &[]);
                    assert_eq!(resp.status, 201, "{filename}: {}", resp.text());
                }
            }));
        }
        for _ in 0..64 {
            let (api, auth) = (&api, &auth);
            scope.spawn(move || {
                while Instant::now() < deadline && !uploaders_done() {
                    for url in [format!("{api}/simple/"), format!("{api}/simple/busy/")] {
                        let status = get(&url, Some(auth)).status;
                        assert!(status == 200 || status == 404, "{url}: {status}");
                    }
                }
            });
        }
        // Admin commands run beside the server on the same database.
        scope.spawn(|| {
            for i in 0..5 {
                server.cli(&["user", "add", &format!("extra{i}")]);
            }
        });
        for handle in uploaders {
            handle.join().unwrap();
        }
        UPLOADERS_DONE.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let page = request(
        "GET",
        &format!("{api}/simple/busy/"),
        &[
            ("Authorization", &auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    assert_eq!(page.json()["files"].as_array().unwrap().len(), 200);
    assert_eq!(server.tmp_files(), 0);
}

static UPLOADERS_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn uploaders_done() -> bool {
    UPLOADERS_DONE.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn a_broken_upload_leaves_nothing_and_the_server_stays_up() {
    let (server, api, auth) = private_project();
    let (filename, bytes) = wheel("cut", "1.0", &[]);
    let big: Vec<u8> = bytes
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0u8, 4 << 20))
        .collect();
    let (content_type, body) = multipart(
        &[("name", "cut"), ("version", "1.0")],
        Some((&filename, &big)),
    );
    let path = api.splitn(4, '/').nth(3).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        server.addr(),
        body.len()
    )
    .unwrap();
    // Half the body, then the client vanishes.
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    // Wait until the server has started writing the upload, then cut the connection.
    assert!(
        eventually(Duration::from_secs(10), || server.tmp_files() > 0),
        "upload never started"
    );
    drop(stream);
    assert!(
        eventually(Duration::from_secs(10), || server.tmp_files() == 0),
        "partial upload left in tmp/"
    );
    assert_eq!(get(&format!("{api}/simple/cut/"), Some(&auth)).status, 404);
    assert_eq!(get(&server.url("/-/health"), None).status, 200);
}

#[test]
fn a_large_upload_streams_without_growing_memory() {
    let (server, api, auth) = private_project();
    // 96 MiB of incompressible bytes, stored (not deflated) in a valid wheel.
    let (_, bytes) = crate::support::big_wheel("big", 96 << 20);
    let sha = crate::support::sha256_hex(&bytes);
    let before = server.peak_rss_kib();
    // With the digest claimed, as twine sends it: on S3 the file streams to the bucket.
    let resp = upload(
        &api,
        Some(&auth),
        "big",
        "1.0",
        "big-1.0-py3-none-any.whl",
        &bytes,
        &[("sha256_digest", &sha)],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());
    let growth_mib = (server.peak_rss_kib() - before) / 1024;
    assert!(
        growth_mib < 32,
        "peak memory grew by {growth_mib} MiB for a 96 MiB upload"
    );
    let file = get(
        &format!("{api}/files/{sha}/big-1.0-py3-none-any.whl"),
        Some(&auth),
    );
    assert_eq!(file.body.len(), bytes.len());
    assert!(file.body == bytes);
}

#[test]
fn repeated_bad_credentials_are_slowed_down_without_locking_out_others() {
    let server = Server::start_with(&["--max-auth-failures", "3"]);
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/pub", "--visibility", "public"]);
    server.cli(&["project", "add", "g/priv", "--visibility", "private"]);
    let good = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "guest"]);
    let public = format!("{}/simple/", server.project_api("g/pub"));
    let private = format!("{}/simple/", server.project_api("g/priv"));
    let guess = basic("__token__", "whpat-guess");
    // A stale token reading a public project is just anonymous: never throttled.
    for _ in 0..10 {
        assert_eq!(get(&public, Some(&guess)).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(get(&private, Some(&guess)).status, 401);
    }
    let blocked = get(&private, Some(&guess));
    assert_eq!(blocked.status, 429, "{}", blocked.text());
    let wait: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Requests without credentials go on; so do other addresses (127.0.0.2 is loopback too).
    assert_eq!(get(&public, None).status, 200);
    let other = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            "127.0.0.2",
            "-u",
        ])
        .arg(format!("__token__:{good}"))
        .arg(&private)
        .output()
        .expect("curl is part of the machine");
    assert_eq!(
        String::from_utf8_lossy(&other.stdout),
        "200",
        "another address is not locked out"
    );
}
