//! Asking an upstream index over HTTP: bounded in time and size, redirects followed only within
//! one scheme, and the upstream's credentials sent only to the upstream's own origin.

use std::io::Read;
use std::time::Duration;

use base64::Engine;
use url::Url;

use crate::db::upstreams::{PageRow, Upstream};

/// What the upstream is asked for pages: PEP 691 JSON first, HTML from older indexes.
const ACCEPT_PAGE: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const MAX_REDIRECTS: usize = 5;
/// Pages of the largest projects on the public index run to a few MiB of JSON; a page is held
/// to this, or to the upload limit if that is lower.
const MAX_PAGE_BYTES: u64 = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A page must arrive whole within this; a file may take as long as it keeps sending.
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an upstream may send nothing before a read fails.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an upstream gave no usable answer: said in the 502 that reaches the client.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    /// The upstream could not be reached or failed itself (5xx), as opposed to answering
    /// something unusable for one request.
    pub down: bool,
}

impl Failure {
    pub fn new(upstream: &Upstream, what: impl std::fmt::Display) -> Failure {
        Failure {
            reason: format!("upstream {} {what}", upstream.url),
            down: false,
        }
    }

    fn down(upstream: &Upstream, what: impl std::fmt::Display) -> Failure {
        Failure {
            down: true,
            ..Failure::new(upstream, what)
        }
    }

    pub fn other(reason: String) -> Failure {
        Failure {
            reason,
            down: false,
        }
    }
}

