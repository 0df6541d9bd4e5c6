//! Issue 12 end to end: a second Wheelhouse on loopback plays the public index; pip, uv,
//! poetry and pdm resolve a tree mixing private and upstream packages through one group URL;
//! the bait `acme-private 99.0` upstream is never seen; the cache serves with the upstream down.

pub mod clients;
pub mod corpus;
mod credentials;
pub(crate) mod fake;
mod hostile;

use crate::support::{Response, get, request, sha256_hex, with_credentials};
use clients::{
    assert_locked, assert_tree_installed, pdm_lock_and_install, pip_install,
    poetry_lock_and_install, uv_lock, uv_pip_install,
};
use corpus::{Pair, TREE, corpus, pair};

pub(crate) const JSON: &str = "application/vnd.pypi.simple.v1+json";

pub(crate) fn page_json(url: &str) -> Response {
    request("GET", url, &[("Accept", JSON)])
}

fn page_html(url: &str) -> Response {
    request("GET", url, &[("Accept", "text/html")])
}

/// RFC 3986 resolution of the references a simple page uses (absolute, `/x`, `../x`, `x`).
fn resolve(base: &str, reference: &str) -> String {
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return reference.to_string();
    }
    let origin_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let origin_end = origin_end
        + base[origin_end..]
            .find('/')
            .unwrap_or(base.len() - origin_end);
    if reference.starts_with('/') {
        return format!("{}{reference}", &base[..origin_end]);
    }
    let dir = &base[..base.rfind('/').unwrap() + 1];
    let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
    let mut rest = reference;
    while let Some(r) = rest.strip_prefix("../") {
        parts.pop();
        rest = r;
    }
    format!("{}/{rest}", parts.join("/"))
}

/// The file URLs of a PEP 691 page, resolved against the page's URL.
pub(crate) fn json_file_urls(page_url: &str, page: &serde_json::Value) -> Vec<String> {
    page["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files in {page}"))
        .iter()
        .map(|f| resolve(page_url, f["url"].as_str().unwrap()))
        .collect()
}

/// The link targets of an HTML page (fragments dropped), resolved against the page's URL.
fn html_file_urls(page_url: &str, html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| {
            let href = rest.split('"').next().unwrap();
            let href = href.split('#').next().unwrap().replace("&amp;", "&");
            resolve(page_url, &href)
        })
        .collect()
}

fn filenames(page: &serde_json::Value) -> Vec<String> {
    page["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files in {page}"))
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_string())
        .collect()
}

/// Every file URL of the pages the group serves from upstream points at the downstream host,
/// answers there with the upstream's bytes, and (where the upstream offers it) PEP 658 metadata.
fn assert_links_stay_home(pair: &Pair, group: &str) {
    let corpus = corpus();
    for (name, _, filename) in TREE {
        let url = format!("{}{name}/", pair.index(group));
        let resp = page_json(&url);
        assert_eq!(resp.status, 200, "{url}: {}", resp.text());
        let page = resp.json();
        let urls = json_file_urls(&url, &page);
        let html = page_html(&url);
        assert_eq!(html.status, 200, "{url}: {}", html.text());
        let hrefs = html_file_urls(&url, &html.text());
        assert!(!urls.is_empty() && !hrefs.is_empty(), "{url}: no files");
        for link in urls.iter().chain(&hrefs) {
            assert!(link.starts_with(&pair.down.base), "{url} links off: {link}");
            assert!(!link.contains(&pair.upstream_addr()), "{url}: {link}");
            assert!(link.contains("/files/"), "{url}: {link}");
        }
        let expected = std::fs::read(corpus.join(filename)).unwrap();
        let file = page["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filename"] == *filename)
            .unwrap_or_else(|| panic!("{filename} not on {page}"));
        assert_eq!(file["hashes"]["sha256"], sha256_hex(&expected));
        let file_url = resolve(&url, file["url"].as_str().unwrap());
        let got = get(&file_url, None);
        assert_eq!(got.status, 200, "{file_url}: {}", got.text());
        assert_eq!(got.body, expected, "{file_url}");

        // PEP 658: the upstream (a Wheelhouse) offers every wheel's metadata; so must the
        // group, with the same digest and bytes, so that resolvers need not fetch wheels.
        let up = page_json(&format!("{}{name}/", pair.upstream_index)).json();
        let up_file = up["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filename"] == *filename)
            .unwrap()
            .clone();
        let meta_hash = up_file["core-metadata"]["sha256"]
            .as_str()
            .unwrap_or_else(|| panic!("the upstream offers no metadata: {up_file}"));
        assert_eq!(file["core-metadata"]["sha256"], meta_hash, "{page}");
        let meta = get(&format!("{file_url}.metadata"), None);
        assert_eq!(meta.status, 200, "{file_url}.metadata");
        assert_eq!(sha256_hex(&meta.body), meta_hash);
        let html = html.text();
        assert!(
            html.contains(&format!("data-core-metadata=\"sha256={meta_hash}\"")),
            "{html}"
        );
    }
}

