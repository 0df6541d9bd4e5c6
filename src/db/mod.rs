//! The database gateway: the SQLite pool, connection settings, the schema and its upgrades.

pub mod audit;
pub mod bots;
pub mod group_pages;
pub mod litestream;
pub mod member_pages;
pub mod members;
pub mod moves;
pub mod namespaces;
pub mod packages;
pub mod projects;
pub mod sessions;
pub mod tokens;
pub mod upstreams;
pub mod usage;
pub mod users;

use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// The whole schema of a fresh database, at `LATEST_VERSION`.
const SCHEMA: &str = include_str!("../../schema.sql");
/// The version of the first released schema (tests/fixtures/schema-v1.sql), where the upgrade
/// steps start.
const FIRST_VERSION: i64 = 1;
/// Upgrade steps: `UPGRADES[i]` takes a database from version `FIRST_VERSION + i` to the next.
/// Steps are only ever appended, and `schema.sql` moves in step (a test checks that a fresh
/// database and an upgraded one have the same schema).
const UPGRADES: &[&str] = &[
    include_str!("upgrades/002_ids_never_reused.sql"),
    include_str!("upgrades/003_description_html.sql"),
    include_str!("upgrades/004_offers_metadata.sql"),
    include_str!("upgrades/005_upstreams.sql"),
    include_str!("upgrades/006_names_and_descriptions.sql"),
    include_str!("upgrades/007_bots.sql"),
    include_str!("upgrades/008_readable_audit.sql"),
    include_str!("upgrades/009_entered_root.sql"),
    include_str!("upgrades/010_bounded_descriptions.sql"),
    include_str!("upgrades/011_group_filenames.sql"),
];
const LATEST_VERSION: i64 = FIRST_VERSION + UPGRADES.len() as i64;
/// The version `schema.sql` creates: always the latest.
pub const SCHEMA_VERSION: i64 = LATEST_VERSION;

/// How long a writer waits for another (the server, or a CLI command run beside it) before
/// giving up with "busy"; writes are short, so this is ample.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

pub type PooledConnection = r2d2::PooledConnection<SqliteConnectionManager>;

/// A pool of connections to the one database. Cloning shares the pool.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl Db {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path, max_connections: u32) -> Result<Db> {
        Db::open_with(path, max_connections, false)
    }

    /// [`Db::open`]; with `litestream`, SQLite never checkpoints on its own: Litestream does,
    /// after copying the WAL, as its documentation asks (see [`litestream`]).
    pub fn open_with(path: &Path, max_connections: u32, litestream: bool) -> Result<Db> {
        let manager =
            SqliteConnectionManager::file(path).with_init(move |conn| configure(conn, litestream));
        let pool = r2d2::Pool::builder()
            .max_size(max_connections)
            .connection_timeout(BUSY_TIMEOUT)
            .build(manager)?;
        let db = Db { pool };
        migrate(&mut *db.get()?)?;
        Ok(db)
    }

    pub fn get(&self) -> Result<PooledConnection> {
        timed_get(&self.pool)
    }

    /// Runs database work on the blocking thread pool, never on an async worker.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = timed_get(&pool)?;
            work(&mut conn)
        })
        .await?
    }

    /// Runs work on the blocking thread pool that takes connections only when it needs them,
    /// so its slow parts (reading an archive, rendering a description) hold none.
    pub async fn run_pooled<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        actix_web::web::block(move || work(&db)).await?
    }
}

/// A connection from the pool, the wait counted (a pool too small for the load shows there).
fn timed_get(pool: &r2d2::Pool<SqliteConnectionManager>) -> Result<PooledConnection> {
    let started = std::time::Instant::now();
    let conn = pool.get();
    crate::metrics::metrics().pool_wait(started.elapsed());
    Ok(conn?)
}

fn configure(conn: &mut Connection, litestream: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if litestream {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
    }
    // WAL lets readers go on while one writer commits; synchronous=FULL makes a commit that was
    // answered 2xx survive a power cut too, and costs only on the rare writes.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // A step that rebuilds a table (SQLite's documented way to change what ALTER cannot) must
    // run with foreign keys off, or dropping the old parent table would cascade deletes into
    // its children; the pragma cannot change inside a transaction, so it goes off around it,
    // every key is checked before the commit, and it is on again whatever happened.
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let outcome = migrate_unchecked(conn);
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    outcome
}

fn migrate_unchecked(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE takes the write lock first, so two processes opening a new database at the
    // same moment do not both create the schema.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > LATEST_VERSION {
        return Err(Error::internal(format!(
            "the database has schema version {version}, but this wheelhouse knows only up to \
             {LATEST_VERSION}: run a newer wheelhouse, or restore a backup made by this one"
        )));
    }
    if version == LATEST_VERSION {
        return Ok(());
    }
    if version == 0 {
        tx.execute_batch(SCHEMA)?;
        version = SCHEMA_VERSION;
    }
    for step in &UPGRADES[(version - FIRST_VERSION) as usize..] {
        tx.execute_batch(step)?;
        version += 1;
    }
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(Error::internal(format!(
            "upgrading the database to version {version} left a broken reference in table \
             {table}; the database is unchanged: restore it from a backup or report this"
        )));
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(())
}

/// A connection outside the pool, for watching `data_version`.
pub fn open_watcher(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// SQLite's counter of commits made by *other* connections than `conn`: what tells a cache
/// that the database changed, whoever changed it.
pub fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

/// Now, in unix milliseconds: the unit of every `*_at` column.
pub fn now_millis() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// Maps a UNIQUE violation to a conflict that names the thing, and passes other errors through.
pub(crate) fn unique_or(err: rusqlite::Error, conflict: impl FnOnce() -> String) -> Error {
    match err.sqlite_error_code() {
        Some(rusqlite::ffi::ErrorCode::ConstraintViolation) => Error::conflict(conflict()),
        _ => err.into(),
    }
}

#[cfg(test)]
mod upgrade_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_schema_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let db = Db::open(&path, 2).unwrap();
        let v: i64 = db
            .get()
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST_VERSION);
        drop(db);
        Db::open(&path, 2).unwrap();
    }

    #[test]
    fn refuses_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Db::open(&path, 1).err().unwrap();
        assert!(format!("{err:?}").contains("newer wheelhouse"), "{err:?}");
    }
}
