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