/// The private name's page, in JSON and HTML, through `group`: 1.0 only, never the bait.
fn assert_only_private(pair: &Pair, group: &str, spelling: &str) {
    let url = format!("{}{spelling}/", pair.index(group));
    let resp = page_json(&url);
    assert_eq!(resp.status, 200, "{url}: {}", resp.text());
    let page = resp.json();
    assert_eq!(
        filenames(&page),
        ["acme_private-1.0-py3-none-any.whl"],
        "{url}"
    );
    if let Some(versions) = page["versions"].as_array() {
        assert_eq!(versions, &[serde_json::json!("1.0")], "{url}");
    }
    let html = page_html(&url);
    assert_eq!(html.status, 200, "{url}");
    assert!(html.text().contains("acme_private-1.0-py3-none-any.whl"));
    assert!(!html.text().contains("99.0"), "{url}: {}", html.text());
    assert!(!html.text().contains(&pair.upstream_addr()));
}

fn assert_hidden(pair: &Pair, group: &str, name: &str) {
    let url = format!("{}{name}/", pair.index(group));
    for resp in [page_json(&url), page_html(&url)] {
        assert_eq!(
            resp.status,
            404,
            "{url} should be kept off upstream: {}",
            resp.text()
        );
    }
}

#[test]
fn real_clients_resolve_a_mixed_tree_through_one_group_url_and_again_offline() {
    let _heavy = crate::support::heavy();
    let mut pair = pair();
    let index = pair.index("acme");
    let base = pair.down.base.clone();
    let upstream_addr = pair.upstream_addr();

    let started = std::time::Instant::now();
    assert_tree_installed(pip_install(&index, "acme-private").path());
    let (_venv, site) = uv_pip_install(&index, "acme-private");
    assert_tree_installed(&site);
    assert_locked(&uv_lock(&index), &base, &upstream_addr);
    assert_locked(&poetry_lock_and_install(&index), &base, &upstream_addr);
    assert_locked(&pdm_lock_and_install(&index), &base, &upstream_addr);
    eprintln!("upstream: five clients online in {:?}", started.elapsed());

    // A private group: pip with the group's credentials gets the private package and its
    // upstream dependency.
    let corp = with_credentials(&pair.index("corp"), "__token__", &pair.down_token);
    let target = pip_install(&corp, "corp-private");
    for module in ["corp_private", "idna"] {
        assert!(target.path().join(module).exists(), "{module} missing");
    }

    // Warm the group whose pages go stale at once, and one page whose file nobody fetches.
    let stale_index = pair.index("stale");
    pip_install(&stale_index, "requests");
    let leftpad = page_json(&format!("{index}leftpad/"));
    assert_eq!(leftpad.status, 200, "{}", leftpad.text());
    let leftpad_file = json_file_urls(&format!("{index}leftpad/"), &leftpad.json())[0].clone();

    // The upstream goes away.
    drop(pair.upstream.take());
    let started = std::time::Instant::now();
    assert_tree_installed(pip_install(&index, "acme-private").path());
    let (_venv, site) = uv_pip_install(&index, "acme-private");
    assert_tree_installed(&site);
    let target = pip_install(&stale_index, "requests");
    assert!(target.path().join("urllib3").exists());
    eprintln!("upstream: offline installs in {:?}", started.elapsed());

    let stale = page_json(&format!("{stale_index}requests/"));
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert_eq!(stale.header("x-wheelhouse-upstream"), Some("stale"));
    let fresh = page_json(&format!("{index}requests/"));
    assert_eq!(fresh.status, 200);
    assert_ne!(
        fresh.header("x-wheelhouse-upstream"),
        Some("stale"),
        "a fresh page"
    );

    let uncached = get(&leftpad_file, None);
    assert_eq!(uncached.status, 502, "{leftpad_file}: {}", uncached.text());
    assert!(
        uncached.text().contains(&upstream_addr),
        "{}",
        uncached.text()
    );
    let never = page_json(&format!("{index}never-asked-for/"));
    assert_eq!(never.status, 502, "{}", never.text());
    assert!(never.text().contains(&upstream_addr), "{}", never.text());

    // The group's web pages say what is held here: the cached names, and for each its files.
    let group_page = get(&format!("{base}/acme"), None).text();
    assert!(
        group_page.contains("/acme/-/upstream/requests"),
        "{group_page}"
    );
    let requests = get(&format!("{base}/acme/-/upstream/Requests"), None);
    assert_eq!(requests.status, 200, "{}", requests.text());
    let requests = requests.text();
    assert!(
        requests.contains("requests-2.") && requests.contains("<strong>held</strong>"),
        "{requests}"
    );
    let leftpad = get(&format!("{base}/acme/-/upstream/leftpad"), None).text();
    assert!(leftpad.contains("not yet"), "{leftpad}");
    // The group's own name shows nothing from upstream (and no more than the index would).
    let own = get(&format!("{base}/acme/-/upstream/acme-private"), None).text();
    assert!(own.contains("Nothing from this group"), "{own}");
    assert!(!own.contains("99.0"), "{own}");
}

