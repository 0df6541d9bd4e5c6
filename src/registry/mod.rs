//! The registry's services: uploads, index pages and provisioning, each behind a capability
//! or the permission table.

pub mod access_tokens;
pub mod audit;
pub mod backup;
pub mod catalog;
pub mod deploy_tokens;
pub mod description;
pub mod directory;
pub mod import;
pub mod index;
pub mod integrity;
pub mod manage;
pub mod membership;
pub mod namespaces;
pub mod relations;
pub mod structure;
pub mod token_limits;
pub mod tokens;
pub mod transfer;
pub mod upload;
pub mod upstreams;
pub mod users;
pub mod validate;
