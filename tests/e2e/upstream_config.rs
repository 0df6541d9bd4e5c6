//! Configuring a top-level group's upstream indexes and name rules: owners through the API,
//! the command line and the settings page; everyone else as the permission table says; bad
//! input a 400 that names the problem; the upstream's password never in any answer.

use serde_json::{Value, json};

use crate::support::{Response, Server, cli_output, request, send};
use crate::web::{Visitor, add_user};

const SECRET: &str = "upstream-s3cret-pw";

struct Api<'a> {
    server: &'a Server,
    token: Option<String>,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let url = self.server.url(path);
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(token) = &self.token {
            headers.push(("PRIVATE-TOKEN", token));
        }
        let resp = match body {
            Some(body) => send(method, &url, &headers, serde_json::to_vec(&body).unwrap()),
            None => request(method, &url, &headers),
        };
        assert!(
            !resp.text().contains(SECRET),
            "{method} {path} showed the password: {}",
            resp.text()
        );
        resp
    }
}

fn expect(resp: &Response, status: u16, says: &str, what: &str) {
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    assert!(
        resp.text().contains(says),
        "{what}: {} should say {says:?}",
        resp.text()
    );
}

/// A private top-level group `acme` with a subgroup; an owner, a maintainer and a stranger,
/// each with an `api` token.
fn seed() -> (Server, [String; 3]) {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "private"]);
    let owner = server.user_with_token("olga", "api");
    let maintainer = server.user_with_token("max", "api");
    let stranger = server.user_with_token("sam", "api");
    server.cli(&["member", "add", "acme", "olga", "--role", "owner"]);
    server.cli(&["member", "add", "acme", "max", "--role", "maintainer"]);
    (server, [owner, maintainer, stranger])
}

