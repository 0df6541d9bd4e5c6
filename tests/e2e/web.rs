//! The web interface over HTTP: every page and form, with its access rules, CSRF checks and
//! security headers (the browser test in browser.rs drives the same pages in Chromium).

use crate::support::{Response, Server, basic, get, post, request, upload, wheel_described};

/// A browser without a browser: keeps cookies, posts forms, reads CSRF tokens off pages.
pub(crate) struct Visitor {
    base: String,
    cookies: Vec<(String, String)>,
}

impl Visitor {
    pub(crate) fn new(server: &Server) -> Visitor {
        Visitor {
            base: server.base.clone(),
            cookies: Vec::new(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, resp: &Response) {
        for (name, value) in &resp.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.split(';').next().unwrap_or_default();
            let (cookie, content) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(n, _)| n != cookie);
            let removed = value.contains("Max-Age=0") || content.is_empty();
            if !removed {
                self.cookies.push((cookie.to_owned(), content.to_owned()));
            }
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Response {
        let cookies = self.cookie_header();
        let resp = request(
            "GET",
            &format!("{}{path}", self.base),
            &[("Cookie", &cookies)],
        );
        self.keep_cookies(&resp);
        resp
    }

    pub(crate) fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let cookies = self.cookie_header();
        let body = serde_urlencoded::to_string(fields).unwrap();
        let resp = post(
            &format!("{}{path}", self.base),
            &[
                ("Cookie", &cookies),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.into_bytes(),
        );
        self.keep_cookies(&resp);
        resp
    }

    /// Posts a form of the page at `page` with the CSRF token the page carries.
    pub(crate) fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let token = csrf_of(&self.get(page));
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    pub(crate) fn sign_in(server: &Server, username: &str, password: &str) -> Visitor {
        let mut visitor = Visitor::new(server);
        let resp = visitor.submit(
            "/users/sign_in",
            "/users/sign_in",
            &[("username", username), ("password", password)],
        );
        assert_eq!(resp.status, 303, "sign-in of {username}: {}", resp.text());
        visitor
    }
}

pub(crate) fn csrf_of(page: &Response) -> String {
    let text = page.text();
    let at = text
        .find("name=\"csrf_token\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF token on the page: {text}"));
    let rest = &text[at + "name=\"csrf_token\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

pub(crate) fn add_user(server: &Server, name: &str, password: &str, admin: bool) {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    if admin {
        args.push("--admin");
    }
    let out = crate::support::cli_output(server.data_dir(), &args, Some(&format!("{password}\n")));
    assert!(out.status.success(), "{out:?}");
}

fn assert_html_headers(resp: &Response, what: &str) {
    let csp = resp.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{what}: CSP {csp:?}"
    );
    assert_eq!(
        resp.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(
        resp.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{what}"
    );
}

#[test]
fn sign_in_sets_a_safe_session_and_sign_out_ends_it() {
    let server = Server::start();
    add_user(&server, "alice", "alice password", false);
    let mut visitor = Visitor::new(&server);
    let page = visitor.get("/users/sign_in");
    assert_eq!(page.status, 200);
    assert_html_headers(&page, "sign-in page");
    let token = csrf_of(&page);

    // A forged form (no cookie from our page) is refused; so is a wrong password.
    let mut stranger = Visitor::new(&server);
    let forged = stranger.post(
        "/users/sign_in",
        &[
            ("csrf_token", "made-up"),
            ("username", "alice"),
            ("password", "alice password"),
        ],
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    let wrong = visitor.post(
        "/users/sign_in",
        &[
            ("csrf_token", &token),
            ("username", "alice"),
            ("password", "nope nope"),
        ],
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Invalid username or password"));
    assert!(!visitor.cookies.iter().any(|(n, _)| n == "wh_session"));
    let unknown = visitor.submit(
        "/users/sign_in",
        "/users/sign_in",
        &[("username", "nobody"), ("password", "alice password")],
    );
    assert!(unknown.text().contains("Invalid username or password"));

    // The right password: a session cookie that scripts cannot read, and back where we were.
    let token = csrf_of(&visitor.get("/users/sign_in?return_to=/explore%3Fx%3D1"));
    let ok = visitor.post(
        "/users/sign_in",
        &[
            ("csrf_token", &token),
            ("username", "alice"),
            ("password", "alice password"),
            ("return_to", "/explore?x=1"),
        ],
    );
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location"), Some("/explore?x=1"));
    let cookie = ok.header("set-cookie").unwrap();
    assert!(cookie.starts_with("wh_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP cannot carry a Secure cookie: {cookie}"
    );
    let explore = visitor.get("/explore");
    assert!(explore.text().contains(">alice</a>"), "{}", explore.text());

    // An open redirect is not on offer.
    let mut other = Visitor::new(&server);
    let token = csrf_of(&other.get("/users/sign_in"));
    let away = other.post(
        "/users/sign_in",
        &[
            ("csrf_token", &token),
            ("username", "alice"),
            ("password", "alice password"),
            ("return_to", "//evil.example/"),
        ],
    );
    assert_eq!(away.header("location"), Some("/"));

    // A client that merely claims a TLS proxy in front gets no Secure cookie: X-Forwarded-Proto
    // is believed only from trusted proxies (trust.rs checks that one is believed).
    let mut proxied = Visitor::new(&server);
    let token = csrf_of(&proxied.get("/users/sign_in"));
    let body = serde_urlencoded::to_string([
        ("csrf_token", token.as_str()),
        ("username", "alice"),
        ("password", "alice password"),
    ])
    .unwrap();
    let secure = post(
        &server.url("/users/sign_in"),
        &[
            ("Cookie", &proxied.cookie_header()),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-Proto", "https"),
        ],
        body.into_bytes(),
    );
    assert!(!secure.header("set-cookie").unwrap().contains("Secure"));

    // Sign-out needs the session's CSRF token, then the session is gone for good.
    let session = visitor.cookie_header();
    let forged = visitor.post("/users/sign_out", &[("csrf_token", "wrong")]);
    assert_eq!(forged.status, 403);
    assert!(forged.text().contains("CSRF"));
    let out = visitor.submit("/explore", "/users/sign_out", &[]);
    assert_eq!(out.status, 303);
    let replay = request(
        "GET",
        &server.url("/-/user_settings/password"),
        &[("Cookie", &session)],
    );
    assert_eq!(replay.status, 303, "an ended session still works");
    assert!(
        replay
            .header("location")
            .unwrap()
            .starts_with("/users/sign_in?return_to=")
    );

    // Blocking a user ends their sessions at once.
    let mut alice = Visitor::sign_in(&server, "alice", "alice password");
    assert_eq!(alice.get("/-/user_settings/password").status, 200);
    server.cli(&["user", "block", "alice"]);
    assert_eq!(alice.get("/-/user_settings/password").status, 303);
}

#[test]
fn repeated_failed_sign_ins_are_slowed_then_refused() {
    let server = Server::start_with(&["--max-auth-failures", "2"]);
    add_user(&server, "alice", "alice password", false);
    let mut visitor = Visitor::new(&server);
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let wrong = visitor.submit(
            "/users/sign_in",
            "/users/sign_in",
            &[("username", "alice"), ("password", "guess guess")],
        );
        assert_eq!(wrong.status, 401);
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "a failure answers slowly"
        );
    }
    let refused = visitor.submit(
        "/users/sign_in",
        "/users/sign_in",
        &[("username", "alice"), ("password", "alice password")],
    );
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(refused.header("retry-after").is_some());
    assert_html_headers(&refused, "429 page");
    assert!(refused.text().contains("too many failed sign-ins"));
}

#[test]
fn a_user_changes_their_own_password() {
    let server = Server::start();
    add_user(&server, "bob", "bob password", false);
    let mut bob = Visitor::sign_in(&server, "bob", "bob password");
    let mut elsewhere = Visitor::sign_in(&server, "bob", "bob password");
    let page = "/-/user_settings/password";
    let wrong = bob.submit(
        page,
        page,
        &[
            ("current_password", "nope"),
            ("new_password", "new password"),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("current password is not right"));
    let short = bob.submit(
        page,
        page,
        &[
            ("current_password", "bob password"),
            ("new_password", "short"),
        ],
    );
    assert_eq!(short.status, 400);
    assert!(short.text().contains("at least 8 characters"));
    let forged = bob.post(
        page,
        &[
            ("csrf_token", "x"),
            ("current_password", "bob password"),
            ("new_password", "new password"),
        ],
    );
    assert_eq!(forged.status, 403);
    let ok = bob.submit(
        page,
        page,
        &[
            ("current_password", "bob password"),
            ("new_password", "new password"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.text().contains("has been changed"));
    assert_eq!(bob.get(page).status, 200, "this session goes on");
    assert_eq!(elsewhere.get(page).status, 303, "other sessions end");
    let mut again = Visitor::new(&server);
    let old = again.submit(
        "/users/sign_in",
        "/users/sign_in",
        &[("username", "bob"), ("password", "bob password")],
    );
    assert_eq!(old.status, 401);
    Visitor::sign_in(&server, "bob", "new password");
}

/// A registry with public, internal and private projects and a few people.
fn registry() -> (Server, String) {
    let server = Server::start();
    add_user(&server, "root", "root password", true);
    add_user(&server, "maria", "maria password", false);
    add_user(&server, "dev", "dev password", false);
    add_user(&server, "eve", "eve password", false);
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["group", "add", "acme/ml", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/open", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/inside", "--visibility", "internal"]);
    server.cli(&[
        "project",
        "add",
        "acme/ml/secret",
        "--visibility",
        "private",
    ]);
    server.cli(&["group", "add", "hidden", "--visibility", "private"]);
    server.cli(&["project", "add", "hidden/vault", "--visibility", "private"]);
    server.cli(&[
        "member",
        "add",
        "acme/ml/secret",
        "maria",
        "--role",
        "maintainer",
    ]);
    server.cli(&[
        "member",
        "add",
        "acme/ml/secret",
        "dev",
        "--role",
        "developer",
    ]);
    let token = server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"]);
    (server, basic("__token__", &token))
}

/// A user's id, through the REST API.
fn user_id(server: &Server, auth: &str, username: &str) -> String {
    let found = get(
        &server.url(&format!("/api/v4/users?username={username}")),
        Some(auth),
    )
    .json();
    found[0]["id"].to_string()
}

#[test]
fn pages_show_only_what_the_visitor_may_see() {
    let (server, _) = registry();
    let mut anonymous = Visitor::new(&server);
    let explore = anonymous.get("/explore");
    assert_eq!(explore.status, 200);
    assert_html_headers(&explore, "explore");
    let text = explore.text();
    assert!(
        text.contains("acme/open") && !text.contains("acme/inside") && !text.contains("secret")
    );
    assert!(!text.contains("hidden"), "{text}");
    assert_eq!(anonymous.get("/").status, 200);

    for (path, status) in [
        ("/acme", 200),
        ("/acme/open", 200),
        ("/acme/open/-/packages", 200),
        ("/acme/inside", 303),
        ("/acme/ml/secret", 303),
        ("/hidden", 303),
        // A missing place asks for signing in, as a private one does (GitLab does the same).
        ("/nothing/here", 303),
    ] {
        let resp = anonymous.get(path);
        assert_eq!(resp.status, status, "anonymous {path}: {}", resp.text());
        if status == 303 {
            let location = resp.header("location").unwrap();
            assert!(
                location.starts_with("/users/sign_in?return_to=%2F")
                    || location.starts_with("/users/sign_in?return_to=/"),
                "{location}"
            );
        } else {
            assert_html_headers(&resp, path);
        }
    }
    let missing = Visitor::sign_in(&server, "eve", "eve password").get("/nothing/here");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("404") && !missing.text().contains("panicked"));
    let api_missing = get(&server.url("/api/v4/nothing"), None);
    assert_eq!(api_missing.status, 404);
    assert!(
        api_missing.text().starts_with('{'),
        "the API keeps JSON errors"
    );

    let mut eve = Visitor::sign_in(&server, "eve", "eve password");
    let text = eve.get("/explore").text();
    assert!(
        text.contains("acme/inside") && !text.contains("acme/ml/secret"),
        "{text}"
    );
    assert_eq!(eve.get("/acme/inside").status, 200);
    for hidden in [
        "/acme/ml/secret",
        "/hidden",
        "/hidden/vault",
        "/acme/ml/secret/-/settings",
    ] {
        assert_eq!(
            eve.get(hidden).status,
            404,
            "{hidden} shows to a non-member"
        );
    }
    let error_page = eve.get("/hidden/vault").text();
    assert!(
        error_page.contains(">eve</a>"),
        "the error page still shows who is signed in"
    );

    // Members see their own things first.
    let mut maria = Visitor::sign_in(&server, "maria", "maria password");
    let text = maria.get("/explore").text();
    let secret_at = text.find("acme/ml/secret").expect("maria sees her project");
    assert!(
        secret_at < text.find("acme/open").unwrap(),
        "her project comes first"
    );
    let group = maria.get("/acme/ml").text();
    assert!(
        group.contains("acme/ml/secret") && group.contains("/api/v4/groups/"),
        "{group}"
    );

    let mut root = Visitor::sign_in(&server, "root", "root password");
    assert!(
        root.get("/explore").text().contains("hidden/vault"),
        "admins see everything"
    );
}

#[test]
fn the_package_page_shows_versions_files_and_a_safe_description() {
    let (server, auth) = registry();
    let description = "# Fast thing\n\nSome **bold** text.\n\n<script>alert('x')</script>\n\n\
                       <img src=x onerror=alert(1)>\n\n[home](javascript:alert(2))\n";
    for version in ["1.9", "1.10", "2.0rc1"] {
        let (file, bytes) = wheel_described(
            "fast-thing",
            version,
            &["numpy>=1.20"],
            Some(">=3.9"),
            description,
        );
        let resp = upload(
            &server.project_api("acme/ml/secret"),
            Some(&auth),
            "fast-thing",
            version,
            &file,
            &bytes,
            &[],
        );
        assert_eq!(resp.status, 201, "{}", resp.text());
    }
    let mut dev = Visitor::sign_in(&server, "dev", "dev password");
    let project = dev.get("/acme/ml/secret").text();
    assert!(
        project.contains("fast-thing") && project.contains("2.0rc1"),
        "latest version listed: {project}"
    );
    assert!(
        project.contains("/api/v4/projects/") && project.contains("packages/pypi/simple"),
        "set-up URLs"
    );
    assert!(
        project.contains("[[tool.uv.index]]")
            && project.contains("poetry source add --priority=primary")
            && project.contains("poetry publish --build --repository secret")
            && project.contains("[distutils]")
    );
    assert!(
        !project.contains("/-/settings\""),
        "developers get no settings link"
    );
    let filtered = dev
        .get("/acme/ml/secret/-/packages?filter=nothing-like-it")
        .text();
    assert!(filtered.contains("No package name contains"), "{filtered}");
    assert!(
        dev.get("/acme/ml/secret/-/packages?filter=fast")
            .text()
            .contains("fast-thing")
    );

    let link_at = project.find("/acme/ml/secret/-/packages/").unwrap();
    let link = &project[link_at..];
    let link = link[..link.find('"').unwrap()].to_owned();
    let page = dev.get(&link);
    assert_eq!(page.status, 200);
    assert_html_headers(&page, "package page");
    let text = page.text();
    assert!(text.contains("fast-thing 2.0rc1"));
    assert!(
        text.contains("<h1>Fast thing</h1>") && text.contains("<strong>bold</strong>"),
        "{text}"
    );
    for bad in ["<script>alert", "onerror", "javascript:alert"] {
        assert!(!text.contains(bad), "{bad} reached the page");
    }
    let (v20, v110, v19) = (
        text.find(">2.0rc1<").unwrap(),
        text.find(">1.10<").unwrap(),
        text.find(">1.9<").unwrap(),
    );
    assert!(
        v20 < v110 && v110 < v19,
        "versions newest first in PEP 440 order"
    );
    assert!(
        text.contains("numpy&gt;=1.20") || text.contains("numpy&#62;=1.20"),
        "dependencies"
    );
    assert!(
        text.contains("&gt;=3.9") || text.contains("&#62;=3.9"),
        "requires-python"
    );
    assert!(text.contains(">root<"), "the uploader");
    assert!(
        !text.contains("action=\"/acme/ml/secret/-/packages/"),
        "developers get no yank form"
    );

    // The download link serves the bytes to the signed-in, and to nobody else.
    let at = text.find("/-/package_files/").unwrap();
    let start = text[..at].rfind('"').unwrap() + 1;
    let download = &text[start..at + text[at..].find('"').unwrap()];
    let file = dev.get(download);
    assert_eq!(file.status, 200);
    let (_, bytes) = wheel_described(
        "fast-thing",
        "2.0rc1",
        &["numpy>=1.20"],
        Some(">=3.9"),
        description,
    );
    assert_eq!(file.body, bytes);
    assert_eq!(Visitor::new(&server).get(download).status, 303);
    assert_eq!(
        Visitor::sign_in(&server, "eve", "eve password")
            .get(download)
            .status,
        404
    );

    // A maintainer yanks with the form; a forged form changes nothing.
    let mut maria = Visitor::sign_in(&server, "maria", "maria password");
    let package_id = link.rsplit('/').next().unwrap().to_owned();
    let yank = format!("/acme/ml/secret/-/packages/{package_id}/yank");
    let forged = maria.post(&yank, &[("csrf_token", "forged"), ("reason", "x")]);
    assert_eq!(forged.status, 403);
    let dev_try = dev.submit(&link, &yank, &[("reason", "no")]);
    assert_eq!(dev_try.status, 403, "developers may not yank");
    let done = maria.submit(&link, &yank, &[("reason", "broken build")]);
    assert_eq!(done.status, 303, "{}", done.text());
    let text = maria.get(&link).text();
    assert!(
        text.contains("badge yanked") && text.contains("Unyank 2.0rc1"),
        "{text}"
    );
    let simple = get(
        &format!(
            "{}/fast-thing/",
            server.project_api("acme/ml/secret") + "/simple"
        ),
        Some(&auth),
    )
    .text();
    assert!(simple.contains("data-yanked=\"broken build\""), "{simple}");
    let unyank = maria.submit(
        &link,
        &format!("/acme/ml/secret/-/packages/{package_id}/unyank"),
        &[],
    );
    assert_eq!(unyank.status, 303);
    assert!(!maria.get(&link).text().contains("badge yanked"));

    // Delete needs the confirmation box.
    let delete = format!("/acme/ml/secret/-/packages/{package_id}/delete");
    let unconfirmed = maria.submit(&link, &delete, &[]);
    assert_eq!(unconfirmed.status, 400);
    assert!(unconfirmed.text().contains("confirm"));
    let deleted = maria.submit(&link, &delete, &[("confirm", "yes")]);
    assert_eq!(deleted.status, 303);
    assert_eq!(maria.get(&link).status, 404);
}

#[test]
fn personal_access_tokens_are_made_and_revoked_on_the_profile_page() {
    let (server, _) = registry();
    let mut dev = Visitor::sign_in(&server, "dev", "dev password");
    let page = "/-/user_settings/personal_access_tokens";
    assert_html_headers(&dev.get(page), "tokens page");
    let none = dev.submit(page, page, &[("name", "ci")]);
    assert_eq!(none.status, 400);
    assert!(none.text().contains("at least one scope"));
    let past = dev.submit(
        page,
        page,
        &[
            ("name", "ci"),
            ("scope", "read_api"),
            ("expires_at", "2001-01-01"),
        ],
    );
    assert_eq!(past.status, 400);
    assert!(past.text().contains("not in the future"));
    let created = dev.submit(
        page,
        page,
        &[
            ("name", "laptop"),
            ("scope", "read_package_registry"),
            ("scope", "read_api"),
            ("expires_at", ""),
        ],
    );
    assert_eq!(created.status, 200, "{}", created.text());
    let text = created.text();
    let at = text.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let secret = text[at..at + text[at..].find('<').unwrap()].to_owned();
    assert!(secret.starts_with("whpat-"), "{secret}");
    assert!(text.contains("data-copy=\"new-token\""), "a copy button");
    assert!(
        !dev.get(page).text().contains(&secret),
        "the secret is shown only once"
    );

    let simple = format!("{}/simple/", server.project_api("acme/ml/secret"));
    assert_eq!(get(&simple, Some(&basic("dev", &secret))).status, 200);
    let listed = dev.get(page).text();
    assert!(listed.contains("laptop") && listed.contains("read_package_registry, read_api"));
    assert!(
        listed.contains(" UTC</td>"),
        "the last use is shown: {listed}"
    );

    let id_at = listed
        .find("/-/user_settings/personal_access_tokens/")
        .unwrap();
    let rest = &listed[id_at + "/-/user_settings/personal_access_tokens/".len()..];
    let id = &rest[..rest.find('/').unwrap()];
    let revoke = format!("{page}/{id}/revoke");
    assert_eq!(dev.post(&revoke, &[("csrf_token", "x")]).status, 403);
    let mut eve = Visitor::sign_in(&server, "eve", "eve password");
    assert_eq!(
        eve.submit(page, &revoke, &[]).status,
        404,
        "another user's token does not exist"
    );
    assert_eq!(dev.submit(page, &revoke, &[]).status, 303);
    assert_eq!(get(&simple, Some(&basic("dev", &secret))).status, 401);
    assert!(dev.get(page).text().contains("badge revoked"));
}

#[test]
fn maintainers_manage_settings_members_and_deploy_tokens() {
    let (server, auth) = registry();
    let settings = "/acme/ml/secret/-/settings";
    let mut dev = Visitor::sign_in(&server, "dev", "dev password");
    assert_eq!(dev.get(settings).status, 403, "developers see no settings");
    let mut maria = Visitor::sign_in(&server, "maria", "maria password");
    let page = maria.get(settings);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_html_headers(&page, "settings");
    assert!(page.text().contains("Only owners change visibility"));

    // Members: add by name, change the role, remove; owners only by owners.
    let add = format!("{settings}/members");
    let unknown = maria.submit(
        settings,
        &add,
        &[("username", "ghost"), ("access_level", "30")],
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("no user named"));
    assert_eq!(
        maria
            .submit(
                settings,
                &add,
                &[("username", "eve"), ("access_level", "20")]
            )
            .status,
        303
    );
    let mut eve = Visitor::sign_in(&server, "eve", "eve password");
    assert_eq!(
        eve.get("/acme/ml/secret").status,
        200,
        "a new member sees the project"
    );
    let eve_id = user_id(&server, &auth, "eve");
    let member = format!("{settings}/members/{eve_id}");
    assert_eq!(
        maria
            .submit(settings, &member, &[("access_level", "50")])
            .status,
        403,
        "only owners make owners"
    );
    assert_eq!(
        maria
            .submit(settings, &member, &[("access_level", "30")])
            .status,
        303
    );
    assert!(
        maria
            .get(settings)
            .text()
            .contains("<option value=\"30\" selected>developer")
    );
    assert_eq!(
        maria
            .submit(settings, &format!("{member}/remove"), &[])
            .status,
        303
    );
    assert_eq!(eve.get("/acme/ml/secret").status, 404);

    // Deploy tokens: the secret once, it reads the index, revoked it stops.
    let tokens = format!("{settings}/deploy_tokens");
    let made = maria.submit(
        settings,
        &tokens,
        &[("name", "ci"), ("scope", "read_package_registry")],
    );
    assert_eq!(made.status, 200, "{}", made.text());
    let text = made.text();
    let at = text.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let secret = text[at..at + text[at..].find('<').unwrap()].to_owned();
    let at = text.find("use the username <code>").unwrap() + "use the username <code>".len();
    let username = text[at..at + text[at..].find('<').unwrap()].to_owned();
    let simple = format!("{}/simple/", server.project_api("acme/ml/secret"));
    assert_eq!(get(&simple, Some(&basic(&username, &secret))).status, 200);
    let text = maria.get(settings).text();
    let at = text.find("/-/settings/deploy_tokens/").unwrap() + "/-/settings/deploy_tokens/".len();
    let id: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(
        maria
            .submit(settings, &format!("{tokens}/{id}/revoke"), &[])
            .status,
        303
    );
    assert_eq!(get(&simple, Some(&basic(&username, &secret))).status, 401);

    // Visibility and the upload policy: owners (here an admin) only.
    let general = format!("{settings}/general");
    assert_eq!(
        maria
            .submit(settings, &general, &[("visibility", "internal")])
            .status,
        403
    );
    let mut root = Visitor::sign_in(&server, "root", "root password");
    let done = root.submit(
        settings,
        &general,
        &[("visibility", "internal"), ("allow_file_replace", "true")],
    );
    assert_eq!(done.status, 303, "{}", done.text());
    let text = root.get(settings).text();
    assert!(
        text.contains("<option value=\"internal\" selected>"),
        "{text}"
    );
    assert!(text.contains("value=\"true\" checked"), "{text}");
    assert_eq!(eve.get("/acme/ml/secret").status, 200, "internal now");
    let bad = root.submit(settings, &general, &[("visibility", "everyone")]);
    assert_eq!(bad.status, 400);

    // Group settings work the same way.
    let group_settings = "/acme/-/settings";
    assert_eq!(maria.get(group_settings).status, 403);
    assert_eq!(root.get(group_settings).status, 200);
}

#[test]
fn the_admin_area_is_for_admins() {
    let (server, auth) = registry();
    let (file, bytes) = wheel_described("big-thing", "1.0", &[], None, "text");
    let resp = upload(
        &server.project_api("acme/open"),
        Some(&auth),
        "big-thing",
        "1.0",
        &file,
        &bytes,
        &[],
    );
    assert_eq!(resp.status, 201);
    let mut maria = Visitor::sign_in(&server, "maria", "maria password");
    assert_eq!(maria.get("/admin").status, 403);
    assert_eq!(Visitor::new(&server).get("/admin").status, 303);
    let mut root = Visitor::sign_in(&server, "root", "root password");
    let page = root.get("/admin");
    assert_eq!(page.status, 200);
    assert_html_headers(&page, "admin");
    let text = page.text();
    assert!(
        text.contains("acme/open") && text.contains("hidden/vault"),
        "every project"
    );
    assert!(text.contains("1 files"), "disk usage: {text}");

    // Add a user without a password: one is generated and shown once, and it signs in.
    let added = root.submit(
        "/admin",
        "/admin/users",
        &[("username", "newbie"), ("email", "n@example.org")],
    );
    assert_eq!(added.status, 200, "{}", added.text());
    let text = added.text();
    let at = text.find("id=\"new-password\">").unwrap() + "id=\"new-password\">".len();
    let password = text[at..at + text[at..].find('<').unwrap()].to_owned();
    let mut newbie = Visitor::sign_in(&server, "newbie", &password);
    let taken = root.submit("/admin", "/admin/users", &[("username", "newbie")]);
    assert_eq!(taken.status, 400);
    assert!(taken.text().contains("already exists"));
    let forged = root.post(
        "/admin/users",
        &[("csrf_token", "x"), ("username", "other")],
    );
    assert_eq!(forged.status, 403);

    // Block, make admin, reset the password.
    let id = user_id(&server, &auth, "newbie");
    assert_eq!(
        root.submit("/admin", &format!("/admin/users/{id}/make_admin"), &[])
            .status,
        303
    );
    assert_eq!(newbie.get("/admin").status, 200, "newbie is an admin now");
    assert_eq!(
        root.submit("/admin", &format!("/admin/users/{id}/remove_admin"), &[])
            .status,
        303
    );
    assert_eq!(newbie.get("/admin").status, 403);
    assert_eq!(
        root.submit("/admin", &format!("/admin/users/{id}/block"), &[])
            .status,
        303
    );
    assert!(
        !newbie.get("/explore").text().contains(">newbie<"),
        "blocked: signed out"
    );
    assert_eq!(
        root.submit("/admin", &format!("/admin/users/{id}/unblock"), &[])
            .status,
        303
    );
    let reset = root.submit("/admin", &format!("/admin/users/{id}/reset_password"), &[]);
    assert_eq!(reset.status, 200);
    let text = reset.text();
    let at = text.find("id=\"new-password\">").unwrap() + "id=\"new-password\">".len();
    let fresh = text[at..at + text[at..].find('<').unwrap()].to_owned();
    assert_ne!(fresh, password);
    Visitor::sign_in(&server, "newbie", &fresh);
    let block = format!("/admin/users/{id}/block");
    assert_eq!(maria.submit("/explore", &block, &[]).status, 403);
}

#[test]
fn every_form_refuses_a_forged_csrf_token() {
    let (server, auth) = registry();
    let (file, bytes) = wheel_described("forms", "1.0", &[], None, "text");
    let resp = upload(
        &server.project_api("acme/ml/secret"),
        Some(&auth),
        "forms",
        "1.0",
        &file,
        &bytes,
        &[],
    );
    assert_eq!(resp.status, 201);
    let package_id = get(
        &format!(
            "{}/packages",
            server.url("/api/v4/projects/acme%2Fml%2Fsecret")
        ),
        Some(&auth),
    )
    .json()[0]["id"]
        .to_string();
    let maria = user_id(&server, &auth, "maria");
    let mut root = Visitor::sign_in(&server, "root", "root password");
    let before = root.get("/acme/ml/secret/-/settings").text();
    let forms = [
        "/users/sign_out".to_owned(),
        "/-/user_settings/password".to_owned(),
        "/-/user_settings/personal_access_tokens".to_owned(),
        "/-/user_settings/personal_access_tokens/1/revoke".to_owned(),
        "/acme/ml/secret/-/settings/general".to_owned(),
        "/acme/ml/secret/-/settings/members".to_owned(),
        format!("/acme/ml/secret/-/settings/members/{maria}"),
        format!("/acme/ml/secret/-/settings/members/{maria}/remove"),
        "/acme/ml/secret/-/settings/deploy_tokens".to_owned(),
        format!("/acme/ml/secret/-/packages/{package_id}/yank"),
        format!("/acme/ml/secret/-/packages/{package_id}/delete"),
        "/admin/users".to_owned(),
        format!("/admin/users/{maria}/block"),
    ];
    for action in &forms {
        let resp = root.post(
            action,
            &[
                ("csrf_token", "forged"),
                ("username", "x"),
                ("name", "x"),
                ("scope", "api"),
                ("visibility", "public"),
                ("access_level", "10"),
                ("confirm", "yes"),
                ("current_password", "root password"),
                ("new_password", "another password"),
            ],
        );
        assert_eq!(resp.status, 403, "{action}: {}", resp.text());
        assert_html_headers(&resp, action);
        assert!(resp.text().contains("CSRF"), "{action}");
    }
    assert_eq!(
        root.get("/acme/ml/secret/-/settings").text(),
        before,
        "a forged form changed something"
    );
    assert_eq!(
        root.get(&format!("/acme/ml/secret/-/packages/{package_id}"))
            .status,
        200
    );
    Visitor::sign_in(&server, "root", "root password");
}

/// The text of `<pre id="ID">` on a page, unescaped, with `TOKEN` replaced by a real secret.
fn snippet(page: &str, id: &str, token: &str) -> String {
    let start = page
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no {id} on the page"))
        + id.len()
        + 6;
    let text = &page[start..start + page[start..].find("</pre>").unwrap()];
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("TOKEN", token)
}

/// What a newcomer copies from the project page works as it stands with the real twine, pip and
/// uv: the .pypirc uploads, the pip index URL installs, the uv index and its credentials lock.
#[test]
fn the_set_up_on_the_project_page_works_with_twine_pip_and_uv() {
    use crate::support::{client, dist_dir, run_ok};
    let (server, _) = registry();
    let token = server.cli(&["token", "add", "maria", "--name", "t", "--scopes", "api"]);
    let mut maria = Visitor::sign_in(&server, "maria", "maria password");
    let page = maria.get("/acme/ml/secret").text();
    let work = tempfile::tempdir().unwrap();

    // twine, with the .pypirc as shown.
    let pypirc = snippet(&page, "setup-twine", &token);
    let (config, command) = pypirc.split_once("# then").unwrap();
    std::fs::write(
        work.path().join("pypirc"),
        config.trim_start_matches("# ~/.pypirc\n"),
    )
    .unwrap();
    let repository = command
        .split_whitespace()
        .skip_while(|w| *w != "--repository")
        .nth(1)
        .unwrap();
    let dists = dist_dir(&[wheel_described(
        "snippet-kit",
        "1.0",
        &[],
        Some(">=3.8"),
        "text",
    )]);
    let files: Vec<_> = std::fs::read_dir(dists.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        client("twine")
            .args(["upload", "--non-interactive", "--config-file"])
            .arg(work.path().join("pypirc"))
            .args(["--repository", repository])
            .args(&files),
    );

    // pip, with the index URL as shown.
    let pip = snippet(&page, "setup-pip", &token);
    let index = pip
        .lines()
        .find_map(|l| l.strip_prefix("index-url = "))
        .unwrap();
    run_ok(
        client("pip")
            .args(["download", "--no-deps", "-d"])
            .arg(work.path().join("downloads"))
            .args(["--index-url", index, "snippet-kit==1.0"]),
    );
    assert!(
        work.path()
            .join("downloads/snippet_kit-1.0-py3-none-any.whl")
            .exists()
    );

    // uv, with the pyproject index and the credentials as shown.
    let uv = snippet(&page, "setup-uv", &token);
    let (pyproject, rest) = uv.split_once("# credentials").unwrap();
    let project = work.path().join("app");
    std::fs::create_dir(&project).unwrap();
    let manifest = format!(
        "[project]\nname = \"app\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\n\
         dependencies = [\"snippet-kit\"]\n\n{}",
        pyproject.trim_start_matches("# pyproject.toml\n")
    );
    std::fs::write(project.join("pyproject.toml"), manifest).unwrap();
    let mut lock = client("uv");
    lock.arg("lock")
        .current_dir(&project)
        .env_remove("UV_NO_CONFIG");
    for line in rest.lines().filter_map(|l| l.strip_prefix("export ")) {
        let (name, value) = line.split_once('=').unwrap();
        lock.env(name, value);
    }
    // The loopback rule of the tests: PyPI is never the default. The default index is ours
    // without credentials, so locking succeeds only through the snippet's index and variables.
    let plain = pyproject
        .lines()
        .find_map(|l| l.strip_prefix("url = \""))
        .unwrap()
        .trim_end_matches('"');
    lock.env("UV_DEFAULT_INDEX", plain);
    run_ok(&mut lock);
    let locked = std::fs::read_to_string(project.join("uv.lock")).unwrap();
    assert!(
        locked.contains("name = \"snippet-kit\"") && locked.contains("/api/v4/projects/"),
        "{locked}"
    );
}
