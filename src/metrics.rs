//! Prometheus metrics: the series the server keeps, and their text exposition at `/-/metrics`.
//!
//! One registry for the process. The request path touches only handles resolved once per
//! route at start-up (`RouteSeries`), so counting a request is a few atomic additions, never
//! a label lookup; the blob store's size is read from the database only after it changed.

use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::Error;

/// Seconds: from a cached page (well under a millisecond) to a large upload.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds waited for a pooled database connection: normally nothing.
const POOL_WAIT_BUCKETS: &[f64] = &[0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 5.0, 15.0];
/// The statuses counted without a label lookup; others take the slower path.
const COMMON_STATUSES: [u16; 16] = [
    200, 201, 204, 206, 301, 302, 303, 304, 400, 401, 403, 404, 409, 413, 429, 500,
];

/// Every series of the server.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    bytes_sent: IntCounterVec,
    bytes_received: IntCounterVec,
    uploads: IntCounter,
    upload_refusals: IntCounterVec,
    pool_wait: Histogram,
    throttle_refusals: IntCounter,
    upstream_fetches: IntCounterVec,
    blob_bytes: IntGaugeVec,
    blob_files: IntGaugeVec,
    /// The database generation the blob store's size was read at.
    blob_usage_read: Mutex<Option<i64>>,
    routes: Mutex<Vec<Arc<RouteSeries>>>,
    unmatched: OnceLock<Arc<RouteSeries>>,
    cache_hit: IntCounter,
    cache_miss: IntCounter,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let series = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(series.clone()))
        .expect("registered once");
    series
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let series = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(series.clone()))
        .expect("registered once");
    series
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new_custom(Some("wheelhouse".into()), None).expect("a prefix");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response headers, by route and method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(duration.clone()))
            .expect("registered once");
        let pool_wait = Histogram::with_opts(
            HistogramOpts::new(
                "db_pool_wait_seconds",
                "Time spent waiting for a pooled database connection",
            )
            .buckets(POOL_WAIT_BUCKETS.to_vec()),
        )
        .expect("a valid metric");
        registry
            .register(Box::new(pool_wait.clone()))
            .expect("registered once");
        let uploads = IntCounter::new("uploads_total", "Package files accepted by uploads")
            .expect("a valid metric");
        registry
            .register(Box::new(uploads.clone()))
            .expect("registered once");
        let throttle_refusals = IntCounter::new(
            "auth_throttle_refusals_total",
            "Requests refused with 429 because their address or account failed too often",
        )
        .expect("a valid metric");
        registry
            .register(Box::new(throttle_refusals.clone()))
            .expect("registered once");
        let page_cache = counter_vec(
            &registry,
            "page_cache_lookups_total",
            "Index page cache lookups, by result (hit, miss)",
            &["result"],
        );
        Metrics {
            requests: counter_vec(
                &registry,
                "http_requests_total",
                "Requests answered, by route, method and status",
                &["route", "method", "status"],
            ),
            bytes_sent: counter_vec(
                &registry,
                "http_response_bytes_total",
                "Response body bytes served, by route and method",
                &["route", "method"],
            ),
            bytes_received: counter_vec(
                &registry,
                "http_request_bytes_total",
                "Request body bytes received (as declared by Content-Length), by route and method",
                &["route", "method"],
            ),
            upload_refusals: counter_vec(
                &registry,
                "upload_refusals_total",
                "Uploads refused, by reason",
                &["reason"],
            ),
            upstream_fetches: counter_vec(
                &registry,
                "upstream_fetches_total",
                "Requests to upstream indexes, by what was fetched (page, file) and outcome",
                &["kind", "outcome"],
            ),
            blob_bytes: gauge_vec(
                &registry,
                "blob_store_bytes",
                "Bytes of stored files (package, upstream), from the database",
                &["kind"],
            ),
            blob_files: gauge_vec(
                &registry,
                "blob_store_files",
                "Stored files (package, upstream), from the database",
                &["kind"],
            ),
            cache_hit: page_cache.with_label_values(&["hit"]),
            cache_miss: page_cache.with_label_values(&["miss"]),
            duration,
            pool_wait,
            uploads,
            throttle_refusals,
            blob_usage_read: Mutex::new(None),
            routes: Mutex::new(Vec::new()),
            unmatched: OnceLock::new(),
            registry,
        }
    }

    /// The series of one route (interned: every worker registering it shares them).
    pub fn route(&self, method: &str, pattern: &str) -> Arc<RouteSeries> {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = routes
            .iter()
            .find(|r| r.method == method && r.route == pattern)
        {
            return found.clone();
        }
        let labels = [pattern, method];
        let series = Arc::new(RouteSeries {
            route: pattern.to_owned(),
            method: method.to_owned(),
            duration: self.duration.with_label_values(&labels),
            bytes_sent: self.bytes_sent.with_label_values(&labels),
            bytes_received: self.bytes_received.with_label_values(&labels),
            statuses: Default::default(),
        });
        routes.push(series.clone());
        series
    }

    /// What no route answered (the 404 of unknown addresses): one series, so that scanning
    /// for random paths cannot grow the label set.
    pub fn unmatched(&self) -> Arc<RouteSeries> {
        self.unmatched
            .get_or_init(|| self.route("*", "(unmatched)"))
            .clone()
    }

    pub fn upload_accepted(&self) {
        self.uploads.inc();
    }

    pub fn upload_refused(&self, error: &Error) {
        self.upload_refusals
            .with_label_values(&[refusal_reason(error)])
            .inc();
    }

    pub fn page_cache(&self, hit: bool) {
        if hit {
            self.cache_hit.inc();
        } else {
            self.cache_miss.inc();
        }
    }

    pub fn pool_wait(&self, waited: Duration) {
        self.pool_wait.observe(waited.as_secs_f64());
    }

    pub fn throttle_refusal(&self) {
        self.throttle_refusals.inc();
    }

    /// One request to an upstream index: `kind` is `page` or `file`.
    pub fn upstream_fetch(&self, kind: &'static str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.upstream_fetches
            .with_label_values(&[kind, outcome])
            .inc();
    }

    /// Whether the blob store's size must be read again: only after the database changed
    /// (`generation` is `PageCache::generation`), so scrapes of an idle server cost no query.
    pub fn blob_usage_due(&self, generation: i64) -> bool {
        let read = self
            .blob_usage_read
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *read != Some(generation)
    }

    pub fn set_blob_usage(&self, usage: &crate::db::usage::BlobUsage, generation: i64) {
        let set = |kind: &str, files: i64, bytes: i64| {
            self.blob_files.with_label_values(&[kind]).set(files);
            self.blob_bytes.with_label_values(&[kind]).set(bytes);
        };
        set("package", usage.package_files, usage.package_bytes);
        set("upstream", usage.upstream_files, usage.upstream_bytes);
        *self
            .blob_usage_read
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(generation);
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding into memory");
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The series of one route, resolved once so that a request costs a few atomic additions.
pub struct RouteSeries {
    route: String,
    method: String,
    duration: Histogram,
    bytes_sent: IntCounter,
    bytes_received: IntCounter,
    statuses: [OnceLock<IntCounter>; COMMON_STATUSES.len()],
}

impl RouteSeries {
    pub fn observe(&self, status: u16, took: Duration, received: u64, sent: u64) {
        self.duration.observe(took.as_secs_f64());
        self.bytes_sent.inc_by(sent);
        self.bytes_received.inc_by(received);
        let metrics = metrics();
        match COMMON_STATUSES.iter().position(|&s| s == status) {
            Some(slot) => self.statuses[slot]
                .get_or_init(|| self.status_counter(metrics, status))
                .inc(),
            None => self.status_counter(metrics, status).inc(),
        }
    }

    fn status_counter(&self, metrics: &Metrics, status: u16) -> IntCounter {
        metrics.requests.with_label_values(&[
            self.route.as_str(),
            &self.method,
            &status.to_string(),
        ])
    }
}

/// Why an upload was refused, as a bounded label.
fn refusal_reason(error: &Error) -> &'static str {
    match error {
        Error::BadRequest(_) => "invalid",
        Error::Unauthorized => "unauthorized",
        Error::Forbidden(_) => "forbidden",
        Error::NotFound(_) | Error::PlaceNotFound(_) => "not_found",
        Error::MethodNotAllowed(_) => "method_not_allowed",
        Error::Conflict(_) => "conflict",
        Error::PayloadTooLarge(_) => "too_large",
        Error::UnsupportedMediaType(_) => "unsupported_media_type",
        Error::TooManyRequests(_) | Error::RateLimited(..) => "throttled",
        Error::RequestTimeout(_) => "timeout",
        Error::BadGateway(_) => "bad_gateway",
        Error::Busy => "busy",
        Error::StorageUnavailable(_) => "storage_unavailable",
        Error::Internal(_) => "internal",
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_route_series_with_bounded_labels() {
        let m = metrics();
        let route = m.route("GET", "/test/{name}");
        assert!(Arc::ptr_eq(&route, &m.route("GET", "/test/{name}")));
        route.observe(200, Duration::from_millis(2), 0, 10);
        route.observe(418, Duration::from_millis(2), 5, 0);
        m.upload_refused(&Error::conflict("exists"));
        let text = m.render();
        assert!(text.contains(
            "wheelhouse_http_requests_total{method=\"GET\",route=\"/test/{name}\",status=\"200\"} 1"
        ));
        assert!(text.contains("status=\"418\"} 1"), "{text}");
        assert!(text.contains("wheelhouse_upload_refusals_total{reason=\"conflict\"}"));
        assert!(text.contains("wheelhouse_http_request_duration_seconds_bucket"));
    }
}
