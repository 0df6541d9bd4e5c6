//! A scripted upstream that lies about digests, stalls, redirects off scheme, overflows and
//! talks garbage; and the size cap that `gc` enforces on the cached upstream files.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::fake::{FakeUpstream, Reply};
use super::{JSON, json_file_urls, page_json};
use serde_json::json;

use crate::s3_support::blobs::stored_bytes;
use crate::support::{Response, Server, get, sha256_hex};

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

/// A downstream server with a public top-level group `h` whose one upstream is `fake`.
fn downstream(fake: &FakeUpstream, extra: &[&str]) -> (Server, String) {
    // The fake upstream is on loopback, which only an operator's setting allows.
    let mut args = vec!["--upstream-allow-private-networks"];
    args.extend_from_slice(extra);
    let down = Server::start_with(&args);
    down.cli(&["group", "add", "h", "--visibility", "public"]);
    down.cli(&["group", "upstream", "add", "h", &fake.index()]);
    let index = format!("{}/simple/", down.group_api("h"));
    (down, index)
}

/// The group's page for `name` (which must answer 200) and its one file URL.
fn file_url(index: &str, name: &str) -> String {
    let url = format!("{index}{name}/");
    let page = page_json(&url);
    assert_eq!(page.status, 200, "{url}: {}", page.text());
    json_file_urls(&url, &page.json())[0].clone()
}

/// Not a crash: an answer of the server's own, never 500.
fn assert_clean(resp: &Response, what: &str) {
    assert_ne!(resp.status, 500, "{what}: {}", resp.text());
}

