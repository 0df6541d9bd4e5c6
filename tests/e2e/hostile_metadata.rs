//! Descriptions built to be slow: each upload is bounded, a package page costs what a plain one
//! costs whatever its description holds, and health and the indexes keep answering while many
//! clients view such pages.

use std::time::{Duration, Instant};

use crate::load_support::hammer;
use crate::support::{Server, basic, get, upload, wheel_described};

/// Up to about 1 MB each (the metadata limit allows 16 MB; 2 MiB are rendered). The unit tests
/// beside the renderer take each to 1 MB; here the server is an unoptimized build.
fn hostile() -> Vec<(&'static str, String)> {
    let mut table = String::from("|a|b|c|d|e|f|g|h|\n|-|-|-|-|-|-|-|-|\n");
    table.push_str(&"|1|2|3|4|5|6|7|8|\n".repeat(12_500));
    let mut wide = "|x".repeat(20_000);
    wide.push_str("|\n");
    wide.push_str(&"|-".repeat(20_000));
    wide.push_str("|\n");
    wide.push_str(&"|\n".repeat(200_000));
    vec![
        // The report's case: minutes of sanitizing on every view before the fix.
        ("deep-html", "<div>".repeat(150_000)),
        ("misnested", "<b><div></b>".repeat(20_000)),
        ("deep-quotes", ">".repeat(1_000_000)),
        ("nested-lists", format!("{}x\n", "- ".repeat(400_000))),
        ("nested-emphasis", "*a **b ***c ".repeat(80_000)),
        (
            "open-brackets",
            "[".repeat(500_000) + &"](x)".repeat(100_000),
        ),
        ("huge-table", table),
        ("wide-table", wide),
        ("many-links", "[a](https://example.com/a) ".repeat(10_000)),
    ]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// An honest README of about 1.5 MB: the size of the largest hostile page, so that the page
/// comparison measures what the description holds, not how many bytes travel.
fn honest_readme() -> String {
    let section = "## Usage\n\nSome *text* with a [link](https://example.com) and `code`, \
                   long enough to read like a real paragraph of documentation.\n\n\
                   - one\n  - two\n\n> a note\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
                   ```python\nprint(1)\n```\n\n";
    section.repeat(1_200_000 / section.len())
}

/// The server's own time for each of the last `count` requests of `path` (the access log's
/// `duration_ms`, from the request to its response).
fn served(server: &Server, path: &str, count: usize) -> Vec<Duration> {
    let needle = format!("method=GET path={path} status=200 ");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.access_log();
        let times: Vec<Duration> = log
            .lines()
            .filter(|line| line.contains(&needle))
            .filter_map(|line| {
                let rest = line.split("duration_ms=").nth(1)?;
                rest.split(' ').next()?.parse().ok()
            })
            .map(Duration::from_secs_f64)
            .map(|d| d / 1000)
            .collect();
        if times.len() >= count || Instant::now() > deadline {
            assert!(times.len() >= count, "{path}: {} log lines", times.len());
            return times[times.len() - count..].to_vec();
        }
        std::thread::yield_now();
    }
}

/// The web page of each package the project lists, by name.
fn package_pages(server: &Server, auth: &str) -> Vec<(String, String)> {
    let list = get(
        &server.url("/api/v4/projects/g%2Fp/packages?per_page=100"),
        Some(auth),
    );
    assert_eq!(list.status, 200, "{}", list.text());
    list.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                server.url(&format!("/g/p/-/packages/{}", p["id"])),
            )
        })
        .collect()
}

