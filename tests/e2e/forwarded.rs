//! Behind a trusted proxy only the forwarding header the operator names is believed: a client's
//! own `Forwarded` (which nginx passes through untouched) cannot choose the address the throttle
//! counts or the audit trail records, nor the host absolute links name. The headers here are
//! only strings: every connection is to the server on loopback.

use serde_json::{Value, json};

use crate::support::{Response, Server, basic, request, send};
use crate::web::add_user;

/// Creates a group as `token`, the request carrying `headers`; returns the created id.
fn create_group(server: &Server, token: &str, path: &str, headers: &[(&str, &str)]) -> i64 {
    let mut all = vec![
        ("PRIVATE-TOKEN", token),
        ("Content-Type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let body = json!({"path": path, "name": path, "visibility": "private"});
    let created = send(
        "POST",
        &server.url("/api/v4/groups"),
        &all,
        body.to_string().into_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    created.json()["id"].as_i64().unwrap()
}

/// The address the audit trail recorded for the creation of group `id`.
fn recorded_address(server: &Server, admin: &str, id: i64) -> Value {
    let events = request(
        "GET",
        &server.url(&format!(
            "/api/v4/audit_events?entity_type=Group&entity_id={id}"
        )),
        &[("PRIVATE-TOKEN", admin)],
    );
    assert_eq!(events.status, 200, "{}", events.text());
    let events = events.json();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    events[0]["details"]["ip_address"].clone()
}

fn admin_token(server: &Server) -> String {
    add_user(server, "root", "root password 1", true);
    server.cli(&["token", "add", "root", "--name", "t", "--scopes", "api"])
}

/// Bad credentials against the instance API, as sent through the proxy with `headers`.
fn junk_from(server: &Server, i: usize, headers: &[(&str, &str)]) -> Response {
    let auth = basic("__token__", &format!("whpat-junk{i}"));
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request("GET", &server.url("/api/v4/user"), &all)
}

#[test]
fn a_clients_own_forwarded_header_is_not_believed_over_x_forwarded_for() {
    let server =
        Server::start_with(&["--trusted-proxies", "127.0.0.1", "--max-auth-failures", "3"]);
    let admin = admin_token(&server);
    // What nginx sends on: the client's Forwarded as it wrote it, X-Forwarded-For with the
    // client's address appended after whatever the client wrote there.
    let group = create_group(
        &server,
        &admin,
        "acme",
        &[
            ("Forwarded", "for=1.2.3.4;host=evil.example;proto=http"),
            ("X-Forwarded-For", "6.6.6.6, 203.0.113.20"),
        ],
    );
    assert_eq!(recorded_address(&server, &admin, group), "203.0.113.20");

    // The throttle counts the X-Forwarded-For address, however the Forwarded header varies.
    for i in 0..3 {
        let forged = format!("for=1.2.3.{i}");
        let status = junk_from(
            &server,
            i,
            &[
                ("Forwarded", forged.as_str()),
                ("X-Forwarded-For", "203.0.113.21"),
            ],
        )
        .status;
        assert_eq!(status, 401, "junk #{i}");
    }
    let fourth = junk_from(
        &server,
        3,
        &[
            ("Forwarded", "for=1.2.3.99"),
            ("X-Forwarded-For", "203.0.113.21"),
        ],
    );
    assert_eq!(fourth.status, 429, "{}", fourth.text());
    // Another client behind the same proxy is not locked out by it.
    let other = junk_from(&server, 4, &[("X-Forwarded-For", "203.0.113.22")]);
    assert_eq!(other.status, 401);
}

#[test]
fn a_proxy_that_sets_forwarded_is_believed_and_x_forwarded_for_is_not() {
    let server = Server::start_with(&[
        "--trusted-proxies",
        "127.0.0.1",
        "--forwarded-header",
        "forwarded",
    ]);
    let admin = admin_token(&server);
    let group = create_group(
        &server,
        &admin,
        "acme",
        &[
            ("X-Forwarded-For", "1.2.3.4"),
            ("Forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:4711\""),
        ],
    );
    assert_eq!(recorded_address(&server, &admin, group), "2001:db8::7");
    // Without the believed header the proxy itself is the client.
    let group = create_group(&server, &admin, "other", &[("X-Forwarded-For", "1.2.3.4")]);
    assert_eq!(recorded_address(&server, &admin, group), "127.0.0.1");
    // A setting the server does not know stops start-up with the choices.
    let out = crate::support::cli_output(
        server.data_dir(),
        &["serve", "--forwarded-header", "x-real-ip"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("x-forwarded-for"),
        "{stderr}"
    );
}
