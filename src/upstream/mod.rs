//! Upstream indexes cached through a group: pages, files, the name guard and the cache.
pub mod rules;
