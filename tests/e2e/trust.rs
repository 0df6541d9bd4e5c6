//! Issue 10's edges, attacked over HTTP: sign-in returns only to this site, the throttle never
//! refuses valid credentials and believes forwarding headers only from trusted proxies, the
//! anonymous cannot tell a private project from a missing one, and a cached page never answers
//! credentials that would be refused uncached.

use crate::support::{Response, Server, basic, cli_output, get, post, request, upload, wheel};
use crate::web::{Visitor, add_user, csrf_of};

/// Posts the real sign-in form from a fresh browser, with `return_to` and extra headers.
fn sign_in_with(
    server: &Server,
    (username, password): (&str, &str),
    return_to: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut visitor = Visitor::new(server);
    let token = csrf_of(&visitor.get("/users/sign_in"));
    let body = serde_urlencoded::to_string([
        ("csrf_token", token.as_str()),
        ("username", username),
        ("password", password),
        ("return_to", return_to),
    ])
    .unwrap();
    let cookies = visitor.cookie_header();
    let mut all = vec![
        ("Cookie", cookies.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    all.extend_from_slice(headers);
    post(&server.url("/users/sign_in"), &all, body.into_bytes())
}

/// The hidden `return_to` of the sign-in page reached by `query` (as a victim's link has it).
fn return_to_of(server: &Server, query: &str) -> String {
    let page = get(
        &server.url(&format!("/users/sign_in?return_to={query}")),
        None,
    );
    assert_eq!(page.status, 200, "{query}: {}", page.text());
    let text = page.text();
    let at = text.find("name=\"return_to\" value=\"").unwrap() + 24;
    text[at..at + text[at..].find('"').unwrap()].replace("&#38;", "&")
}

#[test]
fn sign_in_returns_only_to_paths_on_this_site() {
    let server = Server::start();
    add_user(&server, "alice", "alice password", false);
    // The link: the page must not carry the attack into its form.
    for (query, kept) in [
        ("/%09/evil.example/x", "/"),
        ("%2F%09%2Fevil.example%2Fx", "/"),
        ("/%0D%0A/evil.example", "/"),
        ("//evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("%5C/evil.example", "/"),
        ("https://evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/acme/models%3Fx%3D1", "/acme/models?x=1"),
    ] {
        assert_eq!(return_to_of(&server, query), kept, "{query}");
    }
    // A forged form carries the decoded attack itself: each stays on this site (mostly going
    // home), never a 500, and no raw control character reaches the Location header.
    let long = format!("/{}", "a".repeat(4000));
    for (attack, location) in [
        ("/\t/evil.example/x", "/"),
        ("/\n/evil.example/x", "/"),
        ("/\r\n/evil.example", "/"),
        ("/\r\nSet-Cookie: x=1", "/Set-Cookie:%20x=1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\/evil.example", "/"),
        ("/.//evil.example", "/"),
        (" //evil.example", "/"),
        ("http:evil.example", "/"),
        ("https://evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
        (long.as_str(), "/"),
    ] {
        let resp = sign_in_with(&server, ("alice", "alice password"), attack, &[]);
        assert_eq!(resp.status, 303, "{attack:?}: {}", resp.text());
        assert_eq!(resp.header("location"), Some(location), "{attack:?}");
        assert!(
            resp.header("set-cookie")
                .unwrap()
                .starts_with("wh_session=")
        );
    }
    let home = sign_in_with(&server, ("alice", "alice password"), "/explore?x=1", &[]);
    assert_eq!(home.header("location"), Some("/explore?x=1"));
}

/// A private project with one wheel, a developer token, a deploy token and a web user.
struct Seeded {
    server: Server,
    token: String,
    deploy: (String, String),
}

fn seeded(flags: &[&str]) -> Seeded {
    let server = Server::start_with(flags);
    server.cli(&["group", "add", "g", "--visibility", "private"]);
    server.cli(&["project", "add", "g/priv", "--visibility", "private"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "g", "dev", "--role", "developer"]);
    add_user(&server, "alice", "alice password", false);
    let line = server.cli(&[
        "deploy-token",
        "add",
        "g/priv",
        "--name",
        "ci",
        "--scopes",
        "read_package_registry",
    ]);
    let (user, secret) = line.split_once(' ').unwrap();
    let (filename, bytes) = wheel("pkg", "1.0", &[]);
    let auth = basic("__token__", &token);
    let up = upload(
        &server.project_api("g/priv"),
        Some(&auth),
        "pkg",
        "1.0",
        &filename,
        &bytes,
        &[],
    );
    assert_eq!(up.status, 201, "{}", up.text());
    Seeded {
        server,
        token,
        deploy: (user.to_owned(), secret.to_owned()),
    }
}

fn junk(i: usize) -> String {
    basic("__token__", &format!("whpat-junk{i}"))
}

#[test]
fn junk_from_an_address_never_locks_out_valid_credentials() {
    let Seeded {
        server,
        token,
        deploy,
    } = seeded(&["--max-auth-failures", "5"]);
    let simple = format!("{}/simple/", server.project_api("g/priv"));
    for i in 0..30 {
        let status = get(&simple, Some(&junk(i))).status;
        assert_eq!(status, if i < 5 { 401 } else { 429 }, "junk #{i}");
    }
    // Still refused, whatever the client claims about where it is.
    let claimed = request(
        "GET",
        &simple,
        &[
            ("Authorization", &junk(99)),
            ("X-Forwarded-For", "198.51.100.9"),
        ],
    );
    assert_eq!(
        claimed.status, 429,
        "X-Forwarded-For from an untrusted peer"
    );
    // Valid credentials of every kind pass from the same address.
    assert_eq!(get(&simple, Some(&basic("__token__", &token))).status, 200);
    assert_eq!(
        request("GET", &simple, &[("PRIVATE-TOKEN", &token)]).status,
        200
    );
    assert_eq!(get(&simple, Some(&basic(&deploy.0, &deploy.1))).status, 200);
    let signed_in = sign_in_with(&server, ("alice", "alice password"), "/", &[]);
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    // A wrong password from this address is refused like junk.
    let wrong = sign_in_with(&server, ("alice", "guess guess"), "/", &[]);
    assert_eq!(wrong.status, 429);
    assert_eq!(get(&simple, Some(&junk(100))).status, 429);

    // Absolute URLs ignore forwarding headers from an untrusted peer.
    let auth = basic("__token__", &token);
    let forged = [
        ("Authorization", auth.as_str()),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
    ];
    let json = request(
        "GET",
        &format!("{}/pypi/pkg/json", server.project_api("g/priv")),
        &forged,
    );
    assert_eq!(json.status, 200, "{}", json.text());
    let url = json.json()["urls"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&server.base), "{url}");
    let rfc = request(
        "GET",
        &format!("{}/pypi/pkg/json", server.project_api("g/priv")),
        &[
            ("Authorization", auth.as_str()),
            ("Forwarded", "host=evil.example;proto=https"),
        ],
    );
    assert!(!rfc.text().contains("evil.example"), "{}", rfc.text());
    let page = request(
        "GET",
        &format!("{simple}pkg/"),
        &[
            ("Authorization", auth.as_str()),
            ("X-Forwarded-Host", "evil.example"),
            ("Accept", "application/vnd.pypi.simple.v1+json"),
        ],
    );
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("evil.example"), "{}", page.text());
}

#[test]
fn a_trusted_proxy_names_the_client_host_and_scheme() {
    let Seeded { server, token, .. } = seeded(&[
        "--max-auth-failures",
        "3",
        "--trusted-proxies",
        "127.0.0.1,::1",
    ]);
    let simple = format!("{}/simple/", server.project_api("g/priv"));
    let from = |client: &str, auth: &str| {
        request(
            "GET",
            &simple,
            &[("Authorization", auth), ("X-Forwarded-For", client)],
        )
        .status
    };
    for i in 0..3 {
        assert_eq!(from("203.0.113.1", &junk(i)), 401);
    }
    assert_eq!(from("203.0.113.1", &junk(3)), 429);
    // What a client writes left of the real address changes nothing.
    assert_eq!(from("6.6.6.6, 203.0.113.1", &junk(4)), 429);
    // Two clients behind the proxy do not lock each other out, nor the proxy itself.
    assert_eq!(from("203.0.113.2", &junk(5)), 401);
    assert_eq!(get(&simple, Some(&junk(6))).status, 401);
    assert_eq!(from("203.0.113.1", &basic("__token__", &token)), 200);
    // An IPv6 client counts by its /64.
    for i in 0..3 {
        assert_eq!(from("2001:db8:1:2::1", &junk(10 + i)), 401);
    }
    assert_eq!(from("2001:db8:1:2::ffff", &junk(20)), 429);
    assert_eq!(from("2001:db8:1:3::1", &junk(21)), 401);

    // The proxy's host and scheme make the absolute URLs.
    let json = request(
        "GET",
        &format!("{}/pypi/pkg/json", server.project_api("g/priv")),
        &[
            ("Authorization", &basic("__token__", &token)),
            ("X-Forwarded-Host", "pypi.example.lan"),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    let url = json.json()["urls"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://pypi.example.lan/api/v4/"), "{url}");
    // And a session cookie over the proxy's TLS is Secure.
    let signed_in = sign_in_with(
        &server,
        ("alice", "alice password"),
        "/",
        &[("X-Forwarded-Proto", "https")],
    );
    assert_eq!(signed_in.status, 303);
    assert!(signed_in.header("set-cookie").unwrap().contains("Secure"));
    let device = device_cookie_of(&signed_in).expect("a device cookie");
    assert!(device.contains("; Secure"), "{device}");

    // Passwords: an account under attack takes none for the rest of the window, whichever
    // address tries, from a browser that never signed in to it; the others' sign-ins go on.
    for i in 0..3 {
        let client = format!("198.51.100.{i}");
        let wrong = sign_in_with(
            &server,
            ("alice", "guess guess"),
            "/",
            &[("X-Forwarded-For", client.as_str())],
        );
        assert_eq!(wrong.status, 401, "guess #{i}");
    }
    let locked = sign_in_with(
        &server,
        ("alice", "alice password"),
        "/",
        &[("X-Forwarded-For", "198.51.100.50")],
    );
    assert_eq!(locked.status, 429);
    assert_eq!(from("198.51.100.50", &basic("__token__", &token)), 200);
    // The browser that signed in before still can.
    let pair = device.split(';').next().unwrap();
    let known = sign_in_presenting(&server, ("alice", "alice password"), pair);
    assert_eq!(known.status, 303, "{}", known.text());
}

/// The `wh_device` Set-Cookie line of a response, whole.
fn device_cookie_of(resp: &Response) -> Option<String> {
    resp.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with("wh_device="))
}

/// Posts the sign-in form from a fresh browser that also holds `cookie` (`name=value`).
fn sign_in_presenting(
    server: &Server,
    (username, password): (&str, &str),
    cookie: &str,
) -> Response {
    let mut visitor = Visitor::new(server);
    let token = csrf_of(&visitor.get("/users/sign_in"));
    let body = serde_urlencoded::to_string([
        ("csrf_token", token.as_str()),
        ("username", username),
        ("password", password),
    ])
    .unwrap();
    let cookies = format!("{}; {cookie}", visitor.cookie_header());
    let headers = [
        ("Cookie", cookies.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    post(&server.url("/users/sign_in"), &headers, body.into_bytes())
}

#[test]
fn a_stranger_cannot_lock_the_owner_out_of_a_browser_that_signed_in_before() {
    let server = Server::start_with(&["--max-auth-failures", "3"]);
    add_user(&server, "alice", "alice password", false);
    add_user(&server, "bob", "bob password", false);
    let first = sign_in_presenting(&server, ("alice", "alice password"), "other=1");
    assert_eq!(first.status, 303, "{}", first.text());
    let line = device_cookie_of(&first).expect("a device cookie");
    for part in [
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=31536000",
        "Path=/users/sign_in",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!line.contains("Secure"), "plain HTTP: {line}");
    let alices = line.split(';').next().unwrap().to_owned();
    let bobs = device_cookie_of(&sign_in_presenting(&server, ("bob", "bob password"), "x=1"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut alice = Visitor::sign_in(&server, "alice", "alice password");

    // Bob guesses at Alice's account until it is refused unchecked.
    let mut guesses = 0;
    while sign_in_presenting(&server, ("alice", "guess guess"), &bobs).status != 429 {
        guesses += 1;
        assert!(guesses <= 3, "never throttled");
    }
    // Alice's browser still signs in with her password, and a wrong one there is refused
    // (429: this address is over its own limit too) and counted.
    let known = sign_in_presenting(&server, ("alice", "alice password"), &alices);
    assert_eq!(known.status, 303, "{}", known.text());
    assert!(device_cookie_of(&known).is_some(), "renewed");
    let wrong = sign_in_presenting(&server, ("alice", "guess guess"), &alices);
    assert_eq!(wrong.status, 429);
    // A browser that never signed in as Alice gets 429 even with her password: the server
    // cannot tell her from the guesser there, and refusing it unchecked is what stops the
    // guessing. The accepted trade: she signs in from a known browser or waits out the
    // window, and her tokens keep working meanwhile.
    let fresh = sign_in_presenting(&server, ("alice", "alice password"), "other=1");
    assert_eq!(fresh.status, 429);
    // Nor does a device cookie made for another account, forged or garbled.
    let (id, rest) = alices["wh_device=".len()..].split_once('.').unwrap();
    let issued = rest.split_once('.').unwrap().0;
    let forged = [
        bobs.clone(),
        format!("wh_device={id}.{issued}.{}", "0".repeat(64)),
        format!(
            "wh_device={}.{rest}",
            bobs["wh_device=".len()..].split('.').next().unwrap()
        ),
        format!("wh_device={id}.{}", "9".repeat(5000)),
        "wh_device=garbage".to_owned(),
    ];
    for cookie in &forged {
        let refused = sign_in_presenting(&server, ("alice", "alice password"), cookie);
        assert_eq!(refused.status, 429, "{cookie}");
    }

    // After Alice changes her password, her old device cookie proves nothing.
    let changed = alice.submit(
        "/-/user_settings/password",
        "/-/user_settings/password",
        &[
            ("current_password", "alice password"),
            ("new_password", "alice new password"),
        ],
    );
    assert!(changed.status < 400, "{}", changed.text());
    let stale = sign_in_presenting(&server, ("alice", "alice new password"), &alices);
    assert_eq!(stale.status, 429);
    // Bob's own sign-in is untouched by all this.
    let bob = sign_in_presenting(&server, ("bob", "bob password"), &bobs);
    assert_eq!(bob.status, 303);
}

#[test]
fn a_bad_trusted_proxy_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_output(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--trusted-proxies",
            "10.0.0.0/99",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--trusted-proxies"), "{stderr}");
    // The same from the config file, named by its key.
    let config = dir.path().join("wheelhouse.toml");
    std::fs::write(
        &config,
        "trusted_proxies = [\"127.0.0.1\", \"proxy.lan\"]\n",
    )
    .unwrap();
    let out = cli_output(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trusted_proxies") && stderr.contains("proxy.lan"),
        "{stderr}"
    );
}

/// What an anonymous caller can tell from an answer.
fn class(resp: &Response) -> (u16, Option<String>, bool) {
    (
        resp.status,
        resp.header("www-authenticate").map(str::to_owned),
        resp.header("location")
            .is_some_and(|l| l.starts_with("/users/sign_in?return_to=")),
    )
}

#[test]
fn the_anonymous_cannot_tell_private_from_missing() {
    let Seeded { server, .. } = seeded(&[]);
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let (id, sha): (i64, String) = db
        .query_row(
            "SELECT project_id, sha256 FROM package_files LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let file = "pkg-1.0-py3-none-any.whl";
    let api = |rest: &str| server.url(&format!("/api/v4/{rest}"));
    let cases = [
        (
            "project simple by path",
            "projects/g%2Fpriv",
            "projects/g%2Fnone",
        ),
        (
            "project simple by id",
            &format!("projects/{id}"),
            "projects/99999",
        ),
        ("group simple", "groups/g/-", "groups/nothing/-"),
    ];
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    for (label, private, missing) in cases {
        for suffix in ["/packages/pypi/simple/", "/packages/pypi/simple/pkg/"] {
            pairs.push((
                format!("{label}{suffix}"),
                api(&format!("{private}{suffix}")),
                api(&format!("{missing}{suffix}")),
            ));
        }
    }
    let files = format!("/packages/pypi/files/{sha}/{file}");
    pairs.extend([
        (
            "file".into(),
            api(&format!("projects/{id}{files}")),
            api(&format!("projects/99999{files}")),
        ),
        (
            "group file".into(),
            api(&format!("groups/g/-{files}")),
            api(&format!("groups/nothing/-{files}")),
        ),
        (
            "JSON".into(),
            api(&format!("projects/{id}/packages/pypi/pypi/pkg/json")),
            api("projects/99999/packages/pypi/pypi/pkg/json"),
        ),
        (
            "REST project".into(),
            api(&format!("projects/{id}")),
            api("projects/99999"),
        ),
        ("REST group".into(), api("groups/g"), api("groups/nothing")),
        (
            "REST packages".into(),
            api(&format!("projects/{id}/packages")),
            api("projects/99999/packages"),
        ),
        (
            "web project".into(),
            server.url("/g/priv"),
            server.url("/g/none"),
        ),
        ("web group".into(), server.url("/g"), server.url("/nothing")),
        (
            "web package list".into(),
            server.url("/g/priv/-/packages"),
            server.url("/nothing/here/-/packages"),
        ),
    ]);
    for (label, private, missing) in &pairs {
        let (private, missing) = (get(private, None), get(missing, None));
        assert_eq!(class(&private), class(&missing), "{label}");
        let expected = if label.starts_with("web") { 303 } else { 401 };
        assert_eq!(private.status, expected, "{label}: {}", private.text());
        if expected == 401 {
            assert_eq!(
                private.header("www-authenticate"),
                Some("Basic realm=\"Wheelhouse\""),
                "{label}"
            );
        }
    }
    println!("{} private/missing pairs answered alike", pairs.len());
}

#[test]
fn a_cached_page_never_answers_credentials_refused_uncached() {
    let Seeded {
        server,
        token,
        deploy,
    } = seeded(&[]);
    let (user, secret) = (&deploy.0, &deploy.1);
    let page = format!("{}/simple/pkg/", server.project_api("g/priv"));
    let index = format!("{}/simple/", server.project_api("g/priv"));
    for url in [&page, &index] {
        // Warm with the right name (twice: the second is a hit), then a wrong name.
        for _ in 0..2 {
            assert_eq!(get(url, Some(&basic(user, secret))).status, 200);
        }
        let wrong = get(url, Some(&basic("someone-else", secret)));
        assert_eq!(wrong.status, 401, "{url}");
        // PRIVATE-TOKEN carries no name and may use the deploy secret; Basic with an empty
        // name is a wrong name, however the cache was warmed.
        assert_eq!(
            request("GET", url, &[("PRIVATE-TOKEN", secret)]).status,
            200
        );
        assert_eq!(
            request("GET", url, &[("PRIVATE-TOKEN", secret)]).status,
            200
        );
        assert_eq!(get(url, Some(&basic("", secret))).status, 401, "{url}");
        assert_eq!(
            get(url, Some(&format!("Bearer {secret}"))).status,
            200,
            "{url}"
        );
    }
    // A personal token's page warmed with Basic also answers its PRIVATE-TOKEN form, and a
    // revoked deploy token is refused at once although its page was cached.
    assert_eq!(get(&page, Some(&basic("__token__", &token))).status, 200);
    assert_eq!(
        request("GET", &page, &[("PRIVATE-TOKEN", &token)]).status,
        200
    );
    let db = rusqlite::Connection::open(server.data_dir().join("wheelhouse.db")).unwrap();
    let deploy_id: i64 = db
        .query_row("SELECT id FROM deploy_tokens LIMIT 1", [], |r| r.get(0))
        .unwrap();
    server.cli(&["deploy-token", "revoke", &deploy_id.to_string()]);
    assert_eq!(get(&page, Some(&basic(user, secret))).status, 401);
}
