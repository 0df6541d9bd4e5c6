//! Project and group access tokens (GitLab's bot tokens): made, listed, rotated and revoked
//! through python-gitlab, used by twine and pip for their own project and nothing else.

use std::process::Command;

use crate::support::{
    Server, basic, client, dist_dir, get, post, python_tools, request, run_ok, upload, wheel,
    with_credentials,
};

fn world() -> (Server, [String; 3]) {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    let dave = server.user_with_token("dave", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/other", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    server.cli(&["member", "add", "acme/app", "bob", "--role", "maintainer"]);
    server.cli(&["member", "add", "acme/app", "dave", "--role", "developer"]);
    (server, [alice, bob, dave])
}

/// Whether the web sign-in form lets `username` in with `password` (a 303 to a page).
fn signs_in(server: &Server, username: &str, password: &str) -> bool {
    let page = get(&server.url("/users/sign_in"), None);
    let cookie = page
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .find(|c| !c.ends_with('='))
        .unwrap_or_default();
    let text = page.text();
    let marker = "name=\"csrf_token\" value=\"";
    let at = text.find(marker).expect("a CSRF token") + marker.len();
    let csrf = &text[at..at + text[at..].find('"').unwrap()];
    let body = serde_urlencoded::to_string([
        ("csrf_token", csrf),
        ("username", username),
        ("password", password),
    ])
    .unwrap();
    let answer = post(
        &server.url("/users/sign_in"),
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.into_bytes(),
    );
    answer.status == 303
}

#[test]
fn a_project_token_publishes_and_installs_there_and_nowhere_else() {
    let (server, [alice, bob, dave]) = world();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/check_access_tokens.py"
    );
    let out = run_ok(Command::new(python_tools().join("python")).args([
        script,
        &server.url(""),
        &alice,
        &bob,
        &dave,
    ]));
    assert!(out.trim_end().ends_with("ok"), "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("publish "))
        .expect("the publishing token")
        .to_owned();

    // twine and pip with the bot's token (any username) in its own project.
    let dists = dist_dir(&[wheel("bot-made", "1.0", &[])]);
    let files: Vec<_> = std::fs::read_dir(dists.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let api = server.project_api("acme/app");
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive", "--disable-progress-bar"])
            .args(["--repository-url", &api, "-u", "ci-bot", "-p", &secret])
            .args(&files),
    );
    let target = tempfile::tempdir().unwrap();
    let index = with_credentials(&format!("{api}/simple"), "anything", &secret);
    let out = run_ok(
        client("pip")
            .args(["install", "--no-cache-dir", "--target"])
            .arg(target.path())
            .args(["--index-url", &index, "bot-made"]),
    );
    assert!(out.contains("Successfully installed"), "{out}");

    // Another private project of the same group: neither read nor written.
    let auth = basic("ci-bot", &secret);
    let other = server.project_api("acme/other");
    assert_eq!(get(&format!("{other}/simple/"), Some(&auth)).status, 404);
    let (filename, bytes) = wheel("bot-made", "2.0", &[]);
    let r = upload(
        &other,
        Some(&auth),
        "bot-made",
        "2.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(r.status, 404, "{}", r.text());

    // The bot has no password: the web sign-in never lets it in.
    let members = request(
        "GET",
        &server.url("/api/v4/projects/acme%2Fapp/members"),
        &[("PRIVATE-TOKEN", &alice)],
    )
    .json();
    let bots: Vec<String> = members
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["username"].as_str())
        .filter(|u| u.starts_with("project_"))
        .map(str::to_owned)
        .collect();
    assert!(!bots.is_empty(), "{members}");
    for bot in &bots {
        for password in ["!", "", &secret] {
            assert!(!signs_in(&server, bot, password), "{bot} signed in");
        }
    }

    // Deleting the project deletes its bots, and their tokens stop.
    let r = crate::support::send(
        "DELETE",
        &server.url("/api/v4/projects/acme%2Fapp"),
        &[("PRIVATE-TOKEN", &alice)],
        Vec::new(),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let me = request(
        "GET",
        &server.url("/api/v4/user"),
        &[("PRIVATE-TOKEN", &secret)],
    );
    assert_eq!(me.status, 401, "{}", me.text());
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM users WHERE bot_project_id IS NOT NULL OR username LIKE 'project_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}
