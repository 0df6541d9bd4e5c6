//! One tenant against another: what an ordinary signed-in user (a personal access token with
//! the `api` scope, which anyone can make) must not be able to do to a group they are not
//! trusted in, and what the answers must not give away (issue 10, findings 1, 2 and 8).

use crate::support::{Response, Server, basic, get, request, send, upload, wheel};

/// A JSON call of the management API with a personal access token.
fn api(server: &Server, method: &str, path: &str, token: &str, body: &str) -> Response {
    send(
        method,
        &server.url(path),
        &[
            ("PRIVATE-TOKEN", token),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes().to_vec(),
    )
}

fn id_of(resp: &Response) -> i64 {
    resp.json()["id"].as_i64().unwrap()
}

/// Status and body together: two answers that must not be told apart.
fn answer(resp: &Response) -> (u16, String) {
    (resp.status, resp.text())
}

#[test]
fn a_stranger_cannot_plant_groups_projects_or_files_in_a_private_group() {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/core", "--visibility", "private"]);
    let victim = server.user_with_token("victim", "api");
    server.cli(&["member", "add", "acme", "victim", "--role", "owner"]);
    let (filename, bytes) = wheel("secretpkg", "1.0", &[]);
    let victim_auth = basic("victim", &victim);
    let up = upload(
        &server.project_api("acme/core"),
        Some(&victim_auth),
        "secretpkg",
        "1.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(up.status, 201, "{}", up.text());
    let acme_id = id_of(&api(&server, "GET", "/api/v4/groups/acme", &victim, ""));
    let attacker = server.user_with_token("attacker", "api");

    // The attack of finding 1: a path with a slash names a place inside someone else's group.
    let planted = api(
        &server,
        "POST",
        "/api/v4/groups",
        &attacker,
        r#"{"path":"acme/evil"}"#,
    );
    assert_eq!(planted.status, 400, "{}", planted.text());
    assert!(planted.text().contains("one segment"), "{}", planted.text());
    let by_name = api(
        &server,
        "POST",
        "/api/v4/groups",
        &attacker,
        r#"{"name":"acme/evil"}"#,
    );
    assert_eq!(by_name.status, 400, "{}", by_name.text());
    // … and answers alike whether the group is there or not.
    let missing = api(
        &server,
        "POST",
        "/api/v4/groups",
        &attacker,
        r#"{"path":"nope/evil"}"#,
    );
    assert_eq!(answer(&planted), answer(&missing));

    // The way GitLab names a parent: by id, which needs maintainer there; private and missing
    // parents answer alike.
    let subgroup = format!(r#"{{"path":"evil","parent_id":{acme_id}}}"#);
    let sub = api(&server, "POST", "/api/v4/groups", &attacker, &subgroup);
    assert_eq!(sub.status, 404, "{}", sub.text());
    let no_parent = api(
        &server,
        "POST",
        "/api/v4/groups",
        &attacker,
        r#"{"path":"evil","parent_id":999999}"#,
    );
    assert_eq!(answer(&sub), answer(&no_parent));
    let project = format!(r#"{{"path":"evil","namespace_id":{acme_id}}}"#);
    let proj = api(&server, "POST", "/api/v4/projects", &attacker, &project);
    assert_eq!(proj.status, 404, "{}", proj.text());
    let no_ns = api(
        &server,
        "POST",
        "/api/v4/projects",
        &attacker,
        r#"{"path":"evil","namespace_id":999999}"#,
    );
    assert_eq!(answer(&proj), answer(&no_ns));

    // Nothing changed in acme: no subgroup, no project, the index serves the victim's file.
    let groups = server.cli(&["group", "list"]);
    assert!(!groups.contains("acme/evil"), "{groups}");
    let victim_view = api(
        &server,
        "GET",
        "/api/v4/groups/acme/projects?include_subgroups=true",
        &victim,
        "",
    );
    assert_eq!(
        victim_view.json().as_array().unwrap().len(),
        1,
        "{}",
        victim_view.text()
    );
    let index = get(
        &format!("{}/simple/secretpkg/", server.group_api("acme")),
        Some(&victim_auth),
    );
    assert_eq!(index.status, 200);
    assert!(index.text().contains(&filename), "{}", index.text());

    // Files cannot reach acme's index by its own projects either.
    let attacker_auth = basic("attacker", &attacker);
    let (evil_name, evil_bytes) = wheel("secretpkg", "99.0", &[]);
    let pushed = upload(
        &server.project_api("acme/core"),
        Some(&attacker_auth),
        "secretpkg",
        "99.0",
        &evil_name,
        &evil_bytes,
        &[],
    );
    assert_eq!(pushed.status, 404, "{}", pushed.text());
    let read = get(
        &format!("{}/simple/secretpkg/", server.group_api("acme")),
        Some(&attacker_auth),
    );
    assert_eq!(read.status, 404);

    // acme stays unknown to the attacker.
    for path in [
        "/api/v4/groups/acme".to_owned(),
        format!("/api/v4/groups/{acme_id}"),
        "/api/v4/groups/acme/members".to_owned(),
        "/api/v4/groups/acme/members/all".to_owned(),
        "/api/v4/groups/acme/subgroups".to_owned(),
        "/api/v4/groups/acme/projects".to_owned(),
    ] {
        let resp = request("GET", &server.url(&path), &[("PRIVATE-TOKEN", &attacker)]);
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
    }
    let listed = api(&server, "GET", "/api/v4/groups", &attacker, "");
    assert!(!listed.text().contains("acme"), "{}", listed.text());

    // The attacker's own top-level group is fine (GitLab's default), and stays theirs.
    let own = api(
        &server,
        "POST",
        "/api/v4/groups",
        &attacker,
        r#"{"path":"evil"}"#,
    );
    assert_eq!(own.status, 201, "{}", own.text());
    assert_eq!(own.json()["full_path"], "evil");
}

#[test]
fn creating_inside_a_group_needs_maintainer_there() {
    let server = Server::start();
    server.cli(&["group", "add", "open", "--visibility", "public"]);
    let open_id: i64 = {
        let owner = server.user_with_token("owner", "api");
        server.cli(&["member", "add", "open", "owner", "--role", "owner"]);
        id_of(&api(&server, "GET", "/api/v4/groups/open", &owner, ""))
    };
    let stranger = server.user_with_token("stranger", "api");
    let developer = server.user_with_token("developer", "api");
    server.cli(&["member", "add", "open", "developer", "--role", "developer"]);
    let maintainer = server.user_with_token("maintainer", "api");
    server.cli(&[
        "member",
        "add",
        "open",
        "maintainer",
        "--role",
        "maintainer",
    ]);
    let read_only = server.cli(&[
        "token",
        "add",
        "maintainer",
        "--name",
        "ro",
        "--scopes",
        "read_api",
    ]);

    let subgroup = |name: &str| format!(r#"{{"path":"{name}","parent_id":{open_id}}}"#);
    let project = |name: &str| format!(r#"{{"path":"{name}","namespace_id":{open_id}}}"#);
    for (who, token) in [("stranger", &stranger), ("developer", &developer)] {
        let sub = api(&server, "POST", "/api/v4/groups", token, &subgroup(who));
        assert_eq!(sub.status, 403, "{who}: {}", sub.text());
        let proj = api(&server, "POST", "/api/v4/projects", token, &project(who));
        assert_eq!(proj.status, 403, "{who}: {}", proj.text());
    }
    let sub = api(
        &server,
        "POST",
        "/api/v4/groups",
        &read_only,
        &subgroup("ro"),
    );
    assert_eq!(sub.status, 403, "{}", sub.text());
    let sub = api(
        &server,
        "POST",
        "/api/v4/groups",
        &maintainer,
        &subgroup("team"),
    );
    assert_eq!(sub.status, 201, "{}", sub.text());
    assert_eq!(sub.json()["full_path"], "open/team");
    let proj = api(
        &server,
        "POST",
        "/api/v4/projects",
        &maintainer,
        &project("lib"),
    );
    assert_eq!(proj.status, 201, "{}", proj.text());
    assert_eq!(proj.json()["path_with_namespace"], "open/lib");
    // A slash in a project's path is refused as well.
    let slashed = api(
        &server,
        "POST",
        "/api/v4/projects",
        &maintainer,
        r#"{"path":"open/x"}"#,
    );
    assert_eq!(slashed.status, 400, "{}", slashed.text());
    let groups = server.cli(&["group", "list"]);
    assert!(
        !groups.contains("stranger") && !groups.contains("developer"),
        "{groups}"
    );
}

/// The members of a group as `username → access level`, as its owner sees them.
fn roles(server: &Server, token: &str) -> std::collections::HashMap<String, i64> {
    let members = api(server, "GET", "/api/v4/groups/g/members", token, "");
    assert_eq!(members.status, 200, "{}", members.text());
    members
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["username"].as_str().unwrap().to_owned();
            (name, m["access_level"].as_i64().unwrap())
        })
        .collect()
}

#[test]
fn owners_keep_control_of_their_groups() {
    let server = Server::start();
    crate::web::add_user(&server, "alice", "alice password", false);
    let alice = server.cli(&["token", "add", "alice", "--name", "t", "--scopes", "api"]);
    let created = api(&server, "POST", "/api/v4/groups", &alice, r#"{"path":"g"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    crate::web::add_user(&server, "mallory", "mallory password", false);
    let mallory = server.cli(&["token", "add", "mallory", "--name", "t", "--scopes", "api"]);
    server.cli(&["member", "add", "g", "mallory", "--role", "maintainer"]);
    let mut ids = std::collections::HashMap::new();
    for name in ["dave", "eve", "bob"] {
        server.user_with_token(name, "api");
    }
    server.cli(&["member", "add", "g", "dave", "--role", "developer"]);
    for name in ["alice", "mallory", "dave", "eve", "bob"] {
        let found = api(
            &server,
            "GET",
            &format!("/api/v4/users?username={name}"),
            &alice,
            "",
        );
        ids.insert(name, found.json()[0]["id"].as_i64().unwrap());
    }
    let member = |name: &str| format!("/api/v4/groups/g/members/{}", ids[name]);

    // Finding 2: a maintainer can neither demote nor remove the owner, nor make owners.
    let demote = api(
        &server,
        "PUT",
        &member("alice"),
        &mallory,
        r#"{"access_level":10}"#,
    );
    assert_eq!(demote.status, 403, "{}", demote.text());
    let remove = api(&server, "DELETE", &member("alice"), &mallory, "");
    assert_eq!(remove.status, 403, "{}", remove.text());
    let crown = format!(r#"{{"user_id":{},"access_level":50}}"#, ids["eve"]);
    let crowned = api(
        &server,
        "POST",
        "/api/v4/groups/g/members",
        &mallory,
        &crown,
    );
    assert_eq!(crowned.status, 403, "{}", crowned.text());
    // … but manages the roles up to their own.
    let promote = api(
        &server,
        "PUT",
        &member("dave"),
        &mallory,
        r#"{"access_level":40}"#,
    );
    assert_eq!(promote.status, 200, "{}", promote.text());
    let add = format!(r#"{{"user_id":{},"access_level":30}}"#, ids["eve"]);
    let added = api(&server, "POST", "/api/v4/groups/g/members", &mallory, &add);
    assert_eq!(added.status, 201, "{}", added.text());
    // The same through the settings form of the web interface.
    let mut browser = crate::web::Visitor::sign_in(&server, "mallory", "mallory password");
    let form = browser.submit(
        "/g/-/settings",
        &format!("/g/-/settings/members/{}", ids["alice"]),
        &[("access_level", "10")],
    );
    assert_eq!(form.status, 403, "{}", form.text());
    let form = browser.submit(
        "/g/-/settings",
        &format!("/g/-/settings/members/{}/remove", ids["alice"]),
        &[],
    );
    assert_eq!(form.status, 403, "{}", form.text());
    assert_eq!(roles(&server, &alice)["alice"], 50);

    // The last owner can neither leave nor step down, whoever asks.
    let step_down = api(
        &server,
        "PUT",
        &member("alice"),
        &alice,
        r#"{"access_level":40}"#,
    );
    assert_eq!(step_down.status, 409, "{}", step_down.text());
    assert!(step_down.text().contains("owner"), "{}", step_down.text());
    let leave = api(&server, "DELETE", &member("alice"), &alice, "");
    assert_eq!(leave.status, 409, "{}", leave.text());
    let refused = server.cli_fails(&["member", "remove", "g", "alice"]);
    assert!(refused.contains("without an owner"), "{refused}");
    let refused = server.cli_fails(&["member", "add", "g", "alice", "--role", "guest"]);
    assert!(refused.contains("without an owner"), "{refused}");
    assert_eq!(roles(&server, &alice)["alice"], 50);

    // With a second owner, the first may go.
    let bob = format!(r#"{{"user_id":{},"access_level":50}}"#, ids["bob"]);
    let crowned = api(&server, "POST", "/api/v4/groups/g/members", &alice, &bob);
    assert_eq!(crowned.status, 201, "{}", crowned.text());
    let leave = api(&server, "DELETE", &member("alice"), &alice, "");
    assert_eq!(leave.status, 204, "{}", leave.text());
    let left = roles(&server, &mallory);
    assert_eq!((left.get("alice"), left["bob"]), (None, 50));
}

#[test]
fn users_are_found_by_name_and_their_emails_stay_private() {
    let server = Server::start();
    server.cli(&[
        "user",
        "add",
        "alice",
        "--email",
        "alice.secret@corp.example",
    ]);
    let alice = server.cli(&["token", "add", "alice", "--name", "t", "--scopes", "api"]);
    let bob = server.user_with_token("bob", "read_api");
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);

    // Finding 8: a private e-mail address finds nobody for a non-admin …
    let by_email = api(
        &server,
        "GET",
        "/api/v4/users?search=alice.secret",
        &bob,
        "",
    );
    assert_eq!(by_email.status, 200);
    assert_eq!(
        by_email.json(),
        serde_json::json!([]),
        "{}",
        by_email.text()
    );
    let by_domain = api(
        &server,
        "GET",
        "/api/v4/users?search=corp.example",
        &bob,
        "",
    );
    assert_eq!(by_domain.json(), serde_json::json!([]));
    // … while the username does, without the e-mail or the admin flag.
    let by_name = api(&server, "GET", "/api/v4/users?search=ALI", &bob, "");
    let found = by_name.json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["username"], "alice");
    assert!(found[0]["email"].is_null(), "{found}");
    assert!(found[0].get("is_admin").is_none(), "{found}");
    let id = found[0]["id"].as_i64().unwrap();
    let shown = api(&server, "GET", &format!("/api/v4/users/{id}"), &bob, "").json();
    assert!(
        shown["email"].is_null() && shown.get("is_admin").is_none(),
        "{shown}"
    );
    // In the whole list, only bob's own entry shows his fields.
    let everyone = api(&server, "GET", "/api/v4/users", &bob, "").json();
    for user in everyone.as_array().unwrap() {
        let own = user["username"] == "bob";
        assert_eq!(user.get("is_admin").is_some(), own, "{user}");
        assert!(!user.to_string().contains("corp.example"), "{user}");
    }

    // The user sees their own; an admin sees and searches everything.
    let me = api(&server, "GET", "/api/v4/user", &alice, "").json();
    assert_eq!(me["email"], "alice.secret@corp.example");
    assert_eq!(me["is_admin"], false);
    let own = api(&server, "GET", &format!("/api/v4/users/{id}"), &alice, "").json();
    assert_eq!(own["email"], "alice.secret@corp.example");
    let admin_search = api(
        &server,
        "GET",
        "/api/v4/users?search=alice.secret",
        &root,
        "",
    )
    .json();
    assert_eq!(
        admin_search[0]["email"], "alice.secret@corp.example",
        "{admin_search}"
    );
    assert_eq!(admin_search[0]["is_admin"], false);
}
