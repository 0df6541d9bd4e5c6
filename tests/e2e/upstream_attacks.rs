//! Issue 12 under attack: a tenant whose own upstream lies, an upstream that stalls, inflates
//! or redirects, credentials that must stay home, and the cache through fsck, backup and restore.

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

#[test]
fn another_tenants_lying_upstream_cannot_fail_or_poison_a_groups_files() {
    let (honest, liar) = (FakeUpstream::start(), FakeUpstream::start());
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index_a = group_with(&down, "tenant-a", &honest);
    let index_b = group_with(&down, "tenant-b", &liar);

    // Both upstreams list the same file by the same digest; B's sends other bytes, slowly.
    let good = noise("shared", 300_000);
    let filename = "shared-1.0-py3-none-any.whl";
    let path = format!("/files/{filename}");
    honest.project("shared", &[(filename, &good)]);
    liar.project("shared", &[(filename, &good)]);
    liar.route(
        &path,
        Reply::ok(OCTETS, noise("lie", good.len())).slow(40, Duration::from_millis(100)),
    );
    let (url_a, url_b) = (
        file_urls(&index_a, "shared")[0].clone(),
        file_urls(&index_b, "shared")[0].clone(),
    );
    std::thread::scope(|s| {
        let b = s.spawn(|| get(&url_b, None));
        // B's fetch of that digest is under way: A's request must not join it.
        wait_for_hit(&liar, &path);
        let a = get(&url_a, None);
        assert_eq!(a.status, 200, "{}", a.text());
        assert!(
            a.body == good,
            "A got the bytes or the failure of B's upstream"
        );
        let b = b.join().unwrap();
        assert!(b.body != good, "B's lie was served as the good file");
    });
    assert_eq!(honest.hits(&path), 1);
    // Kept once verified, and B now gets the verified bytes from the shared store.
    let b = get(&url_b, None);
    assert_eq!(b.status, 200, "{}", b.text());
    assert!(b.body == good);

    // PEP 658: B's upstream lists lying metadata for a file whose bytes are fine. It is B's
    // to believe; A still gets the metadata its own upstream listed.
    let wheel = noise("meta-wheel", 50_000);
    let (truth, lie) = (
        b"Metadata-Version: 2.1\nName: meta\nVersion: 1.0\n".to_vec(),
        b"Metadata-Version: 2.1\nName: meta\nVersion: 1.0\nRequires-Dist: evil\n".to_vec(),
    );
    let filename = "meta-1.0-py3-none-any.whl";
    project_with_metadata(&honest, "meta", filename, &wheel, &truth, &truth);
    project_with_metadata(&liar, "meta", filename, &wheel, &lie, &lie);
    let metadata = |index: &str| get(&format!("{}.metadata", file_urls(index, "meta")[0]), None);
    let b = metadata(&index_b);
    assert_eq!(b.status, 200, "{}", b.text());
    let a = metadata(&index_a);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.body, truth, "A got B's metadata");

    // A's own upstream sends metadata other than it listed: refused, and the wheel is fine.
    let wheel = noise("fib-wheel", 50_000);
    let filename = "fib-1.0-py3-none-any.whl";
    let listed = b"Metadata-Version: 2.1\nName: fib\nVersion: 1.0\n".to_vec();
    project_with_metadata(&honest, "fib", filename, &wheel, &listed, &lie);
    let url = file_urls(&index_a, "fib")[0].clone();
    let resp = get(&format!("{url}.metadata"), None);
    assert_eq!(resp.status, 502, "{}", resp.text());
    let resp = get(&url, None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body == wheel);
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
fn an_upstreams_credentials_go_to_its_own_origin_only_and_are_never_said() {
    let (index_host, file_host) = (FakeUpstream::start(), FakeUpstream::start());
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    down.cli(&["group", "add", "g", "--visibility", "public"]);
    let secret = "hunter2-upstream-secret";
    let out = cli_output(
        down.data_dir(),
        &[
            "group",
            "upstream",
            "add",
            "g",
            &index_host.index(),
            "--username",
            "mirror",
            "--password-stdin",
        ],
        Some(&format!("{secret}\n")),
    );
    assert!(out.status.success(), "{out:?}");
    let index = format!("{}/simple/", down.group_api("g"));
    let token = crate::support::basic("mirror", secret);
    let token = token.trim_start_matches("Basic ");

    // One file on another origin, one on the upstream's own that redirects to another origin.
    let (far, hop) = (noise("far", 2000), noise("hop", 2000));
    let page = json!({
        "meta": {"api-version": "1.0"}, "name": "creds",
        "files": [
            {"filename": "creds-1.0-py3-none-any.whl",
             "url": format!("{}/files/creds-1.0-py3-none-any.whl", file_host.base),
             "hashes": {"sha256": sha256_hex(&far)}},
            {"filename": "creds-2.0-py3-none-any.whl",
             "url": format!("{}/files/creds-2.0-py3-none-any.whl", index_host.base),
             "hashes": {"sha256": sha256_hex(&hop)}},
            {"filename": "creds-3.0-py3-none-any.whl",
             "url": format!("{}/files/creds-3.0-py3-none-any.whl", file_host.base),
             "hashes": {"sha256": sha256_hex(b"never sent")}},
        ],
    });
    index_host.route(
        "/simple/creds/",
        Reply::ok(JSON, serde_json::to_vec(&page).unwrap()),
    );
    file_host.route(
        "/files/creds-1.0-py3-none-any.whl",
        Reply::ok(OCTETS, far.clone()),
    );
    index_host.route(
        "/files/creds-2.0-py3-none-any.whl",
        Reply::redirect(&format!("{}/files/moved.whl", file_host.base)),
    );
    file_host.route("/files/moved.whl", Reply::ok(OCTETS, hop.clone()));
    file_host.route(
        "/files/creds-3.0-py3-none-any.whl",
        Reply {
            status: 503,
            headers: Vec::new(),
            body: Vec::new(),
            pace: None,
        },
    );

    let urls = file_urls(&index, "creds");
    assert_eq!(urls.len(), 3);
    let sent = |fake: &FakeUpstream, path: &str| fake.heads(path).join("\n");
    assert!(
        sent(&index_host, "/simple/creds/").contains(token),
        "the upstream itself got no credentials"
    );
    for (url, bytes) in [(&urls[0], &far), (&urls[1], &hop)] {
        let resp = get(url, None);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.body == *bytes);
    }
    let failed = get(&urls[2], None);
    assert_eq!(failed.status, 502, "{}", failed.text());
    for path in [
        "/files/creds-1.0-py3-none-any.whl",
        "/files/moved.whl",
        "/files/creds-3.0-py3-none-any.whl",
    ] {
        let heads = sent(&file_host, path);
        assert!(!heads.is_empty(), "{path} was never asked for");
        assert!(
            !heads.to_ascii_lowercase().contains("authorization"),
            "credentials went to another origin: {heads}"
        );
    }

    // Neither a 502 nor the command line says the password (the API's answers are checked in
    // upstream_config).
    let cli = down.cli(&["group", "upstream", "list", "g"]);
    for said in [failed.text(), cli] {
        assert!(!said.contains(secret) && !said.contains(token), "{said}");
    }
}

