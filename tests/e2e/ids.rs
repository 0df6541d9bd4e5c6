//! Ids are never reused: a pip.conf or CI job naming `/projects/8/` must never start reading or
//! publishing to another team's project after project 8 is deleted.

use crate::support::{Server, get, post, request};

fn create(server: &Server, token: &str, path: &str, body: String) -> i64 {
    let made = post(
        &server.url(path),
        &[
            ("PRIVATE-TOKEN", token),
            ("Content-Type", "application/json"),
        ],
        body.into_bytes(),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    made.json()["id"].as_i64().unwrap()
}

#[test]
fn a_deleted_id_is_never_handed_out_again() {
    let server = Server::start();
    server.cli(&["user", "add", "root", "--admin"]);
    let root = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);

    // The newest project, user and group are deleted: a plain INTEGER PRIMARY KEY would give
    // the next one the same id.
    for (collection, first, second) in [
        (
            "/api/v4/projects",
            r#"{"path":"first","visibility":"private"}"#,
            r#"{"path":"second","visibility":"private"}"#,
        ),
        (
            "/api/v4/groups",
            r#"{"path":"team-a","name":"team-a"}"#,
            r#"{"path":"team-b","name":"team-b"}"#,
        ),
        (
            "/api/v4/users",
            r#"{"username":"old","email":"old@example.com","password":"correct horse 1"}"#,
            r#"{"username":"new","email":"new@example.com","password":"correct horse 2"}"#,
        ),
    ] {
        let old = create(&server, &root, collection, first.to_owned());
        let gone = request(
            "DELETE",
            &server.url(&format!("{collection}/{old}")),
            &[("PRIVATE-TOKEN", &root)],
        );
        assert!(
            (200..300).contains(&gone.status),
            "{collection}/{old}: {} {}",
            gone.status,
            gone.text()
        );
        let new = create(&server, &root, collection, second.to_owned());
        assert!(
            new > old,
            "{collection}: the deleted id {old} was handed out again"
        );
        let stale = get(
            &server.url(&format!("{collection}/{old}")),
            Some(&crate::support::basic("root", &root)),
        );
        assert_eq!(stale.status, 404, "{collection}/{old}: {}", stale.text());
    }

    // The index URL of the deleted project answers 404 too, never another project's packages.
    let old = create(
        &server,
        &root,
        "/api/v4/projects",
        r#"{"path":"third","visibility":"public"}"#.to_owned(),
    );
    let gone = request(
        "DELETE",
        &server.url(&format!("/api/v4/projects/{old}")),
        &[("PRIVATE-TOKEN", &root)],
    );
    assert!((200..300).contains(&gone.status), "{}", gone.text());
    create(
        &server,
        &root,
        "/api/v4/projects",
        r#"{"path":"fourth","visibility":"public"}"#.to_owned(),
    );
    let index = get(
        &server.url(&format!("/api/v4/projects/{old}/packages/pypi/simple/")),
        Some(&crate::support::basic("root", &root)),
    );
    assert_eq!(index.status, 404, "{}", index.text());
}

#[test]
fn a_database_from_the_first_release_keeps_its_ids_through_the_upgrade() {
    let holder = tempfile::tempdir().unwrap();
    let data_dir = holder.path().to_path_buf();
    let secret = "glpat-written-by-release-one";
    {
        let db = rusqlite::Connection::open(data_dir.join("wheelhouse.db")).unwrap();
        db.execute_batch(include_str!("../fixtures/schema-v1.sql"))
            .unwrap();
        db.execute_batch(&format!(
            "INSERT INTO users VALUES (1, 'root', NULL, '$argon2id$unused', 1, 0, 0);
             INSERT INTO namespaces VALUES (1, 'user', 'root', 'root', NULL, 1, 'private', 0);
             INSERT INTO namespaces VALUES (2, 'group', 'acme', 'acme', NULL, NULL, 'public', 0);
             INSERT INTO projects VALUES (7, 2, 'tools', 'acme/tools', 'public', 0, 0);
             INSERT INTO projects VALUES (8, 2, 'models', 'acme/models', 'public', 0, 0);
             INSERT INTO members VALUES (1, 1, 2, NULL, 50, 0);
             INSERT INTO personal_access_tokens
                 VALUES (5, 1, 'old', '{}', 'api', NULL, NULL, NULL, 0);",
            crate::support::sha256_hex(secret.as_bytes())
        ))
        .unwrap();
    }
    let server = Server::start_in(holder, &data_dir);
    let auth = [("PRIVATE-TOKEN", secret)];
    for (id, path) in [(7, "acme/tools"), (8, "acme/models")] {
        let project = request("GET", &server.url(&format!("/api/v4/projects/{id}")), &auth);
        assert_eq!(project.status, 200, "{}", project.text());
        assert_eq!(project.json()["path_with_namespace"], path);
    }
    let gone = request("DELETE", &server.url("/api/v4/projects/8"), &auth);
    assert!((200..300).contains(&gone.status), "{}", gone.text());
    let new = create(
        &server,
        secret,
        "/api/v4/projects",
        r#"{"path":"next","namespace_id":2}"#.to_owned(),
    );
    assert!(new > 8, "the upgraded database handed out id {new} again");
    let stale = request("GET", &server.url("/api/v4/projects/8"), &auth);
    assert_eq!(stale.status, 404, "{}", stale.text());
}
