//! Turns the file as written, with overrides applied, into a validated
//! [`Config`]: fills in defaults, resolves relative paths and checks bounds.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults as default;
use super::env::variable_for;
use super::file::{RawAuth, RawConfig, RawEngine, RawLogging, RawRetention, RawServer};
use super::units::{format_duration, parse_duration, parse_size, Quantity};
use super::{
    normalize_origin, AuthConfig, Config, ConfigError, EngineConfig, LogFormat, LoggingConfig,
    RetentionConfig, ServerConfig, Setting, SettingSource, StorageConfig,
};

/// Origins of the values, for path resolution and error messages.
pub(crate) struct Context {
    /// Absolute path of the configuration file, if any.
    pub file: Option<PathBuf>,
    /// Current directory, the base of relative paths from variables.
    pub cwd: PathBuf,
    /// Keys set by environment variables.
    pub from_env: BTreeSet<&'static str>,
    /// State directory used when none is configured.
    pub default_state_dir: PathBuf,
}

impl Context {
    fn setting(&self, key: &'static str, present: bool) -> Setting {
        let source = match (&self.file, variable_for(key)) {
            (_, Some(variable)) if self.from_env.contains(key) => {
                SettingSource::Environment(variable.to_string())
            }
            (Some(file), _) if present => SettingSource::File(file.clone()),
            _ => SettingSource::Default,
        };
        Setting { key, source }
    }

    fn invalid(&self, key: &'static str, present: bool, reason: String) -> ConfigError {
        ConfigError::Validate {
            setting: self.setting(key, present),
            reason,
        }
    }

    /// Directory that a relative path in `key` is relative to.
    fn base_dir(&self, key: &'static str) -> &Path {
        match &self.file {
            Some(file) if !self.from_env.contains(key) => file.parent().unwrap_or(&self.cwd),
            _ => &self.cwd,
        }
    }

    /// Resolves an optional path; an empty string means unset.
    fn path(
        &self,
        key: &'static str,
        value: Option<&String>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let Some(text) = value.filter(|text| !text.is_empty()) else {
            return Ok(None);
        };
        if text.contains('\0') {
            return Err(self.invalid(key, true, "the path contains a NUL byte; remove it".into()));
        }
        Ok(Some(self.base_dir(key).join(text)))
    }

    /// Resolves a path, using `default` when unset.
    fn path_or(
        &self,
        key: &'static str,
        value: Option<&String>,
        default: PathBuf,
    ) -> Result<PathBuf, ConfigError> {
        Ok(self.path(key, value)?.unwrap_or(default))
    }

    fn duration(
        &self,
        key: &'static str,
        value: Option<&Quantity>,
        default: Duration,
        bounds: (Duration, Duration),
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let duration = parse_duration(value).map_err(|reason| self.invalid(key, true, reason))?;
        let (min, max) = bounds;
        if duration < min || duration > max {
            let reason = format!(
                "{} is out of range; use a duration from {} to {}",
                format_duration(duration),
                format_duration(min),
                format_duration(max)
            );
            return Err(self.invalid(key, true, reason));
        }
        Ok(duration)
    }
}

/// Validates `raw` and fills in defaults.
pub(crate) fn resolve(raw: &RawConfig, context: &Context) -> Result<Config, ConfigError> {
    let server = server(&raw.server, context)?;

    let state_dir = context.path_or(
        "storage.state_dir",
        raw.storage.state_dir.as_ref(),
        context.default_state_dir.clone(),
    )?;
    let storage = StorageConfig {
        database: context.path_or(
            "storage.database",
            raw.storage.database.as_ref(),
            state_dir.join(default::DATABASE_FILE),
        )?,
        state_dir,
    };

    Ok(Config {
        source: context.file.clone(),
        retention: retention(&raw.retention, context)?,
        auth: auth(&raw.auth, &server, &storage.state_dir, context)?,
        engine: engine(&raw.engine, &storage.state_dir, context)?,
        logging: logging(&raw.logging, context)?,
        server,
        storage,
    })
}

