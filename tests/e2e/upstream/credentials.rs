//! An upstream that needs credentials: they go with every request to its own origin, never to
//! another host its pages link to, and never back out through this server's answers.

use base64::Engine;

use super::fake::FakeUpstream;
use super::{json_file_urls, page_json};
use crate::support::{Server, cli_output, get};

#[test]
fn upstream_credentials_go_to_its_origin_only() {
    let index_host = FakeUpstream::start();
    // Another port is another origin, as a separate file host would be.
    let file_host = FakeUpstream::start();
    let down = Server::start_with(&["--upstream-allow-private-networks"]);
    down.cli(&["group", "add", "p", "--visibility", "public"]);
    let secret = "upstream-pw-71c3";
    let added = cli_output(
        down.data_dir(),
        &[
            "group",
            "upstream",
            "add",
            "p",
            &index_host.index(),
            "--username",
            "mirror",
            "--password-stdin",
        ],
        Some(&format!("{secret}\n")),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let expected = format!(
        "authorization: basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("mirror:{secret}"))
            .to_lowercase()
    );

    let (home, away) = (b"home-bytes".to_vec(), b"away-bytes".to_vec());
    let (home_name, away_name) = ("home-1.0-py3-none-any.whl", "away-1.0-py3-none-any.whl");
    index_host.project("home", &[(home_name, &home)]);
    file_host.project("away", &[(away_name, &away)]);
    // The index's page for `away` links to the file host.
    let away_page = serde_json::json!({
        "meta": {"api-version": "1.0"},
        "name": "away",
        "files": [{
            "filename": away_name,
            "url": format!("{}/files/{away_name}", file_host.base),
            "hashes": {"sha256": crate::support::sha256_hex(&away)},
        }],
    });
    index_host.route(
        "/simple/away/",
        super::fake::Reply::ok(super::JSON, serde_json::to_vec(&away_page).unwrap()),
    );

    let index = format!("{}/simple/", down.group_api("p"));
    for (name, bytes) in [("home", &home), ("away", &away)] {
        let url = format!("{index}{name}/");
        let page = page_json(&url);
        assert_eq!(page.status, 200, "{name}: {}", page.text());
        assert!(!page.text().contains(secret));
        let file = get(&json_file_urls(&url, &page.json())[0], None);
        assert_eq!(file.status, 200, "{name}: {}", file.text());
        assert!(file.body == *bytes);
        assert!(
            index_host
                .last_head(&format!("/simple/{name}/"))
                .contains(&expected),
            "the page request for {name} went without the credentials"
        );
    }
    assert!(
        index_host
            .last_head(&format!("/files/{home_name}"))
            .contains(&expected),
        "the file request to the upstream's origin went without the credentials"
    );
    let away_head = file_host.last_head(&format!("/files/{away_name}"));
    assert!(!away_head.is_empty(), "the file host was never asked");
    assert!(
        !away_head.contains("authorization"),
        "credentials sent to another host: {away_head}"
    );
    let listed = cli_output(down.data_dir(), &["group", "upstream", "list", "p"], None);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(secret));
}
