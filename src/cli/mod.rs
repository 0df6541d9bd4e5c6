//! The command line: `serve`, and the provisioning commands that scripts rely on. Each
//! provisioning command prints the created secret or id alone on the last line of stdout.

mod commands;
mod import;
mod provision;
mod tls;
mod upstreams;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, FileConfig};
use crate::python::archive::Limits;
use crate::registry::manage;

#[derive(Parser)]
#[command(
    name = "wheelhouse",
    version,
    about = "A private Python package index in one executable"
)]
struct Cli {
    /// TOML configuration file (keys: data_dir, listen, max_upload_size, workers, external_url,
    /// max_auth_failures, trusted_proxies, forwarded_header, upload_idle_timeout_seconds,
    /// upstream_cache_max_size, upstream_allow_private_networks, tls_cert, tls_key,
    /// http_redirect_listen, litestream, metrics_token, log_format, audit_retention_days,
    /// max_access_tokens_per_place, max_token_creations_per_minute,
    /// max_access_token_lifetime_days, and the [storage] table).
    #[arg(long, global = true, env = "WHEELHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and package files live [default: ~/.local/share/wheelhouse].
    #[arg(long, global = true, env = "WHEELHOUSE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Litestream streams the database off the machine: leave WAL checkpoints to it, and check
    /// at start that the database settings suit it (see packaging/litestream.yml).
    #[arg(long, global = true, env = "WHEELHOUSE_LITESTREAM")]
    litestream: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage groups and subgroups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage members of groups and projects.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage deploy tokens of groups and projects.
    #[command(subcommand, name = "deploy-token")]
    DeployToken(DeployTokenCommand),
    /// Yank a version, or one file of it (PEP 592): pip and uv skip it unless pinned with ==.
    Yank {
        #[command(flatten)]
        target: PackageTarget,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Undo a yank.
    Unyank {
        #[command(flatten)]
        target: PackageTarget,
    },
    /// Delete a version, or one file of it; its filename can never return with other bytes.
    Delete {
        #[command(flatten)]
        target: PackageTarget,
    },
    /// Core metadata (PEP 658) housekeeping.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Check every stored file against its digest; exits non-zero on damage.
    Fsck {
        /// Extract damaged metadata again and quarantine corrupt blobs.
        #[arg(long)]
        repair: bool,
    },
    /// Remove unreferenced blobs and stale temporary files (safe while the server runs).
    /// Deleting a package frees its blobs at once; this reclaims what crashes and failed
    /// uploads left behind.
    Gc {
        /// Only remove garbage older than this many seconds (temporary files that uploads in
        /// flight hold are never removed, whatever the grace).
        #[arg(long, default_value_t = 3600)]
        grace_seconds: u64,
        /// Also evict least recently used upstream files past this size, e.g. 20GiB
        /// [default: the config file's upstream_cache_max_size, else no limit].
        #[arg(long, env = "WHEELHOUSE_UPSTREAM_CACHE_MAX_SIZE")]
        upstream_cache_max_size: Option<String>,
        /// Also delete audit events older than this many days [default: the config file's
        /// audit_retention_days, else none].
        #[arg(long, env = "WHEELHOUSE_AUDIT_RETENTION_DAYS")]
        audit_retention_days: Option<u32>,
    },
    /// Write a consistent copy of the database and blobs to DEST (safe while the server runs).
    Backup { dest: PathBuf },
    /// Fill the (new, empty) data directory from a backup made by `backup` (its files go
    /// to the configured store: the local directory or the bucket).
    Restore { source: PathBuf },
    /// Where package files live.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Bring packages from pypiserver, `pip download` or devpi: each file is checked as an
    /// upload; a re-run skips what is there, so an interrupted import is simply run again.
    Import(import::ImportArgs),
    /// TLS certificates.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Read the audit trail: who changed what, from which address, when.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Events newest first: time, actor, client address, action, what it changed.
    List {
        /// Only events at or after this day (YYYY-MM-DD, UTC) or time (2026-11-30T12:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this day or time.
        #[arg(long)]
        until: Option<String>,
        /// Only events by this user (a username; or `cli`, `anonymous`, `deploy-token:NAME`).
        #[arg(long)]
        actor: Option<String>,
        /// Only events of this action (upload, yank, token.create, session.fail, …).
        #[arg(long)]
        action: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON array in GitLab's audit event shape, as `GET /api/v4/audit_events` answers.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Copy every stored file to the other store ([storage] keys name the bucket), skipping
    /// those already there with the right digest; safe while the server runs, and resumable.
    /// Then set [storage] kind to the target and restart (see the README).
    Migrate {
        #[arg(long, value_parser = ["s3", "local"])]
        to: String,
    },
}

#[derive(Args)]
struct PackageTarget {
    /// The project: full path (acme/models) or numeric id.
    project: String,
    name: String,
    version: String,
    /// Only this file of the version.
    #[arg(long)]
    file: Option<String>,
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Extract core metadata for stored files that lack it (also done at every start).
    Backfill,
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "WHEELHOUSE_LISTEN")]
    listen: Option<String>,
    /// Largest file an upload may carry, e.g. 1GiB or 500MB [default: 1GiB].
    #[arg(long, env = "WHEELHOUSE_MAX_UPLOAD_SIZE")]
    max_upload_size: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "WHEELHOUSE_WORKERS")]
    workers: Option<usize>,
    /// The URL clients reach this server at, when a reverse proxy changes it (https://pypi.lan).
    #[arg(long, env = "WHEELHOUSE_EXTERNAL_URL")]
    external_url: Option<String>,
    /// Failed credentials one address (or failed passwords one account) may have per minute
    /// before failing attempts get 429; valid credentials always pass [default: 20; 0: no limit].
    #[arg(long, env = "WHEELHOUSE_MAX_AUTH_FAILURES")]
    max_auth_failures: Option<u32>,
    /// Reverse proxies whose Forwarded / X-Forwarded-* headers are believed: addresses or CIDR
    /// blocks separated by commas (127.0.0.1,10.0.0.0/8) [default: none].
    #[arg(long, env = "WHEELHOUSE_TRUSTED_PROXIES")]
    trusted_proxies: Option<String>,
    /// The forwarding header those proxies set, the only one believed: x-forwarded-for (with
    /// X-Forwarded-Host and -Proto) or forwarded (RFC 7239) [default: x-forwarded-for].
    #[arg(long, env = "WHEELHOUSE_FORWARDED_HEADER", value_enum)]
    forwarded_header: Option<crate::proxy::ForwardedHeader>,
    /// Seconds an upload may send nothing before it is dropped with 408 [default: 30].
    #[arg(long, env = "WHEELHOUSE_UPLOAD_IDLE_TIMEOUT_SECONDS")]
    upload_idle_timeout_seconds: Option<u64>,
    /// Files cached from groups' upstream indexes are evicted, least recently used first,
    /// past this size, e.g. 20GiB [default: no limit].
    #[arg(long, env = "WHEELHOUSE_UPSTREAM_CACHE_MAX_SIZE")]
    upstream_cache_max_size: Option<String>,
    /// Let groups' upstream indexes be on loopback, private or link-local addresses (a devpi
    /// on the LAN); off, an owner cannot make the server fetch from services only it reaches.
    #[arg(long, env = "WHEELHOUSE_UPSTREAM_ALLOW_PRIVATE_NETWORKS")]
    upstream_allow_private_networks: bool,
    /// Serve HTTPS with this certificate chain (PEM); reloaded on SIGHUP [default: plain HTTP].
    #[arg(long, env = "WHEELHOUSE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "WHEELHOUSE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// With TLS: a plain-HTTP address that only redirects to HTTPS, e.g. 0.0.0.0:80.
    #[arg(long, env = "WHEELHOUSE_HTTP_REDIRECT_LISTEN")]
    http_redirect_listen: Option<String>,
    /// The bearer token Prometheus presents at /-/metrics; without one it answers 404
    /// (prefer the environment or the config file: a flag shows in the process list).
    #[arg(long, env = "WHEELHOUSE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Log lines as text, or as JSON objects for journald and log shippers [default: text].
    #[arg(long, env = "WHEELHOUSE_LOG_FORMAT", value_enum)]
    log_format: Option<config::LogFormat>,
    /// Audit events older than this many days are deleted (hourly, and by `gc`) [default: 0,
    /// kept for ever].
    #[arg(long, env = "WHEELHOUSE_AUDIT_RETENTION_DAYS")]
    audit_retention_days: Option<u32>,
    /// Live access tokens one project or group may hold; past it creating one gets 409
    /// [default: 100; 0: no limit].
    #[arg(long, env = "WHEELHOUSE_MAX_ACCESS_TOKENS_PER_PLACE")]
    max_access_tokens_per_place: Option<u32>,
    /// Tokens (personal, project, group; rotations too) one user may make per minute; past it
    /// 429 with Retry-After [default: 60; 0: no limit].
    #[arg(long, env = "WHEELHOUSE_MAX_TOKEN_CREATIONS_PER_MINUTE")]
    max_token_creations_per_minute: Option<u32>,
    /// Days ahead a project or group access token may expire at most; every one expires
    /// [default: 365].
    #[arg(long, env = "WHEELHOUSE_MAX_ACCESS_TOKEN_LIFETIME_DAYS")]
    max_access_token_lifetime_days: Option<u32>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; prints the generated password (or, with --password-stdin, the user id).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    /// Remove a user (its tokens stop working at once).
    Remove {
        name: String,
    },
    /// Set a user's password; prints the generated one unless --password-stdin.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Block a user: its tokens stop working at once.
    Block {
        name: String,
    },
    Unblock {
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal access token; prints the secret (shown only this once).
    Add {
        user: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: api, read_api, read_package_registry, write_package_registry.
        #[arg(long)]
        scopes: String,
        /// Expiry date, YYYY-MM-DD: the token stops working at the start of that day (UTC), as in GitLab.
        #[arg(long)]
        expires: Option<String>,
    },
    List {
        user: String,
    },
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group; nested paths (a/b) need the parent group.
    Add {
        path: String,
        #[arg(long, default_value = "private")]
        visibility: String,
    },
    List,
    /// Remove an empty group.
    Remove {
        path: String,
    },
    /// A top-level group's upstream indexes and their name rules.
    #[command(subcommand)]
    Upstream(upstreams::UpstreamCommand),
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Create a project in a group or a user's namespace; prints its numeric id.
    Add {
        path: String,
        #[arg(long, default_value = "private")]
        visibility: String,
    },
    /// Change a project's settings.
    Set {
        path: String,
        #[arg(long)]
        visibility: Option<String>,
        /// Whether an upload may replace a stored file of the same name with other bytes.
        #[arg(long)]
        allow_file_replace: Option<bool>,
    },
    List,
    /// Remove a project and all its packages.
    Remove {
        path: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a member to a group or project, or change its role.
    Add {
        path: String,
        user: String,
        #[arg(long)]
        role: String,
    },
    List {
        path: String,
    },
    Remove {
        path: String,
        user: String,
    },
}

#[derive(Subcommand)]
enum DeployTokenCommand {
    /// Create a deploy token; prints `USERNAME TOKEN` (the token is shown only this once).
    Add {
        path: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: read_package_registry, write_package_registry.
        #[arg(long)]
        scopes: String,
        /// Expiry date, YYYY-MM-DD (the token stops working at the start of that day, UTC).
        #[arg(long)]
        expires: Option<String>,
    },
    List {
        path: String,
    },
    Revoke {
        id: i64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = match &cli.config {
        Some(path) => config::load_file(path)?,
        None => FileConfig::default(),
    };
    let data_dir = cli
        .data_dir
        .clone()
        .or(file.data_dir.clone())
        .unwrap_or_else(config::default_data_dir);
    let storage = config::StorageConfig::resolve(file.storage.as_ref())?;
    let litestream = cli.litestream || file.litestream.unwrap_or(false);
    let config = Config {
        storage: storage.clone(),
        litestream,
        ..Config::for_data_dir(data_dir.clone())
    };
    match cli.command {
        Command::Serve(args) => serve(Config {
            litestream,
            ..resolve_serve_config(data_dir, file, args, storage)?
        }),
        // Restoring must not create a database in the target first.
        Command::Restore { source } => commands::restore(&source, &data_dir, &storage),
        Command::Storage(StorageCommand::Migrate { to }) => {
            let (db, _) = crate::server::open_data(&Config::for_data_dir(data_dir.clone()))?;
            let (from, to) = crate::storage::migrate::stores(&data_dir, &storage, &to)?;
            let report = crate::storage::migrate::migrate(&db, &from, &to)?;
            println!("{report}");
            Ok(())
        }
        Command::Import(args) => {
            let (db, blobs) = crate::server::open_data(&config)?;
            let max_file_bytes = match &file.max_upload_size {
                Some(value) => value.bytes().context("max_upload_size")?,
                None => config::DEFAULT_MAX_UPLOAD,
            };
            import::run(&db, &blobs, max_file_bytes, args)
        }
        Command::Tls(command) => tls::run(&data_dir, command),
        Command::Gc {
            grace_seconds,
            upstream_cache_max_size,
            audit_retention_days,
        } => {
            let (db, blobs) = crate::server::open_data(&config)?;
            let cap = upstream_cache_cap(upstream_cache_max_size, &file)?;
            let retention = audit_retention_days.or(file.audit_retention_days);
            commands::gc(&db, &blobs, grace_seconds, cap, retention.unwrap_or(0))
        }
        command => {
            let (db, blobs) = crate::server::open_data(&config)?;
            commands::run(&db, &blobs, &config.data_dir, command)
        }
    }
}

/// Every access token expires: a lifetime of 0 days would refuse them all.
fn lifetime_days(days: Option<u32>) -> anyhow::Result<u32> {
    match days {
        Some(0) => anyhow::bail!(
            "max_access_token_lifetime_days must be at least 1 (access tokens always expire)"
        ),
        Some(days) => Ok(days),
        None => Ok(config::DEFAULT_MAX_ACCESS_TOKEN_LIFETIME_DAYS),
    }
}

fn resolve_serve_config(
    data_dir: PathBuf,
    file: FileConfig,
    args: ServeArgs,
    storage: config::StorageConfig,
) -> anyhow::Result<Config> {
    let upstream_cache_max_bytes = upstream_cache_cap(args.upstream_cache_max_size, &file)?;
    let tls = match (
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    ) {
        (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate and a key (tls_cert and tls_key)"),
    };
    let http_redirect_listen = args.http_redirect_listen.or(file.http_redirect_listen);
    if http_redirect_listen.is_some() && tls.is_none() {
        anyhow::bail!("http_redirect_listen redirects to HTTPS: it needs tls_cert and tls_key");
    }
    let max_upload_bytes = match (args.max_upload_size, file.max_upload_size) {
        (Some(text), _) => config::parse_size(&text).context("--max-upload-size")?,
        (None, Some(value)) => value.bytes().context("max_upload_size")?,
        (None, None) => config::DEFAULT_MAX_UPLOAD,
    };
    let metrics_token = args
        .metrics_token
        .or(file.metrics_token)
        .filter(|t| !t.trim().is_empty())
        .map(|t| config::Secret::new(&t, "metrics_token"))
        .transpose()?;
    Ok(Config {
        data_dir,
        tls,
        http_redirect_listen,
        metrics_token,
        log_format: args.log_format.or(file.log_format).unwrap_or_default(),
        audit_retention_days: args
            .audit_retention_days
            .or(file.audit_retention_days)
            .unwrap_or(0),
        max_access_tokens_per_place: args
            .max_access_tokens_per_place
            .or(file.max_access_tokens_per_place)
            .unwrap_or(config::DEFAULT_MAX_ACCESS_TOKENS_PER_PLACE),
        max_token_creations_per_minute: args
            .max_token_creations_per_minute
            .or(file.max_token_creations_per_minute)
            .unwrap_or(config::DEFAULT_MAX_TOKEN_CREATIONS_PER_MINUTE),
        max_access_token_lifetime_days: lifetime_days(
            args.max_access_token_lifetime_days
                .or(file.max_access_token_lifetime_days),
        )?,
        storage,
        upstream_cache_max_bytes,
        upstream_allow_private_networks: args.upstream_allow_private_networks
            || file.upstream_allow_private_networks.unwrap_or(false),
        litestream: file.litestream.unwrap_or(false),
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| config::DEFAULT_LISTEN.into()),
        max_upload_bytes,
        workers: args.workers.or(file.workers).unwrap_or(0),
        external_url: args
            .external_url
            .or(file.external_url)
            .map(|url| config::parse_external_url(&url))
            .transpose()?,
        max_auth_failures: args
            .max_auth_failures
            .or(file.max_auth_failures)
            .unwrap_or(config::DEFAULT_MAX_AUTH_FAILURES),
        trusted_proxies: match (args.trusted_proxies, file.trusted_proxies) {
            (Some(text), _) => crate::proxy::TrustedProxies::parse(&text)
                .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?,
            (None, Some(items)) => {
                crate::proxy::TrustedProxies::from_items(items.iter().map(String::as_str))
                    .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?
            }
            (None, None) => Default::default(),
        },
        forwarded_header: args
            .forwarded_header
            .or(file.forwarded_header)
            .unwrap_or_default(),
        upload_idle_timeout: args
            .upload_idle_timeout_seconds
            .or(file.upload_idle_timeout_seconds)
            .map_or(
                config::DEFAULT_UPLOAD_IDLE_TIMEOUT,
                std::time::Duration::from_secs,
            ),
    })
}

/// Logs every database setting that contradicts Litestream's needs (or what Litestream's
/// presence beside the database implies), and refuses to start when replication cannot work.
fn check_litestream(db: &crate::db::Db, config: &Config) -> anyhow::Result<()> {
    let verdict = crate::db::litestream::check(&*db.get()?, &config.db_path(), config.litestream)?;
    for warning in &verdict.warnings {
        tracing::warn!("litestream: {warning}");
    }
    if let Some(fatal) = verdict.fatal {
        anyhow::bail!("{fatal}");
    }
    if config.litestream && verdict.warnings.is_empty() {
        tracing::info!(
            "litestream: database settings suit Litestream (WAL mode, busy timeout, checkpoints left to Litestream)"
        );
    }
    Ok(())
}

/// The upstream cache's size limit: the flag, else the config file, else none.
fn upstream_cache_cap(flag: Option<String>, file: &FileConfig) -> anyhow::Result<Option<u64>> {
    Ok(match (flag, &file.upstream_cache_max_size) {
        (Some(text), _) => Some(config::parse_size(&text).context("--upstream-cache-max-size")?),
        (None, Some(value)) => Some(value.bytes().context("upstream_cache_max_size")?),
        (None, None) => None,
    })
}

fn serve(config: Config) -> anyhow::Result<()> {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match config.log_format {
        // One JSON object per line, the event's fields at the top level, for log shippers.
        config::LogFormat::Json => logs.json().flatten_event(true).init(),
        config::LogFormat::Text => logs.init(),
    }
    let (db, blobs) = crate::server::open_data(&config)?;
    check_litestream(&db, &config)?;
    if let Some(password) = crate::registry::users::ensure_first_admin(&mut *db.get()?)? {
        println!("Created the first user \"admin\" with the password: {password}");
        println!(
            "It is shown only now. Change it with: wheelhouse --data-dir {} user passwd admin --password-stdin",
            config.data_dir.display()
        );
    }
    let backfilled = manage::backfill_metadata(&mut *db.get()?, &blobs, &Limits::default())?;
    if backfilled > 0 {
        tracing::info!("extracted core metadata for {backfilled} stored files");
    }
    let judged = manage::judge_stored_metadata(&mut *db.get()?, &blobs)?;
    if judged > 0 {
        tracing::info!("judged the core metadata of {judged} stored files by PEP 643");
    }
    let listener = TcpListener::bind(&config.listen).with_context(|| {
        format!(
            "cannot listen on {} (is --listen right, and the port free?)",
            config.listen
        )
    })?;
    let certificates = match &config.tls {
        Some(files) => Some(crate::tls::CertStore::open(files.clone())?),
        None => None,
    };
    let redirect = match &config.http_redirect_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .with_context(|| format!("cannot listen on {address} (http_redirect_listen)"))?,
        ),
        None => None,
    };
    let scheme = if certificates.is_some() {
        "https"
    } else {
        "http"
    };
    let listeners = crate::server::Listeners {
        main: listener,
        tls: certificates,
        redirect,
    };
    actix_web::rt::System::new().block_on(async move {
        crate::tls::reload_on_sighup(listeners.tls.clone())?;
        if let Some(redirect) = &listeners.redirect {
            println!("Redirecting http://{} to https", redirect.local_addr()?);
        }
        println!(
            "Wheelhouse listening on {scheme}://{} (data directory: {})",
            listeners.main.local_addr()?,
            config.data_dir.display()
        );
        std::io::stdout().flush()?;
        crate::server::serve(config, db, blobs, listeners).await
    })?;
    Ok(())
}