#[test]
fn a_lying_stalling_or_garbled_upstream_gets_clean_answers_and_one_fetch() {
    let fake = FakeUpstream::start();
    let (down, index) = downstream(&fake, &["--max-upload-size", "1MiB"]);

    // Advertises the digest of `good` and serves other bytes: nobody gets them, nothing is
    // kept, and the next request tries the upstream again.
    let good = noise("good", 200_000);
    let bad = noise("bad", good.len());
    let liar = "liar-1.0-py3-none-any.whl";
    fake.project("liar", &[(liar, &good)]);
    fake.route(
        &format!("/files/{liar}"),
        Reply::ok("application/octet-stream", bad.clone()),
    );
    let url = file_url(&index, "liar");
    for attempt in 1..=2 {
        let resp = get(&url, None);
        assert_clean(&resp, "digest mismatch");
        assert!(
            !(resp.status == 200 && resp.body.len() == bad.len()),
            "attempt {attempt}: the client got a whole file that fails its digest"
        );
        assert_eq!(fake.hits(&format!("/files/{liar}")), attempt, "not cached");
    }
    fake.project("liar", &[(liar, &good)]);
    for _ in 0..2 {
        let resp = get(&url, None);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.body, good);
    }
    assert_eq!(fake.hits(&format!("/files/{liar}")), 3, "cached once right");

    // The same for PEP 658 metadata: advertised with one digest, served with other bytes.
    let wheel_bytes = noise("metaliar", 3000);
    let (metaliar, meta) = ("metaliar-1.0-py3-none-any.whl", b"Metadata-Version: 2.1\n");
    let page = json!({
        "meta": {"api-version": "1.1"},
        "name": "metaliar",
        "files": [{
            "filename": metaliar,
            "url": format!("{}/files/{metaliar}", fake.base),
            "hashes": {"sha256": sha256_hex(&wheel_bytes)},
            "core-metadata": {"sha256": sha256_hex(meta)},
        }],
    });
    fake.route(
        "/simple/metaliar/",
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    let lie = b"Metadata-Version: 2.1\nRequires-Dist: evil\n".to_vec();
    fake.route(
        &format!("/files/{metaliar}.metadata"),
        Reply::ok("application/octet-stream", lie.clone()),
    );
    let url = format!("{}.metadata", file_url(&index, "metaliar"));
    let resp = get(&url, None);
    assert_clean(&resp, "metadata digest mismatch");
    assert!(
        !(resp.status == 200 && resp.body == lie),
        "metadata that fails its digest was served"
    );

    // Single flight: eight clients at once for one uncached file on a slow link.
    let slow = noise("slow", 400_000);
    let slowpoke = "slowpoke-1.0-py3-none-any.whl";
    fake.project("slowpoke", &[(slowpoke, &slow)]);
    fake.route(
        &format!("/files/{slowpoke}"),
        Reply::ok("application/octet-stream", slow.clone()).slow(20, Duration::from_millis(25)),
    );
    let url = file_url(&index, "slowpoke");
    let gate = std::sync::Barrier::new(8);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    gate.wait();
                    get(&url, None)
                })
            })
            .collect();
        for handle in handles {
            let resp = handle.join().unwrap();
            assert_eq!(resp.status, 200, "{}", resp.text());
            assert!(resp.body == slow, "a concurrent download got other bytes");
        }
    });
    assert_eq!(fake.hits(&format!("/files/{slowpoke}")), 1, "single flight");

    // Redirects off to another scheme are not followed, for files or pages.
    let hop = noise("hop", 1000);
    for (name, target) in [
        ("hop", "ftp://127.0.0.1:21/x.whl"),
        ("jump", "file:///etc/passwd"),
    ] {
        let filename = format!("{name}-1.0-py3-none-any.whl");
        fake.project(name, &[(&filename, &hop)]);
        fake.route(&format!("/files/{filename}"), Reply::redirect(target));
        let resp = get(&file_url(&index, name), None);
        assert_eq!(resp.status, 502, "{target}: {}", resp.text());
    }
    fake.route("/simple/moved/", Reply::redirect("file:///etc/passwd"));
    let resp = page_json(&format!("{index}moved/"));
    assert_eq!(resp.status, 502, "page redirect: {}", resp.text());

    // A file larger than the upload limit is refused (if listed at all), and so is a page
    // past it (pages are held to the upload limit, at most 64 MiB).
    let bulky = noise("bulky", 1_200_000);
    let bulky_name = "bulky-1.0-py3-none-any.whl";
    fake.project("bulky", &[(bulky_name, &bulky)]);
    let url = format!("{index}bulky/");
    let page = page_json(&url);
    assert_eq!(page.status, 200, "{}", page.text());
    if let Some(link) = json_file_urls(&url, &page.json()).first() {
        let resp = get(link, None);
        assert_eq!(
            resp.status,
            502,
            "a file past the upload limit: {}",
            resp.text()
        );
    }
    let mut huge = br#"{"meta":{"api-version":"1.0"},"name":"huge","files":[],"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 << 20));
    huge.extend_from_slice(b"\"}");
    fake.route("/simple/huge/", Reply::ok(JSON, huge));
    fake.route(
        "/simple/mangled/",
        Reply::ok(
            JSON,
            br#"{"meta":{"api-version":"1.0"},"files":[{"filename":5"#.to_vec(),
        ),
    );
    fake.route(
        "/simple/blob/",
        Reply::ok("application/octet-stream", noise("blob", 5000)),
    );
    fake.route(
        "/simple/future/",
        Reply::ok("application/vnd.pypi.simple.v2+json", b"{}".to_vec()),
    );
    for name in ["huge", "mangled", "blob", "future"] {
        let resp = page_json(&format!("{index}{name}/"));
        assert_eq!(resp.status, 502, "{name}: {}", resp.text());
    }
    // HTML that is not UTF-8 is refused, not guessed at.
    fake.route(
        "/simple/scrawl/",
        Reply::ok(
            "text/html",
            b"<html><a href=\"\xff\xfe\x00/scrawl-1.0.whl#sha256=zz\">x</a>".to_vec(),
        ),
    );
    let resp = page_json(&format!("{index}scrawl/"));
    assert_eq!(resp.status, 502, "scrawl: {}", resp.text());
    assert!(resp.text().contains("not UTF-8"), "{}", resp.text());
    // Broken markup is read as browsers and pip read it; but a link without a usable sha256
    // is never offered, since its bytes could not be checked.
    fake.route(
        "/simple/smudge/",
        Reply::ok(
            "text/html",
            b"<html><a href=\"/files/smudge-1.0-py3-none-any.whl#sha256=zz\">x</a>\
              <a href=\"/files/smudge-2.0-py3-none-any.whl\">y<a href=<<"
                .to_vec(),
        ),
    );
    let resp = page_json(&format!("{index}smudge/"));
    assert!(
        resp.status == 502 || (resp.status == 200 && resp.json()["files"] == json!([])),
        "smudge: {} {}",
        resp.status,
        resp.text()
    );

    // A filename that climbs out of its directory is never listed (nor stored).
    let sneaky = noise("sneaky", 1000);
    let page = json!({
        "meta": {"api-version": "1.0"},
        "name": "sneaky",
        "files": [{
            "filename": "../../sneaky-1.0-py3-none-any.whl",
            "url": format!("{}/files/sneaky.whl", fake.base),
            "hashes": {"sha256": sha256_hex(&sneaky)},
        }],
    });
    fake.route(
        "/simple/sneaky/",
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    let resp = page_json(&format!("{index}sneaky/"));
    assert_clean(&resp, "sneaky");
    assert!(!resp.text().contains("../"), "{}", resp.text());
    drop(down);
}

