//! `VWMP_<SECTION>_<FIELD>` environment variables that override single
//! settings of the configuration file, such as `VWMP_SERVER_LISTEN`.
//!
//! A value is converted to the field's TOML type here; range checks happen
//! with the file's values in [`super::resolve`], so both give the same
//! errors. An empty variable removes the file's value, so the default
//! applies; for an optional setting such as `server.public_origin` that
//! means none.

use std::collections::BTreeSet;

use serde::Deserialize as _;

use super::file::RawConfig;
use super::ConfigError;

/// TOML type that a variable's text is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Kept as a string: text, paths, durations and sizes.
    Text,
    /// `true` or `false` (also `1`, `0`, `yes`, `no`).
    Bool,
    /// A decimal integer.
    Integer,
    /// Comma-separated strings, for example `VWMP_SERVER_ALLOWED_ORIGINS`.
    List,
}

/// One overridable setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Override {
    /// Environment variable name.
    pub variable: &'static str,
    /// Section and field in the file, such as `server.listen`.
    pub key: &'static str,
    kind: Kind,
}

const fn entry(variable: &'static str, key: &'static str, kind: Kind) -> Override {
    Override {
        variable,
        key,
        kind,
    }
}

/// Every setting that an environment variable can override.
pub(crate) const OVERRIDES: &[Override] = &[
    entry("VWMP_SERVER_LISTEN", "server.listen", Kind::Text),
    entry(
        "VWMP_SERVER_TRUSTED_PROXY",
        "server.trusted_proxy",
        Kind::Bool,
    ),
    entry(
        "VWMP_SERVER_MAX_BODY_BYTES",
        "server.max_body_bytes",
        Kind::Text,
    ),
    entry(
        "VWMP_SERVER_PUBLIC_ORIGIN",
        "server.public_origin",
        Kind::Text,
    ),
    entry(
        "VWMP_SERVER_ALLOWED_ORIGINS",
        "server.allowed_origins",
        Kind::List,
    ),
    entry(
        "VWMP_SERVER_TLS_CERT_FILE",
        "server.tls_cert_file",
        Kind::Text,
    ),
    entry(
        "VWMP_SERVER_TLS_KEY_FILE",
        "server.tls_key_file",
        Kind::Text,
    ),
    entry("VWMP_STORAGE_STATE_DIR", "storage.state_dir", Kind::Text),
    entry("VWMP_STORAGE_DATABASE", "storage.database", Kind::Text),
    entry(
        "VWMP_RETENTION_EXECUTIONS",
        "retention.executions",
        Kind::Text,
    ),
    entry("VWMP_RETENTION_AUDIT", "retention.audit", Kind::Text),
    entry(
        "VWMP_RETENTION_PRUNE_INTERVAL",
        "retention.prune_interval",
        Kind::Text,
    ),
    entry("VWMP_AUTH_ISSUER", "auth.issuer", Kind::Text),
    entry("VWMP_AUTH_AUDIENCE", "auth.audience", Kind::Text),
    entry(
        "VWMP_AUTH_SIGNING_KEY_FILE",
        "auth.signing_key_file",
        Kind::Text,
    ),
    entry(
        "VWMP_AUTH_ACCESS_TOKEN_TTL",
        "auth.access_token_ttl",
        Kind::Text,
    ),
    entry(
        "VWMP_AUTH_REFRESH_TOKEN_TTL",
        "auth.refresh_token_ttl",
        Kind::Text,
    ),
    entry(
        "VWMP_AUTH_SECURE_COOKIES",
        "auth.secure_cookies",
        Kind::Bool,
    ),
    entry("VWMP_ENGINE_PLUGINS_DIR", "engine.plugins_dir", Kind::Text),
    entry(
        "VWMP_ENGINE_PROFILES_DIR",
        "engine.profiles_dir",
        Kind::Text,
    ),
    entry(
        "VWMP_ENGINE_WORKSPACE_ROOT",
        "engine.workspace_root",
        Kind::Text,
    ),
    entry(
        "VWMP_ENGINE_MAX_PARALLEL_STEPS",
        "engine.max_parallel_steps",
        Kind::Integer,
    ),
    entry("VWMP_ENGINE_RUN_AS_UID", "engine.run_as_uid", Kind::Integer),
    entry("VWMP_ENGINE_RUN_AS_GID", "engine.run_as_gid", Kind::Integer),
    entry("VWMP_ENGINE_WORKER_PATH", "engine.worker_path", Kind::Text),
    entry("VWMP_LOGGING_FORMAT", "logging.format", Kind::Text),
    entry("VWMP_LOGGING_LEVEL", "logging.level", Kind::Text),
    entry("VWMP_LOGGING_AUDIT_FILE", "logging.audit_file", Kind::Text),
];

