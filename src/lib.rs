//! Wheelhouse: a private Python package index in one executable, speaking GitLab's PyPI API.

#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod blobs;
pub mod cache;
pub mod cli;
pub mod config;
pub mod cpu;
pub mod db;
pub mod devices;
pub mod encoding;
pub mod error;
pub mod format;
pub mod metrics;
pub mod model;
pub mod proxy;
pub mod python;
pub mod reason_phrase;
pub mod registry;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod storage;
pub mod throttle;
pub mod tls;
pub mod upstream;
pub mod usage;