/// `wheelhouse --data-dir DIR ARGS…`: whether it succeeded, and all it printed.
fn offline(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = cli_output(data_dir, args, None);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn fsck_backup_and_restore_keep_a_populated_upstream_cache_working() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    let wheel = noise("kept", 100_000);
    let metadata = b"Metadata-Version: 2.1\nName: kept\nVersion: 1.0\n".to_vec();
    let filename = "kept-1.0-py3-none-any.whl";
    project_with_metadata(&fake, "kept", filename, &wheel, &metadata, &metadata);
    let url = file_urls(&index, "kept")[0].clone();
    assert!(get(&url, None).body == wheel);
    assert_eq!(get(&format!("{url}.metadata"), None).body, metadata);

    let (ok, out) = offline(down.data_dir(), &["fsck"]);
    assert!(ok, "fsck of a populated cache: {out}");
    let (ok, out) = offline(down.data_dir(), &["gc"]);
    assert!(ok, "gc with no cap: {out}");
    assert!(get(&url, None).body == wheel, "gc without a cap evicted");

    let backup = tempfile::tempdir().unwrap();
    let dest = backup.path().join("copy");
    let (ok, out) = offline(down.data_dir(), &["backup", dest.to_str().unwrap()]);
    assert!(ok, "{out}");
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let (ok, out) = offline(&target, &["restore", dest.to_str().unwrap()]);
    assert!(ok, "{out}");
    let (ok, out) = offline(&target, &["fsck"]);
    assert!(ok, "fsck after a restore: {out}");
    let restored = Server::start_in_with(
        tempfile::TempDir::new_in(restored_dir.path()).unwrap(),
        &target,
        &["--upstream-allow-private-networks"],
    );
    let url = url.replace(&down.url(""), &restored.url(""));
    let resp = get(&url, None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body == wheel);
    let resp = get(&format!("{url}.metadata"), None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body, metadata);
    let (ok, out) = offline(&target, &["fsck"]);
    assert!(ok, "fsck after re-fetching: {out}");
}

