//! The server configuration: a TOML file, `VWMP_<SECTION>_<FIELD>`
//! environment overrides and the defaults, validated into one [`Config`].
//!
//! Layout:
//! - `file.rs`: the file as written (every field optional, unknown fields
//!   rejected).
//! - `env.rs`: environment overrides such as `VWMP_SERVER_LISTEN`.
//! - `resolve.rs`: defaults, path resolution and validation.
//! - `defaults.rs`: default values and bounds with their reasons.
//! - `units.rs`: durations ("15m", "7d") and sizes ("1MiB").
//! - `origin.rs`: web origins for `Origin` header checks.
//!
//! Precedence: an environment variable beats the file, and the file beats
//! the default. Relative paths in the file are resolved against the file's
//! directory; relative paths from variables or defaults against the current
//! directory. Every error names the file or variable, the setting and the
//! fix.

pub mod defaults;
mod env;
mod error;
mod file;
mod origin;
mod resolve;
mod units;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use env::unrecognized_variables;
pub use error::{ConfigError, Setting, SettingSource};
pub use origin::normalize_origin;

use file::RawConfig;

/// Keys whose values `to_toml_redacted` masks. No setting contains a secret
/// today because the JWT signing key lives in its own 0600 file. A future
/// inline secret, such as a TLS key password, adds its key here.
const SECRET_KEYS: &[&str] = &[];

/// Replacement for a masked value.
const MASK: &str = "********";

/// The validated server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// File the configuration was read from; `None` when only defaults and
    /// environment variables were used.
    pub source: Option<PathBuf>,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub retention: RetentionConfig,
    pub auth: AuthConfig,
    pub engine: EngineConfig,
    pub logging: LoggingConfig,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address and port to listen on. A non-loopback address requires
    /// `trusted_proxy`, because the server speaks plain HTTP.
    pub listen: SocketAddr,
    /// Whether a TLS-terminating reverse proxy forwards to `listen`.
    pub trusted_proxy: bool,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: u64,
    /// Origin that browsers use to reach the server, normalized by
    /// [`normalize_origin`].
    pub public_origin: Option<String>,
    /// Further origins allowed to call the API from a browser, normalized.
    pub allowed_origins: Vec<String>,
    /// Built-in TLS. Always `None` in this version, which rejects
    /// `tls_cert_file` and `tls_key_file`.
    pub tls: Option<TlsConfig>,
}

/// Certificate and key for built-in TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// `[storage]`: where state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// Directory for the database, signing key and workspaces (created 0700).
    pub state_dir: PathBuf,
    /// SQLite database file; default `<state_dir>/vwmp.db`.
    pub database: PathBuf,
}

/// `[retention]`: how long history is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Age after which finished executions, their steps and logs are deleted.
    pub executions: Duration,
    /// Age after which audit events are deleted.
    pub audit: Duration,
    /// Time between two pruning runs.
    pub prune_interval: Duration,
}

/// `[auth]`: tokens and cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// JWT `iss` claim.
    pub issuer: String,
    /// JWT `aud` claim.
    pub audience: String,
    /// File holding the JWT signing key (0600, generated at first start);
    /// default `<state_dir>/jwt-signing.key`.
    pub signing_key_file: PathBuf,
    /// Access token lifetime, at most one hour.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime, longer than the access token's.
    pub refresh_token_ttl: Duration,
    /// Whether cookies carry the `Secure` attribute. May be false only when
    /// listening on loopback.
    pub secure_cookies: bool,
}

/// `[engine]`: plugins, profiles and workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Directory of plugin manifests.
    pub plugins_dir: PathBuf,
    /// Directory of sandbox profiles.
    pub profiles_dir: PathBuf,
    /// Directory under which each execution gets its workspace;
    /// default `<state_dir>/workspaces`.
    pub workspace_root: PathBuf,
    /// Steps that run at once across all executions.
    pub max_parallel_steps: usize,
    /// User id that workers switch to when the supervisor runs as root;
    /// never 0.
    pub run_as_uid: u32,
    /// Group id that workers switch to when the supervisor runs as root;
    /// never 0.
    pub run_as_gid: u32,
    /// Worker binary; `None` means `vwmp-worker` next to the `vwmp` binary.
    pub worker_path: Option<PathBuf>,
}

/// `[logging]`: tracing output and the audit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// Output format of tracing.
    pub format: LogFormat,
    /// Tracing filter, such as `info` or `info,vwmp_supervisor=debug`.
    pub level: String,
    /// File that audit events are appended to as JSON lines (opened 0600),
    /// besides the tracing output.
    pub audit_file: Option<PathBuf>,
}

/// Output format of tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Returns the name used in the file: `human` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        }
    }
}

