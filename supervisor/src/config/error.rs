//! Errors of loading and checking the configuration, each naming the file or
//! environment variable, the setting and the fix.

use std::fmt;
use std::path::PathBuf;

/// Origin of one setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingSource {
    /// The configuration file at this path.
    File(PathBuf),
    /// The environment variable with this name.
    Environment(String),
    /// The built-in default.
    Default,
}

/// One setting, such as `server.listen`, and where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Section and field, such as `server.listen`.
    pub key: &'static str,
    /// Origin of the value.
    pub source: SettingSource,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            SettingSource::File(path) => write!(f, "`{}` in {}", self.key, path.display()),
            SettingSource::Environment(variable) => {
                write!(f, "environment variable {variable} (`{}`)", self.key)
            }
            SettingSource::Default => write!(f, "default value of `{}`", self.key),
        }
    }
}

/// A configuration that could not be loaded or is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error(
        "failed to read config file {path}: {source}; check that it exists and that this user \
         may read it"
    )]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The configuration file is not valid TOML or has an unknown or
    /// mistyped field.
    #[error("invalid config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },

    /// An environment override could not be applied.
    #[error("invalid environment variable {variable}: {reason}")]
    ParseEnvironment { variable: String, reason: String },

    /// A setting has a value outside what the server accepts.
    #[error("invalid {setting}: {reason}")]
    Validate { setting: Setting, reason: String },

    /// Relative paths could not be resolved because the current directory
    /// is unreadable.
    #[error(
        "failed to read the current directory to resolve relative paths: {source}; start vwmp \
         from an existing directory or use absolute paths"
    )]
    CurrentDirectory {
        #[source]
        source: std::io::Error,
    },

    /// The configuration could not be written as TOML.
    #[error("failed to write the configuration as TOML: {message}")]
    RenderToml { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_names_file_and_key() {
        let setting = Setting {
            key: "server.listen",
            source: SettingSource::File(PathBuf::from("/etc/vwmp/vwmp.toml")),
        };
        assert_eq!(
            setting.to_string(),
            "`server.listen` in /etc/vwmp/vwmp.toml"
        );
    }

    #[test]
    fn setting_names_variable() {
        let setting = Setting {
            key: "server.listen",
            source: SettingSource::Environment("VWMP_SERVER_LISTEN".to_string()),
        };
        assert_eq!(
            setting.to_string(),
            "environment variable VWMP_SERVER_LISTEN (`server.listen`)"
        );
    }
}