/// An upstream's answer for one project page.
pub enum PageAnswer {
    /// 304 to the cached page's validators.
    NotModified,
    /// 404 or 410: the upstream has no such project.
    NotFound,
    Page {
        body: Vec<u8>,
        content_type: Option<String>,
        /// Where the page was finally found (relative links resolve against it).
        url: Url,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// The HTTP client shared by every upstream fetch.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    max_page_bytes: u64,
}

impl Client {
    /// `allow_private_networks`: whether upstream hosts may be on loopback, private or
    /// link-local addresses (a LAN devpi). Off by default, so a group owner cannot point the
    /// server at services only it can reach and read their pages through the group index.
    pub fn new(allow_private_networks: bool, max_upload_bytes: u64) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Followed by hand, to check each hop's scheme and whom credentials go to.
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(IDLE_TIMEOUT))
            .user_agent(concat!("wheelhouse/", env!("CARGO_PKG_VERSION")))
            .build();
        let resolver = Resolver {
            allow_private_networks,
        };
        Client {
            max_page_bytes: max_upload_bytes.min(MAX_PAGE_BYTES),
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                resolver,
            ),
        }
    }

    /// The page of `name` (normalized) on `upstream`, conditional on the cached copy's validators.
    pub fn page(
        &self,
        upstream: &Upstream,
        name: &str,
        cached: Option<&PageRow>,
        via: &str,
    ) -> Result<PageAnswer, Failure> {
        let answer = self.fetch_page(upstream, name, cached, via);
        crate::metrics::metrics().upstream_fetch("page", answer.is_ok());
        answer
    }

    fn fetch_page(
        &self,
        upstream: &Upstream,
        name: &str,
        cached: Option<&PageRow>,
        via: &str,
    ) -> Result<PageAnswer, Failure> {
        let base = base_url(upstream)?;
        let url = base
            .join(&format!("{name}/"))
            .map_err(|e| Failure::new(upstream, format!("has no page URL for {name}: {e}")))?;
        let mut headers = vec![
            ("Accept", ACCEPT_PAGE.to_string()),
            (super::VIA_HEADER, via.to_string()),
        ];
        if let Some(page) = cached.filter(|p| p.found) {
            if let Some(etag) = &page.etag {
                headers.push(("If-None-Match", etag.clone()));
            }
            if let Some(modified) = &page.last_modified {
                headers.push(("If-Modified-Since", modified.clone()));
            }
        }
        let (mut response, url) = self.get(upstream, &base, url, &headers, Some(PAGE_TIMEOUT))?;
        let status = response.status().as_u16();
        match status {
            304 => return Ok(PageAnswer::NotModified),
            404 | 410 => return Ok(PageAnswer::NotFound),
            200 => {}
            500.. => {
                return Err(Failure::down(
                    upstream,
                    format!("answered {status} for {url}"),
                ));
            }
            _ => {
                return Err(Failure::new(
                    upstream,
                    format!("answered {status} for {url}"),
                ));
            }
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (content_type, etag, last_modified) = (
            header("content-type"),
            header("etag"),
            header("last-modified"),
        );
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_page_bytes)
            .read_to_vec()
            .map_err(|e| Failure::new(upstream, format!("sent an unreadable page {url}: {e}")))?;
        Ok(PageAnswer::Page {
            body,
            content_type,
            url,
            etag,
            last_modified,
        })
    }

    /// Starts downloading `url` (a file or metadata link from one of `upstream`'s pages):
    /// the body to read and its length if the upstream said it. `timeout` bounds the whole
    /// exchange (small metadata); without it, only the idle timeout applies (large files).
    pub fn open(
        &self,
        upstream: &Upstream,
        url: &str,
        timeout: Option<Duration>,
        via: &str,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>), Failure> {
        let opened = self.open_file(upstream, url, timeout, via);
        crate::metrics::metrics().upstream_fetch("file", opened.is_ok());
        opened
    }

    fn open_file(
        &self,
        upstream: &Upstream,
        url: &str,
        timeout: Option<Duration>,
        via: &str,
    ) -> Result<(Box<dyn Read + Send>, Option<u64>), Failure> {
        let base = base_url(upstream)?;
        let url = Url::parse(url)
            .map_err(|e| Failure::new(upstream, format!("listed a bad file URL {url}: {e}")))?;
        // A file may live on another host (the public index keeps files apart from pages), but
        // never on a weaker scheme than the index that listed it.
        if url.scheme() != base.scheme() && url.scheme() != "https" {
            return Err(Failure::new(
                upstream,
                format!("listed a file on another scheme: {url}"),
            ));
        }
        let headers = [(super::VIA_HEADER, via.to_string())];
        let (response, url) = self.get(upstream, &base, url, &headers, timeout)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failure::new(
                upstream,
                format!("answered {status} for {url}"),
            ));
        }
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((Box::new(response.into_body().into_reader()), length))
    }

    /// GET with redirects followed by hand: at most [`MAX_REDIRECTS`], each on the scheme the
    /// request started with; the upstream's credentials only go to the upstream's origin.
    fn get(
        &self,
        upstream: &Upstream,
        base: &Url,
        mut url: Url,
        headers: &[(&str, String)],
        timeout: Option<Duration>,
    ) -> Result<(ureq::http::Response<ureq::Body>, Url), Failure> {
        let scheme = url.scheme().to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.agent.get(url.as_str());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if url.origin() == base.origin()
                && let (Some(user), Some(password)) = (&upstream.username, &upstream.password)
            {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                request = request.header("Authorization", format!("Basic {token}"));
            }
            let response = request
                .config()
                .timeout_global(timeout)
                .build()
                .call()
                .map_err(|e| Failure::down(upstream, format!("is unreachable ({url}): {e}")))?;
            if !response.status().is_redirection() || response.status().as_u16() == 304 {
                return Ok((response, url));
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Failure::new(upstream, "redirected without a Location"))?;
            let next = url
                .join(location)
                .map_err(|e| Failure::new(upstream, format!("redirected to a bad URL: {e}")))?;
            if next.scheme() != scheme {
                return Err(Failure::new(
                    upstream,
                    format!("redirected {url} to another scheme ({next}); not followed"),
                ));
            }
            url = next;
        }
        Err(Failure::new(
            upstream,
            format!("redirected more than {MAX_REDIRECTS} times"),
        ))
    }
}

fn base_url(upstream: &Upstream) -> Result<Url, Failure> {
    let mut base = Url::parse(&upstream.url)
        .map_err(|e| Failure::new(upstream, format!("is not a valid URL: {e}")))?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    Ok(base)
}

/// The system resolver, keeping only the addresses an upstream may have. Checking the resolved
/// address (not the host name) means a name that later resolves elsewhere is still caught.
#[derive(Debug)]
struct Resolver {
    allow_private_networks: bool,
}

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let all = ureq::unversioned::resolver::DefaultResolver::default()
            .resolve(uri, config, timeout)?;
        if self.allow_private_networks {
            return Ok(all);
        }
        let mut kept = self.empty();
        for addr in all.iter().filter(|a| is_public(a.ip())) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::other(format!(
                "{} is on a loopback, private or link-local address; the server's operator \
                 allows such upstreams with upstream_allow_private_networks",
                uri.host().unwrap_or_default()
            ))));
        }
        Ok(kept)
    }
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// documentation, multicast or unspecified).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["151.101.0.223", "8.8.8.8", "2a04:4e42::223"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