/// Reads an environment variable of this process; pass it to
/// [`Config::load`] outside tests. Values that are not UTF-8 read as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Config {
    /// Loads the configuration from `path` (when given), applies the
    /// `VWMP_*` overrides that `env` returns, fills in defaults and
    /// validates the result.
    pub fn load(
        path: Option<&Path>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let cwd =
            std::env::current_dir().map_err(|source| ConfigError::CurrentDirectory { source })?;
        let (raw, file) = match path {
            Some(path) => {
                let file = cwd.join(path);
                (read_file(&file)?, Some(file))
            }
            None => (RawConfig::default(), None),
        };
        let (raw, from_env) = env::apply_overrides(raw, env)?;
        let context = resolve::Context {
            file,
            cwd: cwd.clone(),
            from_env,
            default_state_dir: defaults::state_dir(env, &cwd),
        };
        resolve::resolve(&raw, &context)
    }

    /// Checks one configuration file without environment overrides, for
    /// `vwmp config check FILE`.
    pub fn check_file(path: &Path) -> Result<Config, ConfigError> {
        Config::load(Some(path), &|_| None)
    }

    /// Returns the configuration used without a file or variables: loopback
    /// on port 8080 and state in `./vwmp-state`. When the current directory
    /// is unreadable, paths stay relative.
    pub fn default_for_local() -> Config {
        let cwd = std::env::current_dir().unwrap_or_default();
        let state_dir = cwd.join(defaults::DEFAULT_LOCAL_STATE_DIR);
        let listen = SocketAddr::from(([127, 0, 0, 1], 8080));
        Config {
            source: None,
            server: ServerConfig {
                listen,
                trusted_proxy: false,
                max_body_bytes: defaults::DEFAULT_MAX_BODY_BYTES,
                public_origin: None,
                allowed_origins: Vec::new(),
                tls: None,
            },
            storage: StorageConfig {
                database: state_dir.join(defaults::DATABASE_FILE),
                state_dir: state_dir.clone(),
            },
            retention: RetentionConfig {
                executions: defaults::DEFAULT_EXECUTION_RETENTION,
                audit: defaults::DEFAULT_AUDIT_RETENTION,
                prune_interval: defaults::DEFAULT_PRUNE_INTERVAL,
            },
            auth: AuthConfig {
                issuer: defaults::DEFAULT_ISSUER.to_string(),
                audience: defaults::DEFAULT_AUDIENCE.to_string(),
                signing_key_file: state_dir.join(defaults::SIGNING_KEY_FILE),
                access_token_ttl: defaults::DEFAULT_ACCESS_TOKEN_TTL,
                refresh_token_ttl: defaults::DEFAULT_REFRESH_TOKEN_TTL,
                secure_cookies: true,
            },
            engine: EngineConfig {
                plugins_dir: defaults::plugins_dir(),
                profiles_dir: defaults::profiles_dir(),
                workspace_root: state_dir.join(defaults::WORKSPACES_DIR),
                max_parallel_steps: defaults::DEFAULT_MAX_PARALLEL_STEPS,
                run_as_uid: defaults::DEFAULT_RUN_AS_ID,
                run_as_gid: defaults::DEFAULT_RUN_AS_ID,
                worker_path: None,
            },
            logging: LoggingConfig {
                format: LogFormat::Human,
                level: defaults::DEFAULT_LOG_LEVEL.to_string(),
                audit_file: None,
            },
        }
    }

    /// Writes the effective configuration as TOML, with secret values
    /// masked, for `vwmp config check` and startup logs. Loading the output
    /// gives the same configuration when every path is UTF-8.
    pub fn to_toml_redacted(&self) -> Result<String, ConfigError> {
        let render_error = |message: String| ConfigError::RenderToml { message };
        let mut table = toml::Table::try_from(RawConfig::from(self))
            .map_err(|error| render_error(error.to_string()))?;
        mask_keys(&mut table, SECRET_KEYS);

        // A table sorts its keys; going back through `RawConfig` writes the
        // sections and fields in the documented order.
        let masked: RawConfig = table
            .try_into()
            .map_err(|error: toml::de::Error| render_error(error.to_string()))?;
        toml::to_string_pretty(&masked).map_err(|error| render_error(error.to_string()))
    }

    /// Lists settings that are valid but likely wrong, for the server to log
    /// at startup and for `vwmp config check` to print.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.server.trusted_proxy && self.server.public_origin.is_none() {
            warnings.push(
                "server.trusted_proxy is true but server.public_origin is unset, so browser \
                 requests through the proxy fail the Origin check; set public_origin to the \
                 proxy's https origin"
                    .to_string(),
            );
        }
        if self.server.trusted_proxy && self.server.listen.ip().is_unspecified() {
            warnings.push(format!(
                "server.listen {} accepts connections on every interface, so clients can bypass \
                 the reverse proxy; listen on loopback or on the proxy-facing address",
                self.server.listen
            ));
        }
        warnings
    }
}

impl ServerConfig {
    /// Returns true when `listen` is a loopback address.
    pub fn is_loopback(&self) -> bool {
        self.listen.ip().is_loopback()
    }

    /// Checks an `Origin` header value against `public_origin` and
    /// `allowed_origins`. Without `public_origin`, a loopback listener
    /// allows its own `http://` origin under its address and `localhost`.
    pub fn is_origin_allowed(&self, origin: &str) -> bool {
        let Ok(origin) = normalize_origin(origin) else {
            return false;
        };
        if self.allowed_origins.contains(&origin) {
            return true;
        }
        match &self.public_origin {
            Some(public) => *public == origin,
            None if self.is_loopback() => {
                let port = self.listen.port();
                let own = normalize_origin(&format!("http://{}", self.listen));
                own.as_deref() == Ok(origin.as_str())
                    || origin == format!("http://localhost:{port}")
            }
            None => false,
        }
    }
}

fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::ParseFile {
        path: path.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })
}

/// Replaces the values of `keys` (`section.field`) with [`MASK`].
fn mask_keys(table: &mut toml::Table, keys: &[&str]) {
    for key in keys {
        let Some((section, field)) = key.split_once('.') else {
            continue;
        };
        let value = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .and_then(|fields| fields.get_mut(field));
        if let Some(value) = value {
            *value = toml::Value::String(MASK.to_string());
        }
    }
}

#[cfg(test)]
mod tests;
