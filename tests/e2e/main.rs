//! End-to-end tests: the real `wheelhouse` binary on a free port, driven over HTTP, by its
//! command line, and by the real pip, uv and twine.

mod access;
mod browser;
mod cli;
mod clients;
mod gitlab_api;
mod gitlab_compat;
mod gitlab_endpoints;
mod gitlab_functional;
mod hostile;
mod hostile_metadata;
mod ids;
mod lists;
mod maintenance;
mod matrix;
mod metrics;
mod modern;
mod publishers;
mod races;
mod review;
mod robustness;
mod sdist_metadata;
mod simple;
mod support;
mod tenancy;
mod tenants;
mod trust;
mod uploads;
mod upstream;
mod upstream_attacks;
mod upstream_config;
mod web;
