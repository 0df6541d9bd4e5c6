//! The OpenAPI 3 description of the management API, generated from the handlers' annotations
//! and the response types they serialize, served at `/api/v4/openapi.json`.

use super::Routes;
use crate::access::Operation;
use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::Method;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    access_tokens_api, api, api_views, audit_api, groups_api, members_api, namespaces_api,
    relations_api, transfer_api, upstreams_api, users_api,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Wheelhouse management API",
        description = "The part of GitLab's REST API (v4) that concerns users, personal access \
            tokens, groups, projects, members, deploy tokens, a group's upstream indexes, the audit \
            trail and PyPI packages. Authenticate with a personal access token in `PRIVATE-TOKEN` or \
            `Authorization: Bearer`: `read_api` or `api` to read, `api` to change. Lists are \
            paged as GitLab pages them (`page`, `per_page`; `X-Total`, `X-Next-Page`, `Link`)."
    ),
    paths(
        users_api::version,
        users_api::current_user,
        users_api::list_users,
        users_api::show_user,
        users_api::create_user,
        users_api::update_user,
        users_api::delete_user,
        users_api::block_user,
        users_api::unblock_user,
        users_api::list_tokens,
        users_api::show_token,
        users_api::revoke_token,
        users_api::rotate_token,
        users_api::create_own_token,
        users_api::create_token_for,
        groups_api::list_groups,
        groups_api::show_group,
        groups_api::list_subgroups,
        groups_api::list_group_projects,
        groups_api::create_group,
        groups_api::update_group,
        groups_api::delete_group,
        groups_api::list_projects,
        groups_api::show_project,
        groups_api::create_project,
        groups_api::update_project,
        groups_api::delete_project,
        transfer_api::transfer_project,
        transfer_api::transfer_group,
        members_api::list_members,
        members_api::list_all_members,
        members_api::show_member,
        members_api::show_inherited_member,
        members_api::add_member,
        members_api::edit_member,
        members_api::remove_member,
        members_api::list_tokens,
        members_api::show_token,
        namespaces_api::list_descendant_groups,
        namespaces_api::list_namespaces,
        namespaces_api::show_namespace,
        namespaces_api::namespace_exists,
        relations_api::user_projects,
        relations_api::user_memberships,
        relations_api::project_groups,
        relations_api::all_deploy_tokens,
        members_api::create_token,
        access_tokens_api::list,
        access_tokens_api::create,
        access_tokens_api::show,
        access_tokens_api::revoke,
        access_tokens_api::rotate,
        members_api::revoke_token,
        upstreams_api::list,
        upstreams_api::add,
        upstreams_api::show,
        upstreams_api::update,
        upstreams_api::remove,
        upstreams_api::list_rules,
        upstreams_api::add_rule,
        upstreams_api::remove_rule,
        api::list_packages,
        api::list_group_packages,
        api::show_package,
        api::delete_package,
        api::list_files,
        api::delete_file,
        api::yank_package,
        api::unyank_package,
        api::yank_file,
        api::unyank_file,
        audit_api::list_all,
        audit_api::show_any,
        audit_api::list_group,
        audit_api::show_group,
        audit_api::list_project,
        audit_api::show_project,
    ),
    components(schemas(api_views::ErrorView, members_api::OwnerKind)),
    modifiers(&Authentication, &CommonErrors),
    security(("private_token" = []), ("bearer" = []))
)]
struct ApiDoc;

/// The two ways GitLab tooling sends a personal access token.
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "private_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("PRIVATE-TOKEN"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The failures every operation can meet, each answered with `{"message": …}`: bad
/// parameters or body, credentials that do not work, a right the caller lacks, something the
/// caller may not see (or that does not exist), and too many failed credentials.
const COMMON_ERRORS: [(&str, &str); 5] = [
    (
        "400",
        "The parameters or the JSON body are not valid; the message names the problem",
    ),
    (
        "401",
        "The credentials are missing, unknown, revoked or expired",
    ),
    (
        "403",
        "The caller may see this but not do this (or the token lacks the scope)",
    ),
    ("404", "Nothing the caller may see has this id or path"),
    (
        "429",
        "Too many failed credentials from this address; retry after `Retry-After`",
    ),
];

struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = || -> Response {
            ResponseBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorView",
                        ))))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (status, description) in COMMON_ERRORS {
                    let mut response = error();
                    response.description = description.to_owned();
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(RefOr::T(response));
                }
            }
        }
    }
}

/// The description as JSON, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI description serializes")
    })
}

pub fn configure(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/api/v4/openapi.json",
        Operation::PublicApiInfo,
        serve,
    );
}

async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_described_with_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let paths = doc["paths"].as_object().unwrap();
        let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, 77, "{:?}", paths.keys().collect::<Vec<_>>());
        let user = &paths["/api/v4/users/{user_id}"]["get"]["responses"];
        assert_eq!(
            user["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/UserView"
        );
        assert!(user["404"]["content"].is_object());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "UserView",
            "ProjectView",
            "PackageFileView",
            "MemberView",
            "UpstreamView",
            "UpstreamRuleView",
            "AuditEventView",
            "ErrorView",
        ] {
            assert!(schemas.contains_key(name), "{name} is missing");
        }
    }

    /// Every described endpoint, one path a line with its methods, as the README's REST section
    /// lists them (a test keeps the two equal, so the list cannot drift from the code).
    fn endpoint_list() -> String {
        let doc: serde_json::Value =
            serde_json::from_str(document()).expect("the OpenAPI description is JSON");
        let mut list = String::new();
        for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
            let methods: Vec<String> = operations
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
                .map(|m| m.to_uppercase())
                .collect();
            list.push_str(&format!("- `{path}`: {}\n", methods.join(", ")));
        }
        list
    }

    /// The README lists what the description describes; a new endpoint the README does not
    /// list fails here (paste the printed list there).
    #[test]
    fn the_readme_lists_every_endpoint() {
        let readme = include_str!("../../README.md");
        let list = endpoint_list();
        assert!(
            readme.contains(&list),
            "README.md's endpoint list differs from the code's; the code's is:\n{list}"
        );
    }

    /// The description and the routes are written in two places (annotation and `configure`):
    /// every described operation must reach a handler, not the fallback.
    #[actix_web::test]
    async fn every_described_operation_has_a_route() {
        use actix_web::{App, http::Method, test, web};
        let app = test::init_service(
            App::new()
                .configure(crate::routes::configure)
                .default_service(web::to(|| async { HttpResponse::ImATeapot().finish() })),
        )
        .await;
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let uri = path
                .replace("{kind}", "groups")
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for method in item.as_object().unwrap().keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let req = test::TestRequest::default()
                    .method(method.clone())
                    .uri(&uri)
                    .to_request();
                let status = test::call_service(&app, req).await.status();
                assert_ne!(status.as_u16(), 418, "{method} {path} has no route");
            }
        }
    }
}