/// Returns the variable that overrides `key`, such as `VWMP_SERVER_LISTEN`
/// for `server.listen`.
pub(crate) fn variable_for(key: &str) -> Option<&'static str> {
    OVERRIDES
        .iter()
        .find(|entry| entry.key == key)
        .map(|entry| entry.variable)
}

/// Lists the names among `names` that look like overrides (they start with
/// `VWMP_` and a section name) but match no setting, so the server can warn
/// about a misspelt variable that would otherwise be ignored.
pub fn unrecognized_variables<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    const SECTION_PREFIXES: [&str; 6] = [
        "VWMP_SERVER_",
        "VWMP_STORAGE_",
        "VWMP_RETENTION_",
        "VWMP_AUTH_",
        "VWMP_ENGINE_",
        "VWMP_LOGGING_",
    ];
    names
        .into_iter()
        .map(|name| name.as_ref().to_string())
        .filter(|name| {
            SECTION_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .filter(|name| OVERRIDES.iter().all(|entry| entry.variable != name))
        .collect()
}

/// Applies every override that `env` returns a value for, and returns the
/// keys it set so errors can name the variable instead of the file.
pub(crate) fn apply_overrides(
    raw: RawConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(RawConfig, BTreeSet<&'static str>), ConfigError> {
    let found: Vec<(Override, String)> = OVERRIDES
        .iter()
        .filter_map(|entry| env(entry.variable).map(|value| (*entry, value)))
        .collect();
    if found.is_empty() {
        return Ok((raw, BTreeSet::new()));
    }

    // The file was already checked with line numbers; going through a TOML
    // table here lets one list of keys cover every field.
    let mut table = toml::Table::try_from(&raw).map_err(|error| ConfigError::RenderToml {
        message: error.to_string(),
    })?;
    let mut keys = BTreeSet::new();
    for (entry, text) in &found {
        let value = convert(entry, text)?;
        let (section, field) = entry.key.split_once('.').unwrap_or((entry.key, ""));
        let section_table = table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(fields) = section_table {
            match value {
                Some(value) => fields.insert(field.to_string(), value),
                None => fields.remove(field),
            };
        }
        keys.insert(entry.key);
    }

    let raw = RawConfig::deserialize(table).map_err(|error| {
        let variables: Vec<&str> = found.iter().map(|(entry, _)| entry.variable).collect();
        ConfigError::ParseEnvironment {
            variable: variables.join(", "),
            reason: error.to_string(),
        }
    })?;
    Ok((raw, keys))
}

/// Converts a variable's text to its TOML value; `None` clears the setting.
fn convert(entry: &Override, text: &str) -> Result<Option<toml::Value>, ConfigError> {
    let invalid = |reason: String| ConfigError::ParseEnvironment {
        variable: entry.variable.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() && entry.kind != Kind::List {
        return Ok(None);
    }
    let value = match entry.kind {
        Kind::Text => toml::Value::String(text.to_string()),
        Kind::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => {
                return Err(invalid(format!(
                    "{text:?} is not a boolean; use true or false"
                )))
            }
        },
        Kind::Integer => match trimmed.parse::<i64>() {
            Ok(number) => toml::Value::Integer(number),
            Err(_) => {
                return Err(invalid(format!(
                    "{text:?} is not an integer; use decimal digits such as 4"
                )))
            }
        },
        Kind::List => toml::Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_string()))
                .collect(),
        ),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn variable_names_follow_keys() {
        for entry in OVERRIDES {
            let expected = format!("VWMP_{}", entry.key.replace('.', "_").to_uppercase());
            assert_eq!(entry.variable, expected);
        }
    }

    #[test]
    fn every_override_applies() {
        for entry in OVERRIDES {
            let value = match entry.kind {
                Kind::Bool => "true",
                Kind::Integer => "7",
                Kind::Text | Kind::List => "x",
            };
            let env = env_of(&[(entry.variable, value)]);
            let (raw, keys) = apply_overrides(RawConfig::default(), &env).unwrap();
            assert_ne!(
                raw,
                RawConfig::default(),
                "{} had no effect",
                entry.variable
            );
            assert!(keys.contains(entry.key), "{} not recorded", entry.variable);
        }
    }

    #[test]
    fn every_field_has_override() {
        let mut raw = RawConfig::from(&crate::config::Config::default_for_local());
        raw.server.tls_cert_file = Some("cert.pem".into());
        raw.server.tls_key_file = Some("key.pem".into());
        raw.server.public_origin = Some("http://127.0.0.1:8080".into());
        raw.engine.worker_path = Some("vwmp-worker".into());
        raw.logging.audit_file = Some("audit.log".into());
        let table = toml::Table::try_from(&raw).unwrap();
        for (section, fields) in &table {
            let fields = fields.as_table().unwrap();
            for field in fields.keys() {
                let key = format!("{section}.{field}");
                assert!(variable_for(&key).is_some(), "no variable for {key}");
            }
        }
    }

    #[test]
    fn bool_parsed() {
        let env = env_of(&[("VWMP_SERVER_TRUSTED_PROXY", "yes")]);
        let (raw, _) = apply_overrides(RawConfig::default(), &env).unwrap();
        assert_eq!(raw.server.trusted_proxy, Some(true));
    }

    #[test]
    fn bad_bool_names_variable() {
        let env = env_of(&[("VWMP_AUTH_SECURE_COOKIES", "maybe")]);
        let error = apply_overrides(RawConfig::default(), &env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid environment variable VWMP_AUTH_SECURE_COOKIES: \"maybe\" is not a boolean; \
             use true or false"
        );
    }

    #[test]
    fn bad_integer_names_variable() {
        let env = env_of(&[("VWMP_ENGINE_RUN_AS_UID", "nobody")]);
        let error = apply_overrides(RawConfig::default(), &env).unwrap_err();
        assert!(
            error.to_string().contains("VWMP_ENGINE_RUN_AS_UID"),
            "{error}"
        );
    }

    #[test]
    fn list_split_on_commas() {
        let env = env_of(&[(
            "VWMP_SERVER_ALLOWED_ORIGINS",
            "https://a.example, https://b.example,",
        )]);
        let (raw, _) = apply_overrides(RawConfig::default(), &env).unwrap();
        assert_eq!(
            raw.server.allowed_origins,
            Some(vec![
                "https://a.example".to_string(),
                "https://b.example".to_string()
            ])
        );
    }

    #[test]
    fn empty_clears_optional() {
        let mut raw = RawConfig::default();
        raw.server.public_origin = Some("https://vwmp.example".into());
        let env = env_of(&[("VWMP_SERVER_PUBLIC_ORIGIN", "")]);
        let (raw, _) = apply_overrides(raw, &env).unwrap();
        assert_eq!(raw.server.public_origin, None);
    }

    #[test]
    fn override_replaces_file_value() {
        let mut raw = RawConfig::default();
        raw.server.listen = Some("127.0.0.1:1".into());
        raw.engine.max_parallel_steps = Some(2);
        let env = env_of(&[("VWMP_SERVER_LISTEN", "127.0.0.1:9000")]);
        let (raw, keys) = apply_overrides(raw, &env).unwrap();
        assert_eq!(raw.server.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(raw.engine.max_parallel_steps, Some(2));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn unrecognized_variables_listed() {
        let names = [
            "VWMP_SERVER_LISTN",
            "VWMP_SERVER_LISTEN",
            "VWMP_WORKER",
            "PATH",
        ];
        assert_eq!(unrecognized_variables(names), vec!["VWMP_SERVER_LISTN"]);
    }
}
