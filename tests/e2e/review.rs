//! A hostile tenant's review: what an ordinary signed-in user B could do to everyone else,
//! each hole found kept as a test through HTTP against the real binary.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Server, get, post};
use crate::web::{Visitor, add_user, csrf_of};

/// B floods the password form of B's own account with wrong current passwords: each check is
/// an argon2 computation (19 MiB, tens of milliseconds; far more in this unoptimized build).
/// Sign-in runs those one at a time without a database connection; the password form ran them
/// inside the page's database work, as many at once as B sent, so every blocking thread and
/// connection went to argon2 and health and pip waited behind B.
#[test]
fn a_flood_of_password_changes_does_not_hold_up_other_requests() {
    let _heavy = crate::support::heavy();
    let server = Server::start();
    add_user(&server, "bee", "bee password", false);
    let mut bee = Visitor::sign_in(&server, "bee", "bee password");
    let page = "/-/user_settings/password";
    let csrf = csrf_of(&bee.get(page));
    let cookies = bee.cookie_header();
    let body = serde_urlencoded::to_string([
        ("csrf_token", csrf.as_str()),
        ("current_password", "not the password"),
        ("new_password", "whatever new password"),
    ])
    .unwrap();

    let stop = AtomicBool::new(false);
    let sent = AtomicUsize::new(0);
    let mut probes = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..16 {
            let (stop, sent, cookies, body) = (&stop, &sent, &cookies, &body);
            let url = server.url(page);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let resp = post(
                        &url,
                        &[
                            ("Cookie", cookies),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                        ],
                        body.clone().into_bytes(),
                    );
                    assert_eq!(resp.status, 400, "{}", resp.text());
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Let the flood fill the server first.
        let started = Instant::now();
        while sent.load(Ordering::Relaxed) < 2 && started.elapsed() < Duration::from_secs(30) {
            std::thread::yield_now();
        }
        let deadline = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline {
            let at = Instant::now();
            let resp = get(&server.url("/-/health"), None);
            probes.push(at.elapsed());
            assert_eq!(resp.status, 200);
        }
        stop.store(true, Ordering::Relaxed);
    });
    probes.sort();
    let median = probes[probes.len() / 2];
    let slowest = *probes.last().unwrap();
    eprintln!(
        "{} password attempts; {} health probes: median {median:?}, slowest {slowest:?}",
        sent.into_inner(),
        probes.len()
    );
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(slowest < Duration::from_secs(1), "slowest {slowest:?}");

    // The form itself still works: a wrong current password is named, a right one changes it.
    let wrong = bee.submit(
        page,
        page,
        &[
            ("current_password", "nope nope"),
            ("new_password", "new password"),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("current password is not right"));
    let ok = bee.submit(
        page,
        page,
        &[
            ("current_password", "bee password"),
            ("new_password", "new password"),
        ],
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    Visitor::sign_in(&server, "bee", "new password");
}

/// Signed in, B asks the web for places of tenant A's: a private project must look exactly
/// like a missing one. The page said "404 Project Not Found" for A's private project and
/// "404 Group Not Found" for a path holding nothing, so B could list A's private project names
/// (in A's groups and in A's personal namespace) by guessing.
#[test]
fn signed_in_pages_do_not_tell_a_private_project_from_a_missing_one() {
    let server = Server::start();
    add_user(&server, "ann", "ann password", false);
    add_user(&server, "bee", "bee password", false);
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/secret", "--visibility", "private"]);
    server.cli(&["project", "add", "ann/diary", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "ann", "--role", "owner"]);
    let mut bee = Visitor::sign_in(&server, "bee", "bee password");
    let csrf = csrf_of(&bee.get("/-/user_settings/password"));
    let pairs = [
        ("/acme/secret", "/acme/nothing"),
        ("/ann/diary", "/ann/nothing"),
        ("/acme/secret", "/nothing/nothing"),
    ];
    for (private, missing) in pairs {
        for rest in [
            "",
            "/-/packages",
            "/-/packages/1",
            "/-/settings",
            "/-/package_files/1/download",
        ] {
            let (hidden, absent) = (
                bee.get(&format!("{private}{rest}")),
                bee.get(&format!("{missing}{rest}")),
            );
            assert_eq!(hidden.status, 404, "{private}{rest}");
            assert_eq!(
                (hidden.status, hidden.text()),
                (absent.status, absent.text()),
                "GET {private}{rest} against {missing}{rest}"
            );
        }
        for form in ["settings/general", "settings/members", "packages/1/delete"] {
            let fields = [("csrf_token", csrf.as_str()), ("username", "bee")];
            let (hidden, absent) = (
                bee.post(&format!("{private}/-/{form}"), &fields),
                bee.post(&format!("{missing}/-/{form}"), &fields),
            );
            assert_eq!(hidden.status, 404, "{private}/-/{form}: {}", hidden.text());
            assert_eq!(
                (hidden.status, hidden.text()),
                (absent.status, absent.text()),
                "POST {private}/-/{form} against {missing}/-/{form}"
            );
        }
    }
    // Ann, who may see them, still finds her places.
    let mut ann = Visitor::sign_in(&server, "ann", "ann password");
    assert_eq!(ann.get("/acme/secret").status, 200);
    assert_eq!(ann.get("/ann/diary").status, 200);
}
