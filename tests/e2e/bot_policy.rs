//! Access tokens' bots stay below their makers and inside their place (issue 20, items 1
//! and 7): a maintainer cannot rotate or revoke an owner-level token; a bot has no personal
//! tokens, joins no other place, creates no groups; every access token expires within the
//! maximum lifetime.

use serde_json::{Value, json};

use crate::support::{Response, Server, request, send};

/// An API call with a personal (or bot) token and an optional JSON body.
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let url = server.url(path);
    match body {
        Some(body) => send(
            method,
            &url,
            &[
                ("PRIVATE-TOKEN", token),
                ("Content-Type", "application/json"),
            ],
            serde_json::to_vec(&body).unwrap(),
        ),
        None => request(method, &url, &[("PRIVATE-TOKEN", token)]),
    }
}

/// Whether `token` still signs in on the API.
fn works(server: &Server, token: &str) -> bool {
    call(server, "GET", "/api/v4/user", token, None).status == 200
}

/// An access token of `place` (`projects/acme%2Fapp`, `groups/acme`) made by `maker` at
/// `level`: its id and secret.
pub fn access_token(server: &Server, maker: &str, place: &str, level: i64) -> (i64, String) {
    let path = format!("/api/v4/{place}/access_tokens");
    let body = json!({"name": "release", "scopes": ["api"], "access_level": level});
    let r = call(server, "POST", &path, maker, Some(body));
    assert_eq!(r.status, 201, "{}", r.text());
    let json = r.json();
    (
        json["id"].as_i64().unwrap(),
        json["token"].as_str().unwrap().to_owned(),
    )
}

/// `alice` owns the private group `acme` (with the project `acme/app`); `bob` maintains it.
fn world() -> (Server, String, String) {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    server.cli(&["member", "add", "acme", "bob", "--role", "maintainer"]);
    (server, alice, bob)
}

#[test]
fn a_maintainer_cannot_rotate_or_revoke_an_owner_level_token() {
    let (server, alice, bob) = world();
    for place in ["groups/acme", "projects/acme%2Fapp"] {
        let (id, secret) = access_token(&server, &alice, place, 50);
        let one = format!("/api/v4/{place}/access_tokens/{id}");
        let rotated = call(
            &server,
            "POST",
            &format!("{one}/rotate"),
            &bob,
            Some(json!({})),
        );
        assert_eq!(rotated.status, 403, "{place}: {}", rotated.text());
        assert!(rotated.text().contains("owner role"), "{}", rotated.text());
        assert!(rotated.json().get("token").is_none());
        let revoked = call(&server, "DELETE", &one, &bob, None);
        assert_eq!(revoked.status, 403, "{place}: {}", revoked.text());
        assert!(
            works(&server, &secret),
            "{place}: the owner's token still works"
        );

        // A maintainer-level token stays the maintainers' to manage.
        let (id, secret) = access_token(&server, &alice, place, 40);
        let mine = format!("/api/v4/{place}/access_tokens/{id}");
        let rotated = call(
            &server,
            "POST",
            &format!("{mine}/rotate"),
            &bob,
            Some(json!({})),
        );
        assert_eq!(rotated.status, 200, "{place}: {}", rotated.text());
        assert!(!works(&server, &secret));
        let successor = rotated.json()["id"].as_i64().unwrap();
        let gone = format!("/api/v4/{place}/access_tokens/{successor}");
        assert_eq!(call(&server, "DELETE", &gone, &bob, None).status, 204);

        // The owner may rotate the owner-level one.
        let rotated = call(
            &server,
            "POST",
            &format!("{one}/rotate"),
            &alice,
            Some(json!({})),
        );
        assert_eq!(rotated.status, 200, "{place}: {}", rotated.text());
        assert!(!works(&server, &secret));
        assert!(works(&server, rotated.json()["token"].as_str().unwrap()));
    }
}

