//! The REST API as python-gitlab drives it: sign-in, version, personal access tokens, users,
//! groups and projects.

use std::process::Command;

use crate::support::{Server, basic, get, python_tools, request, run_ok};

#[test]
fn python_gitlab_reads_and_manages_the_registry() {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    let out = crate::support::cli_output(
        server.data_dir(),
        &["user", "add", "alice", "--password-stdin"],
        Some("alice password\n"),
    );
    let alice_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "internal"]);
    server.cli(&["project", "add", "acme/models", "--visibility", "private"]);
    server.cli(&[
        "project",
        "add",
        "acme/ml/training",
        "--visibility",
        "internal",
    ]);
    server.cli(&["group", "add", "secret", "--visibility", "private"]);
    server.cli(&["project", "add", "secret/vault", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "developer"]);
    let alice_token = server.cli(&[
        "token", "add", "alice", "--name", "cli", "--scopes", "read_api",
    ]);
    let auth = basic("__token__", &admin);
    let uploads = [
        ("acme/models", "model-kit", "1.0"),
        ("acme/models", "model-kit", "1.10"),
        ("acme/models", "model-kit", "1.9"),
        ("acme/ml/training", "trainer", "0.1"),
    ];
    for (project, name, version) in uploads {
        let (file, bytes) = crate::support::wheel(name, version, &[]);
        let api = server.project_api(project);
        let resp = crate::support::upload(&api, Some(&auth), name, version, &file, &bytes, &[]);
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/check_gitlab.py");
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        &server.base,
        &admin,
        &alice_id,
        &alice_token,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
}

#[test]
fn the_management_api_asks_for_a_personal_token_with_the_right_scope() {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    let reader = server.user_with_token("reader", "read_package_registry");
    let line = server.cli(&[
        "deploy-token",
        "add",
        "g",
        "--name",
        "d",
        "--scopes",
        "read_package_registry",
    ]);
    let (user, secret) = line.split_once(' ').unwrap();
    let url = server.url("/api/v4/user");
    assert_eq!(get(&url, None).status, 401);
    assert_eq!(
        get(&url, Some(&basic(user, secret))).status,
        403,
        "deploy tokens are for the registry"
    );
    let scope = get(&url, Some(&basic("__token__", &reader)));
    assert_eq!(scope.status, 403);
    assert!(scope.text().contains("api or read_api"), "{}", scope.text());
    let me = request(
        "GET",
        &url,
        &[(
            "PRIVATE-TOKEN",
            &server.cli(&[
                "token", "add", "reader", "--name", "r", "--scopes", "read_api",
            ]),
        )],
    );
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "reader");
    assert_eq!(
        get(&server.url("/api/v4/version"), None).json()["version"],
        "17.0.0"
    );
}

/// schemathesis generates requests from /api/v4/openapi.json for a bounded time (examples,
/// coverage, fuzzing and stateful sequences) as an admin: no answer may be a 5xx, carry a
/// status, content type or body the description does not promise.
#[test]
fn schemathesis_finds_nothing_the_openapi_description_does_not_promise() {
    let _heavy = crate::support::heavy();
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/models", "--visibility", "private"]);
    server.cli(&["user", "add", "alice"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "developer"]);
    let (file, bytes) = crate::support::wheel("model-kit", "1.0", &[]);
    let auth = basic("__token__", &admin);
    let api = server.project_api("acme/models");
    let resp = crate::support::upload(&api, Some(&auth), "model-kit", "1.0", &file, &bytes, &[]);
    assert_eq!(resp.status, 201, "{}", resp.text());

    let seconds = std::env::var("SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "45".into());
    let run = || {
        let out = Command::new(python_tools().join("schemathesis"))
            .current_dir(server.data_dir())
            .args(["run", &server.url("/api/v4/openapi.json")])
            .args(["--header", &format!("PRIVATE-TOKEN: {admin}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
            ])
            // One worker: with two threads, Python 3.11's `ast.parse` (hypothesis describing
            // its lambdas) races and fails ("AST constructor recursion depth mismatch"), twice
            // in a row in one CI run; that says nothing about the server.
            .args(["--max-time", &seconds, "--workers", "1"])
            // Revoking or rotating `self` would end the run's own credentials; python-gitlab's
            // test covers both.
            .args(["--exclude-path", "/api/v4/personal_access_tokens/{token}"])
            .args([
                "--exclude-path",
                "/api/v4/personal_access_tokens/{token}/rotate",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    };
    let (mut out, mut text) = run();
    // Hypothesis (under schemathesis) sometimes crashes in its own lambda-source cache on
    // Python 3.11 ("AST constructor recursion depth mismatch"), which says nothing about the
    // server: such a run is made once more, and that run must pass.
    if !out.status.success() && text.contains("AST constructor recursion depth mismatch") {
        (out, text) = run();
    }
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(
        text.contains("77 total"),
        "not every operation was loaded:\n{text}"
    );
    assert!(
        get(&server.url("/api/v4/version"), None).status == 200,
        "the server died"
    );
}

/// A token's last use is noted on every request, cached pages included, and shows in the list.
#[test]
fn token_last_use_is_recorded_also_for_cached_pages() {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    server.cli(&["project", "add", "root/tools", "--visibility", "private"]);
    let reader = server.cli(&[
        "token",
        "add",
        "root",
        "--name",
        "reader",
        "--scopes",
        "read_package_registry",
    ]);
    let simple = format!("{}/simple/", server.project_api("root/tools"));
    let last_use = || {
        let list = request(
            "GET",
            &server.url("/api/v4/personal_access_tokens"),
            &[("PRIVATE-TOKEN", &admin)],
        )
        .json();
        let reader = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "reader")
            .unwrap()
            .clone();
        reader["last_used_at"]
            .as_str()
            .map(|t| OffsetDateTime::parse(t, &Rfc3339).unwrap())
    };
    assert_eq!(last_use(), None, "never used yet");
    assert_eq!(get(&simple, Some(&basic("__token__", &reader))).status, 200);
    assert!(last_use().is_some(), "a rendered page notes the use");
    assert_eq!(get(&simple, Some(&basic("__token__", &reader))).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before_hit = OffsetDateTime::now_utc();
    assert_eq!(get(&simple, Some(&basic("__token__", &reader))).status, 200);
    let seen = last_use().unwrap();
    assert!(
        seen >= before_hit - time::Duration::milliseconds(2),
        "a cached page is a use too: {seen} < {before_hit}"
    );
}
