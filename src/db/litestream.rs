//! Whether the database's settings suit Litestream, which streams its WAL to object storage.
//!
//! Litestream's own guidance (litestream.io/tips, and its source for 0.5): the database must be
//! in WAL mode; every connection needs a busy timeout (Litestream briefly takes the write lock
//! when it checkpoints; 5 s is its advice); under write load the application should leave
//! checkpoints to Litestream (`wal_autocheckpoint = 0`), or a checkpoint slipped in between two
//! of Litestream's can make it miss WAL frames; and the database, `-wal` and `-shm` files must
//! never be deleted or replaced behind its back.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::Result;

/// The busy timeout Litestream asks applications for, in milliseconds.
pub const LITESTREAM_BUSY_TIMEOUT_MS: i64 = 5_000;
/// A WAL this large at start-up means nothing has checkpointed it for a long while.
const LARGE_WAL_BYTES: u64 = 256 << 20;

/// The settings of one connection that matter to Litestream, as SQLite reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub journal_mode: String,
    pub busy_timeout_ms: i64,
    /// Pages of WAL after which a commit checkpoints (0: never).
    pub wal_autocheckpoint: i64,
}

/// What the database directory shows about Litestream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surroundings {
    /// Litestream's state directory beside the database, if it has ever replicated it.
    pub litestream_dir: Option<PathBuf>,
    /// Size of the `-wal` file.
    pub wal_bytes: u64,
}

/// The outcome of the check: `fatal` stops start-up, `warnings` go to the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub fatal: Option<String>,
    pub warnings: Vec<String>,
}

pub fn read_settings(conn: &Connection) -> Result<Settings> {
    Ok(Settings {
        journal_mode: conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
        busy_timeout_ms: conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?,
        wal_autocheckpoint: conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?,
    })
}

/// Looks beside the database for Litestream's state directory (`.NAME-litestream` since 0.5,
/// `NAME-litestream` before) and the WAL's size.
pub fn surroundings(db_path: &Path) -> Surroundings {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = db_path.parent().unwrap_or(Path::new("."));
    let litestream_dir = [format!(".{name}-litestream"), format!("{name}-litestream")]
        .into_iter()
        .map(|candidate| dir.join(candidate))
        .find(|candidate| candidate.is_dir());
    let wal_bytes = std::fs::metadata(dir.join(format!("{name}-wal"))).map_or(0, |m| m.len());
    Surroundings {
        litestream_dir,
        wal_bytes,
    }
}

/// Judges the settings against Litestream's needs; `litestream` is the operator's setting.
pub fn judge(settings: &Settings, around: &Surroundings, litestream: bool) -> Verdict {
    let mut verdict = Verdict::default();
    if !settings.journal_mode.eq_ignore_ascii_case("wal") {
        let problem = format!(
            "the database is in {} journal mode, not WAL (is the data directory on a network \
             file system?)",
            settings.journal_mode
        );
        if litestream {
            verdict.fatal = Some(format!(
                "{problem}: Litestream can only replicate a database in WAL mode; move the data \
                 directory to a local disk"
            ));
            return verdict;
        }
        verdict.warnings.push(problem);
    }
    if settings.busy_timeout_ms < LITESTREAM_BUSY_TIMEOUT_MS {
        verdict.warnings.push(format!(
            "the database's busy timeout is {} ms, below the {LITESTREAM_BUSY_TIMEOUT_MS} ms \
             Litestream asks for: writes may fail with \"database is locked\" while it checkpoints",
            settings.busy_timeout_ms
        ));
    }
    match (&around.litestream_dir, litestream) {
        (Some(dir), false) => verdict.warnings.push(format!(
            "Litestream replicates this database ({} exists) but `litestream = true` is not set: \
             SQLite's automatic checkpoints can race Litestream's and make it miss WAL frames; \
             set `litestream = true` in the config (or WHEELHOUSE_LITESTREAM=true), or delete \
             that directory if Litestream no longer runs",
            dir.display()
        )),
        (None, true) => verdict.warnings.push(
            "`litestream = true` but Litestream has not replicated this database yet (no \
             .wheelhouse.db-litestream directory beside it): until `litestream replicate` runs, \
             nothing streams the database off the machine and nothing checkpoints its WAL"
                .to_string(),
        ),
        _ => {}
    }
    if litestream && settings.wal_autocheckpoint != 0 {
        verdict.warnings.push(format!(
            "`litestream = true` but SQLite checkpoints automatically every {} WAL pages; \
             Litestream asks for wal_autocheckpoint = 0",
            settings.wal_autocheckpoint
        ));
    }
    if litestream && around.wal_bytes > LARGE_WAL_BYTES {
        verdict.warnings.push(format!(
            "the WAL is {} MiB: with `litestream = true` only Litestream checkpoints it; is \
             `litestream replicate` running?",
            around.wal_bytes >> 20
        ));
    }
    verdict
}

