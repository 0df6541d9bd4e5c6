//! The Warehouse JSON of a package whose description is as large as the metadata limit allows:
//! the description it carries is bounded (with a visible marker), repeated requests cost a
//! lookup, and health keeps answering while 20 anonymous clients ask for it.

use crate::load_support::{fetch, hammer};
use crate::support::{Server, basic, get, request, upload, wheel_described};

/// About 14 MB of plain Markdown (the metadata limit allows 16 MiB).
fn huge_description() -> String {
    let line = "Plain words of a README that someone made far too long to be honest.\n";
    line.repeat(14_000_000 / line.len())
}

#[test]
fn a_huge_description_costs_a_lookup_in_the_warehouse_json() {
    let _heavy = crate::support::heavy();
    let server = Server::start();
    server.cli(&["group", "add", "g", "--visibility", "public"]);
    server.cli(&["project", "add", "g/p", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    let auth = basic("dev", &token);
    let api = server.project_api("g/p");
    let description = huge_description();
    let (file, bytes) = wheel_described("huge", "1.0", &[], None, &description);
    let stored = upload(&api, Some(&auth), "huge", "1.0", &file, &bytes, &[]);
    assert_eq!(stored.status, 201, "{}", stored.text());

    // The JSON carries a bounded description that says it was cut; the file's own metadata
    // (PEP 658) still holds it whole.
    let group_json = format!("{}/pypi/huge/json", server.group_api("g"));
    for url in [
        format!("{api}/pypi/huge/json"),
        format!("{api}/pypi/huge/1.0/json"),
        group_json.clone(),
    ] {
        let answer = get(&url, None);
        assert_eq!(answer.status, 200, "{url}");
        let json = answer.json();
        let shown = json["info"]["description"].as_str().unwrap();
        assert!(
            shown.len() <= 2 << 20,
            "{url}: {} bytes of description",
            shown.len()
        );
        assert!(
            description.starts_with(shown.lines().next().unwrap())
                && shown.contains("too long to keep whole"),
            "{url}: {}",
            &shown[shown.len().saturating_sub(300)..]
        );
        assert_eq!(json["info"]["version"], "1.0");
    }
    // Poetry asks with gzip: it gets gzip, the same bytes each time with a stable tag.
    let first = request("GET", &group_json, &[]);
    let again = request("GET", &group_json, &[]);
    assert_eq!(first.header("etag"), again.header("etag"));
    assert_eq!(first.body, again.body);
    let mut raw = Vec::new();
    let path = group_json.trim_start_matches(&server.base);
    fetch(server.addr(), path, "Accept-Encoding: gzip\r\n", &mut raw);
    let head = String::from_utf8_lossy(&raw[..raw.len().min(1024)]).to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");

    // 20 anonymous clients fetch the JSON while health and an index are timed.
    let paths = [
        format!("{api}/pypi/huge/json"),
        format!("{api}/pypi/huge/1.0/json"),
        group_json,
    ];
    let paths: Vec<&str> = paths
        .iter()
        .map(|url| url.trim_start_matches(&server.base))
        .collect();
    let probes = [server.url("/-/health"), format!("{api}/simple/")];
    let headers = "Accept-Encoding: gzip\r\n";
    let load = hammer(server.addr(), 20, &paths, headers, &probes, None);
    load.assert_responsive("warehouse JSON");
}
