//! The resolved sandbox policy: a profile with every variable substituted and
//! the seccomp program compiled, ready for a worker to apply without parsing.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything the worker applies around one plugin run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxPolicy {
    pub profile_name: String,
    /// `sha256:<hex>` of the resolved profile, recorded with every step.
    pub profile_hash: String,
    pub limits: Limits,
    /// `None` disables Landlock (the `trusted` profile).
    pub landlock: Option<LandlockPolicy>,
    pub network: NetworkPolicy,
    /// `None` disables seccomp (the `trusted` profile).
    pub seccomp: Option<SeccompProgram>,
    pub namespaces: NamespacePolicy,
    /// The plugin's complete environment.
    pub environment: Vec<(String, String)>,
    /// User and group to switch to when the worker starts as root.
    pub run_as: RunAs,
}

/// Resource limits. Sizes are bytes, times are seconds; `None` leaves the
/// inherited limit in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock timeout, enforced by the supervisor.
    pub timeout_secs: u64,
    /// Grace period between SIGTERM and SIGKILL on timeout or cancel.
    pub kill_grace_secs: u64,
    /// RLIMIT_AS.
    pub memory_bytes: Option<u64>,
    /// RLIMIT_CPU.
    pub cpu_time_secs: Option<u64>,
    /// RLIMIT_FSIZE.
    pub max_file_size: Option<u64>,
    /// RLIMIT_NOFILE.
    pub max_open_files: Option<u64>,
    /// RLIMIT_NPROC, or cgroup `pids.max` where a cgroup is used.
    pub max_processes: Option<u64>,
    /// Bytes of stdout plus stderr kept per step; the rest is dropped.
    pub max_output_bytes: u64,
    /// Longest log line relayed as one frame; longer lines are split.
    pub max_line_bytes: u32,
}

/// Landlock rules, with paths already resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandlockPolicy {
    /// Weakest kernel Landlock ABI the profile accepts.
    pub min_abi: u32,
    pub read_only: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
    /// Paths from which programs may be executed (implies read).
    pub executable: Vec<PathBuf>,
    /// Missing paths are skipped when true, an error when false.
    pub ignore_missing_paths: bool,
}

/// Network access of the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkPolicy {
    /// No network: Landlock denies TCP, seccomp allows only Unix sockets.
    None,
    /// TCP to and from the listed ports only (Landlock ABI 4+).
    Tcp { connect: Vec<u16>, bind: Vec<u16> },
    /// The host's network, unrestricted.
    Host,
}

/// A compiled classic BPF program for `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompProgram {
    pub instructions: Vec<BpfInstruction>,
    /// Action for calls outside the allowlist, for reporting.
    pub denied_action: DeniedAction,
}

/// One `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpfInstruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// What happens to a syscall that the profile does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeniedAction {
    /// Fail with this errno (EPERM by default).
    Errno(u32),
    /// Kill the process with SIGSYS.
    Kill,
    /// Allow, but log to the kernel audit log.
    Log,
}

/// Whether a namespace is created for the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceMode {
    Off,
    /// Created when the kernel allows; its absence is recorded, not fatal.
    Optional,
    /// The step is refused when the kernel does not allow it.
    Required,
}

/// Namespaces to create for the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespacePolicy {
    pub user: NamespaceMode,
    pub pid: NamespaceMode,
    pub net: NamespaceMode,
    pub ipc: NamespaceMode,
    pub uts: NamespaceMode,
    pub mount: NamespaceMode,
}

/// The unprivileged identity a root-started worker switches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl Default for RunAs {
    fn default() -> Self {
        // `nobody` and `nogroup` on Debian and most distributions.
        Self {
            uid: 65534,
            gid: 65534,
        }
    }
}
