//! CPU work that grows with what a tenant stored (serializing and compressing a large answer)
//! runs here: on threads of its own, a few at a time, never on the blocking pool that
//! database calls (and so `/-/health`) wait on.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Semaphore, oneshot};

use crate::error::{Error, Result};

/// At most this many run at once, on half the cores, so the other half keeps serving cached
/// pages, downloads and database calls whatever a flood of costly requests asks for; the rest
/// wait their turn (in order) without holding a thread.
fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new((cores / 2).max(1)))
    })
}

/// Runs `work` on a thread of its own once a slot is free. The slot goes with the thread, so
/// a client that hangs up cannot let more than the slots' worth run at once.
pub async fn run<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = slots()
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Error::internal(format!("cpu slots: {e}")))?;
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name("wheelhouse-cpu".into())
        .spawn(move || {
            let _slot = slot;
            let _ = done.send(work());
        })
        .map_err(|e| Error::internal(format!("cpu thread: {e}")))?;
    result
        .await
        .map_err(|_| Error::internal("a cpu task panicked"))
}

#[cfg(test)]
mod tests {
    #[actix_web::test]
    async fn work_runs_off_the_caller_thread_and_returns_its_value() {
        let caller = std::thread::current().id();
        let (value, ran_on) = super::run(move || (21 * 2, std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(value, 42);
        assert_ne!(ran_on, caller);
        let panicked = super::run(|| -> i32 { panic!("boom") }).await;
        assert!(panicked.is_err());
    }
}
