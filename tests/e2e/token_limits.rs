//! Tokens and bots are a bounded, per-tenant resource (issue 20, item 4): live access tokens
//! per project and group are capped, one user makes a bounded number of tokens a minute, and
//! user lookups never list bots, however many there are.

use serde_json::json;

use crate::bot_policy::{access_token, call};
use crate::support::Server;

/// `alice` owns the group `acme` and its project `acme/app`; `bob` owns `bobs`.
fn world(extra: &[&str]) -> (Server, String, String) {
    let server = Server::start_with(extra);
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    server.cli(&["group", "add", "bobs", "--visibility", "private"]);
    server.cli(&["member", "add", "bobs", "bob", "--role", "owner"]);
    (server, alice, bob)
}

#[test]
fn live_access_tokens_per_place_are_capped() {
    let (server, alice, bob) = world(&["--max-access-tokens-per-place", "2"]);
    let project = "projects/acme%2Fapp";
    let (first, _) = access_token(&server, &alice, project, 30);
    access_token(&server, &alice, project, 30);
    let path = format!("/api/v4/{project}/access_tokens");
    let body = json!({"name": "third", "scopes": ["api"], "access_level": 30});
    let r = call(&server, "POST", &path, &alice, Some(body.clone()));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("max_access_tokens_per_place = 2"),
        "{}",
        r.text()
    );
    // Each place has its own: the group above and another tenant's group are not full.
    access_token(&server, &alice, "groups/acme", 30);
    access_token(&server, &bob, "groups/bobs", 30);
    access_token(&server, &bob, "groups/bobs", 30);
    let r = call(
        &server,
        "POST",
        "/api/v4/groups/bobs/access_tokens",
        &bob,
        Some(body.clone()),
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // Revoked tokens do not count.
    let one = format!("{path}/{first}");
    assert_eq!(call(&server, "DELETE", &one, &alice, None).status, 204);
    let r = call(&server, "POST", &path, &alice, Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn token_creation_is_rate_limited_per_user() {
    let (server, alice, bob) = world(&["--max-token-creations-per-minute", "3"]);
    let personal = json!({"name": "p", "scopes": ["read_api"]});
    let r = call(
        &server,
        "POST",
        "/api/v4/user/personal_access_tokens",
        &alice,
        Some(personal.clone()),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (id, _) = access_token(&server, &alice, "projects/acme%2Fapp", 30);
    let rotate = format!("/api/v4/projects/acme%2Fapp/access_tokens/{id}/rotate");
    let r = call(&server, "POST", &rotate, &alice, Some(json!({})));
    assert_eq!(r.status, 200, "{}", r.text());
    // The fourth token of the minute, of any kind, waits.
    let group = json!({"name": "g", "scopes": ["api"], "access_level": 30});
    for (path, body) in [
        ("/api/v4/groups/acme/access_tokens", group),
        ("/api/v4/user/personal_access_tokens", personal.clone()),
    ] {
        let r = call(&server, "POST", path, &alice, Some(body));
        assert_eq!(r.status, 429, "{path}: {}", r.text());
        let wait: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            r.text().contains("max_token_creations_per_minute"),
            "{}",
            r.text()
        );
    }
    // Nothing was made by the refused calls.
    let listed = call(
        &server,
        "GET",
        "/api/v4/groups/acme/access_tokens",
        &alice,
        None,
    );
    assert_eq!(listed.json().as_array().unwrap().len(), 0);
    // Another user is not slowed, nor is the operator's command line.
    let r = call(
        &server,
        "POST",
        "/api/v4/user/personal_access_tokens",
        &bob,
        Some(personal),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    for n in 0..4 {
        server.cli(&[
            "token",
            "add",
            "alice",
            "--name",
            &format!("cli{n}"),
            "--scopes",
            "api",
        ]);
    }
}

#[test]
fn user_lookups_never_list_bots() {
    let (server, alice, bob) = world(&[]);
    let mut bots = Vec::new();
    for _ in 0..5 {
        let (_, secret) = access_token(&server, &alice, "projects/acme%2Fapp", 30);
        let me = call(&server, "GET", "/api/v4/user", &secret, None).json();
        bots.push(me["username"].as_str().unwrap().to_owned());
    }
    let names = |path: &str| -> (Vec<String>, Option<String>) {
        let r = call(&server, "GET", path, &bob, None);
        assert_eq!(r.status, 200, "{}", r.text());
        let total = r.header("x-total").map(str::to_owned);
        let listed = r.json();
        let listed = listed.as_array().unwrap().iter();
        let usernames = listed.map(|u| u["username"].as_str().unwrap().to_owned());
        (usernames.collect(), total)
    };
    assert_eq!(names("/api/v4/users?username=ALICE").0, ["alice"]);
    let bot = &bots[0];
    assert!(names(&format!("/api/v4/users?username={bot}")).0.is_empty());
    assert!(names("/api/v4/users?search=bot").0.is_empty());
    assert_eq!(names("/api/v4/users?search=LIC").0, ["alice"]);
    // Every person, no bot, and the total counts people only.
    let (all, total) = names("/api/v4/users?per_page=100");
    assert_eq!(all, ["admin", "alice", "bob"]);
    assert_eq!(total.as_deref(), Some("3"));
    // Pages are cut after the bots are left out.
    let (second, total) = names("/api/v4/users?per_page=1&page=2");
    assert_eq!(
        (second, total.as_deref()),
        (vec!["alice".to_owned()], Some("3"))
    );
    // Blocked people are for admins; admins see bots too.
    server.cli(&["user", "block", "bob"]);
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    let r = call(
        &server,
        "GET",
        &format!("/api/v4/users?username={bot}"),
        &root,
        None,
    );
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.text());
    let r = call(&server, "GET", "/api/v4/users?blocked=true", &root, None);
    assert_eq!(r.json()[0]["username"], "bob", "{}", r.text());
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.text());
    let r = call(&server, "GET", "/api/v4/users?username=bob", &alice, None);
    assert_eq!(r.json().as_array().unwrap().len(), 0, "{}", r.text());
}
