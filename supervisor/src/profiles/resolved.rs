//! A profile after `extends` is merged, defaults are filled in and every value
//! is validated; its canonical TOML form and content hash.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vwmp_protocol::{Limits, NamespaceMode, NamespacePolicy, SeccompProgram};

use super::file::{
    CpuCount, EnvironmentSection, ErrnoValue, FilesystemSection, LandlockSection, LimitsSection,
    NamespaceSetting, NamespacesSection, NetworkMode, NetworkSection, ProfileFile, SyscallAction,
    SyscallsSection,
};
use super::units::{format_duration, format_size, Quantity, UNLIMITED};

/// Resource limits of a resolved profile. Sizes are bytes, times seconds;
/// `None` leaves the limit the worker inherits in place.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileLimits {
    /// Wall-clock timeout, enforced by the supervisor.
    pub timeout_secs: u64,
    /// Grace period between SIGTERM and SIGKILL on timeout or cancel.
    pub kill_grace_secs: u64,
    /// RLIMIT_AS, and cgroup `memory.max` where a cgroup exists.
    pub memory_bytes: Option<u64>,
    /// RLIMIT_CPU.
    pub cpu_time_secs: Option<u64>,
    /// CPU cores for cgroup `cpu.max` where a cgroup exists.
    pub cpus: f64,
    /// RLIMIT_FSIZE.
    pub max_file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub max_open_files: Option<u64>,
    /// cgroup `pids.max`, or RLIMIT_NPROC without a cgroup.
    pub max_processes: Option<u64>,
    /// Bytes of stdout plus stderr kept per step.
    pub max_output_bytes: u64,
    /// Maximum log line relayed as one frame; longer lines are split.
    pub max_log_line_bytes: u32,
}

impl ProfileLimits {
    /// Converts the limits into the form a worker applies.
    pub fn to_policy(&self) -> Limits {
        Limits {
            timeout_secs: self.timeout_secs,
            kill_grace_secs: self.kill_grace_secs,
            memory_bytes: self.memory_bytes,
            cpu_time_secs: self.cpu_time_secs,
            max_file_size: self.max_file_size,
            max_open_files: self.max_open_files,
            max_processes: self.max_processes,
            max_output_bytes: self.max_output_bytes,
            max_line_bytes: self.max_log_line_bytes,
        }
    }
}

/// Landlock path lists, as templates that may start with `${workspace}` or
/// `${plugin_dir}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesystemRules {
    pub read_only: Vec<String>,
    pub read_write: Vec<String>,
    /// Paths from which programs may be executed; implies read.
    pub executable: Vec<String>,
}

/// Whether Landlock applies and the weakest kernel ABI the profile accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandlockSettings {
    pub enabled: bool,
    pub min_abi: u32,
}

/// Network mode and the TCP ports it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub mode: NetworkMode,
    /// Sorted TCP ports the plugin may connect to (mode `tcp`).
    pub connect_ports: Vec<u16>,
    /// Sorted TCP ports the plugin may bind (mode `tcp`).
    pub bind_ports: Vec<u16>,
}

/// Syscall filter settings, with groups expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRules {
    pub enabled: bool,
    /// Group references as written, such as `@basic-io`.
    pub groups: Vec<String>,
    /// Syscalls the filter allows: the groups' members and `allow`, minus
    /// `deny` and the always-denied list.
    pub allowed: BTreeSet<String>,
    /// The accumulated deny lists of the profile and its parents.
    pub denied: BTreeSet<String>,
    pub action: SyscallAction,
    /// Errno of denied calls under `errno`, and of hard denials under `log`.
    pub errno: u32,
}

/// Namespace settings of a resolved profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceSettings {
    pub user: NamespaceSetting,
    pub pid: NamespaceSetting,
    pub net: NamespaceSetting,
    pub ipc: NamespaceSetting,
    pub uts: NamespaceSetting,
    pub mount: NamespaceSetting,
}

