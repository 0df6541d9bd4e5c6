//! Creating groups and projects on the web, and editing their names and descriptions, with the
//! rules of the API: as their owner, as a tenant who may not, and with bad input.

use crate::support::{Server, basic, get};
use crate::web::{Visitor, add_user, csrf_of};

fn location(resp: &crate::support::Response) -> String {
    resp.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A namespace id as the "New project" form offers it (the option whose text is `path`).
fn option_id(page: &str, path: &str) -> Option<String> {
    let end = page.find(&format!(">{path}</option>"))?;
    let start = page[..end].rfind("value=\"")? + "value=\"".len();
    Some(page[start..page[start..].find('"')? + start].to_owned())
}

#[test]
fn groups_and_projects_are_created_and_renamed_on_the_web_with_the_apis_rules() {
    let server = Server::start();
    add_user(&server, "ann", "ann password", false);
    add_user(&server, "bob", "bob password", false);
    let mut ann = Visitor::sign_in(&server, "ann", "ann password");
    let mut bob = Visitor::sign_in(&server, "bob", "bob password");

    // The explore page leads to both forms; signed out, the forms ask to sign in.
    assert!(ann.get("/explore").text().contains("href=\"/groups/new\""));
    let resp = Visitor::new(&server).get("/projects/new");
    assert_eq!(resp.status, 303);
    assert!(
        location(&resp).starts_with("/users/sign_in"),
        "{}",
        resp.text()
    );

    // A top-level group with a name, a derived path, a description.
    let resp = ann.submit(
        "/groups/new",
        "/groups/new",
        &[
            ("name", "Acme Labs"),
            ("path", ""),
            ("parent_id", ""),
            ("visibility", "public"),
            ("description", "Wheels of the lab"),
        ],
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    assert_eq!(location(&resp), "/acme-labs");
    let page = ann.get("/acme-labs").text();
    assert!(page.contains("Wheels of the lab"), "{page}");

    // A subgroup, then a project in it, chosen from what the forms offer.
    let form = ann.get("/groups/new").text();
    let parent = option_id(&form, "acme-labs").expect("the group is offered as a parent");
    let resp = ann.submit(
        "/groups/new",
        "/groups/new",
        &[
            ("name", "ml"),
            ("parent_id", &parent),
            ("visibility", "public"),
        ],
    );
    assert_eq!(location(&resp), "/acme-labs/ml", "{}", resp.text());
    let form = ann.get("/projects/new").text();
    assert!(
        option_id(&form, "ann").is_some(),
        "own namespace offered: {form}"
    );
    let ml = option_id(&form, "acme-labs/ml").unwrap();
    let resp = ann.submit(
        "/projects/new",
        "/projects/new",
        &[
            ("name", "My Models"),
            ("namespace_id", &ml),
            ("visibility", "private"),
        ],
    );
    assert_eq!(
        location(&resp),
        "/acme-labs/ml/my-models",
        "{}",
        resp.text()
    );
    let resp = ann.submit(
        "/projects/new",
        "/projects/new",
        &[("name", "scratch"), ("namespace_id", "")],
    );
    assert_eq!(
        location(&resp),
        "/ann/scratch",
        "without one, the own namespace"
    );

    // Bad input: a clear 400 on the form, with what was typed kept; nothing created.
    for (fields, says) in [
        (vec![("name", "bad/name"), ("path", "")], "may hold only"),
        (vec![("name", "x"), ("path", "-dash")], "not a valid"),
        (vec![("name", "groups"), ("path", "")], "reserved"),
        (vec![("name", "Acme Labs"), ("path", "")], "already taken"),
        (
            vec![
                ("name", "loud"),
                ("parent_id", &parent),
                ("visibility", "nonsense"),
            ],
            "unknown visibility",
        ),
    ] {
        let resp = ann.submit("/groups/new", "/groups/new", &fields);
        assert_eq!(resp.status, 400, "{fields:?}: {}", resp.text());
        assert!(resp.text().contains(says), "{fields:?}: {}", resp.text());
        assert!(resp.text().contains("role=\"alert\""), "{fields:?}");
    }
    // A subgroup more visible than its parent is refused (private project's group stays so).
    let resp = ann.submit(
        "/groups/new",
        "/groups/new",
        &[
            ("name", "inner"),
            ("parent_id", &parent),
            ("visibility", "public"),
        ],
    );
    assert_eq!(
        resp.status,
        303,
        "public under public is fine: {}",
        resp.text()
    );

    // Bob, another tenant: the forms offer him none of Ann's places, and a forged id is refused
    // as the API refuses it (a private group he cannot see does not exist for him).
    let form = bob.get("/projects/new").text();
    assert!(option_id(&form, "acme-labs/ml").is_none(), "{form}");
    let resp = bob.submit(
        "/projects/new",
        "/projects/new",
        &[("name", "squat"), ("namespace_id", &ml)],
    );
    assert_eq!(resp.status, 403, "public group, not his: {}", resp.text());
    let resp = bob.submit(
        "/groups/new",
        "/groups/new",
        &[("name", "squat"), ("parent_id", &parent)],
    );
    assert_eq!(resp.status, 403, "{}", resp.text());
    let resp = bob.post(
        "/groups/new",
        &[("csrf_token", "forged"), ("name", "forged")],
    );
    assert_eq!(resp.status, 403);
    let token = server.cli(&["token", "add", "ann", "--name", "t", "--scopes", "api"]);
    let auth = basic("__token__", &token);
    let groups = get(
        &server.url("/api/v4/groups?all_available=true"),
        Some(&auth),
    )
    .json();
    let paths: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["full_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["acme-labs", "acme-labs/inner", "acme-labs/ml"],
        "{groups}"
    );

    // The owner renames and describes on the settings page; the API sees it.
    let settings = "/acme-labs/ml/my-models/-/settings";
    let page = ann.get(settings).text();
    assert!(page.contains("value=\"My Models\""), "{page}");
    let token_on_page = csrf_of(&ann.get(settings));
    let resp = ann.post(
        "/acme-labs/ml/my-models/-/settings/general",
        &[
            ("csrf_token", &token_on_page),
            ("name", "Model Zoo"),
            ("description", "Trained weights"),
            ("visibility", "private"),
        ],
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    let project = get(
        &server.url("/api/v4/projects/acme-labs%2Fml%2Fmy-models"),
        Some(&auth),
    )
    .json();
    assert_eq!(project["name"], "Model Zoo", "{project}");
    assert_eq!(project["description"], "Trained weights", "{project}");
    // Emptying the description clears it; an empty or unlawful name is refused on the form.
    let resp = ann.submit(
        settings,
        "/acme-labs/ml/my-models/-/settings/general",
        &[("name", "Model Zoo"), ("description", "")],
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    for bad in ["", "a/b"] {
        let resp = ann.submit(
            settings,
            "/acme-labs/ml/my-models/-/settings/general",
            &[("name", bad), ("description", "x")],
        );
        assert_eq!(resp.status, 400, "{bad:?}: {}", resp.text());
    }
    let project = get(
        &server.url("/api/v4/projects/acme-labs%2Fml%2Fmy-models"),
        Some(&auth),
    )
    .json();
    assert_eq!(project["name"], "Model Zoo");
    assert_eq!(project["description"], "");
    // The group too; Bob, not a member, cannot even see its settings.
    let resp = ann.submit(
        "/acme-labs/-/settings",
        "/acme-labs/-/settings/general",
        &[("name", "Acme Laboratories"), ("description", "Renamed")],
    );
    assert_eq!(resp.status, 303, "{}", resp.text());
    let bobs_token = csrf_of(&bob.get("/explore"));
    let resp = bob.post(
        "/acme-labs/-/settings/general",
        &[("csrf_token", &bobs_token), ("name", "Pwned")],
    );
    assert!(matches!(resp.status, 403 | 404), "{}", resp.text());
    let group = get(&server.url("/api/v4/groups/acme-labs"), Some(&auth)).json();
    assert_eq!(group["name"], "Acme Laboratories", "{group}");
    assert_eq!(group["description"], "Renamed", "{group}");
}
