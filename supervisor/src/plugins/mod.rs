//! Plugin manifests (`plugin.toml`), file digests and the plugin registry.
//!
//! A plugin is a directory with a `plugin.toml` that names the plugin, the
//! stdio ABI version it speaks, its executable, the sandbox profile it
//! requests, its handlers with their parameter schemas, and the SHA-256 digest of
//! every file it ships. Loading a plugin validates the manifest and checks
//! every listed file against its digest; the launcher checks the digests
//! again before every run.
//!
//! Layout:
//! - [`manifest`]: the manifest format and its field validation (no file access).
//! - [`digest`]: streaming SHA-256 of plugin files and the `[files]` table helper.
//! - [`plugin`]: one loaded plugin directory and its file checks.
//! - [`registry`]: every plugin found in a plugins directory, by name.
//! - [`error`]: the errors of this module.

pub mod catalog;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod plugin;
pub mod registry;

#[cfg(test)]
mod test_support;

pub use catalog::RegistryCatalog;
pub use digest::{digest_table, sha256_file};
pub use error::{PluginError, RegistryError, RegistryProblem};
pub use manifest::{Handler, Manifest, ParameterSchema};
pub use plugin::Plugin;
pub use registry::Registry;

/// File name of a plugin's manifest inside its directory.
pub const MANIFEST_FILE_NAME: &str = "plugin.toml";
