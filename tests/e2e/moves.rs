//! Files and groups that arrive by a side door (a project or group transfer, an import) obey
//! the rules of an upload into the place they reach: the bytes a group index serves for a
//! filename never change, and no top-level path is taken that the server's own pages answer.

use crate::support::{
    Response, Server, basic, dist_dir, get, request, send, sha256_hex, upload, wheel_described,
};

/// The real `vpkg 2.0` and a trojan under the very same filename.
pub fn real_and_trojan() -> ((String, Vec<u8>), (String, Vec<u8>)) {
    let real = wheel_described("vpkg", "2.0", &[], None, "# The real vpkg\n");
    let trojan = wheel_described("vpkg", "2.0", &[], None, "# import os; steal()\n");
    assert_eq!(real.0, trojan.0, "one filename");
    assert_ne!(real.1, trojan.1, "two contents");
    (real, trojan)
}

/// `corp` (private, owned by alice) with the subgroup `corp/sub` and its project
/// `corp/sub/real`; mallory is in `corp/sub` with `role`. Returns (server, alice, mallory).
pub fn corp(role: &str) -> (Server, String, String) {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let mallory = server.user_with_token("mallory", "api");
    server.cli(&["group", "add", "corp", "--visibility", "private"]);
    server.cli(&["group", "add", "corp/sub", "--visibility", "private"]);
    server.cli(&["project", "add", "corp/sub/real", "--visibility", "private"]);
    server.cli(&["member", "add", "corp", "alice", "--role", "owner"]);
    server.cli(&["member", "add", "corp/sub", "mallory", "--role", role]);
    (server, alice, mallory)
}

pub fn call(server: &Server, token: &str, method: &str, path: &str, body: &str) -> Response {
    send(
        method,
        &server.url(path),
        &[
            ("Content-Type", "application/json"),
            ("PRIVATE-TOKEN", token),
        ],
        body.as_bytes().to_vec(),
    )
}

pub fn publish(server: &Server, token: &str, project: &str, file: &(String, Vec<u8>)) {
    let auth = basic("__token__", token);
    let api = server.project_api(project);
    let r = upload(&api, Some(&auth), "vpkg", "2.0", &file.0, &file.1, &[]);
    assert_eq!(r.status, 201, "{project}: {}", r.text());
}