/// Reads the settings of `conn` (a connection from the pool) and judges them.
pub fn check(conn: &Connection, db_path: &Path, litestream: bool) -> Result<Verdict> {
    Ok(judge(
        &read_settings(conn)?,
        &surroundings(db_path),
        litestream,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    fn good() -> Settings {
        Settings {
            journal_mode: "wal".into(),
            busy_timeout_ms: 15_000,
            wal_autocheckpoint: 0,
        }
    }

    fn replicated() -> Surroundings {
        Surroundings {
            litestream_dir: Some(PathBuf::from("/d/.wheelhouse.db-litestream")),
            wal_bytes: 4096,
        }
    }

    #[test]
    fn suitable_settings_pass_quietly() {
        assert_eq!(judge(&good(), &replicated(), true), Verdict::default());
        let plain = Settings {
            wal_autocheckpoint: 1000,
            ..good()
        };
        assert_eq!(
            judge(&plain, &Surroundings::default(), false),
            Verdict::default()
        );
    }

    #[test]
    fn rollback_journal_stops_litestream_and_warns_otherwise() {
        let delete = Settings {
            journal_mode: "delete".into(),
            ..good()
        };
        let verdict = judge(&delete, &replicated(), true);
        assert!(verdict.fatal.unwrap().contains("WAL mode"));
        let verdict = judge(&delete, &Surroundings::default(), false);
        assert_eq!(verdict.fatal, None);
        assert!(verdict.warnings[0].contains("delete journal mode"));
    }

    #[test]
    fn contradictions_are_named() {
        let short = Settings {
            busy_timeout_ms: 100,
            wal_autocheckpoint: 1000,
            ..good()
        };
        let warnings = judge(&short, &replicated(), true).warnings;
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("busy timeout is 100 ms"))
        );
        assert!(warnings.iter().any(|w| w.contains("every 1000 WAL pages")));
        let unset = judge(&good(), &replicated(), false).warnings;
        assert!(unset[0].contains("set `litestream = true`"), "{unset:?}");
        let absent = judge(&good(), &Surroundings::default(), true).warnings;
        assert!(absent[0].contains("has not replicated"), "{absent:?}");
        let big = Surroundings {
            wal_bytes: 1 << 30,
            ..replicated()
        };
        assert!(judge(&good(), &big, true).warnings[0].contains("1024 MiB"));
    }

    #[test]
    fn the_pool_leaves_checkpoints_to_litestream_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wheelhouse.db");
        let plain = Db::open(&path, 2).unwrap();
        let settings = read_settings(&plain.get().unwrap()).unwrap();
        assert_eq!(settings.journal_mode, "wal");
        assert!(settings.busy_timeout_ms >= LITESTREAM_BUSY_TIMEOUT_MS);
        assert_eq!(settings.wal_autocheckpoint, 1000);
        drop(plain);
        std::fs::create_dir(dir.path().join(".wheelhouse.db-litestream")).unwrap();
        let replicated = Db::open_with(&path, 2, true).unwrap();
        for _ in 0..2 {
            let conn = replicated.get().unwrap();
            assert_eq!(read_settings(&conn).unwrap().wal_autocheckpoint, 0);
            assert_eq!(check(&conn, &path, true).unwrap(), Verdict::default());
        }
        let verdict = check(&replicated.get().unwrap(), &path, false).unwrap();
        assert!(verdict.warnings[0].contains(".wheelhouse.db-litestream"));
    }
}
