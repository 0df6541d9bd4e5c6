//! One tenant against another: lying and trickling upstreams, private names, credentials, loops.

use super::*;

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
