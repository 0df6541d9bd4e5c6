//! The pages and forms under a group's or project's path (`/PLACE` and `/PLACE/-/…`), declared
//! once: the inventory lists them and the place dispatchers find their route here.

use actix_web::http::Method;

use crate::access::Operation;
use crate::routes::RouteSpec;

/// One page or form below a place: the part after `/-/` as segments (`{x}` takes any one
/// segment), and the operation it performs.
pub struct PlaceRoute {
    pub post: bool,
    pub pattern: &'static str,
    pub operation: Operation,
}

const fn get(pattern: &'static str, operation: Operation) -> PlaceRoute {
    PlaceRoute {
        post: false,
        pattern,
        operation,
    }
}

const fn post(pattern: &'static str, operation: Operation) -> PlaceRoute {
    PlaceRoute {
        post: true,
        pattern,
        operation,
    }
}

/// Every page and form a group or project has.
pub const PLACE_ROUTES: &[PlaceRoute] = &[
    get("", Operation::PageView),
    get("packages", Operation::PageView),
    get("packages/{package_id}", Operation::PageView),
    get("upstream/{name}", Operation::PageView),
    get(
        "package_files/{file_id}/download",
        Operation::PackagesDownload,
    ),
    get("settings", Operation::SettingsShow),
    post("packages/{package_id}/yank", Operation::PackagesYank),
    post("packages/{package_id}/unyank", Operation::PackagesYank),
    post("packages/{package_id}/delete", Operation::PackagesDelete),
    post("settings/general", Operation::PlaceUpdate),
    post("settings/members", Operation::MembersAdd),
    post("settings/members/{user_id}", Operation::MembersChange),
    post(
        "settings/members/{user_id}/remove",
        Operation::MembersRemove,
    ),
    post("settings/deploy_tokens", Operation::DeployTokensCreate),
    post(
        "settings/deploy_tokens/{token_id}/revoke",
        Operation::DeployTokensRevoke,
    ),
    post("settings/upstreams", Operation::UpstreamsManage),
    post(
        "settings/upstreams/{upstream_id}/remove",
        Operation::UpstreamsManage,
    ),
    post("settings/upstream_rules", Operation::UpstreamsManage),
    post(
        "settings/upstream_rules/{rule_id}/remove",
        Operation::UpstreamsManage,
    ),
];

/// The place route a request below a place asks for, with the segments its `{…}` took.
pub fn find(post: bool, rest: &str) -> Option<(&'static PlaceRoute, Vec<String>)> {
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    PLACE_ROUTES
        .iter()
        .filter(|route| route.post == post)
        .find_map(|route| {
            let pattern: Vec<&str> = if route.pattern.is_empty() {
                Vec::new()
            } else {
                route.pattern.split('/').collect()
            };
            if pattern.len() != segments.len() {
                return None;
            }
            let mut taken = Vec::new();
            for (want, got) in pattern.iter().zip(&segments) {
                if want.starts_with('{') {
                    taken.push((*got).to_owned());
                } else if want != got {
                    return None;
                }
            }
            Some((route, taken))
        })
}

/// The place routes as the inventory lists them (`{place}` is a group's or project's path).
pub fn inventory() -> Vec<RouteSpec> {
    PLACE_ROUTES
        .iter()
        .map(|route| RouteSpec {
            method: if route.post {
                Method::POST
            } else {
                Method::GET
            },
            path: match route.pattern {
                "" => "/{place}".to_owned(),
                pattern => format!("/{{place}}/-/{pattern}"),
            },
            operation: route.operation,
            web: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_routes_and_their_parameters() {
        let (route, taken) = find(true, "settings/members/7/remove").unwrap();
        assert_eq!(route.operation, Operation::MembersRemove);
        assert_eq!(taken, ["7"]);
        assert_eq!(find(false, "").unwrap().0.operation, Operation::PageView);
        assert!(find(false, "settings/members").is_none());
        assert!(find(true, "nothing").is_none());
    }
}
