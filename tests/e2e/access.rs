//! The 401/403/404 matrix of the spec over every route, for every kind of caller.

use crate::support::{Server, basic, get, request, upload, wheel};

/// (read status, upload status) for a public, an internal and a private project.
type Expect = [(u16, u16); 3];

struct World {
    server: Server,
    /// (caller label, Authorization header or None, expectations)
    callers: Vec<(&'static str, Option<String>, Expect)>,
    /// For each project (pub, int, priv): path, sha256 and filename of its one file.
    files: Vec<(String, String, String)>,
}

fn world() -> World {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    for (path, vis) in [
        ("g/pub", "public"),
        ("g/int", "internal"),
        ("g/priv", "private"),
        ("g/other", "private"),
    ] {
        server.cli(&["project", "add", path, "--visibility", vis]);
    }
    server.cli(&["user", "add", "root", "--admin"]);
    let admin = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    let mut tokens = std::collections::HashMap::new();
    for (user, role) in [
        ("dev", Some("developer")),
        ("rep", Some("reporter")),
        ("guest", Some("guest")),
        ("outsider", None),
    ] {
        tokens.insert(user, server.user_with_token(user, "api"));
        if let Some(role) = role {
            server.cli(&["member", "add", "g", user, "--role", role]);
        }
    }
    let dev_read = server.cli(&[
        "token", "add", "dev", "--name", "ro", "--scopes", "read_api",
    ]);
    let expired = server.cli(&["token", "add", "dev", "--name", "old", "--scopes", "api"]);
    let revoked = server.cli(&["token", "add", "dev", "--name", "gone", "--scopes", "api"]);
    // Expiry dates in the past cannot be set from the CLI, so age the token in the database.
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    db.execute(
        "UPDATE personal_access_tokens SET expires_on = '2000-01-01' WHERE name = 'old'",
        [],
    )
    .unwrap();
    let revoked_id = db
        .query_row(
            "SELECT id FROM personal_access_tokens WHERE name = 'gone'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    server.cli(&["token", "revoke", &revoked_id.to_string()]);
    let deploy = |path: &str, scopes: &str| -> String {
        let line = server.cli(&[
            "deploy-token",
            "add",
            path,
            "--name",
            "d",
            "--scopes",
            scopes,
        ]);
        let (user, secret) = line.split_once(' ').unwrap();
        basic(user, secret)
    };
    let priv_read = deploy("g/priv", "read_package_registry");
    let priv_write = deploy("g/priv", "read_package_registry,write_package_registry");
    let other_write = deploy("g/other", "write_package_registry");

    let admin_auth = basic("__token__", &admin);
    let mut files = Vec::new();
    for (path, name) in [
        ("g/pub", "pkg-pub"),
        ("g/int", "pkg-int"),
        ("g/priv", "pkg-priv"),
    ] {
        let (filename, bytes) = wheel(name, "1.0", &[]);
        let resp = upload(
            &server.project_api(path),
            Some(&admin_auth),
            name,
            "1.0",
            &filename,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
        files.push((
            path.to_string(),
            crate::support::sha256_hex(&bytes),
            filename,
        ));
    }

    let pat = |t: &str| Some(basic("__token__", t));
    let all = |read, write| [(read, write); 3];
    let callers = vec![
        ("anonymous", None, [(200, 401), (401, 401), (401, 401)]),
        (
            "unknown token",
            pat("whpat-not-a-real-token"),
            [(200, 401), (401, 401), (401, 401)],
        ),
        ("expired token", pat(&expired), all(401, 401)),
        ("revoked token", pat(&revoked), all(401, 401)),
        (
            "non-member",
            pat(&tokens["outsider"]),
            [(200, 403), (200, 403), (404, 404)],
        ),
        ("guest", pat(&tokens["guest"]), all(200, 403)),
        ("reporter", pat(&tokens["rep"]), all(200, 403)),
        ("developer", pat(&tokens["dev"]), all(200, 201)),
        ("developer read_api token", pat(&dev_read), all(200, 403)),
        (
            "username is ignored for a PAT",
            Some(basic("whatever", &tokens["dev"])),
            all(200, 201),
        ),
        ("admin", Some(admin_auth), all(200, 201)),
        (
            "deploy token read",
            Some(priv_read),
            [(200, 403), (404, 404), (200, 403)],
        ),
        (
            "deploy token write",
            Some(priv_write),
            [(200, 403), (404, 404), (200, 201)],
        ),
        (
            "other project's deploy token",
            Some(other_write),
            [(200, 403), (404, 404), (404, 404)],
        ),
    ];
    World {
        server,
        callers,
        files,
    }
}

#[test]
fn project_routes_follow_the_matrix() {
    let w = world();
    let mut version = 1;
    for (label, auth, expect) in &w.callers {
        for ((path, sha, filename), (read, write)) in w.files.iter().zip(expect) {
            let api = w.server.project_api(path);
            let name = filename.split('-').next().unwrap().replace('_', "-");
            let routes = [
                format!("{api}/simple/"),
                format!("{api}/simple"),
                format!("{api}/simple/{name}/"),
                format!("{api}/files/{sha}/{filename}"),
                format!("{api}/files/{sha}/{filename}.metadata"),
            ];
            for url in &routes {
                let resp = get(url, auth.as_deref());
                assert_eq!(resp.status, *read, "{label} GET {url}: {}", resp.text());
                if resp.status == 401 {
                    assert_eq!(
                        resp.header("www-authenticate"),
                        Some("Basic realm=\"Wheelhouse\""),
                        "{label} {url}"
                    );
                }
                let head = match auth {
                    Some(a) => request("HEAD", url, &[("Authorization", a)]),
                    None => request("HEAD", url, &[]),
                };
                assert_eq!(head.status, *read, "{label} HEAD {url}");
            }
            version += 1;
            let v = format!("2.{version}");
            let (new_file, bytes) = wheel(&name, &v, &[]);
            let resp = upload(&api, auth.as_deref(), &name, &v, &new_file, &bytes, &[]);
            assert_eq!(
                resp.status,
                *write,
                "{label} upload to {path}: {}",
                resp.text()
            );
        }
    }
    // Only the developer, the admin and the write deploy token stored anything new.
    assert_eq!(w.server.tmp_files(), 0);
}

#[test]
fn unknown_projects_and_groups_are_404_to_the_signed_in_and_401_to_the_anonymous() {
    let w = world();
    for (label, auth, _) in &w.callers {
        if label.contains("expired") || label.contains("revoked") {
            continue; // refused before any lookup
        }
        // To the anonymous (and unknown tokens, read as anonymous) a missing place answers as
        // a private one does, so they cannot tell which private paths exist (trust.rs).
        let expected = if *label == "anonymous" || *label == "unknown token" {
            401
        } else {
            404
        };
        for url in [
            format!("{}/simple/", w.server.project_api("9999")),
            format!("{}/simple/", w.server.project_api("g/missing")),
            format!("{}/simple/", w.server.group_api("nope")),
            // A user's personal namespace is not a group.
            format!("{}/simple/", w.server.group_api("dev")),
        ] {
            assert_eq!(get(&url, auth.as_deref()).status, expected, "{label} {url}");
        }
    }
}

#[test]
fn group_index_lists_only_readable_projects() {
    let w = world();
    let group = w.server.group_api("g");
    let expected: &[(&str, &[&str])] = &[
        ("anonymous", &["pkg-pub"]),
        ("non-member", &["pkg-int", "pkg-pub"]),
        ("guest", &["pkg-int", "pkg-priv", "pkg-pub"]),
        ("developer", &["pkg-int", "pkg-priv", "pkg-pub"]),
        ("deploy token read", &["pkg-priv", "pkg-pub"]),
        ("other project's deploy token", &["pkg-pub"]),
    ];
    for (label, names) in expected {
        let (_, auth, _) = w.callers.iter().find(|(l, _, _)| l == label).unwrap();
        let resp = crate::support::request(
            "GET",
            &format!("{group}/simple/"),
            &auth
                .iter()
                .map(|a| ("Authorization", a.as_str()))
                .chain([("Accept", "application/vnd.pypi.simple.v1+json")])
                .collect::<Vec<_>>(),
        );
        assert_eq!(resp.status, 200, "{label}");
        let listed: Vec<String> = resp.json()["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, *names, "{label}");
        // The group file route serves only files of readable projects.
        let (_, sha, filename) = &w.files[2];
        let status = get(&format!("{group}/files/{sha}/{filename}"), auth.as_deref()).status;
        let readable = names.contains(&"pkg-priv");
        assert_eq!(
            status,
            if readable { 200 } else { 404 },
            "{label} group file"
        );
        let page = get(&format!("{group}/simple/pkg-priv/"), auth.as_deref()).status;
        assert_eq!(page, if readable { 200 } else { 404 }, "{label} group page");
    }
}

#[test]
fn private_group_asks_anonymous_for_credentials() {
    let server = Server::start();
    server.cli(&["group", "add", "hidden", "--visibility", "private"]);
    server.cli(&["project", "add", "hidden/p", "--visibility", "private"]);
    let token = server.user_with_token("stranger", "api");
    let url = format!("{}/simple/", server.group_api("hidden"));
    let anon = get(&url, None);
    assert_eq!(anon.status, 401);
    assert!(anon.header("www-authenticate").is_some());
    assert_eq!(get(&url, Some(&basic("__token__", &token))).status, 404);
    server.cli(&["member", "add", "hidden/p", "stranger", "--role", "guest"]);
    assert_eq!(get(&url, Some(&basic("__token__", &token))).status, 200);
}
