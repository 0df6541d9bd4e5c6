//! A bot makes no credentials (review of issue 20): an access token's bot acts with its one
//! token, which its makers gave an expiry and may revoke. Were it to create, rotate or revoke
//! access tokens, or create deploy tokens, it would outlive that expiry and that revocation
//! with a credential of its own making (GitLab: "You cannot use project access tokens to create
//! other group, project, or personal access tokens").

use serde_json::json;

use crate::bot_policy::{access_token, call};
use crate::support::Server;

/// `alice` owns the private group `acme` with the project `acme/app`.
fn world() -> (Server, String) {
    let server = Server::start();
    let alice = server.user_with_token("alice", "api");
    server.cli(&["group", "add", "acme", "--visibility", "private"]);
    server.cli(&["project", "add", "acme/app", "--visibility", "private"]);
    server.cli(&["member", "add", "acme", "alice", "--role", "owner"]);
    (server, alice)
}

/// Alice gives release automation a short-lived maintainer token, then revokes it. Before
/// that, the bot tries every road to a credential that would survive: a sibling access token
/// (a year long), its own rotation to a later expiry, a deploy token that never expires. Each
/// is refused, so once its token is revoked nothing the bot made still uploads.
#[test]
fn a_bot_cannot_make_a_credential_that_outlives_its_token() {
    let (server, alice) = world();
    for place in ["projects/acme%2Fapp", "groups/acme"] {
        let (id, bot) = access_token(&server, &alice, place, 40);
        let tokens = format!("/api/v4/{place}/access_tokens");

        let body = json!({"name": "mine", "scopes": ["api"], "access_level": 40});
        let made = call(&server, "POST", &tokens, &bot, Some(body));
        assert_eq!(made.status, 403, "{place}: {}", made.text());
        assert!(made.json().get("token").is_none());
        assert!(
            made.text().contains("bot"),
            "names the rule: {}",
            made.text()
        );

        let rotate = format!("{tokens}/{id}/rotate");
        let rotated = call(&server, "POST", &rotate, &bot, Some(json!({})));
        assert_eq!(rotated.status, 403, "{place}: {}", rotated.text());
        assert!(rotated.json().get("token").is_none());

        let deploy = format!("/api/v4/{place}/deploy_tokens");
        let body = json!({"name": "forever", "scopes": ["write_package_registry"]});
        let made = call(&server, "POST", &deploy, &bot, Some(body));
        assert_eq!(made.status, 403, "{place}: {}", made.text());
        assert!(made.json().get("token").is_none());

        // Alice's own management of the token is unchanged.
        let revoked = call(&server, "DELETE", &format!("{tokens}/{id}"), &alice, None);
        assert_eq!(revoked.status, 204, "{place}: {}", revoked.text());
        assert_eq!(
            call(&server, "GET", "/api/v4/user", &bot, None).status,
            401,
            "{place}: the revoked bot is out"
        );
    }

    // No credential the bots tried to make is left behind.
    let deploy = call(
        &server,
        "GET",
        "/api/v4/projects/acme%2Fapp/deploy_tokens",
        &alice,
        None,
    );
    assert_eq!(deploy.status, 200);
    assert_eq!(
        deploy.json().as_array().unwrap().len(),
        0,
        "{}",
        deploy.text()
    );
}

/// The owner and maintainers still manage tokens and deploy tokens as before.
#[test]
fn people_still_manage_tokens_and_deploy_tokens() {
    let (server, alice) = world();
    let (id, _) = access_token(&server, &alice, "projects/acme%2Fapp", 40);
    let rotate = format!("/api/v4/projects/acme%2Fapp/access_tokens/{id}/rotate");
    let rotated = call(&server, "POST", &rotate, &alice, Some(json!({})));
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let deploy = "/api/v4/projects/acme%2Fapp/deploy_tokens";
    let body = json!({"name": "ci", "scopes": ["read_package_registry"]});
    let made = call(&server, "POST", deploy, &alice, Some(body));
    assert_eq!(made.status, 201, "{}", made.text());
}
