//! The server as a library function: opens the data directory and serves on a given listener.

use std::net::TcpListener;

use actix_web::{App, HttpServer, middleware, web};

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::db::Db;
use crate::python::archive::Limits;
use crate::routes;

/// What every request handler shares.
pub struct AppState {
    pub db: Db,
    pub blobs: BlobStore,
    pub config: Config,
    pub archive_limits: Limits,
    pub throttle: std::sync::Arc<crate::throttle::FailureThrottle>,
    pub pages: crate::cache::PageCache,
    pub token_usage: std::sync::Arc<crate::usage::TokenUsage>,
    /// Tokens made per user per minute, live access tokens per place, access token lifetime.
    pub token_limits: std::sync::Arc<crate::registry::token_limits::TokenLimits>,
    pub upstreams: crate::upstream::Upstreams,
}

/// Threads per worker for blocking work (database, file reads). Each may hold a connection and
/// a malloc arena; a few overlap reads well, and SQLite takes one writer at a time anyway.
const BLOCKING_THREADS: usize = 8;
/// Connections in the pool: one per blocking thread of two workers.
const DB_CONNECTIONS: u32 = 16;

/// Creates the data directory, database and blob store if needed, and opens them.
pub fn open_data(config: &Config) -> anyhow::Result<(Db, BlobStore)> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let blobs = BlobStore::open_configured(&config.data_dir, &config.storage)
        .map_err(|e| anyhow::anyhow!("cannot prepare {}: {e}", config.data_dir.display()))?;
    let db = Db::open_with(&config.db_path(), DB_CONNECTIONS, config.litestream)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", config.db_path().display()))?;
    Ok((db, blobs))
}

/// Where the server answers: the main listener (HTTPS when `tls` holds certificates), and a
/// plain-HTTP one that only redirects there.
pub struct Listeners {
    pub main: TcpListener,
    pub tls: Option<std::sync::Arc<crate::tls::CertStore>>,
    pub redirect: Option<TcpListener>,
}

/// Serves until the process is told to stop (SIGINT or SIGTERM stop it gracefully).
pub async fn serve(
    config: Config,
    db: Db,
    blobs: BlobStore,
    listeners: Listeners,
) -> std::io::Result<()> {
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        config.workers
    };
    let watcher = crate::db::open_watcher(&config.db_path())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let throttle =
        crate::throttle::FailureThrottle::new(config.max_auth_failures, crate::throttle::WINDOW);
    let upstreams = crate::upstream::Upstreams::new(
        config.max_upload_bytes,
        config.upstream_cache_max_bytes,
        config.upstream_allow_private_networks,
    );
    // The plain listener redirects to names the operator chose, decided before `config` moves.
    let redirect_target = match &listeners.tls {
        Some(certificates) => Some(crate::tls::RedirectTarget::new(
            config.external_url.clone(),
            certificates.clone(),
            listeners.main.local_addr()?,
        )),
        None => None,
    };
    let token_limits = crate::registry::token_limits::TokenLimits::new(&config);
    let state = web::Data::new(AppState {
        token_limits: std::sync::Arc::new(token_limits),
        upstreams,
        db,
        blobs,
        config,
        archive_limits: Limits::default(),
        throttle: std::sync::Arc::new(throttle),
        pages: crate::cache::PageCache::new(watcher),
        token_usage: Default::default(),
    });
    let flusher = state.clone();
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(crate::usage::FLUSH_EVERY);
        loop {
            every.tick().await;
            flush_token_usage(&flusher).await;
        }
    });
    let retention_days = state.config.audit_retention_days;
    if retention_days > 0 {
        let pruner = state.clone();
        actix_web::rt::spawn(async move {
            let mut every = actix_web::rt::time::interval(AUDIT_PRUNE_EVERY);
            loop {
                every.tick().await;
                prune_audit_events(&pruner, retention_days).await;
            }
        });
    }
    let last_flush = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                crate::error::Error::bad_request(format!("bad query parameters: {err}")).into()
            }))
            .wrap(middleware::from_fn(routes::observe))
            .configure(routes::configure)
    })
    // Small responses (a .metadata file) leave in two writes; without TCP_NODELAY the second
    // waits for the client's delayed ACK, about 40 ms each time.
    .on_connect(|connection, _| {
        type Tcp = actix_web::rt::net::TcpStream;
        type Tls = actix_tls::accept::rustls_0_23::TlsStream<Tcp>;
        let tcp = match connection.downcast_ref::<Tcp>() {
            Some(tcp) => Some(tcp),
            None => connection.downcast_ref::<Tls>().map(|tls| tls.get_ref().0),
        };
        if let Some(tcp) = tcp {
            let _ = tcp.set_nodelay(true);
        }
    })
    .worker_max_blocking_threads(BLOCKING_THREADS)
    .workers(workers);
    let server = match &listeners.tls {
        Some(certificates) => {
            let tls = certificates
                .server_config()
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
            server.listen_rustls_0_23(listeners.main, tls)?
        }
        None => server.listen(listeners.main)?,
    };
    let redirect = match (listeners.redirect, redirect_target) {
        (Some(listener), Some(target)) => {
            let target = std::sync::Arc::new(target);
            let redirect = HttpServer::new(move || {
                let target = target.clone();
                App::new().default_service(web::to(move |req| {
                    crate::tls::redirect_to_https(req, target.clone())
                }))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
            let handle = redirect.handle();
            actix_web::rt::spawn(redirect);
            Some(handle)
        }
        _ => None,
    };
    server.run().await?;
    if let Some(redirect) = redirect {
        redirect.stop(true).await;
    }
    flush_token_usage(&last_flush).await;
    Ok(())
}

/// Writes the noted token uses; a failure is logged and retried at the next flush.
/// How often the server deletes audit events past their retention (the first time at start).
const AUDIT_PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

async fn prune_audit_events(state: &web::Data<AppState>, retention_days: u32) {
    let now = crate::db::now_millis();
    let pruned = state
        .db
        .run_pooled(move |db| crate::registry::audit::prune(db, retention_days, now))
        .await;
    match pruned {
        Ok(0) => {}
        Ok(count) => {
            tracing::info!("deleted {count} audit events older than {retention_days} days")
        }
        Err(e) => tracing::warn!("cannot delete old audit events: {e}"),
    }
}

async fn flush_token_usage(state: &web::Data<AppState>) {
    let usage = state.token_usage.clone();
    if let Err(e) = state.db.run(move |conn| usage.flush(conn)).await {
        tracing::warn!("cannot record when tokens were last used: {e}");
    }
}
