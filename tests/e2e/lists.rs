//! Listing cost (issue 10, "Trust"): a tenant who creates thousands of groups must not slow
//! down anyone's lists, the explore page or `/-/health`, and the lists still show exactly what
//! each caller may see.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Server, get, post, request};

/// How many private groups tenant B creates through the API.
const GROUPS: usize = 3_000;
/// Generous bounds for a debug build on a busy machine (before the fix: minutes).
const LIST_BOUND: Duration = Duration::from_secs(2);
const HEALTH_BOUND: Duration = Duration::from_secs(1);

fn token_get(server: &Server, path: &str, token: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = request("GET", &server.url(path), &[("PRIVATE-TOKEN", token)]);
    let took = started.elapsed();
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    (resp.status, resp.json(), took)
}

fn paths(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item.get("full_path")
                .or_else(|| item.get("path_with_namespace"))
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Tenant B creates `GROUPS` private groups from four threads, as fast as the API takes them.
fn flood(server: &Server, token: &str) {
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + Duration::from_secs(300);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= GROUPS || Instant::now() > deadline {
                        break;
                    }
                    let body = format!(r#"{{"path":"flood{n}","visibility":"private"}}"#);
                    let resp = post(
                        &server.url("/api/v4/groups"),
                        &[
                            ("PRIVATE-TOKEN", token),
                            ("Content-Type", "application/json"),
                        ],
                        body.into_bytes(),
                    );
                    assert_eq!(resp.status, 201, "{}", resp.text());
                }
            });
        }
    });
    assert!(
        next.load(Ordering::Relaxed) >= GROUPS,
        "the flood ran out of time"
    );
}

#[test]
fn thousands_of_groups_do_not_slow_anyone_down() {
    let _heavy = crate::support::heavy();
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    let bob = server.user_with_token("bob", "api");
    // Prefix traps: `acme2` is not inside `acme`, `acme/inner` is.
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["group", "add", "acme/inner", "--visibility", "private"]);
    server.cli(&[
        "project",
        "add",
        "acme/inner/models",
        "--visibility",
        "private",
    ]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    server.cli(&["group", "add", "acme2", "--visibility", "private"]);
    server.cli(&["project", "add", "acme2/tools", "--visibility", "private"]);
    server.cli(&["member", "add", "acme2", "bob", "--role", "developer"]);
    server.cli(&["group", "add", "open", "--visibility", "public"]);
    server.cli(&["project", "add", "open/lib", "--visibility", "public"]);
    // A member of one project in a private group sees the group above it, not its siblings.
    server.cli(&["group", "add", "lab", "--visibility", "private"]);
    server.cli(&["project", "add", "lab/shared", "--visibility", "private"]);
    server.cli(&["project", "add", "lab/hidden", "--visibility", "private"]);
    server.cli(&["member", "add", "lab/shared", "bob", "--role", "reporter"]);

    let started = Instant::now();
    flood(&server, &bob);
    eprintln!(
        "created {GROUPS} groups through the API in {:?}",
        started.elapsed()
    );

    // Twenty concurrent lists as B while health is polled.
    let done = AtomicUsize::new(0);
    let mut slowest_health = Duration::ZERO;
    let mut slowest_list = Duration::ZERO;
    std::thread::scope(|s| {
        let lists: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    let took = token_get(&server, "/api/v4/groups?per_page=1", &bob).2;
                    done.fetch_add(1, Ordering::Relaxed);
                    took
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        while done.load(Ordering::Relaxed) < 20 && Instant::now() < deadline {
            let started = Instant::now();
            let resp = get(&server.url("/-/health"), None);
            assert_eq!(resp.status, 200);
            slowest_health = slowest_health.max(started.elapsed());
        }
        for list in lists {
            slowest_list = slowest_list.max(list.join().unwrap());
        }
    });
    eprintln!(
        "20 concurrent lists as B: slowest {slowest_list:?}; slowest health {slowest_health:?}"
    );
    assert!(slowest_list < LIST_BOUND, "B's list took {slowest_list:?}");
    assert!(
        slowest_health < HEALTH_BOUND,
        "health took {slowest_health:?}"
    );

    // A's own lists, and the anonymous explore page, stay fast and exact.
    let (_, groups, took) = token_get(&server, "/api/v4/groups?per_page=100", &alice);
    eprintln!("A's groups: {took:?}");
    assert!(took < LIST_BOUND, "A's groups took {took:?}");
    assert_eq!(paths(&groups), ["acme", "acme/inner", "open"]);
    let (_, projects, took) = token_get(&server, "/api/v4/projects?per_page=100", &alice);
    eprintln!("A's projects: {took:?}");
    assert!(took < LIST_BOUND, "A's projects took {took:?}");
    assert_eq!(paths(&projects), ["acme/inner/models", "open/lib"]);
    let (_, owned, _) = token_get(&server, "/api/v4/groups?owned=true&per_page=100", &alice);
    assert_eq!(paths(&owned), ["acme", "acme/inner"]);

    let started = Instant::now();
    let explore = get(&server.url("/explore"), None);
    let took = started.elapsed();
    eprintln!("anonymous explore: {took:?}");
    assert_eq!(explore.status, 200);
    assert!(took < LIST_BOUND, "explore took {took:?}");
    let page = explore.text();
    assert!(page.contains("open/lib") && !page.contains("flood") && !page.contains("acme"));

    // B sees its own groups, the group above its project, and nothing of A's.
    let resp = request(
        "GET",
        &server.url("/api/v4/groups?per_page=1"),
        &[("PRIVATE-TOKEN", &bob)],
    );
    let total: usize = resp.header("X-Total").unwrap().parse().unwrap();
    assert_eq!(total, GROUPS + 3, "flood groups, acme2, lab and open");
    let (_, mine, _) = token_get(&server, "/api/v4/groups?search=a&per_page=100", &bob);
    assert_eq!(paths(&mine), ["acme2", "lab"]);
    let (_, projects, _) = token_get(&server, "/api/v4/projects?per_page=100", &bob);
    assert_eq!(paths(&projects), ["acme2/tools", "lab/shared", "open/lib"]);
    let (_, inside, _) = token_get(&server, "/api/v4/groups/lab/projects", &bob);
    assert_eq!(paths(&inside), ["lab/shared"]);
    let (_, member_of, _) = token_get(
        &server,
        "/api/v4/groups?membership=true&per_page=100&search=a",
        &bob,
    );
    assert_eq!(paths(&member_of), ["acme2"]);
}