#[test]
fn the_bait_upstream_is_never_seen_and_rules_keep_names_off_upstream() {
    let pair = pair();
    let index = pair.index("acme");
    for spelling in ["acme-private", "Acme_Private", "acme.private"] {
        assert_only_private(&pair, "acme", spelling);
        // The subgroup holds no project with the name, and it is still the top-level group's:
        // nothing, rather than the upstream's 99.0.
        assert_hidden(&pair, "acme/team", spelling);
    }
    for group in ["acme", "acme/team"] {
        // Published once and deleted: still the group's name, never upstream's 5.0.
        assert_hidden(&pair, group, "acme-gone");
    }
    let fails = clients::client("pip")
        .args(["install", "--no-cache-dir", "--no-deps", "--target"])
        .arg(tempfile::tempdir().unwrap().path())
        .args(["--index-url", &index, "acme-private==99.0"])
        .output()
        .unwrap();
    assert!(!fails.status.success(), "pip found the bait");
    let said = String::from_utf8_lossy(&fails.stderr);
    assert!(said.contains("No matching distribution"), "{said}");
    let venv = tempfile::tempdir().unwrap();
    crate::support::run_ok(
        clients::client("uv")
            .args(["venv", "--quiet", "--python"])
            .arg(corpus::python())
            .arg(venv.path().join("v")),
    );
    let fails = clients::client("uv")
        .args(["pip", "install", "--python"])
        .arg(venv.path().join("v/bin/python"))
        .args(["--default-index", &index, "acme-private>=2"])
        .output()
        .unwrap();
    assert!(!fails.status.success(), "uv found the bait");

    assert_links_stay_home(&pair, "acme");
    assert_links_stay_home(&pair, "acme/team");

    // Before any rule, both names come from upstream (through a group without rules).
    let other = pair.index("stale");
    for name in ["acme-secret", "idna"] {
        let resp = page_json(&format!("{other}{name}/"));
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
    }
    pair.down.cli(&[
        "group", "upstream", "rule", "add", "acme", "reserve", "acme-*",
    ]);
    pair.down
        .cli(&["group", "upstream", "rule", "add", "acme", "deny", "idna"]);
    for group in ["acme", "acme/team"] {
        assert_hidden(&pair, group, "acme-secret");
        assert_hidden(&pair, group, "idna");
        let requests = page_json(&format!("{}requests/", pair.index(group)));
        assert_eq!(requests.status, 200, "{group}: {}", requests.text());
    }
    assert_only_private(&pair, "acme", "acme-private");
    // Once any allow rule exists, only the names it matches go upstream.
    pair.down
        .cli(&["group", "upstream", "rule", "add", "acme", "allow", "req*"]);
    for group in ["acme", "acme/team"] {
        assert_hidden(&pair, group, "certifi");
        let requests = page_json(&format!("{}requests/", pair.index(group)));
        assert_eq!(requests.status, 200, "{group}: {}", requests.text());
    }
    // Rules live on the top-level group only.
    pair.down.cli_fails(&[
        "group",
        "upstream",
        "rule",
        "add",
        "acme/team",
        "deny",
        "certifi",
    ]);
    pair.down.cli_fails(&[
        "group",
        "upstream",
        "add",
        "acme/team",
        &pair.upstream_index,
    ]);
    let listed = crate::support::cli_output(
        pair.down.data_dir(),
        &["group", "upstream", "list", "acme"],
        None,
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&pair.upstream_index));
}