impl NamespaceSettings {
    /// Returns each namespace's name with its setting.
    pub fn entries(&self) -> [(&'static str, NamespaceSetting); 6] {
        [
            ("user", self.user),
            ("pid", self.pid),
            ("net", self.net),
            ("ipc", self.ipc),
            ("uts", self.uts),
            ("mount", self.mount),
        ]
    }

    /// Converts the settings into the form a worker applies.
    pub fn to_policy(&self) -> NamespacePolicy {
        let mode = |setting| match setting {
            NamespaceSetting::Off => NamespaceMode::Off,
            NamespaceSetting::Optional => NamespaceMode::Optional,
            NamespaceSetting::Required => NamespaceMode::Required,
        };
        NamespacePolicy {
            user: mode(self.user),
            pid: mode(self.pid),
            net: mode(self.net),
            ipc: mode(self.ipc),
            uts: mode(self.uts),
            mount: mode(self.mount),
        }
    }
}

/// A sandbox profile with its `extends` chain merged and every value checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedProfile {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    /// This profile's name, then its parent's, up to the base profile.
    pub(crate) chain: Vec<String>,
    pub(crate) description: String,
    pub(crate) limits: ProfileLimits,
    pub(crate) filesystem: FilesystemRules,
    pub(crate) landlock: LandlockSettings,
    pub(crate) network: NetworkRules,
    pub(crate) syscalls: SyscallRules,
    pub(crate) namespaces: NamespaceSettings,
    /// The plugin's complete environment, values still with variables.
    pub(crate) environment: BTreeMap<String, String>,
    /// Compiled once when the profile is loaded; `None` when syscalls are off.
    pub(crate) seccomp: Option<SeccompProgram>,
    /// `sha256:<hex>` of [`Self::canonical_body`].
    pub(crate) hash: String,
}

/// Known errno names for `syscalls.errno`, with their Linux values.
pub(crate) const ERRNO_NAMES: &[(&str, u32)] = &[
    ("EPERM", libc::EPERM as u32),
    ("EACCES", libc::EACCES as u32),
    ("EINVAL", libc::EINVAL as u32),
    ("ENOSYS", libc::ENOSYS as u32),
    ("EOPNOTSUPP", libc::EOPNOTSUPP as u32),
    ("ENOTSUP", libc::ENOTSUP as u32),
];

impl ResolvedProfile {
    /// Returns the profile's name, which is its file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the file the profile was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns this profile's name followed by each profile it extends.
    pub fn chain(&self) -> &[String] {
        &self.chain
    }

    /// Returns the profile's description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Returns the resource limits.
    pub fn limits(&self) -> &ProfileLimits {
        &self.limits
    }

    /// Returns the Landlock path lists.
    pub fn filesystem(&self) -> &FilesystemRules {
        &self.filesystem
    }

    /// Returns whether Landlock applies and its minimum ABI.
    pub fn landlock(&self) -> LandlockSettings {
        self.landlock
    }

    /// Returns the network mode and ports.
    pub fn network(&self) -> &NetworkRules {
        &self.network
    }

    /// Returns the syscall filter settings.
    pub fn syscalls(&self) -> &SyscallRules {
        &self.syscalls
    }

    /// Returns the namespace settings.
    pub fn namespaces(&self) -> NamespaceSettings {
        self.namespaces
    }

    /// Returns the environment, values still containing variables.
    pub fn environment(&self) -> &BTreeMap<String, String> {
        &self.environment
    }

    /// Returns the compiled seccomp program, `None` when syscalls are off.
    pub fn seccomp(&self) -> Option<&SeccompProgram> {
        self.seccomp.as_ref()
    }

    /// Returns `sha256:<hex>` of the canonical resolved TOML.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Renders the resolved profile as TOML for `vwmp profile show`: a comment
    /// header, then the canonical body, which is itself a valid profile file
    /// that resolves to the same rules.
    pub fn to_toml(&self) -> String {
        let origin = if self.chain.len() > 1 {
            self.chain.join(" extends ")
        } else {
            "extends no other profile".to_string()
        };
        let mut text = format!(
            "# Resolved sandbox profile \"{}\" ({origin}).\n\
             # Every field is explicit; `syscalls.allow` lists every syscall the groups grant.\n\
             # {}\n\n",
            self.name, self.hash,
        );
        text.push_str(&self.canonical_body());
        text
    }