#[test]
fn owners_set_upstreams_and_rules_through_the_api() {
    let (server, [owner, maintainer, stranger]) = seed();
    let as_owner = Api {
        server: &server,
        token: Some(owner),
    };
    let list = "/api/v4/groups/acme/upstreams";
    let first = as_owner.call(
        "POST",
        list,
        Some(
            json!({"url": "https://pypi.example/simple", "username": "bot",
                    "password": SECRET, "cache_validity_hours": 6}),
        ),
    );
    expect(&first, 201, "https://pypi.example/simple/", "add");
    let first = first.json();
    assert_eq!(first["username"], "bot");
    assert_eq!(first["has_password"], true);
    assert_eq!(first["cache_validity_hours"], 6);
    assert_eq!(first["position"], 1);
    assert!(first.get("password").is_none(), "{first}");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    let second = as_owner.call(
        "POST",
        list,
        Some(json!({"url": "http://127.0.0.1:9/simple/"})),
    );
    expect(&second, 201, "\"cache_validity_hours\":24", "default hours");
    let second_id = second.json()["id"].as_i64().unwrap();
    assert_eq!(second.json()["has_password"], false);
    let again = as_owner.call(
        "POST",
        list,
        Some(json!({"url": "https://pypi.example/simple/"})),
    );
    expect(&again, 409, "already", "the same URL twice");

    for (body, says) in [
        (
            json!({"url": "ftp://pypi.example/simple/"}),
            "http or https",
        ),
        (
            json!({"url": format!("https://bot:{SECRET}@pypi.example/simple/")}),
            "username and password fields",
        ),
        (json!({"url": "https://pypi.example/simple/#x"}), "fragment"),
        (json!({"url": "https://pypi.example/simple/?a=b"}), "query"),
        (json!({"url": "no such thing"}), "not a valid URL"),
        (json!({}), "missing"),
        (
            json!({"url": "https://other.example/", "username": "bot"}),
            "both a username and a password",
        ),
        (
            json!({"url": "https://other.example/", "cache_validity_hours": 9000}),
            "0 to 8760",
        ),
        (json!({"url": 7}), "not the JSON"),
    ] {
        expect(
            &as_owner.call("POST", list, Some(body.clone())),
            400,
            says,
            &body.to_string(),
        );
    }

    // Order, freshness and credentials change; the password still never shows.
    let one = format!("{list}/{second_id}");
    let moved = as_owner.call(
        "PUT",
        &one,
        Some(json!({"position": 1, "cache_validity_hours": 0})),
    );
    expect(&moved, 200, "\"position\":1", "move first");
    assert_eq!(moved.json()["cache_validity_hours"], 0);
    let shown = as_owner.call("GET", list, None).json();
    let urls: Vec<&str> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["http://127.0.0.1:9/simple/", "https://pypi.example/simple/"]
    );
    assert_eq!(shown[1]["position"], 2);
    let creds = as_owner.call(
        "PUT",
        &one,
        Some(json!({"username": "ci", "password": SECRET})),
    );
    assert_eq!(creds.json()["has_password"], true, "{}", creds.text());
    expect(
        &as_owner.call("PUT", &one, Some(json!({"password": "x"}))),
        400,
        "both",
        "half",
    );
    expect(
        &as_owner.call("PUT", &one, Some(json!({"position": 3}))),
        400,
        "between 1 and 2",
        "pos",
    );
    let cleared = as_owner.call("PUT", &one, Some(json!({"username": "", "password": ""})));
    assert_eq!(cleared.json()["has_password"], false, "{}", cleared.text());
    expect(
        &as_owner.call("GET", &one, None),
        200,
        "\"username\":null",
        "show",
    );
    expect(
        &as_owner.call("GET", &format!("{list}/999999"), None),
        404,
        "Upstream",
        "missing",
    );

    // Name rules.
    let rules = "/api/v4/groups/acme/upstream_rules";
    let rule = as_owner.call(
        "POST",
        rules,
        Some(json!({"kind": "reserve", "pattern": "Acme_*"})),
    );
    expect(&rule, 201, "\"pattern\":\"acme-*\"", "rule");
    let rule_id = rule.json()["id"].as_i64().unwrap();
    let same = as_owner.call(
        "POST",
        rules,
        Some(json!({"kind": "reserve", "pattern": "acme-*"})),
    );
    expect(&same, 409, "already", "the same rule twice");
    expect(
        &as_owner.call(
            "POST",
            rules,
            Some(json!({"kind": "deny", "pattern": "acme/x"})),
        ),
        400,
        "'/'",
        "a slash",
    );
    expect(
        &as_owner.call(
            "POST",
            rules,
            Some(json!({"kind": "block", "pattern": "x"})),
        ),
        400,
        "reserve, allow or deny",
        "a kind",
    );
    expect(
        &as_owner.call("POST", rules, Some(json!({"kind": "deny", "pattern": ""}))),
        400,
        "1 to 100",
        "empty",
    );
    as_owner.call(
        "POST",
        rules,
        Some(json!({"kind": "allow", "pattern": "*"})),
    );
    let listed = as_owner.call("GET", rules, None).json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // Everyone else, as the permission table says (the group is private).
    let as_maintainer = Api {
        server: &server,
        token: Some(maintainer),
    };
    let as_stranger = Api {
        server: &server,
        token: Some(stranger),
    };
    let anonymous = Api {
        server: &server,
        token: None,
    };
    let add = json!({"url": "https://evil.example/simple/"});
    for (who, status) in [
        (&as_maintainer, 403),
        (&as_stranger, 404),
        (&anonymous, 401),
    ] {
        for (method, path, body) in [
            ("GET", list.to_string(), None),
            ("POST", list.to_string(), Some(add.clone())),
            ("GET", one.clone(), None),
            ("PUT", one.clone(), Some(json!({"position": 2}))),
            ("DELETE", one.clone(), None),
            ("GET", rules.to_string(), None),
            (
                "POST",
                rules.to_string(),
                Some(json!({"kind": "allow", "pattern": "x"})),
            ),
            ("DELETE", format!("{rules}/{rule_id}"), None),
        ] {
            let resp = who.call(method, &path, body);
            assert_eq!(resp.status, status, "{method} {path}: {}", resp.text());
        }
    }
    // A group that does not exist answers the stranger as the private one did.
    let missing = as_stranger.call("GET", "/api/v4/groups/nope/upstreams", None);
    assert_eq!(missing.status, 404);

    // Subgroups use their top-level group's upstreams.
    for (method, path, body) in [
        ("GET", "/api/v4/groups/acme%2Fml/upstreams", None),
        (
            "POST",
            "/api/v4/groups/acme%2Fml/upstreams",
            Some(add.clone()),
        ),
        (
            "POST",
            "/api/v4/groups/acme%2Fml/upstream_rules",
            Some(json!({"kind": "deny", "pattern": "x"})),
        ),
    ] {
        expect(
            &as_owner.call(method, path, body),
            400,
            "upstreams are set on the top-level group acme; its subgroups use them",
            path,
        );
    }

    // Removal, and what the audit log kept (never the password).
    expect(
        &as_owner.call("DELETE", &format!("{rules}/{rule_id}"), None),
        204,
        "",
        "rm rule",
    );
    expect(
        &as_owner.call("DELETE", &format!("{rules}/{rule_id}"), None),
        404,
        "Rule",
        "twice",
    );
    expect(&as_owner.call("DELETE", &one, None), 204, "", "remove");
    let rest = as_owner.call("GET", list, None).json();
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["position"], 1);
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let audit: Vec<String> = db
        .prepare("SELECT action || ' ' || target FROM audit_events WHERE action LIKE 'upstream%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("upstream.add acme https://pypi.example"))
    );
    assert!(
        audit
            .iter()
            .any(|a| a == "upstream_rule.remove acme reserve acme-*"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("upstream.remove acme http://127.0.0.1:9"))
    );
    assert!(!audit.join("\n").contains(SECRET));
}

