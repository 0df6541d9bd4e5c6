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
}

/// Connections in the pool: enough for the blocking threads to overlap on reads; SQLite takes
/// one writer at a time whatever the number.
const DB_CONNECTIONS: u32 = 16;

/// Creates the data directory, database and blob store if needed, and opens them.
pub fn open_data(config: &Config) -> anyhow::Result<(Db, BlobStore)> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let blobs = BlobStore::open(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot prepare {}: {e}", config.data_dir.display()))?;
    let db = Db::open(&config.db_path(), DB_CONNECTIONS)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", config.db_path().display()))?;
    Ok((db, blobs))
}

/// Serves until the process is told to stop (SIGINT or SIGTERM stop it gracefully).
pub async fn serve(
    config: Config,
    db: Db,
    blobs: BlobStore,
    listener: TcpListener,
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
    let state = web::Data::new(AppState {
        db,
        blobs,
        config,
        archive_limits: Limits::default(),
        throttle: std::sync::Arc::new(throttle),
        pages: crate::cache::PageCache::new(watcher),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                crate::error::Error::bad_request(format!("bad query parameters: {err}")).into()
            }))
            .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms"))
            .configure(routes::configure)
    })
    .workers(workers)
    .listen(listener)?
    .run()
    .await
}
