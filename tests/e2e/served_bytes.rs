//! The bytes a group index serves under a filename never change, by the roads the moves
//! tests do not take (review of issue 20): a project made visible; the served file deleted,
//! replaced, or its project moved out of the group while a sibling holds other bytes under
//! the same filename (the group's record of the bytes it serves: `group_filenames`).

use crate::moves::{call, corp, publish, real_and_trojan, served_by};
use crate::support::{Server, sha256_hex};

/// mallory (a maintainer of `corp/sub`) makes `corp/sub/evil` and, after the release, puts
/// the trojan there under the released filename: allowed, since a sibling's upload does not
/// change what `corp` serves. Returns (server, alice, the real file, the trojan).
type File = (String, Vec<u8>);
fn released_with_a_trojan_beside() -> (Server, String, File, File) {
    let (server, alice, mallory) = corp("maintainer");
    let (real, trojan) = real_and_trojan();
    publish(&server, &alice, "corp/sub/real", &real);
    let sub = call(&server, &mallory, "GET", "/api/v4/groups/corp%2Fsub", "");
    let sub = sub.json()["id"].as_i64().unwrap();
    let body = format!(r#"{{"path": "evil", "namespace_id": {sub}}}"#);
    let r = call(&server, &mallory, "POST", "/api/v4/projects", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    publish(&server, &mallory, "corp/sub/evil", &trojan);
    for group in ["corp", "corp/sub"] {
        let (sha, _) = served_by(&server, &alice, group);
        assert_eq!(sha, sha256_hex(&real.1), "{group} serves the release");
    }
    (server, alice, real, trojan)
}

/// Whatever `group` lists for vpkg: no file, or the released bytes, never the trojan's.
fn never_the_trojan(server: &Server, alice: &str, group: &str, trojan: &File) {
    let url = format!("{}/simple/vpkg/", server.group_api(group));
    let page = crate::support::get(&url, Some(&crate::support::basic("__token__", alice)));
    assert!(
        !page.text().contains(&sha256_hex(&trojan.1)),
        "{group} now serves the trojan under the filename it served the release as: {}",
        page.text()
    );
}

/// alice deletes the release (a broken wheel), meaning to upload it again.
#[test]
fn deleting_the_served_file_does_not_serve_a_siblings_bytes() {
    let (server, alice, real, trojan) = released_with_a_trojan_beside();
    let packages = call(
        &server,
        &alice,
        "GET",
        "/api/v4/projects/corp%2Fsub%2Freal/packages",
        "",
    );
    let id = packages.json()[0]["id"].as_i64().unwrap();
    let path = format!("/api/v4/projects/corp%2Fsub%2Freal/packages/{id}");
    let deleted = call(&server, &alice, "DELETE", &path, "");
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    for group in ["corp", "corp/sub"] {
        never_the_trojan(&server, &alice, group, &trojan);
    }
    // The release back, with its own bytes (the only ones its name may come back with).
    publish(&server, &alice, "corp/sub/real", &real);
    for group in ["corp", "corp/sub"] {
        never_the_trojan(&server, &alice, group, &trojan);
    }
}

/// The project allows replacing files, and alice replaces the release with a fixed build.
#[test]
fn replacing_the_served_file_does_not_serve_a_siblings_bytes() {
    let (server, alice, _, trojan) = released_with_a_trojan_beside();
    server.cli(&[
        "project",
        "set",
        "corp/sub/real",
        "--allow-file-replace",
        "true",
    ]);
    let fixed = crate::support::wheel_described("vpkg", "2.0", &[], None, "# fixed\n");
    publish(&server, &alice, "corp/sub/real", &fixed);
    for group in ["corp", "corp/sub"] {
        never_the_trojan(&server, &alice, group, &trojan);
    }
}

/// alice moves the project to a group of its own: the groups it left serve no other bytes.
#[test]
fn moving_the_served_file_out_does_not_serve_a_siblings_bytes() {
    let (server, alice, _, trojan) = released_with_a_trojan_beside();
    server.cli(&["group", "add", "elsewhere", "--visibility", "private"]);
    server.cli(&["member", "add", "elsewhere", "alice", "--role", "owner"]);
    let r = call(
        &server,
        &alice,
        "PUT",
        "/api/v4/projects/corp%2Fsub%2Freal/transfer",
        r#"{"namespace": "elsewhere"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for group in ["corp", "corp/sub"] {
        never_the_trojan(&server, &alice, group, &trojan);
    }
}

/// Whether anonymous clients are served the trojan by `group`'s index.
fn anonymous_gets(server: &Server, group: &str, file: &File) -> bool {
    let url = format!("{}/simple/vpkg/", server.group_api(group));
    let page = crate::support::get(&url, None);
    assert!(matches!(page.status, 200 | 404), "{group}: {}", page.text());
    page.status == 200 && page.text().contains(&sha256_hex(&file.1))
}

/// mallory, a maintainer of the public `corp/sub`, puts the trojan under the release's
/// filename into a private project of a subgroup she makes, before the release: it enters the
/// root first. Anonymous clients cannot see it, and were served the release instead; then she
/// makes her subgroup and project public, and the index anonymous clients (pip on CI) use
/// changed its bytes under them. Which bytes a filename serves is decided among every project
/// of the group, readable or not: a caller who may not read the first is served none.
#[test]
fn making_a_project_visible_does_not_swap_what_a_group_index_serves() {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let mallory = server.user_with_token("mallory", "api");
    server.cli(&["group", "add", "corp", "--visibility", "public"]);
    server.cli(&["group", "add", "corp/sub", "--visibility", "public"]);
    server.cli(&["project", "add", "corp/sub/real", "--visibility", "public"]);
    server.cli(&["member", "add", "corp", "alice", "--role", "owner"]);
    server.cli(&[
        "member",
        "add",
        "corp/sub",
        "mallory",
        "--role",
        "maintainer",
    ]);
    let (real, trojan) = real_and_trojan();

    let sub = call(&server, &mallory, "GET", "/api/v4/groups/corp%2Fsub", "");
    let sub = sub.json()["id"].as_i64().unwrap();
    let body =
        format!(r#"{{"name": "mal", "path": "mal", "parent_id": {sub}, "visibility": "private"}}"#);
    let r = call(&server, &mallory, "POST", "/api/v4/groups", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let mal = r.json()["id"].as_i64().unwrap();
    let body = format!(r#"{{"path": "evil", "namespace_id": {mal}, "visibility": "private"}}"#);
    let r = call(&server, &mallory, "POST", "/api/v4/projects", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    publish(&server, &mallory, "corp/sub/mal/evil", &trojan);
    publish(&server, &alice, "corp/sub/real", &real);
    for group in ["corp", "corp/sub"] {
        assert!(!anonymous_gets(&server, group, &trojan), "{group}");
        assert!(
            !anonymous_gets(&server, group, &real),
            "{group}: not the next bytes"
        );
        let by_digest = format!(
            "{}/files/{}/{}",
            server.group_api(group),
            sha256_hex(&real.1),
            real.0
        );
        assert_eq!(crate::support::get(&by_digest, None).status, 404, "{group}");
    }

    // Those who may see everything are served the first bytes in the group, as always.
    for group in ["corp", "corp/sub"] {
        let (sha, _) = served_by(&server, &alice, group);
        assert_eq!(
            sha,
            sha256_hex(&trojan.1),
            "{group}: the first in the group"
        );
    }

    let public = r#"{"visibility": "public"}"#;
    let r = call(
        &server,
        &mallory,
        "PUT",
        "/api/v4/groups/corp%2Fsub%2Fmal",
        public,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let evil = "/api/v4/projects/corp%2Fsub%2Fmal%2Fevil";
    let r = call(&server, &mallory, "PUT", evil, public);
    assert_eq!(r.status, 200, "{}", r.text());
    // Anonymous clients now see what everyone else saw all along; they were never served
    // other bytes under that filename.
    for group in ["corp", "corp/sub"] {
        assert!(!anonymous_gets(&server, group, &real), "{group}");
    }
}
