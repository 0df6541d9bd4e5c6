//! Every answer costs what an honest one costs: each GET route of the inventory, asked on a
//! hostile world (a 14 MB description, 10,000 bots, 6,000 groups, a package of 3,000 files)
//! and on an honest one of the same shape (a long but honest README, a few of everything),
//! takes at most a small factor more on the first.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use wheelhouse::routes::{RouteSpec, inventory};

use crate::load_support::hammer;
use crate::matrix::{Presents, password_user, sign_in};
use crate::support::{Server, basic, request, upload, wheel_described};

/// Rows of the hostile world, as the issue found them.
const BOTS: usize = 10_000;
const GROUPS: usize = 6_000;
const FILES: usize = 3_000;
/// How much slower a hostile answer may be: this factor of the honest one plus a floor that
/// absorbs the scheduler of a loaded 2-core machine.
const FACTOR: u32 = 10;
const FLOOR: Duration = Duration::from_millis(50);

/// Routes still slower on the hostile world, with why: timed and printed every run, not held
/// to the bound. A fix removes its line.
const KNOWN_SLOW: &[(&str, &str)] = &[];

/// One world: a server, its admin's credentials, and the values its routes' templates take.
struct World {
    server: Server,
    token: String,
    cookie: String,
    group_id: i64,
    project_id: i64,
    user_id: i64,
    user_token_id: i64,
    group_deploy_token: i64,
    project_deploy_token: i64,
    group_access_token: i64,
    project_access_token: i64,
    package_id: i64,
    file_id: i64,
    sha256: String,
    filename: String,
}

fn query(server: &Server, sql: &str) -> rusqlite::Result<i64> {
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    db.query_row(sql, [], |r| r.get(0))
}