/// What the group index `group` serves for vpkg's one file: the sha256 its page lists, and
/// the bytes its download link gives.
pub fn served_by(server: &Server, token: &str, group: &str) -> (String, Vec<u8>) {
    let auth = basic("__token__", token);
    let api = server.group_api(group);
    let page = request(
        "GET",
        &format!("{api}/simple/vpkg/"),
        &[
            ("Authorization", &auth),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    assert_eq!(page.status, 200, "{group}: {}", page.text());
    let page = page.json();
    let files = page["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "one filename, listed once: {page}");
    let sha = files[0]["hashes"]["sha256"].as_str().unwrap().to_owned();
    let filename = files[0]["filename"].as_str().unwrap();
    let file = get(&format!("{api}/files/{sha}/{filename}"), Some(&auth));
    assert_eq!(file.status, 200, "{group}: {}", file.text());
    (sha, file.body)
}

/// The root's and the subgroup's index serve the real bytes, and the trojan's digest is no
/// way to its bytes there.
fn still_real(server: &Server, alice: &str, real: &(String, Vec<u8>), trojan: &(String, Vec<u8>)) {
    for group in ["corp", "corp/sub"] {
        let (sha, bytes) = served_by(server, alice, group);
        assert_eq!(sha, sha256_hex(&real.1), "{group} lists the real digest");
        assert_eq!(
            sha256_hex(&bytes),
            sha256_hex(&real.1),
            "{group} serves the real bytes"
        );
        let by_trojan_digest = get(
            &format!(
                "{}/files/{}/{}",
                server.group_api(group),
                sha256_hex(&trojan.1),
                trojan.0
            ),
            Some(&basic("__token__", alice)),
        );
        assert_eq!(by_trojan_digest.status, 404, "{group}");
    }
}

#[test]
fn a_project_moved_into_a_group_cannot_swap_a_served_filename() {
    let (server, alice, mallory) = corp("maintainer");
    let (real, trojan) = real_and_trojan();
    // The insider prepares the trojan in a private project of her own, *before* the release.
    let r = call(
        &server,
        &mallory,
        "POST",
        "/api/v4/projects",
        r#"{"path": "personal", "visibility": "private"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    publish(&server, &mallory, "mallory/personal", &trojan);
    publish(&server, &alice, "corp/sub/real", &real);
    still_real(&server, &alice, &real, &trojan);

    let r = call(
        &server,
        &mallory,
        "PUT",
        "/api/v4/projects/mallory%2Fpersonal/transfer",
        r#"{"namespace": "corp/sub"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    still_real(&server, &alice, &real, &trojan);
    // The moved project keeps its own file, with its own upload time, on its own index.
    let own = get(
        &format!(
            "{}/files/{}/{}",
            server.project_api("corp/sub/personal"),
            sha256_hex(&trojan.1),
            trojan.0
        ),
        Some(&basic("__token__", &alice)),
    );
    assert_eq!(own.status, 200);
}

#[test]
fn a_group_moved_into_a_group_cannot_swap_a_served_filename() {
    let (server, alice, mallory) = corp("owner");
    let (real, trojan) = real_and_trojan();
    let r = call(
        &server,
        &mallory,
        "POST",
        "/api/v4/groups",
        r#"{"name": "mal", "path": "mal", "visibility": "private"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let mal = r.json()["id"].as_i64().unwrap();
    let r = call(
        &server,
        &mallory,
        "POST",
        "/api/v4/projects",
        &format!(r#"{{"path": "tools", "namespace_id": {mal}}}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    publish(&server, &mallory, "mal/tools", &trojan);
    publish(&server, &alice, "corp/sub/real", &real);

    let r = call(
        &server,
        &mallory,
        "POST",
        "/api/v4/groups/mal/transfer",
        r#"{"group_id": "corp/sub"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["full_path"], "corp/sub/mal");
    still_real(&server, &alice, &real, &trojan);
    // What moved keeps its own order: its own index serves what it served before.
    let (sha, _) = served_by(&server, &alice, "corp/sub/mal");
    assert_eq!(sha, sha256_hex(&trojan.1));
}

#[test]
fn an_import_with_an_old_time_cannot_swap_a_served_filename() {
    let (server, alice, _) = corp("maintainer");
    let (real, trojan) = real_and_trojan();
    publish(&server, &alice, "corp/sub/real", &real);
    // A folder whose file says it was uploaded in 2001 (pypiserver's time is the mtime).
    let folder = dist_dir(std::slice::from_ref(&trojan));
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(folder.path().join(&trojan.0))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = server.cli(&[
        "import",
        folder.path().to_str().unwrap(),
        "--project",
        "corp/sub/imported",
    ]);
    assert!(out.contains("imported 1"), "{out}");
    still_real(&server, &alice, &real, &trojan);
    // The old time is still what clients are shown as the upload time (PEP 700).
    let page = request(
        "GET",
        &format!("{}/simple/vpkg/", server.project_api("corp/sub/imported")),
        &[
            ("Authorization", &basic("__token__", &alice)),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    )
    .json();
    let shown = page["files"][0]["upload-time"].as_str().unwrap().to_owned();
    assert!(shown.starts_with("2001-09-09T"), "{shown}");
}

#[test]
fn a_subgroup_cannot_take_a_reserved_top_level_path_by_transfer() {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    for reserved in ["api", "explore", "_", "users"] {
        server.cli(&["group", "add", &format!("acme/{reserved}")]);
        let r = call(
            &server,
            &alice,
            "POST",
            &format!("/api/v4/groups/acme%2F{reserved}/transfer"),
            "",
        );
        assert_eq!(r.status, 400, "{reserved}: {}", r.text());
        let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(
            message.contains(&format!("\"{reserved}\" is reserved")),
            "{reserved}: {message}"
        );
        // Still where it was.
        let r = call(
            &server,
            &alice,
            "GET",
            &format!("/api/v4/groups/acme%2F{reserved}"),
            "",
        );
        assert_eq!(r.status, 200, "{reserved}: {}", r.text());
        let r = call(
            &server,
            &alice,
            "GET",
            &format!("/api/v4/groups/{reserved}"),
            "",
        );
        assert_eq!(r.status, 404, "{reserved}: {}", r.text());
    }
    // Any other path still goes to the top level.
    server.cli(&["group", "add", "acme/team"]);
    let r = call(
        &server,
        &alice,
        "POST",
        "/api/v4/groups/acme%2Fteam/transfer",
        "",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["full_path"], "team");
}

/// Within one root a move brings files into subgroups they were not in: a subgroup whose
/// index serves a filename keeps serving its bytes, whatever entered the root earlier, and the
/// root's own index is unchanged.
#[test]
fn a_move_within_a_root_cannot_swap_what_a_subgroup_serves() {
    let (server, alice, mallory) = corp("owner");
    let (real, trojan) = real_and_trojan();
    server.cli(&["group", "add", "corp/other", "--visibility", "private"]);
    server.cli(&[
        "group",
        "add",
        "corp/other/inner",
        "--visibility",
        "private",
    ]);
    for project in ["corp/other/prep", "corp/other/inner/prep2"] {
        server.cli(&["project", "add", project, "--visibility", "private"]);
    }
    server.cli(&["member", "add", "corp/other", "mallory", "--role", "owner"]);
    // Earlier in the root than the release, so the root's own index serves the trojan.
    publish(&server, &mallory, "corp/other/prep", &trojan);
    publish(&server, &mallory, "corp/other/inner/prep2", &trojan);
    publish(&server, &alice, "corp/sub/real", &real);
    let sub_before = served_by(&server, &alice, "corp/sub");
    let root_before = served_by(&server, &alice, "corp");
    assert_eq!(sub_before.0, sha256_hex(&real.1));

    for (method, path, body) in [
        (
            "PUT",
            "/api/v4/projects/corp%2Fother%2Fprep/transfer",
            r#"{"namespace": "corp/sub"}"#,
        ),
        (
            "POST",
            "/api/v4/groups/corp%2Fother%2Finner/transfer",
            r#"{"group_id": "corp/sub"}"#,
        ),
    ] {
        let r = call(&server, &mallory, method, path, body);
        assert!(matches!(r.status, 200 | 201), "{path}: {}", r.text());
        assert_eq!(served_by(&server, &alice, "corp/sub"), sub_before, "{path}");
        assert_eq!(served_by(&server, &alice, "corp"), root_before, "{path}");
    }
    // The moved group's own index still serves what it served.
    let inner = served_by(&server, &mallory, "corp/sub/inner");
    assert_eq!(inner.0, sha256_hex(&trojan.1));
}
