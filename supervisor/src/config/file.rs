//! The configuration file as written: every field optional, unknown fields
//! rejected. [`super::resolve`] turns it into a validated [`super::Config`].

use serde::{Deserialize, Serialize};

use super::units::{format_duration, format_size, Quantity};
use super::Config;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub server: RawServer,
    pub storage: RawStorage,
    pub retention: RawRetention,
    pub auth: RawAuth,
    pub engine: RawEngine,
    pub logging: RawLogging,
}

/// `[server]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawServer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<String>,
}

/// `[storage]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawStorage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// `[retention]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawRetention {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executions: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prune_interval: Option<Quantity>,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_cookies: Option<bool>,
}

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawEngine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel_steps: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_uid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_gid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_path: Option<String>,
}

/// `[logging]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawLogging {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_file: Option<String>,
}

fn path_text(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

fn duration(value: std::time::Duration) -> Option<Quantity> {
    Some(Quantity::Text(format_duration(value)))
}

impl From<&Config> for RawConfig {
    /// Writes every resolved value back, so the result shows the effective
    /// configuration and loads to the same [`Config`] when every path is
    /// UTF-8.
    fn from(config: &Config) -> Self {
        let server = &config.server;
        let engine = &config.engine;
        Self {
            server: RawServer {
                listen: Some(server.listen.to_string()),
                trusted_proxy: Some(server.trusted_proxy),
                max_body_bytes: Some(Quantity::Text(format_size(server.max_body_bytes))),
                public_origin: server.public_origin.clone(),
                allowed_origins: Some(server.allowed_origins.clone()),
                tls_cert_file: server.tls.as_ref().map(|tls| path_text(&tls.cert_file)),
                tls_key_file: server.tls.as_ref().map(|tls| path_text(&tls.key_file)),
            },
            storage: RawStorage {
                state_dir: Some(path_text(&config.storage.state_dir)),
                database: Some(path_text(&config.storage.database)),
            },
            retention: RawRetention {
                executions: duration(config.retention.executions),
                audit: duration(config.retention.audit),
                prune_interval: duration(config.retention.prune_interval),
            },
            auth: RawAuth {
                issuer: Some(config.auth.issuer.clone()),
                audience: Some(config.auth.audience.clone()),
                signing_key_file: Some(path_text(&config.auth.signing_key_file)),
                access_token_ttl: duration(config.auth.access_token_ttl),
                refresh_token_ttl: duration(config.auth.refresh_token_ttl),
                secure_cookies: Some(config.auth.secure_cookies),
            },
            engine: RawEngine {
                plugins_dir: Some(path_text(&engine.plugins_dir)),
                profiles_dir: Some(path_text(&engine.profiles_dir)),
                workspace_root: Some(path_text(&engine.workspace_root)),
                max_parallel_steps: i64::try_from(engine.max_parallel_steps).ok(),
                run_as_uid: Some(i64::from(engine.run_as_uid)),
                run_as_gid: Some(i64::from(engine.run_as_gid)),
                worker_path: engine.worker_path.as_deref().map(path_text),
            },
            logging: RawLogging {
                format: Some(config.logging.format.as_str().to_string()),
                level: Some(config.logging.level.clone()),
                audit_file: config.logging.audit_file.as_deref().map(path_text),
            },
        }
    }
}
