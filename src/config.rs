//! The one typed configuration: defaults < TOML file < `WHEELHOUSE_*` environment < flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

pub use crate::storage::{StorageConfig, StorageKind};

/// Settings of a running server. Every path derives from `data_dir`.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Address and port to listen on, e.g. `127.0.0.1:8080` or `0.0.0.0:8080`.
    pub listen: String,
    /// Largest file an upload may carry; past it the upload is refused with 413.
    pub max_upload_bytes: u64,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// The address clients use (`https://pypi.example.lan`), when a proxy makes it differ from
    /// the request's own; the only links it changes are the absolute ones of the JSON API.
    pub external_url: Option<String>,
    /// Failed credentials one address (or failed passwords one account) may have per minute
    /// before failing attempts get 429 (0: no limit). Valid credentials are never refused.
    pub max_auth_failures: u32,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-*` headers are believed (for the client
    /// address the throttle counts, and the host and scheme of absolute links). Empty: none.
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// The one forwarding header the trusted proxies set (`X-Forwarded-For` with `-Host` and
    /// `-Proto`, or RFC 7239 `Forwarded`); the other is ignored, since a proxy passes it on.
    pub forwarded_header: crate::proxy::ForwardedHeader,
    /// How long an upload may send nothing before it is dropped with 408 (slow-loris defence).
    pub upload_idle_timeout: std::time::Duration,
    /// Bytes of upstream files kept before the least recently used are evicted (None: no cap).
    pub upstream_cache_max_bytes: Option<u64>,
    /// Whether upstream indexes may be on loopback, private or link-local addresses.
    pub upstream_allow_private_networks: bool,
    /// Serve HTTPS with this certificate and key (PEM), read again on SIGHUP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// A plain-HTTP address that only redirects to HTTPS (needs `tls`).
    pub http_redirect_listen: Option<String>,
    /// Whether Litestream streams the database off the machine: SQLite then leaves
    /// checkpoints to Litestream, and start-up checks that the settings suit it.
    pub litestream: bool,
    /// Where package files live (`[storage]`).
    pub storage: StorageConfig,
    /// The bearer token a Prometheus scraper presents at `/-/metrics` (None: it answers 404).
    pub metrics_token: Option<Secret>,
    /// How log lines are written: text for people, JSON for journald and log shippers.
    pub log_format: LogFormat,
    /// Audit events older than this many days are pruned (0: kept for ever).
    pub audit_retention_days: u32,
    /// Live (unrevoked, unexpired) access tokens one project or group may hold; past it
    /// creating one is refused with 409 (0: no limit).
    pub max_access_tokens_per_place: u32,
    /// Tokens (personal, project and group ones, rotations too) one user may make per minute;
    /// past it 429 with Retry-After (0: no limit). The command line is not limited.
    pub max_token_creations_per_minute: u32,
    /// How far ahead a project or group access token may expire, in days: every one expires.
    pub max_access_token_lifetime_days: u32,
}

/// A secret from the configuration: compared in constant time and never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Refuses secrets short enough to guess.
    pub fn new(text: &str, what: &str) -> anyhow::Result<Secret> {
        let text = text.trim();
        if text.len() < 16 {
            bail!("{what} must be at least 16 characters (try: openssl rand -hex 32)");
        }
        Ok(Secret(text.to_string()))
    }

    /// Whether `presented` is this secret. Both sides are hashed first, so the comparison
    /// takes the same time whatever their lengths and wherever they differ.
    pub fn matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        let (a, b) = (
            Sha256::digest(self.0.as_bytes()),
            Sha256::digest(presented.as_bytes()),
        );
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The form of log lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;
pub const DEFAULT_MAX_AUTH_FAILURES: u32 = 20;
/// GitLab.com's limit of active access tokens per project or group is in the hundreds; a
/// team's registry needs far fewer, and each one is a bot user every user lookup passes.
pub const DEFAULT_MAX_ACCESS_TOKENS_PER_PLACE: u32 = 100;
pub const DEFAULT_MAX_TOKEN_CREATIONS_PER_MINUTE: u32 = 60;
/// GitLab's maximum lifetime of an access token.
pub const DEFAULT_MAX_ACCESS_TOKEN_LIFETIME_DAYS: u32 = 365;
pub const DEFAULT_UPLOAD_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Config {
    /// Defaults for everything but the data directory: what the non-serving commands use.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            listen: DEFAULT_LISTEN.into(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD,
            workers: 0,
            external_url: None,
            max_auth_failures: DEFAULT_MAX_AUTH_FAILURES,
            trusted_proxies: Default::default(),
            forwarded_header: Default::default(),
            upload_idle_timeout: DEFAULT_UPLOAD_IDLE_TIMEOUT,
            upstream_cache_max_bytes: None,
            upstream_allow_private_networks: false,
            tls: None,
            http_redirect_listen: None,
            litestream: false,
            metrics_token: None,
            log_format: LogFormat::Text,
            audit_retention_days: 0,
            max_access_tokens_per_place: DEFAULT_MAX_ACCESS_TOKENS_PER_PLACE,
            max_token_creations_per_minute: DEFAULT_MAX_TOKEN_CREATIONS_PER_MINUTE,
            max_access_token_lifetime_days: DEFAULT_MAX_ACCESS_TOKEN_LIFETIME_DAYS,
            storage: StorageConfig::default(),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("wheelhouse.db")
    }
}

/// The TOML file: every key optional, unknown keys refused (a typo should not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub max_upload_size: Option<SizeValue>,
    pub workers: Option<usize>,
    pub external_url: Option<String>,
    pub max_auth_failures: Option<u32>,
    /// Addresses or CIDR blocks: `["127.0.0.1", "10.0.0.0/8"]`.
    pub trusted_proxies: Option<Vec<String>>,
    /// `"x-forwarded-for"` (the default) or `"forwarded"`.
    pub forwarded_header: Option<crate::proxy::ForwardedHeader>,
    pub upload_idle_timeout_seconds: Option<u64>,
    pub upstream_cache_max_size: Option<SizeValue>,
    pub upstream_allow_private_networks: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub http_redirect_listen: Option<String>,
    pub litestream: Option<bool>,
    pub metrics_token: Option<String>,
    pub log_format: Option<LogFormat>,
    pub audit_retention_days: Option<u32>,
    pub max_access_tokens_per_place: Option<u32>,
    pub max_token_creations_per_minute: Option<u32>,
    pub max_access_token_lifetime_days: Option<u32>,
    /// `[storage]`: the local directory or an S3-compatible bucket.
    pub storage: Option<crate::storage::StorageFile>,
}

/// A size written as a number of bytes or as text with a unit (`"512MiB"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    pub fn bytes(&self) -> anyhow::Result<u64> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(text) => parse_size(text),
        }
    }
}

