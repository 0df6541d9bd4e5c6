//! The route inventory: every route is declared once, with its operation, and the same
//! declaration both registers it with actix and lists it for tests and documentation.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, Handler, Responder, web};

use crate::access::Operation;

/// One route the server answers: its method, its path as an actix template
/// (`/api/v4/projects/{id}/packages`; `{place}` stands for a group's or project's full path
/// on the web pages), and the operation of the permission table it performs.
///
/// Where the request says more than the route, the service asks the table again with what
/// it says: `POST /api/v4/groups` with a `parent_id` is also a `SubgroupCreate` on that
/// parent, `POST /api/v4/projects` a `ProjectCreate` on its `namespace_id` (or the caller's
/// own namespace), and member changes are also judged by `access::member_change`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: String,
    pub operation: Operation,
    /// A web page or form: its callers are known by their session cookie only (a token or
    /// Basic credentials count as anonymous there). Every other route knows personal access
    /// tokens, deploy tokens and Basic credentials only, never the session cookie.
    pub web: bool,
}

/// Where declarations go: into actix (serving) or only into the list (`inventory`). A route
/// can only be declared with its operation, so none is registered without one.
pub struct Routes<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    specs: Vec<RouteSpec>,
    /// Whether the routes declared now are web pages and forms.
    web: bool,
}

impl<'a> Routes<'a> {
    pub(super) fn registering(cfg: &'a mut web::ServiceConfig) -> Routes<'a> {
        Routes {
            cfg: Some(cfg),
            specs: Vec::new(),
            web: false,
        }
    }

    pub(super) fn listing() -> Routes<'static> {
        Routes {
            cfg: None,
            specs: Vec::new(),
            web: false,
        }
    }

    pub(super) fn into_specs(self) -> Vec<RouteSpec> {
        self.specs
    }

    /// Declares web pages and forms (signed in by session) with `declare`.
    pub(super) fn web_pages(&mut self, declare: impl FnOnce(&mut Self)) {
        self.web = true;
        declare(self);
        self.web = false;
    }

    /// Declares `method path` as performing `operation`, answered by `handler`. A GET of the
    /// REST API answers HEAD too, with the same headers and no body, as GitLab's does
    /// (python-gitlab's `head()` and scripts probing whether a project exists).
    pub fn add<F, Args>(&mut self, method: Method, path: &str, operation: Operation, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        if method == Method::GET && path.starts_with("/api/") {
            self.push(Method::GET, path, operation, handler.clone());
            self.push(Method::HEAD, path, operation, handler);
        } else {
            self.push(method, path, operation, handler);
        }
    }

    fn push<F, Args>(&mut self, method: Method, path: &str, operation: Operation, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.specs.push(RouteSpec {
            method: method.clone(),
            path: path.to_owned(),
            operation,
            web: self.web,
        });
        if let Some(cfg) = self.cfg.as_deref_mut() {
            // Each route names its own metrics series, so none is looked up per request.
            let series = crate::metrics::metrics().route(method.as_str(), path);
            let tag = move |req, next| super::observe::route_tag(series.clone(), req, next);
            cfg.route(path, web::method(method).to(handler).wrap(from_fn(tag)));
        }
    }

    /// Declares a GET route that also answers HEAD.
    pub fn get_head<F, Args>(&mut self, path: &str, operation: Operation, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.push(Method::GET, path, operation, handler.clone());
        self.push(Method::HEAD, path, operation, handler);
    }

    /// Registers a catch-all resource that dispatches inside itself, listing the routes it
    /// answers; the resource's dispatcher must judge by the same list (see `pages`).
    pub fn dispatcher(
        &mut self,
        answers: Vec<RouteSpec>,
        resource: impl FnOnce() -> actix_web::Resource,
    ) {
        let web = self.web;
        self.specs
            .extend(answers.into_iter().map(|spec| RouteSpec { web, ..spec }));
        if let Some(cfg) = self.cfg.as_deref_mut() {
            // One series for all the pages behind the dispatcher: their paths are users' data.
            let series = crate::metrics::metrics().route("*", "/{place}/...");
            let tag = move |req, next| super::observe::route_tag(series.clone(), req, next);
            cfg.service(resource().wrap(from_fn(tag)));
        }
    }

    /// Anything else actix needs that answers no route of its own (the default service).
    pub fn config(&mut self, apply: impl FnOnce(&mut web::ServiceConfig)) {
        if let Some(cfg) = self.cfg.as_deref_mut() {
            apply(cfg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_with_its_operation() {
        let routes = crate::routes::inventory();
        let mut seen = std::collections::HashSet::new();
        for route in &routes {
            assert!(
                seen.insert((route.method.clone(), route.path.clone())),
                "{} {} is declared twice",
                route.method,
                route.path
            );
        }
        let find = |method: Method, path: &str| {
            routes
                .iter()
                .find(|r| r.method == method && r.path == path)
                .map(|r| r.operation)
        };
        assert_eq!(
            find(Method::POST, "/api/v4/projects/{id}/packages/pypi"),
            Some(Operation::PackagesUpload)
        );
        assert_eq!(
            find(Method::POST, "/{place}/-/settings/members/{user_id}/remove"),
            Some(Operation::MembersRemove)
        );
        assert_eq!(
            find(Method::HEAD, "/api/v4/projects/{id}"),
            Some(Operation::PlaceShow)
        );
        assert_eq!(
            find(Method::HEAD, "/-/health"),
            Some(Operation::PublicHealth)
        );
        assert!(routes.len() > 80, "{} routes", routes.len());
        let web = |path: &str| routes.iter().find(|r| r.path == path).map(|r| r.web);
        assert_eq!(web("/{place}/-/settings"), Some(true));
        assert_eq!(web("/users/sign_in"), Some(true));
        assert_eq!(web("/api/v4/user"), Some(false));
        assert_eq!(web("/-/health"), Some(false));
    }
}
