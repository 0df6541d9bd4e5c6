//! Lists a tenant can grow come a page at a time, cut by the database (issue 20, "every
//! answer costs what an honest one costs"): the API's group, namespace and member lists
//! with GitLab's headers, the explore page and a group's page with next and previous links.

use serde_json::Value;

use crate::support::{Server, get, post, request};

/// More groups than one page of the explore page (50) or of the API (at most 100) shows.
const GROUPS: usize = 120;

fn paths(list: &Value) -> Vec<String> {
    let items = list.as_array().unwrap().iter();
    items
        .map(|g| g["full_path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn long_lists_come_a_page_at_a_time_and_add_up() {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    for n in 0..GROUPS {
        let body = format!(r#"{{"path":"g{n:03}","visibility":"public"}}"#);
        let made = post(
            &server.url("/api/v4/groups"),
            &[
                ("PRIVATE-TOKEN", alice.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.into_bytes(),
        );
        assert_eq!(made.status, 201, "{}", made.text());
    }
    let mut expected: Vec<String> = (0..GROUPS).map(|n| format!("g{n:03}")).collect();
    expected.sort();

    // The API: pages of 100 with GitLab's headers, adding up to every group once.
    let mut seen = Vec::new();
    for page in 1..=2 {
        let url = server.url(&format!("/api/v4/groups?per_page=100&page={page}"));
        let got = request("GET", &url, &[("PRIVATE-TOKEN", alice.as_str())]);
        assert_eq!(got.status, 200, "{}", got.text());
        assert_eq!(got.header("x-total"), Some("120"));
        assert_eq!(got.header("x-total-pages"), Some("2"));
        let next = got.header("x-next-page").unwrap_or_default().to_string();
        assert_eq!(next, if page == 1 { "2" } else { "" });
        seen.extend(paths(&got.json()));
    }
    assert_eq!(seen, expected);
    // The anonymous see the same public groups through namespaces, a page of 20 by default.
    let got = get(&server.url("/api/v4/namespaces"), None);
    assert_eq!(got.status, 401, "namespaces are for the signed in");
    let url = server.url("/api/v4/namespaces?page=7");
    let got = request("GET", &url, &[("PRIVATE-TOKEN", alice.as_str())]);
    // alice's own namespace first, then the groups: 121 in all, the 7th page holds one.
    assert_eq!(got.header("x-total"), Some("121"));
    assert_eq!(paths(&got.json()), [expected[119].clone()]);

    // The explore page: 50 groups, then the next page, then the last 20.
    let first = get(&server.url("/explore"), None).text();
    assert!(first.contains(r#"href="/explore?page=2""#), "{first}");
    assert!(!first.contains("rel=\"prev\""), "{first}");
    assert!(first.contains(">g049</a>") && !first.contains(">g050</a>"));
    let last = get(&server.url("/explore?page=3"), None).text();
    assert!(
        last.contains(r#"href="/explore?page=2" rel="prev""#),
        "{last}"
    );
    assert!(!last.contains("rel=\"next\""), "{last}");
    assert!(last.contains(">g119</a>") && !last.contains(">g099</a>"));

    // Members: a page of 20 by default with the total, and `user_ids[]` in the database.
    for n in 0..25 {
        server.user_with_token(&format!("m{n:02}"), "read_api");
        server.cli(&[
            "member",
            "add",
            "g000",
            &format!("m{n:02}"),
            "--role",
            "guest",
        ]);
    }
    let url = server.url("/api/v4/groups/g000/members/all");
    let got = request("GET", &url, &[("PRIVATE-TOKEN", alice.as_str())]);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.header("x-total"), Some("26"), "alice and 25 guests");
    assert_eq!(got.json().as_array().unwrap().len(), 20);
    let url = server.url("/api/v4/groups/g000/members?page=2");
    let got = request("GET", &url, &[("PRIVATE-TOKEN", alice.as_str())]);
    assert_eq!(got.json().as_array().unwrap().len(), 6);

    // A group's page: 100 subgroups, then the next page with the rest.
    let url = server.url("/api/v4/groups/g001");
    let parent = request("GET", &url, &[("PRIVATE-TOKEN", alice.as_str())]).json()["id"].clone();
    assert!(parent.is_i64(), "{parent}");
    for n in 0..101 {
        let body = format!(r#"{{"path":"s{n:03}","parent_id":{parent},"visibility":"public"}}"#);
        let made = post(
            &server.url("/api/v4/groups"),
            &[
                ("PRIVATE-TOKEN", alice.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.into_bytes(),
        );
        assert_eq!(made.status, 201, "{}", made.text());
    }
    let first = get(&server.url("/g001"), None).text();
    assert!(first.contains("100 of 101 subgroups"), "{first}");
    assert!(
        first.contains(r#"href="/g001?page=2" rel="next""#),
        "{first}"
    );
    assert!(first.contains(">g001/s099</a>") && !first.contains(">g001/s100</a>"));
    let second = get(&server.url("/g001?page=2"), None).text();
    assert!(second.contains(">g001/s100</a>") && !second.contains(">g001/s099</a>"));
    assert!(
        second.contains(r#"href="/g001?page=1" rel="prev""#),
        "{second}"
    );
}

/// The "New group" form offers at most a page of parents (an admin may create in every group
/// of the server) and takes any other by its full path, judged as a chosen one is.
#[test]
fn the_new_group_form_offers_a_page_of_parents_and_takes_any_by_path() {
    let server = Server::start();
    crate::web::add_user(&server, "ann", "ann password", false);
    let token = server.cli(&["token", "add", "ann", "--name", "t", "--scopes", "api"]);
    let token = token.trim();
    for n in 0..110 {
        let body = format!(r#"{{"path":"p{n:03}","visibility":"public"}}"#);
        let made = post(
            &server.url("/api/v4/groups"),
            &[
                ("PRIVATE-TOKEN", token),
                ("Content-Type", "application/json"),
            ],
            body.into_bytes(),
        );
        assert_eq!(made.status, 201, "{}", made.text());
    }
    server.cli(&["group", "add", "hidden", "--visibility", "private"]);
    let mut ann = crate::web::Visitor::sign_in(&server, "ann", "ann password");
    let form = ann.get("/groups/new").text();
    let select = &form[form.find("name=\"parent_id\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    let offered = select.matches("<option value=\"").count();
    // "(none)" and at most 100 groups: the list is a page, not every group.
    assert!(offered <= 101, "{offered} choices");
    assert!(form.contains(">p000</option>") && !form.contains(">p109</option>"));
    assert!(form.contains("name=\"parent_path\""), "{form}");

    // One past the list, typed by its path.
    let resp = ann.submit(
        "/groups/new",
        "/groups/new",
        &[
            ("name", "deep"),
            ("parent_id", ""),
            ("parent_path", "p109"),
            ("visibility", "public"),
        ],
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    let page = get(&server.url("/p109/deep"), None);
    assert_eq!(page.status, 200, "the subgroup is there");
    // A group ann may not see is not there, in the same words as one that does not exist.
    for missing in ["hidden", "nothing-here"] {
        let resp = ann.submit(
            "/groups/new",
            "/groups/new",
            &[("name", "x"), ("parent_path", missing)],
        );
        assert_eq!(resp.status, 400, "{}", resp.text());
        let words = format!("&#34;{missing}&#34; names no namespace");
        assert!(resp.text().contains(&words), "{}", resp.text());
    }
}
