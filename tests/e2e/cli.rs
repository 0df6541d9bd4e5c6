//! The command-line contract scripts rely on: output forms, errors, config precedence.

use crate::support::{BIN, Server, cli_output, get};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn provisioning_commands_print_secret_or_id_last() {
    let server = Server::start();
    let password = server.cli(&["user", "add", "alice", "--email", "a@example.org"]);
    assert!(password.len() >= 20, "{password}");
    let out = cli_output(
        server.data_dir(),
        &["user", "add", "bob", "--password-stdin"],
        Some("correct horse battery\n"),
    );
    assert!(out.status.success());
    let id = String::from_utf8(out.stdout).unwrap();
    assert!(id.trim().parse::<i64>().is_ok(), "{id}");

    let token = server.cli(&[
        "token",
        "add",
        "alice",
        "--name",
        "ci",
        "--scopes",
        "api,read_api",
        "--expires",
        "2999-01-01",
    ]);
    assert!(token.starts_with("whpat-"), "{token}");
    let group = server.cli(&["group", "add", "acme", "--visibility", "internal"]);
    assert!(group.parse::<i64>().is_ok());
    server.cli(&["group", "add", "acme/ml", "--visibility", "private"]);
    let project = server.cli(&[
        "project",
        "add",
        "acme/ml/models",
        "--visibility",
        "private",
    ]);
    assert!(project.parse::<i64>().is_ok());
    let personal = server.cli(&["project", "add", "alice/tools", "--visibility", "public"]);
    assert_ne!(project, personal);
    server.cli(&["member", "add", "acme", "alice", "--role", "developer"]);
    server.cli(&[
        "member",
        "add",
        "acme/ml/models",
        "bob",
        "--role",
        "reporter",
    ]);
    let deploy = server.cli(&[
        "deploy-token",
        "add",
        "acme/ml/models",
        "--name",
        "ci",
        "--scopes",
        "read_package_registry,write_package_registry",
    ]);
    let (username, secret) = deploy.split_once(' ').unwrap();
    assert!(
        username.starts_with("deploy-token-") && secret.starts_with("whdt-"),
        "{deploy}"
    );

    let users = server.cli(&["user", "list"]);
    assert!(users.contains("bob"), "{users}");
    let projects = server.cli(&["project", "list"]);
    assert!(projects.contains("alice/tools"), "{projects}");
    let members = server.cli(&["member", "list", "acme/ml/models"]);
    assert_eq!(members, "bob\treporter");
    let tokens = server.cli(&["token", "list", "alice"]);
    assert!(
        tokens.contains("api,read_api") && tokens.contains("active"),
        "{tokens}"
    );
    let token_id = tokens.split('\t').next().unwrap().to_string();
    server.cli(&["token", "revoke", &token_id]);
    assert!(server.cli(&["token", "list", "alice"]).contains("revoked"));
    server.cli(&["member", "remove", "acme/ml/models", "bob"]);
    server.cli(&["deploy-token", "revoke", "1"]);
    assert!(
        server
            .cli(&["deploy-token", "list", "acme/ml/models"])
            .contains("revoked")
    );
}

#[test]
fn provisioning_errors_are_clear_and_non_zero() {
    let server = Server::start();
    server.cli(&["user", "add", "alice"]);
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["token", "add", "nobody", "--name", "x", "--scopes", "api"],
            "no user named \"nobody\"",
        ),
        (
            &["token", "add", "alice", "--name", "x", "--scopes", "sudo"],
            "unknown scope",
        ),
        (
            &[
                "token",
                "add",
                "alice",
                "--name",
                "x",
                "--scopes",
                "api",
                "--expires",
                "2001-01-01",
            ],
            "not in the future",
        ),
        (
            &[
                "token",
                "add",
                "alice",
                "--name",
                "x",
                "--scopes",
                "api",
                "--expires",
                "soon",
            ],
            "YYYY-MM-DD",
        ),
        (&["user", "add", "alice"], "already exists"),
        (&["user", "add", "-bad"], "unexpected argument"),
        (&["user", "add", "bad/name"], "not a valid username"),
        (&["group", "add", "acme"], "already taken"),
        (&["group", "add", "alice"], "already taken"),
        (
            &["group", "add", "nope/sub"],
            "no group or user named \"nope\"",
        ),
        (&["group", "add", "alice/sub"], "is a user, not a group"),
        (
            &["group", "add", "x", "--visibility", "secret"],
            "unknown visibility",
        ),
        (&["project", "add", "lonely"], "needs a namespace"),
        (&["project", "add", "nope/p"], "no group or user named"),
        (
            &["member", "add", "acme", "alice", "--role", "boss"],
            "unknown role",
        ),
        (
            &["member", "add", "nowhere", "alice", "--role", "guest"],
            "no group or project at",
        ),
        (
            &[
                "deploy-token",
                "add",
                "acme",
                "--name",
                "d",
                "--scopes",
                "api",
            ],
            "package_registry",
        ),
        (
            &["token", "revoke", "999"],
            "no personal access token with id 999",
        ),
        (&["group", "remove", "missing"], "no group or project"),
    ];
    for (args, expected) in cases {
        let stderr = server.cli_fails(args);
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr:?}"
        );
    }
    // A private group cannot hold a public project.
    server.cli(&["group", "add", "secret", "--visibility", "private"]);
    assert!(
        server
            .cli_fails(&["project", "add", "secret/p", "--visibility", "public"])
            .contains("cannot live in")
    );
    // A group that still holds a project is not removed.
    server.cli(&["project", "add", "acme/app", "--visibility", "public"]);
    assert!(
        server
            .cli_fails(&["group", "remove", "acme"])
            .contains("remove them first")
    );
    server.cli(&["project", "remove", "acme/app"]);
    server.cli(&["group", "remove", "acme"]);
}

#[test]
fn commands_take_effect_on_a_running_server() {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/p", "--visibility", "private"]);
    let token = server.user_with_token("carol", "read_api");
    let auth = crate::support::basic("__token__", &token);
    let url = format!("{}/simple/", server.project_api("g/p"));
    assert_eq!(get(&url, Some(&auth)).status, 404);
    server.cli(&["member", "add", "g", "carol", "--role", "guest"]);
    assert_eq!(get(&url, Some(&auth)).status, 200);
    server.cli(&["user", "block", "carol"]);
    assert_eq!(get(&url, Some(&auth)).status, 401);
}

#[test]
fn first_start_creates_admin_and_config_sources_apply() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wheelhouse.toml");
    let data = dir.path().join("from-config");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\nmax_upload_size = \"10MiB\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("Created the first user \"admin\" with the password: "),
        "{first}"
    );
    let second = lines.next().unwrap().unwrap();
    assert!(second.contains("user passwd admin"), "{second}");
    let listening = lines.next().unwrap().unwrap();
    assert!(listening.contains("from-config"), "{listening}");
    let base = listening
        .strip_prefix("Wheelhouse listening on ")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(get(&format!("{base}/-/health"), None).status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(data.join("wheelhouse.db").exists());

    // The environment overrides the file; the admin is created only once.
    let other = dir.path().join("from-env");
    let out = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "user", "list"])
        .env("WHEELHOUSE_DATA_DIR", &other)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(other.join("wheelhouse.db").exists());

    std::fs::write(&config, "lisen = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
}
