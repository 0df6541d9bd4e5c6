//! GitLab's pagination: `page` and `per_page` in the query, `X-Total`, `X-Page`,
//! `X-Per-Page`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` and `Link` in the answer.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

/// GitLab's `page` and `per_page` in a query (other parameters are let through).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1)]
    pub page: Option<usize>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<usize>,
}

impl PageQuery {
    pub fn paging(self) -> Paging {
        Paging {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

/// The requested page (1-based) and size (GitLab's default 20, at most 100).
#[derive(Debug, Clone, Copy, Default)]
pub struct Paging {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

impl Paging {
    /// Answers one page of `items` with the headers python-gitlab follows (`get_all=True`
    /// walks the `next` link).
    pub fn respond<T: Serialize>(self, req: &HttpRequest, items: Vec<T>) -> HttpResponse {
        let (page, per_page) = self.numbers();
        let total = items.len();
        let shown: Vec<T> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        self.respond_page(req, total, shown)
    }

    /// The page number (from 1) and size asked for, within GitLab's bounds.
    pub fn numbers(self) -> (usize, usize) {
        (
            self.page.unwrap_or(1).max(1),
            self.per_page.unwrap_or(20).clamp(1, 100),
        )
    }

    /// The page as the database cuts it: how many rows, after how many.
    pub fn window(self) -> crate::registry::directory::Window {
        let (page, per_page) = self.numbers();
        crate::registry::directory::Window {
            limit: per_page,
            offset: (page - 1).saturating_mul(per_page),
        }
    }

    /// Answers `shown`, the page already cut out of `total` items (by the database).
    pub fn respond_page<T: Serialize>(
        self,
        req: &HttpRequest,
        total: usize,
        shown: Vec<T>,
    ) -> HttpResponse {
        let (page, per_page) = self.numbers();
        let total_pages = total.div_ceil(per_page).max(1);
        let number = |n: usize, present: bool| {
            if present {
                n.to_string()
            } else {
                String::new()
            }
        };
        let mut response = HttpResponse::Ok();
        response
            .insert_header(("X-Total", total.to_string()))
            .insert_header(("X-Total-Pages", total_pages.to_string()))
            .insert_header(("X-Page", page.to_string()))
            .insert_header(("X-Per-Page", per_page.to_string()))
            .insert_header((
                "X-Next-Page",
                number(page.saturating_add(1), page < total_pages),
            ))
            .insert_header(("X-Prev-Page", number(page.saturating_sub(1), page > 1)))
            .insert_header((header::CACHE_CONTROL, "no-cache"));
        if page < total_pages {
            response.insert_header((
                header::LINK,
                format!("<{}>; rel=\"next\"", page_url(req, page + 1)),
            ));
        }
        response.json(shown)
    }
}

/// The URL of the request with another `page`, every other parameter kept (python-gitlab
/// follows it as it is, so it must be absolute).
fn page_url(req: &HttpRequest, page: usize) -> String {
    let kept: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    format!(
        "{}://{}{}?{query}page={page}",
        super::site::scheme(req),
        super::site::host(req),
        req.path()
    )
}
