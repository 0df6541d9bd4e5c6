//! The registry's services: uploads, index pages and provisioning, each behind a capability.

pub mod admin;
pub mod index;
pub mod manage;
pub mod upload;