/// The Unix second moves on, so that what comes next is strictly more recently used.
fn next_second() {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let start = now();
    let deadline = Instant::now() + Duration::from_secs(3);
    while now() == start {
        assert!(Instant::now() < deadline, "the clock stands still");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn gc_keeps_cached_upstream_files_under_the_cap_least_recently_used_first() {
    let fake = FakeUpstream::start();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "upstream_cache_max_size = \"600KiB\"\n").unwrap();
    let config_path = config.path().to_str().unwrap();
    let (down, index) = downstream(&fake, &["--config", config_path]);
    let before_any = stored_bytes(&down);

    let size = 256 << 10;
    let files: Vec<(String, Vec<u8>)> = ["capa", "capb", "capc"]
        .iter()
        .map(|name| (format!("{name}-1.0-py3-none-any.whl"), noise(name, size)))
        .collect();
    let mut urls = Vec::new();
    for (i, (filename, bytes)) in files.iter().enumerate() {
        let name = &filename[..4];
        fake.project(name, &[(filename, bytes)]);
        let url = file_url(&index, name);
        let resp = get(&url, None);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.body == *bytes);
        urls.push(url);
        if i == 0 {
            next_second();
        }
    }
    // The server may evict as it goes; gc must in any case.
    let cached = stored_bytes(&down) - before_any;
    assert!(cached >= size as u64, "only {cached} bytes cached");

    down.cli(&["gc", "--config", config_path]);
    let cached = stored_bytes(&down) - before_any;
    assert!(cached <= 600 << 10, "{cached} bytes cached after gc");

    // The least recently used went; the newest stayed; a re-fetch brings the old one back.
    let hits = |i: usize| fake.hits(&format!("/files/{}", files[i].0));
    let newest = get(&urls[2], None);
    assert_eq!(newest.status, 200);
    assert_eq!(hits(2), 1, "the newest file was evicted");
    let oldest = get(&urls[0], None);
    assert_eq!(oldest.status, 200, "{}", oldest.text());
    assert!(oldest.body == files[0].1);
    assert_eq!(hits(0), 2, "the oldest file was kept");
}

#[test]
fn stale_pages_are_revalidated_and_served_stale_while_the_upstream_fails() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    down.cli(&["group", "add", "r", "--visibility", "public"]);
    // Fresh for no time at all: every request revalidates.
    down.cli(&[
        "group",
        "upstream",
        "add",
        "r",
        &fake.index(),
        "--cache-hours",
        "0",
    ]);
    let index = format!("{}/simple/", down.group_api("r"));
    let url = format!("{index}reval/");
    let listed = |resp: &Response| -> Vec<String> {
        resp.json()["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filename"].as_str().unwrap().to_string())
            .collect()
    };
    let (one, two) = ("reval-1.0-py3-none-any.whl", "reval-2.0-py3-none-any.whl");
    let (one_bytes, two_bytes) = (noise("reval-1", 2000), noise("reval-2", 2000));

    fake.project("reval", &[(one, &one_bytes)]);
    fake.tag("/simple/reval/", "\"v1\"");
    let first = page_json(&url);
    assert_eq!(first.status, 200, "{}", first.text());
    let second = page_json(&url);
    assert_eq!(listed(&second), [one]);
    assert_eq!(
        fake.hits("/simple/reval/"),
        2,
        "a stale page is asked again"
    );
    assert!(
        fake.last_head("/simple/reval/")
            .contains("if-none-match: \"v1\""),
        "not revalidated with the ETag: {}",
        fake.last_head("/simple/reval/")
    );
    let file = get(&json_file_urls(&url, &first.json())[0], None);
    assert_eq!(file.status, 200);

    // A new release upstream shows at the next request.
    fake.project("reval", &[(one, &one_bytes), (two, &two_bytes)]);
    fake.tag("/simple/reval/", "\"v2\"");
    let third = page_json(&url);
    assert_eq!(listed(&third), [one, two]);
    assert_ne!(third.header("x-wheelhouse-upstream"), Some("stale"));

    // The upstream fails (5xx): the cached page is answered, marked stale, and its cached
    // file still downloads.
    let failing = Reply {
        status: 503,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"down for maintenance".to_vec(),
        pace: None,
    };
    fake.route("/simple/reval/", failing.clone());
    fake.route("/simple/other/", failing);
    let fourth = page_json(&url);
    assert_eq!(fourth.status, 200, "{}", fourth.text());
    assert_eq!(listed(&fourth), [one, two]);
    assert_eq!(fourth.header("x-wheelhouse-upstream"), Some("stale"));
    let file = get(&json_file_urls(&url, &fourth.json())[0], None);
    assert_eq!(file.status, 200);
    assert!(file.body == one_bytes);
    // A name never cached has nothing to fall back on.
    let other = page_json(&format!("{index}other/"));
    assert_eq!(other.status, 502, "{}", other.text());
    assert!(other.text().contains(&fake.base[7..]), "{}", other.text());
}
