//! The audit trail read back: an owner's changes (with who, from which address, when) by the
//! command line, the API, python-gitlab and the admin page; a stranger cannot read them and
//! their failed sign-ins show; hostile text stays text; old events are pruned.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{
    Response, Server, cli_output, multipart, post, python_tools, request, run_ok, send, wheel,
};
use crate::web::{Visitor, add_user};

/// Where the owner's requests come from, as the trusted proxy (the test, on loopback) says.
const OWNER_ADDRESS: &str = "203.0.113.5";

/// A management API call with a token, sent as from `address` through the trusted proxy.
fn api(server: &Server, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
    api_from(server, method, path, token, body, OWNER_ADDRESS)
}

fn api_from(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    address: &str,
) -> Response {
    let mut headers = vec![("PRIVATE-TOKEN", token), ("X-Forwarded-For", address)];
    match body {
        Some(body) => {
            headers.push(("Content-Type", "application/json"));
            send(
                method,
                &server.url(path),
                &headers,
                body.to_string().into_bytes(),
            )
        }
        None => request(method, &server.url(path), &headers),
    }
}

fn token_of(server: &Server, user: &str) -> String {
    server.cli(&["token", "add", user, "--name", "t", "--scopes", "api"])
}

fn cli_text(server: &Server, args: &[&str]) -> String {
    let out = cli_output(server.data_dir(), args, None);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn events_named<'a>(events: &'a Value, name: &str) -> Vec<&'a Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_name"] == name)
        .collect()
}

