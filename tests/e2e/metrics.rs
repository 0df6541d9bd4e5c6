//! Operations: `/-/metrics` answers only to its bearer token and its series move with real
//! traffic (pip, twine, refusals, the throttle); `/-/readiness` tells a dead data directory;
//! the access log has one line per request, as JSON when asked, and never a secret.

use std::time::{Duration, Instant};

use crate::support::{
    Server, basic, client, dist_dir, get, request, run_ok, upload, wheel, with_credentials,
};

const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

fn scrape(server: &Server, token: Option<&str>) -> crate::support::Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("Authorization", b)])
        .unwrap_or_default();
    request("GET", &server.url("/-/metrics"), &headers)
}

/// The value of the first series whose line starts with `prefix` (name and labels).
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[test]
fn metrics_are_hidden_without_a_token_and_wrong_tokens_learn_nothing() {
    let plain = Server::start();
    let unconfigured = scrape(&plain, None);
    assert_eq!(unconfigured.status, 404);
    assert_eq!(scrape(&plain, Some(TOKEN)).status, 404);
    let server = Server::start_with(&["--metrics-token", TOKEN]);
    for wrong in [
        None,
        Some("metrics-token-for-the-tests-012345678"),
        Some(""),
    ] {
        let answer = scrape(&server, wrong);
        assert_eq!(answer.status, 404, "{wrong:?}");
        // The very answer of a server without metrics: nothing tells the two apart.
        assert_eq!(answer.text(), unconfigured.text());
    }
    // Other schemes do not pass either: only the bearer token Prometheus sends.
    let basic_auth = basic("prometheus", TOKEN);
    let answer = request(
        "GET",
        &server.url("/-/metrics"),
        &[("Authorization", &basic_auth)],
    );
    assert_eq!(answer.status, 404);
    let ok = scrape(&server, Some(TOKEN));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.header("content-type").unwrap().starts_with("text/plain"));
    // Too short a token stops start-up with a message saying how to make one.
    let out = std::process::Command::new(crate::support::BIN)
        .args(["--data-dir", plain.data_dir().to_str().unwrap()])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-token",
            "short",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 characters"));
}

#[test]
fn series_move_with_pip_twine_refusals_and_the_throttle() {
    let server = Server::start_logged_with(&["--metrics-token", TOKEN, "--max-auth-failures", "2"]);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let api = server.project_api("g/p");
    let before = scrape(&server, Some(TOKEN)).text();

    // twine uploads a wheel.
    let dists = dist_dir(&[wheel("metered", "1.0", &[])]);
    let files: Vec<_> = std::fs::read_dir(dists.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args(["--repository-url", &api, "-u", "__token__", "-p", &token])
            .args(&files),
    );
    // The same filename with other bytes is refused (409).
    let (filename, _) = wheel("metered", "1.0", &[]);
    let other = upload(
        &api,
        Some(&basic("__token__", &token)),
        "metered",
        "1.0",
        &filename,
        b"not the same bytes",
        &[],
    );
    assert!(other.status >= 400, "{}", other.text());
    // pip installs it twice: the second reads the cached index page.
    let index = with_credentials(&format!("{api}/simple"), "__token__", &token);
    for _ in 0..2 {
        run_ok(client("pip").args([
            "download",
            "--no-deps",
            "--no-cache-dir",
            "-d",
            dists.path().join("got").to_str().unwrap(),
            "--index-url",
            &index,
            "metered",
        ]));
    }
    // Guessed tokens: two failures, then the throttle answers 429.
    let simple = format!("{api}/simple/");
    let guess = basic("__token__", "whpat-guess");
    let statuses: Vec<u16> = (0..4).map(|_| get(&simple, Some(&guess)).status).collect();
    assert_eq!(statuses, [401, 401, 429, 429]);

    let after = scrape(&server, Some(TOKEN)).text();
    let grew = |prefix: &str| {
        let (b, a) = (value(&before, prefix), value(&after, prefix));
        assert!(a > b, "{prefix}: {b} -> {a}\n{after}");
    };
    grew("wheelhouse_uploads_total");
    grew("wheelhouse_upload_refusals_total{reason=");
    grew("wheelhouse_page_cache_lookups_total{result=\"hit\"}");
    grew("wheelhouse_page_cache_lookups_total{result=\"miss\"}");
    grew("wheelhouse_auth_throttle_refusals_total");
    grew("wheelhouse_db_pool_wait_seconds_count");
    grew("wheelhouse_http_response_bytes_total");
    grew("wheelhouse_http_request_bytes_total");
    // Requests are counted by route pattern, never by the raw path.
    let upload_route = "route=\"/api/v4/projects/{id}/packages/pypi\"";
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("wheelhouse_http_requests_total")
                && l.contains(upload_route)
                && l.contains("status=\"201\"")),
        "{after}"
    );
    assert!(after.contains("status=\"429\""), "{after}");
    assert!(after.contains("wheelhouse_http_request_duration_seconds_bucket{"));
    assert!(!after.contains("metered"), "a raw path leaked into a label");
    // A random path is one series, however many are tried.
    for i in 0..5 {
        get(&server.url(&format!("/nothing-{i}")), None);
    }
    let scanned = scrape(&server, Some(TOKEN)).text();
    assert!(!scanned.contains("nothing-"), "{scanned}");
    assert!(scanned.contains("route=\"/{place}/...\""), "{scanned}");
    // The blob store's size comes from the database.
    assert_eq!(
        value(&scanned, "wheelhouse_blob_store_files{kind=\"package\"}"),
        1.0,
        "{scanned}"
    );
    assert!(value(&scanned, "wheelhouse_blob_store_bytes{kind=\"package\"}") > 0.0);

    // The access log: one line per request, and no secret in any of them.
    let log = wait_for_log(&server, "/nothing-4");
    assert!(log.contains("method=GET"), "{log}");
    assert!(log.contains("status=201"), "{log}");
    assert!(log.contains("caller=token"), "{log}");
    assert!(!log.contains(&token), "a token reached the log");
    assert!(
        !log.contains("whpat-guess"),
        "a guessed token reached the log"
    );
    assert!(!log.contains(TOKEN), "the metrics token reached the log");
}

