//! Moving projects and groups (GitLab's `transfer`) through the REST API: who may, where to,
//! what follows (URLs, pip, visibility) and what guards stay (published names, upstreams).

use crate::support::{Response, Server, basic, client, get, run_ok, send, upload, wheel};

/// A server with two tenants: alice's `acme` (private, with `acme/app` and `acme/team`) and
/// `zed`, bob maintaining `acme`, carol a stranger, and mallory owning `evil`.
struct World {
    server: Server,
    alice: String,
    bob: String,
    carol: String,
    mallory: String,
}

fn world() -> World {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    let carol = server.user_with_token("carol", "api");
    let mallory = server.user_with_token("mallory", "api");
    for (group, visibility) in [
        ("acme", "private"),
        ("acme/team", "private"),
        ("zed", "private"),
        ("open", "public"),
        ("evil", "private"),
    ] {
        server.cli(&["group", "add", group, "--visibility", visibility]);
    }
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/team/lib", "--visibility", "private"]);
    server.cli(&["project", "add", "evil/trap", "--visibility", "private"]);
    for group in ["acme", "zed", "open"] {
        server.cli(&["member", "add", group, "alice", "--role", "owner"]);
    }
    server.cli(&["member", "add", "acme", "bob", "--role", "maintainer"]);
    server.cli(&["member", "add", "evil", "mallory", "--role", "owner"]);
    World {
        server,
        alice,
        bob,
        carol,
        mallory,
    }
}

impl World {
    fn call(&self, token: Option<&str>, method: &str, path: &str, body: &str) -> Response {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(token) = token {
            headers.push(("PRIVATE-TOKEN", token));
        }
        send(
            method,
            &self.server.url(path),
            &headers,
            body.as_bytes().to_vec(),
        )
    }

    fn id_of(&self, kind: &str, path: &str) -> i64 {
        let r = self.call(
            Some(&self.alice),
            "GET",
            &format!("/api/v4/{kind}/{}", path.replace('/', "%2F")),
            "",
        );
        assert_eq!(r.status, 200, "{kind} {path}: {}", r.text());
        r.json()["id"].as_i64().unwrap()
    }