#[test]
fn an_owners_changes_are_read_back_with_actor_address_and_time() {
    let server = Server::start_with(&["--trusted-proxies", "127.0.0.1"]);
    add_user(&server, "root", "root password 1", true);
    add_user(&server, "owner", "owner password 1", false);
    add_user(&server, "stranger", "stranger password 1", false);
    add_user(&server, "bob", "bob password 1", false);
    let (admin, owner, stranger, bob) = (
        token_of(&server, "root"),
        token_of(&server, "owner"),
        token_of(&server, "stranger"),
        token_of(&server, "bob"),
    );
    let user_id = |name: &str| {
        let r = api(
            &server,
            "GET",
            &format!("/api/v4/users?username={name}"),
            &admin,
            None,
        );
        r.json()[0]["id"].as_i64().unwrap()
    };
    let (owner_id, bob_id) = (user_id("owner"), user_id("bob"));

    // The owner's changes, every one from OWNER_ADDRESS.
    let group = api(
        &server,
        "POST",
        "/api/v4/groups",
        &owner,
        Some(json!({"path": "acme", "name": "acme", "visibility": "internal"})),
    );
    assert_eq!(group.status, 201, "{}", group.text());
    let group_id = group.json()["id"].as_i64().unwrap();
    let project = api(
        &server,
        "POST",
        "/api/v4/projects",
        &owner,
        Some(json!({"path": "tools", "namespace_id": group_id, "visibility": "internal"})),
    );
    assert_eq!(project.status, 201, "{}", project.text());
    let project_id = project.json()["id"].as_i64().unwrap();
    let (filename, bytes) = wheel("toolkit", "1.0", &[]);
    let fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("name", "toolkit"),
        ("version", "1.0"),
    ];
    let (content_type, body) = multipart(&fields, Some((&filename, &bytes)));
    let auth = crate::support::basic("__token__", &owner);
    let uploaded = post(
        &server.url(&format!("/api/v4/projects/{project_id}/packages/pypi")),
        &[
            ("Content-Type", &content_type),
            ("Authorization", &auth),
            ("X-Forwarded-For", OWNER_ADDRESS),
        ],
        body,
    );
    assert_eq!(uploaded.status, 201, "{}", uploaded.text());
    let packages = api(
        &server,
        "GET",
        &format!("/api/v4/projects/{project_id}/packages"),
        &owner,
        None,
    );
    let package_id = packages.json()[0]["id"].as_i64().unwrap();
    let package = format!("/api/v4/projects/{project_id}/packages/{package_id}");
    for step in ["yank", "unyank"] {
        let r = api(&server, "POST", &format!("{package}/{step}"), &owner, None);
        assert!(r.status < 300, "{step}: {}", r.text());
    }
    let changed = api(
        &server,
        "PUT",
        &format!("/api/v4/projects/{project_id}"),
        &owner,
        Some(json!({"visibility": "private"})),
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    let hidden = api(
        &server,
        "PUT",
        &format!("/api/v4/groups/{group_id}"),
        &owner,
        Some(json!({"visibility": "private"})),
    );
    assert_eq!(hidden.status, 200, "{}", hidden.text());
    let member = api(
        &server,
        "POST",
        &format!("/api/v4/groups/{group_id}/members"),
        &owner,
        Some(json!({"user_id": bob_id, "access_level": 30})),
    );
    assert_eq!(member.status, 201, "{}", member.text());
    let hostile_token_name = "<img src=x onerror=alert(1)>";
    let token = api(
        &server,
        "POST",
        "/api/v4/user/personal_access_tokens",
        &owner,
        Some(json!({"name": hostile_token_name, "scopes": ["read_api"]})),
    );
    assert_eq!(token.status, 201, "{}", token.text());
    let token_id = token.json()["id"].as_i64().unwrap();
    let revoked = api(
        &server,
        "DELETE",
        &format!("/api/v4/personal_access_tokens/{token_id}"),
        &owner,
        None,
    );
    assert_eq!(revoked.status, 204, "{}", revoked.text());
    let deleted = api(&server, "DELETE", &package, &owner, None);
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    // Signing in on the web, from loopback.
    Visitor::sign_in(&server, "owner", "owner password 1");

    // A stranger guesses the owner's password on the web, and tries markup as a username.
    let hostile_name = "<script>alert('x')</script>";
    for username in ["owner", hostile_name] {
        let mut guesser = Visitor::new(&server);
        let answer = guesser.submit(
            "/users/sign_in",
            "/users/sign_in",
            &[("username", username), ("password", "wrong guess")],
        );
        assert_ne!(answer.status, 303, "a wrong password signed in");
    }
    // The stranger's own group, through which they try to read acme's events below.
    let own = api(
        &server,
        "POST",
        "/api/v4/groups",
        &stranger,
        Some(json!({"path": "mallory", "name": "mallory", "visibility": "private"})),
    );
    assert_eq!(own.status, 201, "{}", own.text());

    // The command line: the owner's changes as GitLab-shaped JSON, with address and time.
    let json_out: Value = serde_json::from_str(&cli_text(
        &server,
        &["audit", "list", "--actor", "owner", "--json"],
    ))
    .unwrap();
    let names: Vec<&str> = json_out
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    for expected in [
        "group.create",
        "project.create",
        "upload",
        "yank",
        "unyank",
        "project.update",
        "group.update",
        "member.add",
        "token.create",
        "token.revoke",
        "delete",
        "session.create",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let upload = events_named(&json_out, "upload")[0];
    assert_eq!(upload["details"]["ip_address"], OWNER_ADDRESS);
    assert_eq!(upload["author_id"], owner_id);
    assert_eq!(upload["entity_type"], "Project");
    assert_eq!(upload["entity_id"], project_id);
    assert_eq!(
        upload["details"]["target_details"],
        format!("acme/tools/{filename}")
    );
    let created_at = upload["created_at"].as_str().unwrap();
    assert!(
        created_at.len() == 27 && created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "{created_at}"
    );
    let update = events_named(&json_out, "project.update")[0];
    assert_eq!(
        update["details"]["visibility"],
        json!({"from": "internal", "to": "private"})
    );
    let hidden = events_named(&json_out, "group.update")[0];
    assert_eq!(
        hidden["details"]["visibility"],
        json!({"from": "internal", "to": "private"})
    );
    let session = events_named(&json_out, "session.create")[0];
    assert_eq!(session["details"]["ip_address"], "127.0.0.1");
    // Text lines: time, actor, address, action, target.
    let today = &created_at[..10];
    let text = cli_text(&server, &["audit", "list", "--since", today]);
    assert!(
        text.lines()
            .any(|l| l.contains("user:owner  203.0.113.5  upload  acme/tools/")),
        "{text}"
    );
    let failed = cli_text(&server, &["audit", "list", "--action", "session.fail"]);
    assert!(
        failed.contains("anonymous  127.0.0.1  session.fail  owner"),
        "{failed}"
    );
    let none = cli_text(&server, &["audit", "list", "--since", "2999-01-01"]);
    assert_eq!(none, "");
    let bad = cli_output(
        server.data_dir(),
        &["audit", "list", "--since", "soon"],
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"soon\" is not a date"));

    // The API: an admin sees the failed sign-ins against the owner's account, with the address.
    let on_owner = api(
        &server,
        "GET",
        &format!("/api/v4/audit_events?entity_type=User&entity_id={owner_id}&per_page=100"),
        &admin,
        None,
    );
    assert_eq!(on_owner.status, 200, "{}", on_owner.text());
    let on_owner = on_owner.json();
    let failures = events_named(&on_owner, "session.fail");
    assert_eq!(failures.len(), 1, "{on_owner}");
    assert_eq!(failures[0]["details"]["ip_address"], "127.0.0.1");
    assert_eq!(failures[0]["author_id"], Value::Null);
    let one = api(
        &server,
        "GET",
        &format!("/api/v4/audit_events/{}", upload["id"]),
        &admin,
        None,
    );
    assert_eq!(one.json()["event_name"], "upload");
    let paged = api(
        &server,
        "GET",
        "/api/v4/audit_events?per_page=2",
        &admin,
        None,
    );
    assert_eq!(paged.json().as_array().unwrap().len(), 2);
    assert!(paged.header("x-total").unwrap().parse::<usize>().unwrap() > 10);
    assert!(paged.header("link").unwrap().contains("rel=\"next\""));
    let bad = api(
        &server,
        "GET",
        "/api/v4/audit_events?created_after=soon",
        &admin,
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());

    // The owner reads the group's events, the project's included, but not the instance's.
    let group_events = api(
        &server,
        "GET",
        &format!("/api/v4/groups/{group_id}/audit_events?per_page=100"),
        &owner,
        None,
    );
    assert_eq!(group_events.status, 200, "{}", group_events.text());
    let group_events = group_events.json();
    assert!(!events_named(&group_events, "upload").is_empty());
    assert!(events_named(&group_events, "session.fail").is_empty());
    assert!(
        events_named(&group_events, "group.create")
            .iter()
            .all(|e| e["entity_id"] == group_id)
    );
    assert_eq!(
        api(&server, "GET", "/api/v4/audit_events", &owner, None).status,
        403
    );

    // The stranger: no instance list, no event by id, no group of someone else's.
    assert_eq!(
        api(&server, "GET", "/api/v4/audit_events", &stranger, None).status,
        403
    );
    let by_id = format!("/api/v4/audit_events/{}", upload["id"]);
    assert_eq!(api(&server, "GET", &by_id, &stranger, None).status, 403);
    let theirs = format!("/api/v4/groups/{group_id}/audit_events");
    assert_eq!(api(&server, "GET", &theirs, &stranger, None).status, 404);
    let project_events = format!("/api/v4/projects/{project_id}/audit_events");
    assert_eq!(
        api(&server, "GET", &project_events, &stranger, None).status,
        404
    );
    let through_own = format!("/api/v4/groups/mallory/audit_events/{}", upload["id"]);
    assert_eq!(
        api(&server, "GET", &through_own, &stranger, None).status,
        404
    );
    // A developer of the group sees it but may not read its trail.
    assert_eq!(api(&server, "GET", &theirs, &bob, None).status, 403);

    // The admin page: newest first, filtered, every typed text escaped.
    let mut admin_page = Visitor::sign_in(&server, "root", "root password 1");
    let page = admin_page.get("/admin/audit_logs?actor=owner");
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains(OWNER_ADDRESS) && html.contains(">upload<"),
        "{html}"
    );
    assert!(
        !html.contains("<td>anonymous</td>"),
        "the actor filter let others through"
    );
    let escaped = admin_page
        .get("/admin/audit_logs?action=session.fail")
        .text();
    assert!(escaped.contains("&#60;script&#62;alert("), "{escaped}");
    assert!(
        !escaped.contains("<script>alert"),
        "markup from a username reached the page"
    );
    let tokens = admin_page
        .get("/admin/audit_logs?action=token.create")
        .text();
    assert!(tokens.contains("&#60;img src=x"), "{tokens}");
    assert!(
        !tokens.contains("<img src=x"),
        "markup from a token name reached the page"
    );
    let paging = admin_page.get("/admin/audit_logs?page=1").text();
    assert!(
        paging.contains("events, newest first; page 1 of 1"),
        "{paging}"
    );
    let bad_since = admin_page.get("/admin/audit_logs?since=soon");
    assert_eq!(bad_since.status, 400);
    let mut owner_page = Visitor::sign_in(&server, "owner", "owner password 1");
    assert_eq!(owner_page.get("/admin/audit_logs").status, 403);

    // python-gitlab reads the same.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/check_audit.py");
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        &server.base,
        &admin,
        &owner,
        &stranger,
        "acme",
        "acme/tools",
        OWNER_ADDRESS,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
}

