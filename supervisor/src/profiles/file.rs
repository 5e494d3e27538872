//! The profile file format as written on disk, before validation or merging.
//!
//! Every field is optional so that a profile that `extends` another states
//! only what it changes. Unknown fields are errors everywhere, so a typo
//! never silently leaves a default in place.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::ProfileError;
use super::units::Quantity;

/// Largest profile or groups file the loader reads, in bytes. Real files are
/// a few KiB; the cap keeps a mistaken path (a log file, a device) from being
/// read into memory.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One profile file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub filesystem: FilesystemSection,
    #[serde(default)]
    pub landlock: LandlockSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub syscalls: SyscallsSection,
    #[serde(default)]
    pub namespaces: NamespacesSection,
    #[serde(default)]
    pub environment: EnvironmentSection,
}

/// The `[limits]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    pub timeout: Option<Quantity>,
    pub kill_grace: Option<Quantity>,
    pub memory: Option<Quantity>,
    pub cpu_time: Option<Quantity>,
    pub cpus: Option<CpuCount>,
    pub max_file_size: Option<Quantity>,
    pub max_open_files: Option<Quantity>,
    pub max_processes: Option<Quantity>,
    pub max_output: Option<Quantity>,
    pub max_log_line: Option<Quantity>,
}

/// A CPU count, written as an integer or a float.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum CpuCount {
    Integer(i64),
    Float(f64),
}

impl CpuCount {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            // Lossless for any count a validator accepts.
            Self::Integer(count) => count as f64,
            Self::Float(count) => count,
        }
    }
}

/// The `[filesystem]` table: path lists for Landlock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilesystemSection {
    pub read_only: Option<Vec<String>>,
    pub read_write: Option<Vec<String>>,
    pub executable: Option<Vec<String>>,
}

/// The `[landlock]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LandlockSection {
    pub enabled: Option<bool>,
    pub min_abi: Option<i64>,
}

/// The `[network]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkSection {
    pub mode: Option<NetworkMode>,
    pub connect_ports: Option<Vec<i64>>,
    pub bind_ports: Option<Vec<i64>>,
}

/// Network access of a profile, as written in `network.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// No network: Unix sockets only.
    None,
    /// TCP to and from the listed ports (Landlock ABI 4+).
    Tcp,
    /// The host's network, unrestricted.
    Host,
}

/// The `[syscalls]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SyscallsSection {
    pub enabled: Option<bool>,
    pub groups: Option<Vec<String>>,
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
    pub action: Option<SyscallAction>,
    pub errno: Option<ErrnoValue>,
}

/// Action taken on a denied syscall, as written in `syscalls.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyscallAction {
    /// Fail with `syscalls.errno`.
    Errno,
    /// Kill the process with SIGSYS.
    Kill,
    /// Allow and log to the kernel audit log.
    Log,
}

/// An errno, written as a name ("EPERM") or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrnoValue {
    Number(i64),
    Name(String),
}

/// The `[namespaces]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamespacesSection {
    pub user: Option<NamespaceSetting>,
    pub pid: Option<NamespaceSetting>,
    pub net: Option<NamespaceSetting>,
    pub ipc: Option<NamespaceSetting>,
    pub uts: Option<NamespaceSetting>,
    pub mount: Option<NamespaceSetting>,
}

/// Whether a namespace is created, as written in the `[namespaces]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceSetting {
    /// Not created.
    Off,
    /// Created when the kernel allows it.
    Optional,
    /// Created, or the step is refused.
    Required,
}

/// The `[environment]` table: the plugin's complete environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvironmentSection {
    /// Variables to set, merged per name with the parent's.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Names of variables set by a parent profile to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
}

/// Reads a file of at most [`MAX_FILE_BYTES`] into a string.
pub(crate) fn read_capped(path: &Path) -> Result<String, ProfileError> {
    let read_error = |source| ProfileError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    let size = text.len() as u64;
    if size > MAX_FILE_BYTES {
        return Err(ProfileError::FileTooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(text)
}

/// Reads and parses one profile file.
pub(crate) fn read_profile_file(path: &Path) -> Result<ProfileFile, ProfileError> {
    let text = read_capped(path)?;
    parse_profile(path, &text)
}

/// Parses the text of one profile file; `path` is used in errors only.
pub(crate) fn parse_profile(path: &Path, text: &str) -> Result<ProfileFile, ProfileError> {
    toml::from_str(text).map_err(|error| ProfileError::ParseFile {
        path: path.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_unknown_field() {
        let error = parse_profile(Path::new("x.toml"), "[limits]\nmemroy = 5\n").unwrap_err();
        assert!(error.to_string().contains("memroy"), "{error}");
    }

    #[test]
    fn parse_reads_quantities() {
        let file = parse_profile(
            Path::new("x.toml"),
            "[limits]\nmemory = \"1MiB\"\ntimeout = 30\ncpus = 0.5\n",
        )
        .unwrap();
        assert_eq!(file.limits.memory, Some(Quantity::Text("1MiB".into())));
        assert_eq!(file.limits.timeout, Some(Quantity::Integer(30)));
        assert_eq!(file.limits.cpus, Some(CpuCount::Float(0.5)));
    }

    #[test]
    fn parse_rejects_unknown_mode() {
        let error = parse_profile(Path::new("x.toml"), "[network]\nmode = \"udp\"\n").unwrap_err();
        assert!(error.to_string().contains("udp"), "{error}");
    }

    #[test]
    fn read_rejects_large_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let error = read_capped(&path).unwrap_err();
        assert!(
            matches!(error, ProfileError::FileTooLarge { .. }),
            "{error}"
        );
    }
}