#[test]
fn the_operator_sets_upstreams_and_rules_from_the_command_line() {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "private"]);
    let out = cli_output(
        server.data_dir(),
        &[
            "group",
            "upstream",
            "add",
            "acme",
            "https://pypi.example/simple",
            "--username",
            "bot",
            "--password-stdin",
            "--cache-hours",
            "5",
        ],
        Some(&format!("{SECRET}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "{id}");
    server.cli(&[
        "group",
        "upstream",
        "add",
        "acme",
        "http://127.0.0.1:9/simple/",
    ]);
    let listed = cli_output(
        server.data_dir(),
        &["group", "upstream", "list", "acme"],
        None,
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(!listed.contains(SECRET), "{listed}");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(&format!(
            "{id}\thttps://pypi.example/simple/\tusername:bot\tpassword:yes\tcache_hours:5"
        )),
        "{listed}"
    );
    assert!(lines[1].contains("password:no\tcache_hours:24"), "{listed}");
    // Removed by URL (spelled without the slash) and by id.
    server.cli(&[
        "group",
        "upstream",
        "remove",
        "acme",
        "http://127.0.0.1:9/simple",
    ]);
    server.cli(&["group", "upstream", "remove", "acme", &id]);
    assert_eq!(server.cli(&["group", "upstream", "list", "acme"]), "");

    let rule = server.cli(&[
        "group", "upstream", "rule", "add", "acme", "reserve", "ACME.*",
    ]);
    assert_eq!(
        server.cli(&["group", "upstream", "rule", "list", "acme"]),
        format!("{rule}\treserve\tacme-*")
    );
    server.cli(&["group", "upstream", "rule", "remove", "acme", &rule]);
    assert_eq!(
        server.cli(&["group", "upstream", "rule", "list", "acme"]),
        ""
    );

    for (args, says) in [
        (
            vec![
                "group",
                "upstream",
                "add",
                "acme/ml",
                "https://pypi.example/simple/",
            ],
            "top-level group acme",
        ),
        (
            vec!["group", "upstream", "add", "acme", "ftp://x.example/"],
            "http or https",
        ),
        (
            vec!["group", "upstream", "add", "acme", "https://u:p@x.example/"],
            "username and password fields",
        ),
        (
            vec![
                "group",
                "upstream",
                "add",
                "acme",
                "https://x.example/",
                "--cache-hours=-1",
            ],
            "0 to 8760",
        ),
        (
            vec!["group", "upstream", "rule", "add", "acme", "hide", "x"],
            "reserve, allow or deny",
        ),
        (
            vec!["group", "upstream", "rule", "add", "acme", "deny", "a b"],
            "pattern",
        ),
        (
            vec![
                "group",
                "upstream",
                "remove",
                "acme",
                "https://absent.example/",
            ],
            "no upstream",
        ),
        (vec!["group", "upstream", "list", "nope"], "Not Found"),
    ] {
        let err = server.cli_fails(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let dup = server.cli(&["group", "upstream", "add", "acme", "https://x.example/"]);
    assert!(!dup.is_empty());
    let err = server.cli_fails(&["group", "upstream", "add", "acme", "https://x.example"]);
    assert!(err.contains("already"), "{err}");
}

#[test]
fn owners_set_upstreams_and_rules_on_the_settings_page() {
    let server = Server::start();
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    add_user(&server, "olga", "olga password", false);
    add_user(&server, "max", "max password", false);
    server.cli(&["member", "add", "acme", "olga", "--role", "owner"]);
    server.cli(&["member", "add", "acme", "max", "--role", "maintainer"]);
    let settings = "/acme/-/settings";
    let mut olga = Visitor::sign_in(&server, "olga", "olga password");
    assert!(olga.get(settings).text().contains("Upstream indexes"));
    let added = olga.submit(
        settings,
        "/acme/-/settings/upstreams",
        &[
            ("url", "https://pypi.example/simple"),
            ("username", "bot"),
            ("password", SECRET),
            ("cache_hours", "7"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.text());
    let page = olga.get(settings).text();
    assert!(page.contains("https://pypi.example/simple/"), "{page}");
    assert!(
        page.contains("<code>bot</code>") && page.contains("7 h"),
        "{page}"
    );
    assert!(!page.contains(SECRET));

    // Bad input shows above the form, without the password.
    for (fields, says) in [
        (vec![("url", "ftp://pypi.example/simple/")], "http or https"),
        (vec![("url", "https://pypi.example/simple/")], "already"),
        (
            vec![("url", "https://x.example/"), ("password", SECRET)],
            "both",
        ),
        (
            vec![("url", "https://x.example/"), ("cache_hours", "soon")],
            "whole number",
        ),
    ] {
        let resp = olga.submit(settings, "/acme/-/settings/upstreams", &fields);
        assert_eq!(resp.status, 400, "{fields:?}");
        assert!(resp.text().contains(says), "{fields:?}: {}", resp.text());
        assert!(!resp.text().contains(SECRET));
    }
    let rule = olga.submit(
        settings,
        "/acme/-/settings/upstream_rules",
        &[("kind", "reserve"), ("pattern", "Acme_*")],
    );
    assert_eq!(rule.status, 303, "{}", rule.text());
    let bad = olga.submit(
        settings,
        "/acme/-/settings/upstream_rules",
        &[("kind", "deny"), ("pattern", "a b")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("pattern"), "{}", bad.text());
    assert!(olga.get(settings).text().contains("<code>acme-*</code>"));

    // The ids in the remove forms, as the API lists them.
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let id = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let upstream_id = id("SELECT id FROM upstreams");
    let rule_id = id("SELECT id FROM upstream_rules");

    // A maintainer sees the settings but not the section, and may not post its forms; the
    // subgroup's and project's pages have no section, and their forms are refused.
    let mut max = Visitor::sign_in(&server, "max", "max password");
    let page = max.get(settings);
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("Upstream indexes"));
    let refused = max.submit(
        settings,
        &format!("/acme/-/settings/upstreams/{upstream_id}/remove"),
        &[],
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    for place in ["acme/ml", "acme/app"] {
        let page = format!("/{place}/-/settings");
        assert!(
            !olga.get(&page).text().contains("Upstream indexes"),
            "{place}"
        );
        let resp = olga.submit(
            &page,
            &format!("/{place}/-/settings/upstreams"),
            &[("url", "https://x.example/")],
        );
        assert_eq!(resp.status, 400, "{place}");
        assert!(resp.text().contains("top-level group"), "{}", resp.text());
    }
    // A forged form changes nothing.
    let forged = olga.post(
        &format!("/acme/-/settings/upstream_rules/{rule_id}/remove"),
        &[("csrf_token", "forged")],
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(forged.text().contains("CSRF"));

    for action in [
        format!("/acme/-/settings/upstream_rules/{rule_id}/remove"),
        format!("/acme/-/settings/upstreams/{upstream_id}/remove"),
    ] {
        let resp = olga.submit(settings, &action, &[]);
        assert_eq!(resp.status, 303, "{action}: {}", resp.text());
    }
    let page = olga.get(settings).text();
    assert!(
        !page.contains("pypi.example") && !page.contains("<code>acme-*</code>"),
        "{page}"
    );
}