fn id(server: &Server, sql: &str) -> i64 {
    query(server, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The same places, users and tokens in both worlds; `description` is the package's.
fn world(description: &str) -> World {
    let server = Server::start();
    password_user(&server, "root", true);
    let token = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/p", "--visibility", "public"]);
    let dev_token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    for place in ["g", "g/p"] {
        let scopes = "read_package_registry";
        server.cli(&[
            "deploy-token",
            "add",
            place,
            "--name",
            "d",
            "--scopes",
            scopes,
        ]);
    }
    let auth = basic("dev", &dev_token);
    let (file, bytes) = wheel_described("huge", "1.0", &[], None, description);
    let api = server.project_api("g/p");
    let stored = upload(&api, Some(&auth), "huge", "1.0", &file, &bytes, &[]);
    assert_eq!(stored.status, 201, "{}", stored.text());
    let (group_id, project_id) = (
        id(&server, "SELECT id FROM namespaces WHERE full_path = 'g'"),
        id(&server, "SELECT id FROM projects WHERE full_path = 'g/p'"),
    );
    for kind in ["groups", "projects"] {
        let place = if kind == "groups" {
            group_id
        } else {
            project_id
        };
        let made = crate::support::post(
            &server.url(&format!("/api/v4/{kind}/{place}/access_tokens")),
            &[
                ("PRIVATE-TOKEN", &token),
                ("Content-Type", "application/json"),
            ],
            br#"{"name": "bot", "scopes": ["read_api"], "access_level": 10}"#.to_vec(),
        );
        assert_eq!(made.status, 201, "{}", made.text());
    }
    let cookie = match sign_in(&server, "root") {
        Presents::Session { cookie, .. } => cookie,
        _ => unreachable!("sign_in answers a session"),
    };
    let text = |sql: &str| -> String {
        let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
        db.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    let bot_token = |column: &str, place: i64| {
        let sql = format!(
            "SELECT t.id FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
             WHERE u.{column} = {place}"
        );
        id(&server, &sql)
    };
    World {
        token,
        cookie,
        group_id,
        project_id,
        user_id: id(&server, "SELECT id FROM users WHERE username = 'dev'"),
        user_token_id: id(
            &server,
            "SELECT t.id FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
             WHERE u.username = 'dev'",
        ),
        group_deploy_token: id(
            &server,
            "SELECT id FROM deploy_tokens WHERE namespace_id IS NOT NULL",
        ),
        project_deploy_token: id(
            &server,
            "SELECT id FROM deploy_tokens WHERE project_id IS NOT NULL",
        ),
        group_access_token: bot_token("bot_namespace_id", group_id),
        project_access_token: bot_token("bot_project_id", project_id),
        package_id: id(&server, "SELECT id FROM packages WHERE name = 'huge'"),
        file_id: id(&server, "SELECT id FROM package_files"),
        sha256: text("SELECT sha256 FROM package_files"),
        filename: text("SELECT filename FROM package_files"),
        server,
    }
}

/// What a tenant can pile up, written straight into the database (through the API it takes
/// minutes): bots of the group with their tokens and memberships, groups at the top and inside
/// the group, and versions of the package with a file each.
fn make_hostile(world: &World) {
    let db = rusqlite::Connection::open(world.server.data_dir().join("wheelhouse.db")).unwrap();
    let (g, p) = (world.group_id, world.project_id);
    let package = world.package_id;
    let half = GROUPS / 2;
    db.execute_batch(&format!(
        "BEGIN;
         CREATE TEMP TABLE n (i INTEGER PRIMARY KEY);
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {BOTS})
         INSERT INTO n SELECT i FROM c;
         INSERT INTO users (username, password_hash, created_at, bot_namespace_id)
             SELECT 'hostile_bot_' || i, '!', 0, {g} FROM n;
         INSERT INTO members (user_id, namespace_id, access_level, created_at)
             SELECT id, {g}, 30, 0 FROM users WHERE username LIKE 'hostile_bot_%';
         INSERT INTO personal_access_tokens (user_id, name, token_digest, scopes, created_at)
             SELECT id, 'bot', 'digest-' || id, 'read_api', 0 FROM users
             WHERE username LIKE 'hostile_bot_%';
         INSERT INTO namespaces (kind, path, full_path, visibility, created_at)
             SELECT 'group', 'top' || i, 'top' || i, 'public', 0 FROM n WHERE i <= {half};
         INSERT INTO namespaces (kind, path, full_path, parent_id, visibility, created_at)
             SELECT 'group', 'sub' || i, 'g/sub' || i, {g}, 'public', 0 FROM n WHERE i <= {half};
         INSERT INTO packages (project_id, name, display_name, version, created_at)
             SELECT {p}, 'huge', 'huge', '0.' || i, 0 FROM n WHERE i <= {FILES};
         INSERT INTO package_metadata (package_id, metadata_version, summary)
             SELECT id, '2.1', 'one of many' FROM packages WHERE id <> {package};
         INSERT INTO package_files (package_id, project_id, filename, size, sha256, md5,
                                    blake2b_256, filetype, created_at)
             SELECT id, {p}, 'huge-' || version || '-py3-none-any.whl', 10,
                    printf('%064d', id), '', '', 'bdist_wheel', 0
             FROM packages WHERE id <> {package};
         COMMIT;"
    ))
    .unwrap();
}

/// The route's template filled with this world's values; `group` picks the group where a
/// route names a group or a project.
fn fill(w: &World, route: &RouteSpec, group: bool) -> String {
    let mut out = String::new();
    let mut rest = route.path.as_str();
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        let name = rest[start + 1..end].split(':').next().unwrap();
        let value = match name {
            "kind" => (if group { "groups" } else { "projects" }).to_string(),
            "place" => (if group { "g" } else { "g/p" }).to_string(),
            "id" if out.ends_with("/personal_access_tokens/") => w.user_token_id.to_string(),
            "id" if out.starts_with("/admin/users/") || out.ends_with("/users/") => {
                w.user_id.to_string()
            }
            "id" if group || out.ends_with("/groups/") || out.ends_with("/namespaces/") => {
                w.group_id.to_string()
            }
            "id" => w.project_id.to_string(),
            "user_id" => w.user_id.to_string(),
            "token" => w.user_token_id.to_string(),
            "token_id" if group => w.group_deploy_token.to_string(),
            "token_id" => w.project_deploy_token.to_string(),
            "access_token_id" if group => w.group_access_token.to_string(),
            "access_token_id" => w.project_access_token.to_string(),
            "package_id" => w.package_id.to_string(),
            // None in either world: both answer 404, and are timed all the same.
            "upstream_id" | "rule_id" | "event_id" => "1".to_string(),
            "file_id" => w.file_id.to_string(),
            "name" | "project" | "package" => "huge".to_string(),
            "sha256" => w.sha256.clone(),
            "filename" => w.filename.clone(),
            "file" => "style.css".to_string(),
            "action" => "block".to_string(),
            "version" => "1.0".to_string(),
            "rest" => "audience".to_string(),
            other => panic!(
                "the cost walk has no value for {{{other}}} in {}: add one",
                route.path
            ),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The route's path with its placeholders' patterns left out (`{kind:a|b}` is `{kind}`).
fn template(route: &RouteSpec) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut skipping = false;
    for c in route.path.chars() {
        match c {
            '{' => inside = true,
            '}' => (inside, skipping) = (false, false),
            ':' if inside => skipping = true,
            _ => {}
        }
        if !skipping {
            out.push(c);
        }
    }
    out
}

/// Whether a route names a group or a project (both are walked) or neither.
fn variants(route: &RouteSpec) -> Vec<bool> {
    let path = route.path.as_str();
    if path.contains("{kind") || path.starts_with("/{place}") {
        vec![true, false]
    } else {
        vec![path.contains("/groups/{id}")]
    }
}

/// One GET as the world's admin, timed; the status and the time.
fn timed(w: &World, route: &RouteSpec, path: &str) -> (u16, Duration) {
    let url = w.server.url(path);
    let headers: Vec<(&str, String)> = if route.web {
        vec![("Cookie", w.cookie.clone())]
    } else if path.contains("/packages/pypi") {
        vec![("Authorization", basic("__token__", &w.token))]
    } else {
        vec![("PRIVATE-TOKEN", w.token.clone())]
    };
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let started = Instant::now();
    let status = request("GET", &url, &headers).status;
    (status, started.elapsed())
}

/// The median of three asks, after one that warms what a first ask fills (caches).
fn median(w: &World, route: &RouteSpec, path: &str) -> (u16, Duration) {
    let (status, _) = timed(w, route, path);
    let mut times: Vec<Duration> = (0..3).map(|_| timed(w, route, path).1).collect();
    times.sort();
    (status, times[1])
}

#[test]
fn every_get_route_costs_on_a_hostile_world_what_it_costs_on_an_honest_one() {
    let _heavy = crate::support::heavy();
    let started = Instant::now();
    // A long honest README (1 MB): what a description costs, it costs in both worlds.
    let section = "## Usage\n\nSome *text* with a [link](https://example.com) and `code`.\n\n";
    let honest = world(&section.repeat(1_000_000 / section.len()));
    let line = "Plain words of a README that someone made far too long to be honest.\n";
    let hostile = world(&line.repeat(14_000_000 / line.len()));
    make_hostile(&hostile);
    eprintln!("worlds seeded in {:?}", started.elapsed());

    let routes: Vec<RouteSpec> = inventory()
        .into_iter()
        .filter(|r| r.method == Method::GET)
        .collect();
    let (mut checked, mut answered, mut slow) = (0, 0, Vec::new());
    let mut slowest: Option<(Duration, &RouteSpec, String)> = None;
    for route in &routes {
        let known = KNOWN_SLOW.iter().find(|(path, _)| *path == template(route));
        for group in variants(route) {
            let path = fill(&honest, route, group);
            let (honest_status, honest_time) = median(&honest, route, &path);
            let hostile_path = fill(&hostile, route, group);
            let (hostile_status, hostile_time) = median(&hostile, route, &hostile_path);
            checked += 1;
            assert_eq!(
                honest_status, hostile_status,
                "{path}: the worlds answer differently"
            );
            let timing = format!("{hostile_time:?} hostile, {honest_time:?} honest");
            if let Some((_, why)) = known {
                eprintln!("known slow: {path} ({hostile_status}): {timing}: {why}");
                continue;
            }
            if (200..300).contains(&hostile_status) {
                answered += 1;
                if slowest.as_ref().is_none_or(|(t, _, _)| hostile_time > *t) {
                    slowest = Some((hostile_time, route, hostile_path));
                }
            }
            if hostile_time > honest_time * FACTOR + FLOOR {
                slow.push(format!("{path} ({hostile_status}): {timing}"));
            }
        }
    }
    eprintln!(
        "{checked} GET routes checked ({answered} answered 2xx, {} known slow) in {:?}",
        KNOWN_SLOW.len(),
        started.elapsed()
    );
    assert!(
        slow.is_empty(),
        "slower on the hostile world than {FACTOR}x + {FLOOR:?}:\n{}",
        slow.join("\n")
    );

    // Health keeps answering while 20 clients hammer the slowest of them.
    let (time, route, path) = slowest.unwrap();
    eprintln!("slowest on the hostile world: {path} ({time:?})");
    let credentials = if route.web {
        format!("Cookie: {}\r\n", hostile.cookie)
    } else if path.contains("/packages/pypi") {
        format!("Authorization: {}\r\n", basic("__token__", &hostile.token))
    } else {
        format!("PRIVATE-TOKEN: {}\r\n", hostile.token)
    };
    let probes = [hostile.server.url("/-/health")];
    let server = &hostile.server;
    hammer(server.addr(), 20, &[&path], &credentials, &probes, None)
        .assert_responsive(&format!("20 clients on {path}"));
}