    /// The top-level namespaces under which a name is guarded from upstreams.
    fn guarded_under(&self, name: &str) -> Vec<String> {
        let db = rusqlite::Connection::open(self.server.data_dir().join("wheelhouse.db")).unwrap();
        let mut stmt = db
            .prepare(
                "SELECT n.full_path FROM published_names p JOIN namespaces n ON n.id = p.root_id
                 WHERE p.name = ?1 ORDER BY n.full_path",
            )
            .unwrap();
        stmt.query_map([name], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

fn pip_installs(index: &str, name: &str) -> String {
    let target = tempfile::tempdir().unwrap();
    run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--no-deps", "--target"])
            .arg(target.path())
            .args(["--index-url", index, name]),
    )
}

#[test]
fn an_owner_moves_a_project_and_pip_follows_it_to_the_new_place() {
    let w = world();
    let (filename, bytes) = wheel("moved-pkg", "1.0", &[]);
    let auth = basic("__token__", &w.alice);
    let api = w.server.project_api("acme/app");
    let r = upload(
        &api,
        Some(&auth),
        "moved-pkg",
        "1.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // The old page is rendered and cached before the move.
    let old_page = format!("{api}/simple/moved-pkg/");
    assert_eq!(get(&old_page, Some(&auth)).status, 200);

    // Access inherited from acme (bob maintains it; a group deploy token of acme) reaches the
    // project before the move and not after; zed's deploy token the other way round.
    let deploy = |group: &str| {
        let line = w.server.cli(&[
            "deploy-token",
            "add",
            group,
            "--name",
            "d",
            "--scopes",
            "read_package_registry",
        ]);
        let (user, secret) = line.split_once(' ').unwrap();
        basic(user, secret)
    };
    let (acme_deploy, zed_deploy) = (deploy("acme"), deploy("zed"));
    let bob = basic("__token__", &w.bob);
    assert_eq!(get(&old_page, Some(&acme_deploy)).status, 200);
    assert_eq!(get(&old_page, Some(&bob)).status, 200);

    let zed = w.id_of("groups", "zed");
    let body = format!(r#"{{"namespace": {zed}}}"#);
    let r = w.call(
        Some(&w.alice),
        "PUT",
        "/api/v4/projects/acme%2Fapp/transfer",
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = r.json();
    assert_eq!(moved["path_with_namespace"], "zed/app");
    assert_eq!(moved["namespace"]["full_path"], "zed");

    // The old place is gone at once (the page cache does not outlive the move); pip installs
    // from the new one, and through the new top-level group's index.
    let old = get(&old_page, Some(&auth));
    assert_eq!(old.status, 404, "{}", old.text());
    let index = crate::support::with_credentials(
        &format!("{}/simple", w.server.project_api("zed/app")),
        "__token__",
        &w.alice,
    );
    assert!(pip_installs(&index, "moved-pkg").contains("Successfully installed"));
    let new_page = format!("{}/simple/moved-pkg/", w.server.project_api("zed/app"));
    assert_eq!(get(&new_page, Some(&acme_deploy)).status, 404);
    assert_eq!(get(&new_page, Some(&bob)).status, 404);
    assert_eq!(get(&new_page, Some(&zed_deploy)).status, 200);
    let group_page = format!("{}/simple/moved-pkg/", w.server.group_api("zed"));
    assert_eq!(get(&group_page, Some(&auth)).status, 200);
    let acme_page = format!("{}/simple/moved-pkg/", w.server.group_api("acme"));
    assert_eq!(get(&acme_page, Some(&auth)).status, 404);

    // The name stays guarded under the old root and is now guarded under the new one.
    assert_eq!(w.guarded_under("moved-pkg"), ["acme", "zed"]);

    // Into the owner's own namespace by its path (python-gitlab's `transfer(username)`); a
    // public project moved into a private group becomes private, as GitLab narrows it.
    let r = w.call(
        Some(&w.alice),
        "PUT",
        "/api/v4/projects/zed%2Fapp/transfer",
        r#"{"namespace": "alice"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path_with_namespace"], "alice/app");
    assert_eq!(w.guarded_under("moved-pkg"), ["acme", "alice", "zed"]);
    let r = w.call(
        Some(&w.alice),
        "PUT",
        "/api/v4/projects/alice%2Fapp",
        r#"{"visibility": "public"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = w.call(
        Some(&w.alice),
        "PUT",
        "/api/v4/projects/alice%2Fapp/transfer",
        r#"{"namespace": "acme"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["visibility"], "private");
}

#[test]
fn transfers_are_refused_as_the_permission_table_says() {
    let w = world();
    let project = "/api/v4/projects/acme%2Fapp/transfer";
    let to_zed = r#"{"namespace": "zed"}"#;
    let (alice, bob, carol, mallory) = (
        Some(w.alice.as_str()),
        Some(w.bob.as_str()),
        Some(w.carol.as_str()),
        Some(w.mallory.as_str()),
    );
    let cases: [(Option<&str>, &str, &str, &str, u16); 11] = [
        (None, project, to_zed, "anonymous", 401),
        (carol, project, to_zed, "a stranger", 404),
        // A maintainer of the project's group is not its owner.
        (bob, project, r#"{"namespace": "bob"}"#, "a maintainer", 403),
        (alice, project, "{}", "no namespace", 400),
        (
            alice,
            project,
            r#"{"namespace": "acme"}"#,
            "already there",
            400,
        ),
        (
            alice,
            project,
            r#"{"namespace": "nope"}"#,
            "no such namespace",
            404,
        ),
        // Someone else's personal namespace is nobody else's business.
        (
            alice,
            project,
            r#"{"namespace": "bob"}"#,
            "bob's namespace",
            404,
        ),
        // Tenant B may not move A's project into B's group, nor B's own project into A's
        // group (private: unseen; public: no right to create there).
        (
            mallory,
            project,
            r#"{"namespace": "evil"}"#,
            "into evil",
            404,
        ),
        (
            mallory,
            "/api/v4/projects/evil%2Ftrap/transfer",
            r#"{"namespace": "acme"}"#,
            "trap into acme",
            404,
        ),
        (
            mallory,
            "/api/v4/projects/evil%2Ftrap/transfer",
            r#"{"namespace": "open"}"#,
            "trap into open",
            403,
        ),
        // A path already taken in the target.
        (alice, project, r#"{"namespace": "acme/team"}"#, "free", 200),
    ];
    for (token, path, body, what, status) in cases {
        let r = w.call(token, "PUT", path, body);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(!r.text().is_empty(), "{what}: no message");
    }
    w.server
        .cli(&["project", "add", "acme/app", "--visibility", "private"]);
    let r = w.call(
        Some(&w.alice),
        "PUT",
        "/api/v4/projects/acme%2Fteam%2Fapp/transfer",
        r#"{"namespace": "acme"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("already taken"), "{}", r.text());
    // Nothing of mallory's moved.
    let r = w.call(Some(&w.mallory), "GET", "/api/v4/projects/evil%2Ftrap", "");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn an_owner_moves_a_group_with_everything_below_it() {
    let w = world();
    let (filename, bytes) = wheel("team-lib", "1.0", &[]);
    let auth = basic("__token__", &w.alice);
    let api = w.server.project_api("acme/team/lib");
    let r = upload(&api, Some(&auth), "team-lib", "1.0", &filename, &bytes, &[]);
    assert_eq!(r.status, 201, "{}", r.text());

    let team = "/api/v4/groups/acme%2Fteam/transfer";
    let zed = w.id_of("groups", "zed");
    let acme = w.id_of("groups", "acme");
    let refusals = [
        (
            None,
            team.to_string(),
            format!(r#"{{"group_id": {zed}}}"#),
            401,
        ),
        (
            Some(&w.carol),
            team.to_string(),
            format!(r#"{{"group_id": {zed}}}"#),
            404,
        ),
        // Bob maintains acme (and so acme/team) but owns neither.
        (Some(&w.bob), team.to_string(), "{}".to_string(), 403),
        // Into itself, into its own subgroup, where it already is, into a user.
        (
            Some(&w.alice),
            team.to_string(),
            r#"{"group_id": "acme/team"}"#.into(),
            400,
        ),
        (
            Some(&w.alice),
            "/api/v4/groups/acme/transfer".into(),
            r#"{"group_id": "acme/team"}"#.into(),
            400,
        ),
        (
            Some(&w.alice),
            team.to_string(),
            format!(r#"{{"group_id": {acme}}}"#),
            400,
        ),
        (
            Some(&w.alice),
            team.to_string(),
            r#"{"group_id": "alice"}"#.into(),
            400,
        ),
        // Already top-level.
        (
            Some(&w.alice),
            "/api/v4/groups/zed/transfer".into(),
            "{}".into(),
            400,
        ),
        // Mallory may not pull acme's group into hers, nor push hers into alice's groups.
        (
            Some(&w.mallory),
            team.to_string(),
            r#"{"group_id": "evil"}"#.into(),
            404,
        ),
        (
            Some(&w.mallory),
            "/api/v4/groups/evil/transfer".into(),
            r#"{"group_id": "open"}"#.into(),
            403,
        ),
    ];
    for (token, path, body, status) in refusals {
        let r = w.call(token.map(String::as_str), "POST", &path, &body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.text());
    }
    // A maintainer of the target group may create subgroups there but not move groups in.
    w.server
        .cli(&["member", "add", "zed", "bob", "--role", "maintainer"]);
    w.server
        .cli(&["group", "add", "bobs", "--visibility", "private"]);
    w.server
        .cli(&["member", "add", "bobs", "bob", "--role", "owner"]);
    let r = w.call(
        Some(&w.bob),
        "POST",
        "/api/v4/groups/bobs/transfer",
        r#"{"group_id": "zed"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.text());

    let r = w.call(
        Some(&w.alice),
        "POST",
        team,
        &format!(r#"{{"group_id": {zed}}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["full_path"], "zed/team");
    assert_eq!(r.json()["parent_id"], zed);
    let r = w.call(
        Some(&w.alice),
        "GET",
        "/api/v4/projects/zed%2Fteam%2Flib",
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let old = get(&format!("{api}/simple/team-lib/"), Some(&auth));
    assert_eq!(old.status, 404);
    let index = crate::support::with_credentials(
        &format!("{}/simple", w.server.group_api("zed")),
        "__token__",
        &w.alice,
    );
    assert!(pip_installs(&index, "team-lib").contains("Successfully installed"));
    assert_eq!(w.guarded_under("team-lib"), ["acme", "zed"]);

    // Back out to the top level (no group_id), as python-gitlab's `transfer()` does.
    let r = w.call(
        Some(&w.alice),
        "POST",
        "/api/v4/groups/zed%2Fteam/transfer",
        "",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["full_path"], "team");
    assert_eq!(w.guarded_under("team-lib"), ["acme", "team", "zed"]);

    // A top-level group becoming a subgroup brings the names it guarded to its new root.
    let r = w.call(
        Some(&w.alice),
        "POST",
        "/api/v4/groups/team/transfer",
        r#"{"group_id": "open"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["full_path"], "open/team");
    // (Its own rows stay too, for the day it is made top-level again.)
    assert_eq!(
        w.guarded_under("team-lib"),
        ["acme", "open", "open/team", "zed"]
    );
}

#[test]
fn a_group_with_upstreams_stays_top_level() {
    let w = world();
    w.server.cli(&[
        "group",
        "upstream",
        "add",
        "zed",
        "https://pypi.example/simple/",
    ]);
    let r = w.call(
        Some(&w.alice),
        "POST",
        "/api/v4/groups/zed/transfer",
        r#"{"group_id": "open"}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("upstream"), "{}", r.text());
    let r = w.call(Some(&w.alice), "GET", "/api/v4/groups/zed", "");
    assert_eq!(r.json()["full_path"], "zed");
    // Without them it moves.
    let upstreams = w.call(Some(&w.alice), "GET", "/api/v4/groups/zed/upstreams", "");
    let id = upstreams.json()[0]["id"].as_i64().unwrap();
    let r = w.call(
        Some(&w.alice),
        "DELETE",
        &format!("/api/v4/groups/zed/upstreams/{id}"),
        "",
    );
    assert!(r.status < 300, "{}", r.text());
    let r = w.call(
        Some(&w.alice),
        "POST",
        "/api/v4/groups/zed/transfer",
        r#"{"group_id": "open"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
}
