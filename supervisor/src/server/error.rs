//! Errors of starting the server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure while starting `vwmp serve`; each names the value and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The state directory could not be created or is unsafe.
    #[error("state directory {path}: {reason}")]
    StateDirectory { path: PathBuf, reason: String },

    /// The database could not be opened.
    #[error("failed to open the database: {0}")]
    Store(#[from] crate::store::StoreError),

    /// The JWT signing key could not be loaded or created.
    #[error("failed to load the access token signing key: {0}")]
    SigningKey(#[from] crate::auth::JwtError),

    /// The plugins directory could not be loaded.
    #[error("failed to load plugins: {0}; fix the plugin or set engine.plugins_dir")]
    Plugins(#[from] crate::plugins::RegistryError),

    /// The sandbox profiles could not be loaded.
    #[error("failed to load sandbox profiles: {0}; fix the profile or set engine.profiles_dir")]
    Profiles(#[from] crate::profiles::ProfileError),

    /// The audit file could not be opened.
    #[error("{0}")]
    AuditFile(#[from] crate::audit::AuditError),

    /// The listen address could not be bound.
    #[error(
        "failed to listen on {address}: {source}; stop the process using the port or set \
         server.listen to another address"
    )]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// The bound listener has no local address.
    #[error("failed to read the listener's address: {0}")]
    LocalAddress(#[source] std::io::Error),
}