#[test]
fn slow_descriptions_cost_nothing_when_pages_are_viewed() {
    let _heavy = crate::support::heavy();
    let server = Server::start_logged();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/p", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let auth = basic("dev", &token);
    let api = server.project_api("g/p");

    for (name, description) in [
        ("plain", "# Plain\n\nJust text.\n".to_owned()),
        ("honest", honest_readme()),
    ] {
        let (file, bytes) = wheel_described(name, "1.0", &[], None, &description);
        let stored = upload(&api, Some(&auth), name, "1.0", &file, &bytes, &[]);
        assert_eq!(stored.status, 201, "{}", stored.text());
    }
    // (a) Every upload is answered in bounded time: the description is rendered once, here.
    for (name, description) in hostile() {
        let (file, bytes) = wheel_described(name, "1.0", &[], None, &description);
        let started = Instant::now();
        let stored = upload(&api, Some(&auth), name, "1.0", &file, &bytes, &[]);
        let took = started.elapsed();
        eprintln!("upload {name} ({} bytes): {took:?}", description.len());
        assert_eq!(stored.status, 201, "{name}: {}", stored.text());
        assert!(took < Duration::from_secs(20), "{name} took {took:?}");
    }

    // (b) A page view costs what a plain page of its size costs, whatever the description
    // holds: the server's time (its access log) and the client's, each a median of 30 views.
    let pages = package_pages(&server, &auth);
    assert_eq!(pages.len(), hostile().len() + 2);
    let views = |url: &str| -> (Duration, Duration, usize) {
        let mut size = 0;
        let client = (0..30)
            .map(|_| {
                let started = Instant::now();
                let page = get(url, None);
                assert_eq!(page.status, 200, "{url}");
                size = page.body.len();
                started.elapsed()
            })
            .collect();
        let path = url.trim_start_matches(&server.base);
        (median(served(&server, path, 30)), median(client), size)
    };
    let page_of = |name: &str| &pages.iter().find(|(n, _)| n == name).unwrap().1;
    let (plain, plain_client, plain_size) = views(page_of("plain"));
    let (honest, honest_client, honest_size) = views(page_of("honest"));
    let honest_page = get(page_of("honest"), None).text();
    assert!(
        honest_page.matches("<h2>Usage</h2>").count() > 4_000
            && !honest_page.contains("too long to show whole"),
        "a 1.2 MB README is rendered whole"
    );
    eprintln!("plain page ({plain_size} bytes): server {plain:?}, client {plain_client:?}");
    eprintln!(
        "honest README page ({honest_size} bytes): server {honest:?}, client {honest_client:?}"
    );
    for (name, _) in hostile() {
        let url = page_of(name);
        assert!(
            get(url, None).text().contains("<h2>Description</h2>"),
            "{name}"
        );
        let (median, client, size) = views(url);
        eprintln!("{name} page ({size} bytes): server {median:?}, client {client:?}");
        assert!(
            size < honest_size,
            "{name}: the page is larger than the honest one"
        );
        assert!(
            median < honest + Duration::from_millis(5),
            "{name}: server median {median:?}, honest README page {honest:?}"
        );
    }

    // (c) Health and the indexes answer while 12 clients view such pages.
    let paths: Vec<&str> = pages
        .iter()
        .filter(|(name, _)| name != "plain" && name != "honest")
        .map(|(_, url)| url.trim_start_matches(&server.base))
        .collect();
    let probes = [
        server.url("/-/health"),
        format!("{api}/simple/"),
        format!("{api}/simple/deep-html/"),
        format!("{}/simple/plain/", server.group_api("g")),
    ];
    let load = hammer(server.addr(), 12, &paths, "", &probes, Some(&auth));
    load.assert_responsive("page views");
}

#[test]
fn a_description_stored_before_renderings_were_kept_is_rendered_once_at_its_first_view() {
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/p", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let auth = basic("dev", &token);
    let description = "# Old\n\n<script>alert(1)</script>\n\nSome *kept* text.\n";
    let (file, bytes) = wheel_described("old", "1.0", &[], None, description);
    let api = server.project_api("g/p");
    assert_eq!(
        upload(&api, Some(&auth), "old", "1.0", &file, &bytes, &[]).status,
        201
    );
    // As a database upgraded from before this release holds it: no HTML kept.
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let stored = |db: &rusqlite::Connection| -> Option<String> {
        db.query_row("SELECT description_html FROM package_metadata", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert!(stored(&db).unwrap().contains("<em>kept</em>"));
    db.execute("UPDATE package_metadata SET description_html = NULL", [])
        .unwrap();

    let (_, url) = package_pages(&server, &auth).pop().unwrap();
    for _ in 0..2 {
        let page = get(&url, None);
        assert_eq!(page.status, 200);
        let text = page.text();
        assert!(
            text.contains("<h1>Old</h1>") && text.contains("<em>kept</em>"),
            "{text}"
        );
        assert!(!text.contains("alert(1)"), "{text}");
    }
    let kept = stored(&db).expect("the first view keeps the rendering");
    assert!(
        kept.contains("<em>kept</em>") && !kept.contains("<script"),
        "{kept}"
    );
}
