//! Endpoints python-gitlab scripts need that issue 11 found missing: one member, one deploy
//! token, descendant groups, namespaces, HEAD of the API's GET routes, `sudo`; each also asked
//! by a stranger.

use std::process::Command;

use crate::support::{Server, python_tools, request, run_ok};

/// A fresh server with the admin `root`; returns its `api` token.
fn with_admin() -> (Server, String) {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "admin", "--scopes", "api"]);
    (server, admin)
}

/// Runs one check of check_gitlab_endpoints.py on a fresh server.
fn python_gitlab(check: &str) -> (Server, String) {
    let (server, admin) = with_admin();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/check_gitlab_endpoints.py"
    );
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        check,
        &server.base,
        &admin,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
    (server, admin)
}

/// Item 6: `GET …/members/:user_id` and `…/members/all/:user_id`.
#[test]
fn one_member_of_a_project_or_group() {
    python_gitlab("member_get");
}

/// Item 8: `GET …/deploy_tokens/:token_id`.
#[test]
fn one_deploy_token_of_a_project_or_group() {
    python_gitlab("deploy_token_get");
}

/// Item 9: `GET /groups/:id/descendant_groups`.
#[test]
fn descendant_groups_at_any_depth() {
    python_gitlab("descendant_groups");
}

/// `/namespaces`, `/namespaces/:id` and `/namespaces/:id/exists`.
#[test]
fn namespaces_for_finding_a_namespace_id() {
    python_gitlab("namespaces");
}

/// `/users/:id/projects`, `/users/:id/memberships` and `/projects/:id/groups`.
#[test]
fn what_belongs_to_whom() {
    python_gitlab("relations");
}

/// `sudo`: an admin acts as another user; a non-admin is refused (403), never served as
/// themselves.
#[test]
fn sudo_acts_as_for_admins_only() {
    python_gitlab("sudo");
}

/// Item 7: HEAD answers every GET route of the API with the same status and headers and no
/// body.
#[test]
fn head_answers_the_api_get_routes() {
    let (server, admin) = python_gitlab("head_requests");
    let auth = [("PRIVATE-TOKEN", admin.as_str())];
    for path in [
        "/api/v4/projects",
        "/api/v4/projects/acme%2Fml%2Fmodels",
        "/api/v4/user",
    ] {
        let url = server.url(path);
        let (got, head) = (request("GET", &url, &auth), request("HEAD", &url, &auth));
        assert_eq!((got.status, head.status), (200, 200), "{path}");
        assert!(head.body.is_empty(), "{path}: {}", head.text());
        for name in ["content-type", "x-total", "x-page", "link"] {
            assert_eq!(got.header(name), head.header(name), "{path}: {name}");
        }
    }
    let missing = request("HEAD", &server.url("/api/v4/projects/999"), &auth);
    assert_eq!(missing.status, 404);
}