fn server(raw: &RawServer, context: &Context) -> Result<ServerConfig, ConfigError> {
    let listen_present = raw.listen.is_some();
    let listen_text = raw.listen.as_deref().unwrap_or(default::DEFAULT_LISTEN);
    let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
        let reason = format!(
            "{listen_text:?} is not a socket address; use an IP address and port such as \
             127.0.0.1:8080 or [::1]:8080"
        );
        context.invalid("server.listen", listen_present, reason)
    })?;
    let trusted_proxy = raw.trusted_proxy.unwrap_or(false);
    if !listen.ip().is_loopback() && !trusted_proxy {
        let reason = format!(
            "{listen} is not a loopback address, and this server speaks plain HTTP (built-in \
             TLS is not available yet); listen on 127.0.0.1 or [::1], or put a TLS-terminating \
             reverse proxy in front and set server.trusted_proxy = true"
        );
        return Err(context.invalid("server.listen", listen_present, reason));
    }

    if raw.tls_cert_file.is_some() || raw.tls_key_file.is_some() {
        let key = match raw.tls_cert_file {
            Some(_) => "server.tls_cert_file",
            None => "server.tls_key_file",
        };
        let reason = "built-in TLS is not available in this version; remove tls_cert_file and \
                      tls_key_file, terminate TLS in a reverse proxy and set \
                      server.trusted_proxy = true"
            .to_string();
        return Err(context.invalid(key, true, reason));
    }

    let max_body_bytes = match &raw.max_body_bytes {
        None => default::DEFAULT_MAX_BODY_BYTES,
        Some(value) => {
            let invalid = |reason| context.invalid("server.max_body_bytes", true, reason);
            let bytes = parse_size(value).map_err(invalid)?;
            if !(default::MIN_BODY_BYTES..=default::MAX_BODY_BYTES).contains(&bytes) {
                return Err(invalid(format!(
                    "{bytes} bytes is out of range; use a size from 1KiB to 64MiB"
                )));
            }
            bytes
        }
    };

    let public_origin = match raw.public_origin.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            normalize_origin(text)
                .map_err(|reason| context.invalid("server.public_origin", true, reason))?,
        ),
    };
    let mut allowed_origins = Vec::new();
    for text in raw.allowed_origins.iter().flatten() {
        let origin = normalize_origin(text)
            .map_err(|reason| context.invalid("server.allowed_origins", true, reason))?;
        if !allowed_origins.contains(&origin) {
            allowed_origins.push(origin);
        }
    }

    Ok(ServerConfig {
        listen,
        trusted_proxy,
        max_body_bytes,
        public_origin,
        allowed_origins,
        tls: None,
    })
}

fn retention(raw: &RawRetention, context: &Context) -> Result<RetentionConfig, ConfigError> {
    let retention_bounds = (default::MIN_RETENTION, default::MAX_RETENTION);
    Ok(RetentionConfig {
        executions: context.duration(
            "retention.executions",
            raw.executions.as_ref(),
            default::DEFAULT_EXECUTION_RETENTION,
            retention_bounds,
        )?,
        audit: context.duration(
            "retention.audit",
            raw.audit.as_ref(),
            default::DEFAULT_AUDIT_RETENTION,
            retention_bounds,
        )?,
        prune_interval: context.duration(
            "retention.prune_interval",
            raw.prune_interval.as_ref(),
            default::DEFAULT_PRUNE_INTERVAL,
            (default::MIN_PRUNE_INTERVAL, default::MAX_PRUNE_INTERVAL),
        )?,
    })
}

fn auth(
    raw: &RawAuth,
    server: &ServerConfig,
    state_dir: &Path,
    context: &Context,
) -> Result<AuthConfig, ConfigError> {
    let issuer = claim(
        context,
        "auth.issuer",
        raw.issuer.as_ref(),
        default::DEFAULT_ISSUER,
    )?;
    let audience = claim(
        context,
        "auth.audience",
        raw.audience.as_ref(),
        default::DEFAULT_AUDIENCE,
    )?;
    let access_token_ttl = context.duration(
        "auth.access_token_ttl",
        raw.access_token_ttl.as_ref(),
        default::DEFAULT_ACCESS_TOKEN_TTL,
        (default::MIN_ACCESS_TOKEN_TTL, default::MAX_ACCESS_TOKEN_TTL),
    )?;
    let refresh_token_ttl = context.duration(
        "auth.refresh_token_ttl",
        raw.refresh_token_ttl.as_ref(),
        default::DEFAULT_REFRESH_TOKEN_TTL,
        (
            default::MIN_REFRESH_TOKEN_TTL,
            default::MAX_REFRESH_TOKEN_TTL,
        ),
    )?;
    if refresh_token_ttl <= access_token_ttl {
        let reason = format!(
            "{} is not longer than auth.access_token_ttl ({}); a refresh token must outlive \
             the access tokens it renews",
            format_duration(refresh_token_ttl),
            format_duration(access_token_ttl)
        );
        return Err(context.invalid(
            "auth.refresh_token_ttl",
            raw.refresh_token_ttl.is_some(),
            reason,
        ));
    }

    // Browsers send a Secure cookie only over HTTPS, which keeps the
    // refresh token off plain-HTTP links; only loopback may go without.
    if raw.secure_cookies == Some(false) && !server.is_loopback() {
        let reason = format!(
            "cookies must be Secure when listening on {}, which is not loopback; set \
             secure_cookies = true (the reverse proxy serves HTTPS)",
            server.listen
        );
        return Err(context.invalid("auth.secure_cookies", true, reason));
    }

    Ok(AuthConfig {
        issuer,
        audience,
        signing_key_file: context.path_or(
            "auth.signing_key_file",
            raw.signing_key_file.as_ref(),
            state_dir.join(default::SIGNING_KEY_FILE),
        )?,
        access_token_ttl,
        refresh_token_ttl,
        secure_cookies: raw.secure_cookies.unwrap_or(true),
    })
}