#[test]
fn a_bot_has_no_personal_tokens() {
    let (server, alice, _) = world();
    let (_, bot) = access_token(&server, &alice, "projects/acme%2Fapp", 40);
    let bot_id = call(&server, "GET", "/api/v4/user", &bot, None).json()["id"]
        .as_i64()
        .unwrap();
    let far = json!({"expires_at": "9999-12-31"});
    for (method, path, body) in [
        (
            "POST",
            "/api/v4/personal_access_tokens/self/rotate",
            Some(far),
        ),
        ("DELETE", "/api/v4/personal_access_tokens/self", None),
        (
            "POST",
            "/api/v4/user/personal_access_tokens",
            Some(json!({"name": "x", "scopes": ["api"]})),
        ),
    ] {
        let r = call(&server, method, path, &bot, body);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert!(
            r.text().contains("a bot has no personal access tokens"),
            "{}",
            r.text()
        );
    }
    assert!(works(&server, &bot), "its token is untouched");
    // Not even an admin makes one beside the place's rules.
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    let path = format!("/api/v4/users/{bot_id}/personal_access_tokens");
    let r = call(
        &server,
        "POST",
        &path,
        &root,
        Some(json!({"name": "x", "scopes": ["api"]})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn a_bot_joins_no_other_place_and_creates_no_groups() {
    let (server, alice, _) = world();
    let carol = server.user_with_token("carol", "api");
    let own = call(
        &server,
        "POST",
        "/api/v4/projects",
        &carol,
        Some(json!({"path": "own", "visibility": "private"})),
    );
    assert_eq!(own.status, 201, "{}", own.text());
    let (_, bot) = access_token(&server, &alice, "groups/acme", 50);
    let me = call(&server, "GET", "/api/v4/user", &bot, None).json();
    let (bot_id, bot_name) = (me["id"].as_i64().unwrap(), me["username"].as_str().unwrap());

    // Another tenant cannot make the bot's token reach their project, by id or by name.
    let add = json!({"user_id": bot_id, "access_level": 30});
    let r = call(
        &server,
        "POST",
        "/api/v4/projects/carol%2Fown/members",
        &carol,
        Some(add),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("a bot is a member only of its own project or group")
    );
    let err = server.cli_fails(&[
        "member",
        "add",
        "carol/own",
        bot_name,
        "--role",
        "developer",
    ]);
    assert!(err.contains("a bot is a member only of its own"), "{err}");
    // Nor its own group's owner, on a project inside it.
    let add = json!({"user_id": bot_id, "access_level": 30});
    let r = call(
        &server,
        "POST",
        "/api/v4/projects/acme%2Fapp/members",
        &alice,
        Some(add),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = call(&server, "GET", "/api/v4/projects/carol%2Fown", &bot, None);
    assert_eq!(r.status, 404, "{}", r.text());

    // No groups, top-level or inside its home, and no personal projects.
    let group_id = call(&server, "GET", "/api/v4/groups/acme", &alice, None).json()["id"].clone();
    for body in [
        json!({"path": "botland"}),
        json!({"path": "sub", "parent_id": group_id}),
    ] {
        let r = call(&server, "POST", "/api/v4/groups", &bot, Some(body));
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(
            r.text().contains("a bot cannot create groups"),
            "{}",
            r.text()
        );
    }
    let r = call(
        &server,
        "POST",
        "/api/v4/projects",
        &bot,
        Some(json!({"path": "mine"})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("a bot has no personal namespace"),
        "{}",
        r.text()
    );
    // Nor a top-level group by moving a subgroup of its home out (the owner's road).
    server.cli(&["group", "add", "acme/team", "--visibility", "private"]);
    let r = call(
        &server,
        "POST",
        "/api/v4/groups/acme%2Fteam/transfer",
        &bot,
        Some(json!({})),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("a bot cannot create groups"),
        "{}",
        r.text()
    );
    // What its role allows in its home still works.
    let inside = json!({"path": "tool", "namespace_id": group_id});
    let r = call(&server, "POST", "/api/v4/projects", &bot, Some(inside));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn every_access_token_expires_within_the_maximum_lifetime() {
    let (server, alice, _) = world();
    let path = "/api/v4/projects/acme%2Fapp/access_tokens";
    let never = json!({"name": "n", "scopes": ["api"], "expires_at": "9999-12-31"});
    let r = call(&server, "POST", path, &alice, Some(never));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("365 days"), "{}", r.text());
    let r = call(
        &server,
        "POST",
        path,
        &alice,
        Some(json!({"name": "d", "scopes": ["api"]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let made = r.json();
    let expires = made["expires_at"]
        .as_str()
        .expect("always an expiry")
        .to_owned();
    let latest = (time::OffsetDateTime::now_utc() + time::Duration::days(366)).date();
    assert!(expires <= latest.to_string(), "{expires}");
    let id = made["id"].as_i64().unwrap();
    let rotate = format!("{path}/{id}/rotate");
    let r = call(
        &server,
        "POST",
        &rotate,
        &alice,
        Some(json!({"expires_at": "9999-12-31"})),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("365 days"), "{}", r.text());
    let r = call(&server, "POST", &rotate, &alice, Some(json!({})));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["expires_at"].is_string());
}

#[test]
fn the_maximum_lifetime_is_a_setting() {
    let server = Server::start_with(&["--max-access-token-lifetime-days", "30"]);
    let alice = server.user_with_token("alice", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    let day = |days: i64| (time::OffsetDateTime::now_utc() + time::Duration::days(days)).date();
    let path = "/api/v4/groups/acme/access_tokens";
    let body = |at: String| json!({"name": "n", "scopes": ["api"], "expires_at": at});
    let r = call(
        &server,
        "POST",
        path,
        &alice,
        Some(body(day(60).to_string())),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("30 days"), "{}", r.text());
    let r = call(
        &server,
        "POST",
        path,
        &alice,
        Some(body(day(20).to_string())),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Without a date: the maximum, when it is shorter than GitLab's year.
    let r = call(
        &server,
        "POST",
        path,
        &alice,
        Some(json!({"name": "d", "scopes": ["api"]})),
    );
    assert_eq!(
        r.json()["expires_at"].as_str(),
        Some(day(30).to_string().as_str())
    );
}