/// Runs `work` on a thread of its own and waits at most `limit` for its answer.
fn within<T: Send + 'static>(limit: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(work()));
    receiver
        .recv_timeout(limit)
        .expect("no answer in time: the server is stuck behind another tenant's upstream")
}

#[test]
fn one_tenants_trickling_upstream_cannot_take_every_fetch_slot() {
    let (honest, trickler) = (FakeUpstream::start(), FakeUpstream::start());
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index_a = group_with(&down, "tenant-a", &honest);
    let index_b = group_with(&down, "tenant-b", &trickler);

    // B's upstream lists 40 files and sends each a byte at a time, never idle long enough for
    // the idle timeout: each download would hold its fetch slot for minutes.
    let files: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            let name = format!("drip-1.{i}-py3-none-any.whl");
            (name.clone(), noise(&name, 2000))
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    trickler.project("drip", &listed);
    for (name, bytes) in &files {
        trickler.route(
            &format!("/files/{name}"),
            Reply::ok(OCTETS, bytes.clone()).slow(2000, Duration::from_millis(100)),
        );
    }
    let urls = file_urls(&index_b, "drip");
    // Each asked for by a client that then waits: raw connections, held to the test's end.
    let addr = down.addr().to_string();
    let held: Vec<std::net::TcpStream> = urls
        .iter()
        .map(|url| {
            use std::io::Write;
            let path = &url[url.find("/api/").unwrap()..];
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
            stream
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let started = || {
        files
            .iter()
            .filter(|(name, _)| trickler.hits(&format!("/files/{name}")) > 0)
            .count()
    };
    while started() < 16 {
        assert!(Instant::now() < deadline, "B's downloads never started");
        std::thread::yield_now();
    }

    // A's pages and files are still fetched at once.
    let good = noise("fresh", 5000);
    honest.project("fresh", &[("fresh-1.0-py3-none-any.whl", &good)]);
    let index = index_a.clone();
    let url = within(Duration::from_secs(20), move || file_urls(&index, "fresh"))[0].clone();
    let resp = within(Duration::from_secs(20), move || get(&url, None));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.body == good);
    assert!(
        started() <= 16,
        "one group took {} download slots",
        started()
    );
    drop(held);
}

#[test]
fn downloads_racing_evictions_get_their_bytes_never_a_500() {
    let fake = FakeUpstream::start();
    let config = tempfile::NamedTempFile::new().unwrap();
    // Room for one file of two: each fetch evicts the other.
    std::fs::write(config.path(), "upstream_cache_max_size = \"100KiB\"\n").unwrap();
    let down = Server::start_with(&[
        "--upstream-allow-private-networks",
        "--config",
        config.path().to_str().unwrap(),
    ]);
    let index = group_with(&down, "g", &fake);
    let files: Vec<(String, Vec<u8>)> = ["churn-1.0", "churn-2.0"]
        .iter()
        .map(|stem| {
            let name = format!("{stem}-py3-none-any.whl");
            (name.clone(), noise(&name, 80_000))
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    fake.project("churn", &listed);
    let urls = file_urls(&index, "churn");
    let deadline = Instant::now() + Duration::from_secs(5);
    std::thread::scope(|s| {
        for worker in 0..6 {
            let (urls, files) = (&urls, &files);
            s.spawn(move || {
                let mut n = worker;
                while Instant::now() < deadline {
                    let i = n % 2;
                    let resp = get(&urls[i], None);
                    assert_eq!(resp.status, 200, "{}", resp.text());
                    assert!(resp.body == files[i].1, "other bytes for {}", files[i].0);
                    n += 1;
                }
            });
        }
    });
}

#[test]
fn a_name_published_privately_after_it_was_cached_shows_nothing_upstream_to_anyone() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    down.cli(&["project", "add", "g/secret", "--visibility", "private"]);
    let token = down.user_with_token("dev", "api");
    down.cli(&["member", "add", "g", "dev", "--role", "maintainer"]);
    let auth = crate::support::basic("__token__", &token);

    // Cached from upstream by an anonymous reader while nobody here publishes the name...
    let bait = noise("later", 3000);
    fake.project(
        "later-private",
        &[("later_private-99.0-py3-none-any.whl", &bait)],
    );
    let url = file_urls(&index, "later-private")[0].clone();
    assert!(get(&url, None).body == bait);
    let site = down.url("");
    assert!(
        get(&format!("{site}/g"), None)
            .text()
            .contains("later-private")
    );

    // ...then published in a private project: the name is the group's from now on.
    let (file, bytes) = crate::support::wheel("later-private", "1.0", &[]);
    let api = down.project_api("g/secret");
    let resp = crate::support::upload(
        &api,
        Some(&auth),
        "later-private",
        "1.0",
        &file,
        &bytes,
        &[],
    );
    assert_eq!(resp.status, 201, "{}", resp.text());

    let hits = fake.hits("/simple/later-private/");
    let page = page_json(&format!("{index}later-private/"));
    assert_eq!(page.status, 404, "{}", page.text());
    assert_eq!(get(&url, None).status, 404, "the cached upstream file");
    assert_eq!(fake.hits("/simple/later-private/"), hits, "asked upstream");
    let web = get(&format!("{site}/g/-/upstream/later-private"), None).text();
    assert!(!web.contains("99.0"), "{web}");
    let group = get(&format!("{site}/g"), None).text();
    assert!(
        !group.contains("later-private"),
        "the group page lists a private name as cached upstream: {group}"
    );
    // Its members see their own package, never the upstream's.
    let page = crate::support::request(
        "GET",
        &format!("{index}later-private/"),
        &[("Accept", JSON), ("Authorization", &auth)],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(!page.text().contains("99.0"), "{}", page.text());
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

#[test]
fn a_thousand_different_uncached_files_at_once_are_each_fetched_once() {
    let fake = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    let index = group_with(&down, "g", &fake);
    let files: Vec<(String, Vec<u8>)> = (0..1000)
        .map(|i| {
            let name = format!("crowd-1.{i}-py3-none-any.whl");
            (name.clone(), noise(&name, 1000))
        })
        .collect();
    let listed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    fake.project("crowd", &listed);
    let urls = file_urls(&index, "crowd");
    let by_name: std::collections::HashMap<&str, &[u8]> = listed.iter().copied().collect();
    let started = Instant::now();
    let gate = std::sync::Barrier::new(urls.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = urls
            .iter()
            .map(|url| {
                let gate = &gate;
                s.spawn(move || {
                    gate.wait();
                    (url, get(url, None))
                })
            })
            .collect();
        for handle in handles {
            let (url, resp) = handle.join().unwrap();
            assert_eq!(resp.status, 200, "{url}: {}", resp.text());
            let name = url.rsplit('/').next().unwrap();
            assert!(resp.body == by_name[name], "{name}: other bytes");
        }
    });
    eprintln!("1000 uncached files at once: {:?}", started.elapsed());
    for (name, _) in &files {
        assert_eq!(fake.hits(&format!("/files/{name}")), 1, "{name}");
    }
}

#[test]
fn a_group_whose_upstream_is_the_server_itself_answers_at_once() {
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    down.cli(&["group", "add", "g", "--visibility", "public"]);
    down.cli(&["group", "add", "h", "--visibility", "public"]);
    // g asks itself; h and g2 ask each other: loops, through one server or a chain of them.
    let own = |group: &str| format!("{}/simple/", down.group_api(group));
    down.cli(&["group", "upstream", "add", "g", &own("g")]);
    down.cli(&["group", "add", "g2", "--visibility", "public"]);
    down.cli(&["group", "upstream", "add", "h", &own("g2")]);
    down.cli(&["group", "upstream", "add", "g2", &own("h")]);
    for group in ["g", "h"] {
        let url = format!("{}looping/", own(group));
        let resp = within(Duration::from_secs(20), move || page_json(&url));
        assert!(
            matches!(resp.status, 404 | 502),
            "{group}: {} {}",
            resp.status,
            resp.text()
        );
    }
}