pub fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))
}

/// Where data lives when nothing says otherwise: `$XDG_DATA_HOME/wheelhouse`, else
/// `~/.local/share/wheelhouse`, else `./wheelhouse-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("wheelhouse");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/wheelhouse"),
        None => PathBuf::from("wheelhouse-data"),
    }
}

/// Checks an external URL (`http(s)://host[:port][/prefix]`) and drops a trailing slash.
pub fn parse_external_url(text: &str) -> anyhow::Result<String> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .with_context(|| format!("external_url \"{text}\" must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        bail!(
            "external_url \"{text}\" must be like https://pypi.example.lan or http://host:8080/prefix"
        );
    }
    Ok(trimmed.to_string())
}

/// `1073741824`, `1GiB`, `512MiB`, `100MB`, `64k` (binary and decimal units, case-insensitive).
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .with_context(|| format!("\"{text}\" is not a size (examples: 1GiB, 512MiB, 1000000)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            bail!("unknown size unit \"{other}\" in \"{text}\" (use KiB, MiB, GiB, KB, MB or GB)")
        }
    };
    number
        .checked_mul(multiplier)
        .with_context(|| format!("\"{text}\" is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("42").unwrap(), 42);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1TB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn checks_external_urls() {
        assert_eq!(
            parse_external_url("https://pypi.lan/").unwrap(),
            "https://pypi.lan"
        );
        assert_eq!(
            parse_external_url("http://h:8080/pkgs").unwrap(),
            "http://h:8080/pkgs"
        );
        for bad in [
            "pypi.lan",
            "ftp://x",
            "https://",
            "https:///x",
            "http://a b",
        ] {
            assert!(parse_external_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_toml_and_refuses_unknown_keys() {
        let ok: FileConfig =
            toml::from_str("listen = \"0.0.0.0:9000\"\nmax_upload_size = \"2GiB\"").unwrap();
        assert_eq!(ok.listen.as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(ok.max_upload_size.unwrap().bytes().unwrap(), 2 << 30);
        let n: FileConfig = toml::from_str("max_upload_size = 1000").unwrap();
        assert_eq!(n.max_upload_size.unwrap().bytes().unwrap(), 1000);
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let proxies: FileConfig =
            toml::from_str("trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]").unwrap();
        assert_eq!(proxies.trusted_proxies.unwrap().len(), 2);
        for (text, header) in [
            (
                "x-forwarded-for",
                crate::proxy::ForwardedHeader::XForwardedFor,
            ),
            ("forwarded", crate::proxy::ForwardedHeader::Forwarded),
        ] {
            let file: FileConfig =
                toml::from_str(&format!("forwarded_header = \"{text}\"")).unwrap();
            assert_eq!(file.forwarded_header, Some(header));
        }
        assert!(toml::from_str::<FileConfig>("forwarded_header = \"x-real-ip\"").is_err());
        let upstreams: FileConfig = toml::from_str(
            "upstream_cache_max_size = \"50GiB\"\nupstream_allow_private_networks = true",
        )
        .unwrap();
        assert_eq!(
            upstreams.upstream_cache_max_size.unwrap().bytes().unwrap(),
            50 << 30
        );
        assert_eq!(upstreams.upstream_allow_private_networks, Some(true));
        let replicated: FileConfig = toml::from_str("litestream = true").unwrap();
        assert_eq!(replicated.litestream, Some(true));
    }

    #[test]
    fn log_format_is_read_from_the_file() {
        let ops: FileConfig = toml::from_str("log_format = \"json\"").unwrap();
        assert_eq!(ops.log_format, Some(LogFormat::Json));
    }

    #[test]
    fn secrets_compare_and_never_print() {
        assert!(Secret::new("short", "metrics_token").is_err());
        let secret = Secret::new("a-long-enough-metrics-token", "metrics_token").unwrap();
        assert!(secret.matches("a-long-enough-metrics-token"));
        assert!(!secret.matches("a-long-enough-metrics-tokeN"));
        assert!(!secret.matches(""));
        assert!(!format!("{secret:?}").contains("long"));
    }

    #[test]
    fn the_sample_config_is_valid_with_every_key_uncommented() {
        let sample = include_str!("../packaging/wheelhouse.toml");
        let uncommented: String = sample
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        toml::from_str::<FileConfig>(&uncommented).unwrap();
    }
}