/// Checks an issuer or audience value.
fn claim(
    context: &Context,
    key: &'static str,
    value: Option<&String>,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(text) = value else {
        return Ok(default.to_string());
    };
    let reason = if text.trim().is_empty() {
        "the value is empty; set a short name such as \"vwmp\"".to_string()
    } else if text.chars().count() > default::MAX_CLAIM_CHARS {
        format!(
            "the value is longer than {} characters",
            default::MAX_CLAIM_CHARS
        )
    } else if text.chars().any(char::is_control) {
        "the value contains control characters; remove them".to_string()
    } else {
        return Ok(text.clone());
    };
    Err(context.invalid(key, true, reason))
}

fn engine(
    raw: &RawEngine,
    state_dir: &Path,
    context: &Context,
) -> Result<EngineConfig, ConfigError> {
    let max_parallel_steps = match raw.max_parallel_steps {
        None => default::DEFAULT_MAX_PARALLEL_STEPS,
        Some(number) => usize::try_from(number)
            .ok()
            .filter(|count| (1..=default::MAX_PARALLEL_STEPS).contains(count))
            .ok_or_else(|| {
                let reason = format!(
                    "{number} is out of range; use 1 to {}",
                    default::MAX_PARALLEL_STEPS
                );
                context.invalid("engine.max_parallel_steps", true, reason)
            })?,
    };

    Ok(EngineConfig {
        plugins_dir: context.path_or(
            "engine.plugins_dir",
            raw.plugins_dir.as_ref(),
            default::plugins_dir(),
        )?,
        profiles_dir: context.path_or(
            "engine.profiles_dir",
            raw.profiles_dir.as_ref(),
            default::profiles_dir(),
        )?,
        workspace_root: context.path_or(
            "engine.workspace_root",
            raw.workspace_root.as_ref(),
            state_dir.join(default::WORKSPACES_DIR),
        )?,
        max_parallel_steps,
        run_as_uid: run_as_id(context, "engine.run_as_uid", raw.run_as_uid, "user")?,
        run_as_gid: run_as_id(context, "engine.run_as_gid", raw.run_as_gid, "group")?,
        worker_path: context.path("engine.worker_path", raw.worker_path.as_ref())?,
    })
}

/// Checks a worker user or group id: never root, never the "unchanged" id.
fn run_as_id(
    context: &Context,
    key: &'static str,
    value: Option<i64>,
    kind: &str,
) -> Result<u32, ConfigError> {
    let Some(number) = value else {
        return Ok(default::DEFAULT_RUN_AS_ID);
    };
    let reason = match u32::try_from(number) {
        Ok(0) => {
            format!("workers must not run as {kind} 0 (root); use an unprivileged id such as 65534")
        }
        Ok(default::UNCHANGED_ID) | Err(_) => format!(
            "{number} is not a usable {kind} id; use 1 to {}, such as 65534",
            default::UNCHANGED_ID - 1
        ),
        Ok(id) => return Ok(id),
    };
    Err(context.invalid(key, true, reason))
}

fn logging(raw: &RawLogging, context: &Context) -> Result<LoggingConfig, ConfigError> {
    let format = match raw.format.as_deref().map(str::trim) {
        None | Some("human") => LogFormat::Human,
        Some("json") => LogFormat::Json,
        Some(other) => {
            let reason = format!("{other:?} is not a log format; use \"human\" or \"json\"");
            return Err(context.invalid("logging.format", true, reason));
        }
    };

    let level = raw
        .level
        .as_deref()
        .unwrap_or(default::DEFAULT_LOG_LEVEL)
        .trim()
        .to_string();
    if let Err(error) = tracing_subscriber::EnvFilter::try_new(&level) {
        let reason = format!(
            "{level:?} is not a tracing filter ({error}); use a level such as \"info\" or \
             directives such as \"info,vwmp_supervisor=debug\""
        );
        return Err(context.invalid("logging.level", raw.level.is_some(), reason));
    }

    Ok(LoggingConfig {
        format,
        level,
        audit_file: context.path("logging.audit_file", raw.audit_file.as_ref())?,
    })
}
