//! HTTP routes: thin adapters from requests to services and back.

mod negotiate;
mod ops;
mod pypi;
mod simple;
mod upload_form;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    pypi::configure(cfg);
    ops::configure(cfg);
}
