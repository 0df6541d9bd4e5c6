//! When personal access tokens were last used: noted in memory on the request path (a read
//! must not wait for a write) and written in one batch now and then.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::Connection;

use crate::db;
use crate::error::Result;

/// How often the server writes what it noted.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct TokenUsage {
    /// Token id → the latest use (ms since the epoch) not yet written.
    seen: Mutex<HashMap<i64, i64>>,
}

impl TokenUsage {
    /// Notes a use of the token now.
    pub fn note_now(&self, token_id: i64) {
        self.note(token_id, crate::db::now_millis());
    }

    pub fn note(&self, token_id: i64, at: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let latest = seen.entry(token_id).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// Writes every noted use in one transaction. What fails to be written is noted again.
    pub fn flush(&self, conn: &mut Connection) -> Result<()> {
        let batch: Vec<(i64, i64)> = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.drain().collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        db::tokens::record_last_used(conn, &batch).inspect_err(|_| {
            for (id, at) in &batch {
                self.note(*id, *at);
            }
        })
    }
}