    /// Renders the canonical TOML body that the content hash covers.
    pub(crate) fn canonical_body(&self) -> String {
        let file = self.to_file();
        match toml::to_string_pretty(&file) {
            Ok(text) => text,
            // A ProfileFile contains only strings, integers, floats, booleans,
            // arrays and tables, which TOML can express, so this branch is not
            // expected to run. The round-trip test renders every profile.
            Err(error) => format!("# failed to render the profile as TOML: {error}\n"),
        }
    }

    fn to_file(&self) -> ProfileFile {
        let size = |bytes: u64| Quantity::Text(format_size(bytes));
        let optional_size =
            |bytes: Option<u64>| Some(bytes.map_or_else(|| Quantity::Text(UNLIMITED.into()), size));
        let count = |value: Option<u64>| {
            Some(value.map_or_else(
                || Quantity::Text(UNLIMITED.into()),
                |value| Quantity::Integer(i64::try_from(value).unwrap_or(i64::MAX)),
            ))
        };
        let duration = |seconds: u64| Quantity::Text(format_duration(seconds));
        let ports = |ports: &[u16]| Some(ports.iter().map(|port| i64::from(*port)).collect());
        let errno = match ERRNO_NAMES
            .iter()
            .find(|(_, value)| *value == self.syscalls.errno)
        {
            Some((name, _)) => ErrnoValue::Name((*name).to_string()),
            None => ErrnoValue::Number(i64::from(self.syscalls.errno)),
        };
        let limits = &self.limits;

        ProfileFile {
            extends: None,
            description: Some(self.description.clone()),
            limits: LimitsSection {
                timeout: Some(duration(limits.timeout_secs)),
                kill_grace: Some(duration(limits.kill_grace_secs)),
                memory: optional_size(limits.memory_bytes),
                cpu_time: Some(
                    limits
                        .cpu_time_secs
                        .map_or_else(|| Quantity::Text(UNLIMITED.into()), duration),
                ),
                cpus: Some(CpuCount::Float(limits.cpus)),
                max_file_size: optional_size(limits.max_file_size),
                max_open_files: count(limits.max_open_files),
                max_processes: count(limits.max_processes),
                max_output: Some(size(limits.max_output_bytes)),
                max_log_line: Some(size(u64::from(limits.max_log_line_bytes))),
            },
            filesystem: FilesystemSection {
                read_only: Some(self.filesystem.read_only.clone()),
                read_write: Some(self.filesystem.read_write.clone()),
                executable: Some(self.filesystem.executable.clone()),
            },
            landlock: LandlockSection {
                enabled: Some(self.landlock.enabled),
                min_abi: Some(i64::from(self.landlock.min_abi)),
            },
            network: NetworkSection {
                mode: Some(self.network.mode),
                connect_ports: ports(&self.network.connect_ports),
                bind_ports: ports(&self.network.bind_ports),
            },
            syscalls: SyscallsSection {
                enabled: Some(self.syscalls.enabled),
                groups: Some(self.syscalls.groups.clone()),
                allow: Some(self.syscalls.allowed.iter().cloned().collect()),
                deny: Some(self.syscalls.denied.iter().cloned().collect()),
                action: Some(self.syscalls.action),
                errno: Some(errno),
            },
            namespaces: NamespacesSection {
                user: Some(self.namespaces.user),
                pid: Some(self.namespaces.pid),
                net: Some(self.namespaces.net),
                ipc: Some(self.namespaces.ipc),
                uts: Some(self.namespaces.uts),
                mount: Some(self.namespaces.mount),
            },
            environment: EnvironmentSection {
                set: self.environment.clone(),
                unset: Vec::new(),
            },
        }
    }
}

/// Returns `sha256:<hex>` of `text`.
pub(crate) fn content_hash(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}
