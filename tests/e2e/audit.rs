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

/// A signed-in tenant (bob) and an anonymous client go after another tenant's (alice's)
/// trail: through their own group with alice's ids, with filters, after a project moved out of
/// a group they share, with a forged address, with bad parameters; and the trail keeps no
/// secret and lets no typed text act on a terminal.
#[test]
fn a_hostile_tenant_reads_nothing_of_anothers_and_cannot_forge_or_break_the_trail() {
    // No trusted proxy: X-Forwarded-For is whatever the client wrote.
    let server = Server::start();
    add_user(&server, "root", "root password 1", true);
    add_user(&server, "alice", "alice password 1", false);
    add_user(&server, "bob", "bob password 1", false);
    let (admin, alice, bob) = (
        token_of(&server, "root"),
        token_of(&server, "alice"),
        token_of(&server, "bob"),
    );
    let forged = "198.51.100.66";
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        api_from(&server, method, path, token, body, forged)
    };
    let created = |r: Response| {
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_i64().unwrap()
    };
    let group = |token: &str, path: &str, parent: Option<i64>| {
        let mut body = json!({"path": path, "name": path, "visibility": "private"});
        if let Some(parent) = parent {
            body["parent_id"] = parent.into();
        }
        created(call("POST", "/api/v4/groups", token, Some(body)))
    };
    let project = |token: &str, path: &str, namespace: i64| {
        let body = json!({"path": path, "namespace_id": namespace, "visibility": "private"});
        created(call("POST", "/api/v4/projects", token, Some(body)))
    };
    let bob_id = call("GET", "/api/v4/user", &bob, None).json()["id"]
        .as_i64()
        .unwrap();

    // Alice's group with a private subgroup and project; a group she shares with bob.
    let acme = group(&alice, "acme", None);
    let hidden = group(&alice, "hidden", Some(acme));
    let tools = project(&alice, "tools", hidden);
    let shared = group(&alice, "shared", None);
    let added = call(
        "POST",
        &format!("/api/v4/groups/{shared}/members"),
        &alice,
        Some(json!({"user_id": bob_id, "access_level": 50})),
    );
    assert_eq!(added.status, 201, "{}", added.text());
    let moved = project(&alice, "moved", shared);
    let mallory = group(&bob, "mallory", None);

    // Every event about alice's things, as the admin reads them.
    let everything = call("GET", "/api/v4/audit_events?per_page=100", &admin, None).json();
    let alices: Vec<i64> = everything
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            [("Group", acme), ("Group", hidden), ("Project", tools)]
                .iter()
                .any(|(kind, id)| e["entity_type"] == *kind && e["entity_id"] == *id)
        })
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(alices.len(), 3, "{everything}");
    // The forged header was not believed: the peer's address is recorded.
    let over_http = everything
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["author_class"] != "CommandLine");
    for event in over_http {
        assert_eq!(event["details"]["ip_address"], "127.0.0.1", "{event}");
    }

    // Bob: alice's group and project by id or path, every event of hers through his own group,
    // his group filtered to her entities.
    for path in [
        format!("/api/v4/groups/{acme}/audit_events"),
        "/api/v4/groups/acme/audit_events".to_owned(),
        format!("/api/v4/groups/{hidden}/audit_events"),
        "/api/v4/groups/acme%2Fhidden/audit_events".to_owned(),
        format!("/api/v4/projects/{tools}/audit_events"),
        "/api/v4/projects/acme%2Fhidden%2Ftools/audit_events".to_owned(),
        format!("/api/v4/projects/{tools}/audit_events/{}", alices[0]),
    ] {
        assert_eq!(call("GET", &path, &bob, None).status, 404, "{path}");
    }
    for id in &alices {
        for path in [
            format!("/api/v4/groups/{mallory}/audit_events/{id}"),
            format!("/api/v4/groups/mallory/audit_events/{id}"),
            format!("/api/v4/audit_events/{id}"),
        ] {
            let r = call("GET", &path, &bob, None);
            assert!(matches!(r.status, 403 | 404), "{path}: {}", r.status);
            assert!(!r.text().contains("\"event_name\""), "{path}");
        }
    }
    for (kind, id) in [("Group", acme), ("Group", hidden), ("Project", tools)] {
        let path =
            format!("/api/v4/groups/{mallory}/audit_events?entity_type={kind}&entity_id={id}");
        let r = call("GET", &path, &bob, None);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.json(), json!([]), "{path}");
    }
    // The admin page is for admins only, whatever its query says.
    let mut bobs_browser = Visitor::sign_in(&server, "bob", "bob password 1");
    for page in ["/admin/audit_logs", "/admin/audit_logs?actor=alice&page=1"] {
        assert_eq!(bobs_browser.get(page).status, 403, "{page}");
    }
    // Anonymous: nothing, by id or by scope.
    for path in [
        "/api/v4/audit_events".to_owned(),
        format!("/api/v4/audit_events/{}", alices[0]),
        format!("/api/v4/groups/{acme}/audit_events"),
        format!("/api/v4/projects/{tools}/audit_events"),
    ] {
        let r = request("GET", &server.url(&path), &[]);
        assert!(matches!(r.status, 401 | 404), "{path}: {}", r.status);
    }
    let anonymous_page = request("GET", &server.url("/admin/audit_logs"), &[]);
    assert!(!anonymous_page.text().contains("<table>"));

    // The shared group: bob, an owner there, sees what happens to its project while it is
    // there; once alice moves it into her own group, none of its trail (old or new) stays his.
    let in_shared = |bob_sees: bool| {
        let path =
            format!("/api/v4/groups/{shared}/audit_events?entity_type=Project&entity_id={moved}");
        let r = call("GET", &path, &bob, None);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            !r.json().as_array().unwrap().is_empty(),
            bob_sees,
            "{}",
            r.text()
        );
    };
    in_shared(true);
    let transferred = call(
        "PUT",
        &format!("/api/v4/projects/{moved}/transfer"),
        &alice,
        Some(json!({"namespace": "acme"})),
    );
    assert_eq!(transferred.status, 200, "{}", transferred.text());
    in_shared(false);
    let since_moved = call(
        "GET",
        &format!("/api/v4/groups/{shared}/audit_events?per_page=100"),
        &bob,
        None,
    )
    .json();
    assert!(
        since_moved
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["entity_type"] == "Group" && e["entity_id"] == shared),
        "{since_moved}"
    );

    // Bad parameters on bob's own trail: a clear 4xx naming the problem, never a 500.
    let own = format!("/api/v4/groups/{mallory}/audit_events");
    for (query, status) in [
        ("per_page=0", 200),
        ("per_page=1000", 200),
        ("page=0", 200),
        ("page=18446744073709551615", 200),
        ("per_page=-1", 400),
        ("per_page=99999999999999999999999", 400),
        ("page=-3", 400),
        ("page=x", 400),
        ("created_after=soon", 400),
        ("created_before=2026-02-30", 400),
        ("created_after=2026-01-01T99:00:00Z", 400),
        ("entity_type=Instance", 400),
        ("entity_id=abc", 400),
        ("entity_id=99999999999999999999", 400),
    ] {
        let r = call("GET", &format!("{own}?{query}"), &bob, None);
        assert_eq!(r.status, status, "{query}: {}", r.text());
        if status == 200 {
            assert!(r.json().as_array().unwrap().len() <= 100, "{query}");
        } else {
            assert!(!r.text().is_empty(), "{query}: no reason given");
        }
    }
    for id in ["abc", "99999999999999999999", "-1", "0", "1.5", "%00"] {
        for (scope, token) in [
            (format!("/api/v4/groups/{mallory}"), &bob),
            ("/api/v4".to_owned(), &admin),
        ] {
            let path = format!("{scope}/audit_events/{id}");
            let r = call("GET", &path, token, None);
            assert_eq!(r.status, 404, "{path}: {}", r.text());
        }
    }
    let mut admin_page = Visitor::sign_in(&server, "root", "root password 1");
    for (query, status) in [
        ("page=18446744073709551615", 200),
        ("page=0&actor=%00&action=%1b[2J", 200),
        ("page=-1", 400),
        ("page=99999999999999999999999", 400),
        ("since=%00", 400),
    ] {
        let r = admin_page.get(&format!("/admin/audit_logs?{query}"));
        assert_eq!(r.status, status, "{query}: {}", r.text());
    }
    for group in ["no-such", "%00", "99999999999999999999"] {
        let path = format!("/api/v4/groups/{group}/audit_events");
        assert_eq!(call("GET", &path, &bob, None).status, 404, "{path}");
    }

    // Secrets: neither a new token's value, nor a password an admin set, nor a session
    // cookie is in any event.
    let secret = call(
        "POST",
        "/api/v4/user/personal_access_tokens",
        &alice,
        Some(json!({"name": "ci", "scopes": ["read_api"]})),
    )
    .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice_id = call("GET", "/api/v4/user", &alice, None).json()["id"].clone();
    let password = "a brand new password 7";
    let reset = call(
        "PUT",
        &format!("/api/v4/users/{alice_id}"),
        &admin,
        Some(json!({"password": password})),
    );
    assert_eq!(reset.status, 200, "{}", reset.text());
    let cookies = Visitor::sign_in(&server, "alice", password).cookie_header();
    let trail = cli_text(&server, &["audit", "list", "--json", "--limit", "1000"]);
    for (what, value) in [("token", secret.as_str()), ("password", password)] {
        assert!(!trail.contains(value), "the {what} is in the trail");
    }
    for cookie in cookies.split("; ") {
        let value = cookie.split_once('=').unwrap().1;
        assert!(
            value.len() < 8 || !trail.contains(value),
            "a cookie is in the trail"
        );
    }
    assert!(trail.contains("\"user.update\"") && trail.contains("\"session.create\""));

    // A username typed to sign in with terminal escapes and a line break: the text listing
    // shows them escaped, on the event's one line; the JSON still parses.
    let typed = "evil\u{1b}[2J\u{1b}]0;owned\u{7}\n2026-01-01T00:00:00.000000Z  user:root  x  user.remove  alice";
    let refused = Visitor::new(&server).submit(
        "/users/sign_in",
        "/users/sign_in",
        &[("username", typed), ("password", "wrong")],
    );
    assert_ne!(refused.status, 303);
    let lines = cli_text(&server, &["audit", "list", "--action", "session.fail"]);
    assert!(
        !lines.contains('\u{1b}') && !lines.contains('\u{7}'),
        "{lines:?}"
    );
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains(r"evil\u{1b}[2J"), "{lines}");
    let parsed: Value = serde_json::from_str(&cli_text(
        &server,
        &["audit", "list", "--action", "session.fail", "--json"],
    ))
    .unwrap();
    assert!(
        parsed[0]["details"]["target_details"]
            .as_str()
            .unwrap()
            .starts_with("evil\u{1b}")
    );

    // Every change leaves one event and a refused one none: a password set from the command
    // line; a group that still holds a project is not removed; a project cannot be made more
    // visible than its group.
    let out = cli_output(
        server.data_dir(),
        &["user", "passwd", "bob", "--password-stdin"],
        Some("bob password 2\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let count = |action: &str| {
        cli_text(&server, &["audit", "list", "--action", action])
            .lines()
            .count()
    };
    assert_eq!(count("user.password"), 1);
    let (removes, updates) = (count("group.remove"), count("project.update"));
    assert_eq!(
        call("DELETE", &format!("/api/v4/groups/{hidden}"), &alice, None).status,
        409
    );
    let wider = call(
        "PUT",
        &format!("/api/v4/projects/{tools}"),
        &alice,
        Some(json!({"visibility": "public"})),
    );
    assert_eq!(wider.status, 400, "{}", wider.text());
    assert_eq!(
        (count("group.remove"), count("project.update")),
        (removes, updates)
    );
    let emptied = call("DELETE", &format!("/api/v4/projects/{tools}"), &alice, None);
    assert!(emptied.status < 300, "{}", emptied.text());
    let removed = call("DELETE", &format!("/api/v4/groups/{hidden}"), &alice, None);
    assert!(removed.status < 300, "{}", removed.text());
    assert_eq!(count("group.remove"), removes + 1);
}
