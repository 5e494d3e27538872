//! Messages exchanged between the supervisor and one worker.
//!
//! One enum per direction. A conversation is: the worker sends [`Hello`], the
//! supervisor sends [`StepRequest`], the worker sends `SandboxApplied` or
//! `SandboxFailed`, then any number of `Log` frames, then one `Outcome`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::policy::SandboxPolicy;

/// Largest stdout kept as a step's outputs, in bytes. The outcome carrying it
/// must fit in one control frame (1 MiB) with room for the rest.
pub const MAX_STDOUT_CAPTURE: usize = 512 * 1024;

/// Messages a worker sends to the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerMessage {
    Hello(Hello),
    SandboxApplied(Confinement),
    SandboxFailed(SandboxFailure),
    Log(LogFrame),
    Outcome(StepOutcome),
    /// A failure after confinement that prevented the plugin from running.
    StepError {
        message: String,
    },
}

/// Messages the supervisor sends to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SupervisorMessage {
    StepRequest(Box<StepRequest>),
    /// Version mismatch or other handshake rejection; the worker exits.
    Reject {
        reason: String,
    },
}

/// First frame of every conversation, sent by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol_version: u32,
    pub worker_version: String,
    pub features: KernelFeatures,
}

/// Kernel features the worker detected before confining itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelFeatures {
    /// Landlock ABI version, or 0 when Landlock is unavailable or disabled.
    pub landlock_abi: u32,
    pub seccomp_filter: bool,
    /// Whether the worker runs with effective uid 0.
    pub running_as_root: bool,
    pub kernel_release: String,
}

/// How the plugin's stdout is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdoutMode {
    /// Plugin ABI v1: stdout is empty or one JSON object, the step's outputs.
    CaptureOutputs,
    /// Relay stdout as log frames (used by `vwmp profile run`).
    Stream,
}

/// Everything a worker needs to run one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRequest {
    pub execution_id: String,
    pub step_id: String,
    pub handler: String,
    /// Absolute path of the program to execute.
    pub program: PathBuf,
    /// `sha256:<hex>` of the program, re-checked by the worker before exec.
    pub program_digest: Option<String>,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Bytes written to the plugin's stdin, then EOF. May carry secrets.
    pub stdin: Vec<u8>,
    pub stdout_mode: StdoutMode,
    pub workspace: PathBuf,
    pub plugin_dir: PathBuf,
    pub policy: SandboxPolicy,
}

/// A mandatory confinement layer that could not be applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxFailure {
    /// The layer, for example `landlock` or `namespaces`.
    pub layer: String,
    pub reason: String,
}

/// The confinement that actually holds around the plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Confinement {
    /// Landlock ABI enforced, or `None` when the profile disables Landlock.
    pub landlock_abi: Option<u32>,
    /// Whether Landlock's network rules (ABI 4+) are part of the ruleset.
    pub landlock_network: bool,
    /// Whether Landlock scopes abstract Unix sockets and signals (ABI 6+).
    pub landlock_scoped: bool,
    /// Number of BPF instructions in the seccomp filter, if installed.
    pub seccomp_instructions: Option<u32>,
    /// Namespaces the worker created, such as `pid` or `user`.
    pub namespaces: Vec<String>,
    /// Cgroup path of the step, if one was used.
    pub cgroup: Option<String>,
    /// How processes of the step are killed: `pid-namespace`, `cgroup` or
    /// `process-group` (the last one misses processes that call setsid).
    pub kill_scope: String,
    pub uid: u32,
    pub gid: u32,
    pub no_new_privs: bool,
    pub capabilities_dropped: bool,
    pub rlimits: bool,
}

impl Confinement {
    /// Formats the confinement as one human-readable line.
    pub fn summary(&self) -> String {
        let landlock = match self.landlock_abi {
            Some(abi) => {
                let mut text = format!("landlock v{abi}");
                if self.landlock_network {
                    text.push_str("+net");
                }
                if self.landlock_scoped {
                    text.push_str("+scope");
                }
                text
            }
            None => "landlock off".to_string(),
        };
        let seccomp = match self.seccomp_instructions {
            Some(count) => format!("seccomp {count} insns"),
            None => "seccomp off".to_string(),
        };
        let namespaces = if self.namespaces.is_empty() {
            "no namespaces".to_string()
        } else {
            format!("ns {}", self.namespaces.join(","))
        };
        format!(
            "{landlock}, {seccomp}, {namespaces}, kill by {}, uid {}",
            self.kill_scope, self.uid
        )
    }
}

/// Output stream of a log frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogStream {
    Stdout,
    Stderr,
    /// Messages from the worker itself.
    Worker,
}

/// One line (or a piece of a long line) of plugin output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogFrame {
    pub stream: LogStream,
    pub data: Vec<u8>,
    /// True when `data` is a piece of a longer line that was split.
    pub truncated: bool,
}

/// How the plugin ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

/// Resource usage of the plugin and its descendants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceUsage {
    pub max_rss_kib: u64,
    pub user_cpu_micros: u64,
    pub system_cpu_micros: u64,
}

/// Final report of a step, sent once by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub status: ExitStatus,
    /// Raw stdout captured under [`StdoutMode::CaptureOutputs`], capped.
    pub stdout: Vec<u8>,
    pub usage: ResourceUsage,
    pub stdout_truncated: bool,
    pub log_truncated: bool,
    /// Plain-language hints about denials, such as "blocked by seccomp".
    pub denial_hints: Vec<String>,
}