/// The log once it holds a line for `path`: the line is written after the response is sent.
fn wait_for_log(server: &Server, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.access_log();
        if log.contains(&format!("path={path} ")) || log.contains(&format!("\"path\":\"{path}\"")) {
            return log;
        }
        assert!(Instant::now() < deadline, "no log line for {path}:\n{log}");
        std::thread::yield_now();
    }
}

#[test]
fn json_access_log_lines_carry_no_credentials() {
    let server = Server::start_logged_with(&["--log-format", "json"]);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    let secret_query = format!("/api/v4/projects?private_token={token}&page=1");
    get(&server.url(&secret_query), None);
    let basic_auth = basic("dev", "a-password-in-basic-auth");
    get(&server.url("/api/v4/user"), Some(&basic_auth));
    let simple = format!("{}/simple/", server.project_api("g/p"));
    get(&simple, Some(&basic("__token__", &token)));
    get(&server.url("/-/health?probe=last"), None);
    let log = wait_for_log(&server, "/-/health?probe=last");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.contains("\"request\""))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 4, "{log}");
    let line = lines
        .iter()
        .find(|l| l["path"].as_str().unwrap().starts_with("/api/v4/projects?"))
        .unwrap();
    assert_eq!(
        line["path"],
        "/api/v4/projects?private_token=[redacted]&page=1"
    );
    assert_eq!(line["method"], "GET");
    assert!(line["status"].as_u64().is_some());
    assert!(line["duration_ms"].as_f64().is_some());
    assert!(line["bytes"].as_u64().is_some());
    let basic_line = lines.iter().find(|l| l["path"] == "/api/v4/user").unwrap();
    assert_eq!(basic_line["caller"], "basic");
    assert!(!log.contains(&token), "a token reached the log:\n{log}");
    assert!(!log.contains("a-password-in-basic-auth"));
    assert!(!log.contains("__token__"));
}

#[test]
fn readiness_tells_a_data_directory_that_cannot_take_uploads() {
    let server = Server::start();
    let ready = get(&server.url("/-/readiness"), None);
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], "ready");
    // The directory uploads are written to is gone and a file stands in its place: what a
    // read-only or broken mount does to the server, and it holds even for root (which
    // chmod does not stop).
    let tmp = server.data_dir().join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let unready = get(&server.url("/-/readiness"), None);
    assert_eq!(unready.status, 503);
    assert_eq!(
        unready.json()["reason"],
        "the data directory is not writable"
    );
    // Liveness stays cheap and up: the process is alive, only not ready.
    assert_eq!(get(&server.url("/-/health"), None).status, 200);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    assert_eq!(get(&server.url("/-/readiness"), None).status, 200);
}