/// Moves the events whose target is `target` `days` into the past.
fn backdate(data_dir: &std::path::Path, target: &str, days: i64) {
    let db = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
    let moved = db
        .execute(
            "UPDATE audit_events SET created_at = created_at - ?1 * 86400000 WHERE target = ?2",
            rusqlite::params![days, target],
        )
        .unwrap();
    assert_eq!(moved, 1, "{target}");
}

fn targets(data_dir: &std::path::Path) -> Vec<String> {
    let db = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT target FROM audit_events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn old_events_are_pruned_by_gc_and_by_the_server() {
    let holder = tempfile::tempdir().unwrap();
    let data = holder.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let cli = |args: &[&str]| {
        let out = cli_output(&data, args, None);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for group in ["ancient", "recent", "fresh"] {
        cli(&["group", "add", group]);
    }
    backdate(&data, "ancient", 400);
    backdate(&data, "recent", 40);

    // Without a retention, gc keeps everything.
    cli(&["gc"]);
    assert_eq!(targets(&data), ["ancient", "recent", "fresh"]);
    // gc with the environment's retention of a year.
    let out = crate::support::wheelhouse_cmd(&data, None)
        .arg("gc")
        .env("WHEELHOUSE_AUDIT_RETENTION_DAYS", "365")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("deleted 1 audit events older than 365 days"),
        "{said}"
    );
    assert_eq!(targets(&data), ["recent", "fresh"]);
    assert!(!cli(&["audit", "list"]).contains("ancient"));

    // The server prunes when it starts (and hourly after), with a 30-day retention.
    let _server = Server::start_in_with(holder, &data, &["--audit-retention-days", "30"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while targets(&data).contains(&"recent".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not prune: {:?}",
            targets(&data)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // (The server's first start also made its `admin`.)
    assert_eq!(targets(&data)[0], "fresh");
}
