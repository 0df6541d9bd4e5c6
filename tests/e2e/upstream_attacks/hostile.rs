//! A hostile upstream: loopback by name, gzip bombs, redirect loops, huge pages, length lies.

use super::*;

/// `bytes` gzipped by the system's gzip.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let owned = bytes.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&owned).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn gzipped(content_type: &str, body: &[u8]) -> Reply {
    let mut reply = Reply::ok(content_type, gzip(body));
    reply
        .headers
        .push(("Content-Encoding".into(), "gzip".into()));
    reply
}

#[test]
fn a_name_that_resolves_to_loopback_is_refused_without_the_operator_flag() {
    let fake = FakeUpstream::start();
    fake.project("loop", &[("loop-1.0-py3-none-any.whl", b"x")]);
    let down = Server::start();
    let port = fake.base.rsplit(':').next().unwrap();
    let upstream = format!("http://localhost:{port}/simple/");
    down.cli(&["group", "add", "g", "--visibility", "public"]);
    down.cli(&["group", "upstream", "add", "g", &upstream]);
    let resp = page_json(&format!("{}/simple/loop/", down.group_api("g")));
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert!(
        resp.text().contains("upstream_allow_private_networks"),
        "{}",
        resp.text()
    );
    assert_eq!(
        fake.hits("/simple/loop/"),
        0,
        "the request reached loopback"
    );
}

#[test]
fn gzip_bombs_are_held_to_the_limits_once_inflated() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&[
        "--upstream-allow-private-networks",
        "--max-upload-size",
        "1MiB",
    ]);
    let index = group_with(&down, "g", &fake);

    // A small gzipped page is read (so the 502 below is the limit, not the encoding).
    let small = noise("zipped", 1000);
    fake.project("zipped", &[("zipped-1.0-py3-none-any.whl", &small)]);
    let page = json!({
        "meta": {"api-version": "1.0"}, "name": "zipped",
        "files": [{"filename": "zipped-1.0-py3-none-any.whl",
                   "url": format!("{}/files/zipped-1.0-py3-none-any.whl", fake.base),
                   "hashes": {"sha256": sha256_hex(&small)}}],
    });
    fake.route(
        "/simple/zipped/",
        gzipped(JSON, &serde_json::to_vec(&page).unwrap()),
    );
    assert_eq!(file_urls(&index, "zipped").len(), 1);

    // 32 MiB of page in a few KiB on the wire: past the page limit (the upload limit here).
    let mut bomb = br#"{"meta":{"api-version":"1.0"},"name":"bomb","files":[],"pad":""#.to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 32 << 20));
    bomb.extend_from_slice(b"\"}");
    fake.route("/simple/bomb/", gzipped(JSON, &bomb));
    let resp = page_json(&format!("{index}bomb/"));
    assert_eq!(resp.status, 502, "{}", resp.text());

    // A file that inflates past its length and the upload limit: refused, nothing kept.
    let inflated = vec![0u8; 8 << 20];
    let filename = "fuse-1.0-py3-none-any.whl";
    let page = json!({
        "meta": {"api-version": "1.0"}, "name": "fuse",
        "files": [{"filename": filename,
                   "url": format!("{}/files/{filename}", fake.base),
                   "hashes": {"sha256": sha256_hex(&inflated)}}],
    });
    fake.route(
        "/simple/fuse/",
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    fake.route(&format!("/files/{filename}"), gzipped(OCTETS, &inflated));
    let url = file_urls(&index, "fuse")[0].clone();
    let resp = get(&url, None);
    assert_not_500(&resp, "a gzip bomb file");
    assert!(
        !(resp.status == 200 && resp.body.len() == inflated.len()),
        "a file past the upload limit was served"
    );
}

#[test]
fn endless_redirects_and_a_huge_listing_get_clean_answers() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);

    fake.route("/simple/circle/", Reply::redirect("/simple/circle/"));
    let resp = page_json(&format!("{index}circle/"));
    assert_eq!(resp.status, 502, "{}", resp.text());
    let looped = noise("loop", 100);
    fake.project("spin", &[("spin-1.0-py3-none-any.whl", &looped)]);
    fake.route(
        "/files/spin-1.0-py3-none-any.whl",
        Reply::redirect("/files/spin-1.0-py3-none-any.whl"),
    );
    let resp = get(&file_urls(&index, "spin")[0], None);
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert!(fake.hits("/files/spin-1.0-py3-none-any.whl") <= 6);

    // 100,000 files on one page (about 20 MB of JSON): stored and served, in bounded time.
    let files: Vec<serde_json::Value> = (0..100_000)
        .map(|i| {
            json!({
                "filename": format!("many-1.{i}-py3-none-any.whl"),
                "url": format!("{}/files/many-1.{i}-py3-none-any.whl", fake.base),
                "hashes": {"sha256": sha256_hex(format!("{i}").as_bytes())},
            })
        })
        .collect();
    let page = json!({"meta": {"api-version": "1.0"}, "name": "many", "files": files});
    fake.route(
        "/simple/many/",
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    for round in ["first (fetched)", "second (cached)"] {
        let started = Instant::now();
        let resp = page_json(&format!("{index}many/"));
        let took = started.elapsed();
        assert_eq!(resp.status, 200, "{round}: {}", resp.text());
        assert_eq!(resp.json()["files"].as_array().unwrap().len(), 100_000);
        eprintln!("a page of 100,000 upstream files, {round}: {took:?}");
        assert!(took < Duration::from_secs(60), "{round}: {took:?}");
    }
    // Meanwhile the server answers others.
    let resp = get(&down.url("/api/v4/version"), None);
    assert_ne!(resp.status, 500);
}

#[test]
fn a_content_length_lie_is_never_served_whole_nor_kept() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    let bytes = noise("fibber", 50_000);
    let filename = "fibber-1.0-py3-none-any.whl";
    let path = format!("/files/{filename}");
    fake.project("fibber", &[(filename, &bytes)]);
    let url = file_urls(&index, "fibber")[0].clone();
    for (n, claimed) in [bytes.len() + 1000, bytes.len() / 2]
        .into_iter()
        .enumerate()
    {
        let mut reply = Reply::ok(OCTETS, bytes.clone());
        reply
            .headers
            .push(("Content-Length".into(), claimed.to_string()));
        fake.route(&path, reply);
        let resp = crate::support::request("GET", &url, &[]);
        assert_not_500(&resp, "a Content-Length lie");
        assert!(
            resp.status != 200 || resp.body.len() < bytes.len(),
            "Content-Length {claimed}: a whole file was served"
        );
        assert_eq!(fake.hits(&path), n + 1, "kept after a lie");
    }
    fake.project("fibber", &[(filename, &bytes)]);
    let resp = get(&url, None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body == bytes);
}
