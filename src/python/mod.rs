//! Python packaging rules: distribution names, versions, filenames and core metadata.

pub mod archive;
pub mod filename;
pub mod metadata;
pub mod name;
pub mod version;

pub use filename::{DistKind, Filename};
pub use name::DistName;
pub use version::Version;
