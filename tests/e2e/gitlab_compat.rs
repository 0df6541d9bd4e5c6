//! GitLab's ways of reading input and answering that python-gitlab's own functional tests and
//! the `gitlab` command line rely on (issue 11): numbers as strings, scopes as one string,
//! names and descriptions, list filters, block and unblock answers, deploy-token fields, and
//! query parameters merged with the body.

use std::process::Command;

use crate::support::{Server, basic, cli_output, get, python_tools, request, run_ok, send};

/// A fresh server with the admin `root`; returns its `api` token.
fn with_admin() -> (Server, String) {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    (server, admin)
}

/// Runs one check of check_gitlab_compat.py; returns what it printed.
fn python_gitlab(server: &Server, admin: &str, check: &str) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/check_gitlab_compat.py"
    );
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        check,
        &server.base,
        admin,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
    out
}

/// The `gitlab` command line of python-gitlab, as a user configures it; returns its JSON.
fn gitlab_cli(server: &Server, token: &str, args: &[&str]) -> serde_json::Value {
    let out = run_ok(
        Command::new(python_tools().join("gitlab"))
            .args(["--server-url", &server.base, "--private-token", token])
            .args(["--output", "json"])
            .args(args)
            // No configuration file of the machine's: the flags say everything.
            .env_remove("PYTHON_GITLAB_CFG")
            .env("HOME", server.data_dir()),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// Item 1: the `gitlab` command line sends every number as a JSON string
/// (`{"user_id": "2", "access_level": "30"}`); GitLab takes them, and so does Wheelhouse.
#[test]
fn the_gitlab_command_line_sends_numbers_as_strings() {
    let (server, admin) = with_admin();
    let out = cli_output(
        server.data_dir(),
        &["user", "add", "alice", "--password-stdin"],
        Some("alice password\n"),
    );
    let alice = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let group = gitlab_cli(
        &server,
        &admin,
        &["group", "create", "--name", "acme", "--path", "acme"],
    );
    let group_id = group["id"].to_string();
    let sub = gitlab_cli(
        &server,
        &admin,
        &[
            "group",
            "create",
            "--name",
            "ml",
            "--path",
            "ml",
            "--parent-id",
            &group_id,
        ],
    );
    assert_eq!(sub["full_path"], "acme/ml", "{sub}");
    let project = gitlab_cli(
        &server,
        &admin,
        &[
            "project",
            "create",
            "--name",
            "tools",
            "--namespace-id",
            &group_id,
        ],
    );
    assert_eq!(project["path_with_namespace"], "acme/tools", "{project}");
    let project_id = project["id"].to_string();
    let member = gitlab_cli(
        &server,
        &admin,
        &[
            "group-member",
            "create",
            "--group-id",
            &group_id,
            "--user-id",
            &alice,
            "--access-level",
            "20",
        ],
    );
    assert_eq!(member["access_level"], 20, "{member}");
    let member = gitlab_cli(
        &server,
        &admin,
        &[
            "project-member",
            "create",
            "--project-id",
            &project_id,
            "--user-id",
            &alice,
            "--access-level",
            "40",
        ],
    );
    assert_eq!(member["access_level"], 40, "{member}");
    let all = get(
        &server.url(&format!("/api/v4/projects/{project_id}/members/all")),
        Some(&basic("__token__", &admin)),
    );
    assert!(all.text().contains("\"access_level\":40"), "{}", all.text());

    // What is not a number is still refused, naming the field.
    let bad = send(
        "POST",
        &server.url(&format!("/api/v4/groups/{group_id}/members")),
        &[
            ("PRIVATE-TOKEN", &admin),
            ("Content-Type", "application/json"),
        ],
        format!(r#"{{"user_id": "{alice}", "access_level": "thirty"}}"#).into_bytes(),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("access_level"), "{}", bad.text());
    assert!(bad.text().contains("thirty"), "{}", bad.text());
}

/// Item 2: `scopes` as one comma-separated string, for personal and deploy tokens.
#[test]
fn scopes_may_be_one_comma_separated_string() {
    let (server, admin) = with_admin();
    python_gitlab(&server, &admin, "scopes_as_one_string");
}

/// Item 3: descriptions of groups and projects, names of groups, projects and users, kept and
/// shown; `{"name": "My Project"}` makes the path `my-project`.
#[test]
fn names_and_descriptions_are_kept_and_shown() {
    let (server, admin) = with_admin();
    python_gitlab(&server, &admin, "names_and_descriptions");
    // The pages (public here) show them in their headers.
    let group_page = get(&server.url("/acme"), None);
    assert_eq!(group_page.status, 200);
    assert!(
        group_page.text().contains("Acme&#39;s own packages")
            || group_page.text().contains("Acme's own packages"),
        "{}",
        group_page.text()
    );
    let project_page = get(&server.url("/acme/my-project"), None);
    assert_eq!(project_page.status, 200);
    assert!(
        project_page.text().contains("My Project"),
        "{}",
        project_page.text()
    );
    assert!(
        project_page.text().contains("Trained models"),
        "{}",
        project_page.text()
    );
}

/// Item 4: `skip_groups[]`, `user_ids[]`, `blocked` and `active` filter their lists.
#[test]
fn list_filters_are_applied() {
    let (server, admin) = with_admin();
    python_gitlab(&server, &admin, "list_filters");
}

/// Item 5: blocking a blocked user answers `null`, unblocking an active one `false`.
#[test]
fn blocking_twice_answers_as_gitlab_does() {
    let (server, admin) = with_admin();
    python_gitlab(&server, &admin, "block_twice");
}

/// Item 8 (part): a deploy token keeps the username asked for (two tokens may share one, as in
/// GitLab), takes today's or an empty expiry, and answers GitLab's timestamps; the token
/// works under its username.
#[test]
fn deploy_tokens_keep_the_requested_username() {
    let (server, admin) = with_admin();
    let out = python_gitlab(&server, &admin, "deploy_token_fields");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("GROUP-TOKEN "))
        .unwrap();
    let index = format!("{}/simple/", server.project_api("ops/tools"));
    assert_eq!(get(&index, Some(&basic("bar", secret))).status, 200);
    assert_eq!(
        get(&index, Some(&basic("deploy-token-2", secret))).status,
        401
    );
}

/// Item 10: a POST's or PUT's query parameters count, merged with its body (the body wins).
#[test]
fn query_parameters_merge_with_the_body() {
    let (server, admin) = with_admin();
    python_gitlab(&server, &admin, "query_and_body");
    let changed = request(
        "GET",
        &server.url("/api/v4/projects/root%2Ffrom-query"),
        &[("PRIVATE-TOKEN", &admin)],
    );
    assert_eq!(changed.json()["description"], "via the query");
    // A form body (what `curl -d` sends) is read like a JSON one.
    let made = send(
        "POST",
        &server.url("/api/v4/projects?visibility=public"),
        &[
            ("PRIVATE-TOKEN", &admin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"name=Form+Made&description=typed+in+a+shell".to_vec(),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    assert_eq!(made["path"], "form-made");
    assert_eq!(made["description"], "typed in a shell");
    assert_eq!(made["visibility"], "public");
}
