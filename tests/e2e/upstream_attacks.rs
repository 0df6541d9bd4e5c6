//! Issue 12 under attack: a tenant whose own upstream lies, an upstream that stalls, inflates
//! or redirects, credentials that must stay home, and the cache through fsck, backup and restore.

mod cache;
mod hostile;
mod tenants;

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Response, Server, cli_output, get, sha256_hex};
use crate::upstream::fake::{FakeUpstream, Reply};
use crate::upstream::{JSON, json_file_urls, page_json};

const OCTETS: &str = "application/octet-stream";

/// Incompressible bytes, the same for the same seed.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = sha256_hex(seed.as_bytes()).into_bytes();
    while out.len() < len {
        block = hex::decode(sha256_hex(&block)).unwrap();
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

/// A public top-level group `group` on `down` whose one upstream is `fake`; its group index.
fn group_with(down: &Server, group: &str, fake: &FakeUpstream) -> String {
    down.cli(&["group", "add", group, "--visibility", "public"]);
    down.cli(&["group", "upstream", "add", group, &fake.index()]);
    format!("{}/simple/", down.group_api(group))
}

/// The group's page for `name` (which must answer 200) and its file URLs.
fn file_urls(index: &str, name: &str) -> Vec<String> {
    let url = format!("{index}{name}/");
    let page = page_json(&url);
    assert_eq!(page.status, 200, "{url}: {}", page.text());
    json_file_urls(&url, &page.json())
}

/// A PEP 691 page at `/simple/NAME/` on `fake` with one file and its PEP 658 metadata, the
/// metadata's digest as listed (which need not be that of the bytes served).
fn project_with_metadata(
    fake: &FakeUpstream,
    name: &str,
    filename: &str,
    bytes: &[u8],
    metadata_listed: &[u8],
    metadata_served: &[u8],
) {
    let page = json!({
        "meta": {"api-version": "1.1"},
        "name": name,
        "files": [{
            "filename": filename,
            "url": format!("{}/files/{filename}", fake.base),
            "hashes": {"sha256": sha256_hex(bytes)},
            "core-metadata": {"sha256": sha256_hex(metadata_listed)},
            "size": bytes.len(),
        }],
    });
    fake.route(
        &format!("/simple/{name}/"),
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    fake.route(
        &format!("/files/{filename}"),
        Reply::ok(OCTETS, bytes.to_vec()),
    );
    fake.route(
        &format!("/files/{filename}.metadata"),
        Reply::ok("text/plain", metadata_served.to_vec()),
    );
}

/// Waits (bounded) until `fake` has seen a request for `path`.
fn wait_for_hit(fake: &FakeUpstream, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.hits(path) == 0 {
        assert!(Instant::now() < deadline, "{path} was never fetched");
        std::thread::yield_now();
    }
}

fn assert_not_500(resp: &Response, what: &str) {
    assert_ne!(resp.status, 500, "{what}: {}", resp.text());
}

/// Runs `work` on a thread of its own and waits at most `limit` for its answer.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(work()));
    receiver
        .recv_timeout(limit)
        .expect("no answer in time: the server is stuck behind another tenant's upstream")
}
