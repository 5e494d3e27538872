//! Default locations: the repository's `sandbox-profiles` and
//! `examples/plugins` when run from a checkout, the installed paths otherwise.

use std::path::{Path, PathBuf};

/// Profiles directory of an installed system.
pub const INSTALLED_PROFILES: &str = "/etc/vwmp/profiles";

/// Plugins directory of an installed system.
pub const INSTALLED_PLUGINS: &str = "/var/lib/vwmp/plugins";

/// Finds the repository root from the current directory or the executable.
pub fn repository_root() -> Option<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(dir) = std::env::current_dir() {
        starts.push(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            starts.push(dir.to_path_buf());
        }
    }
    starts.iter().find_map(|start| {
        start
            .ancestors()
            .find(|dir| dir.join("sandbox-profiles").is_dir() && dir.join("Cargo.toml").is_file())
            .map(Path::to_path_buf)
    })
}

/// Returns the profiles directory to use.
pub fn profiles_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| repository_root().map(|root| root.join("sandbox-profiles")))
        .unwrap_or_else(|| PathBuf::from(INSTALLED_PROFILES))
}

/// Returns the plugins directory to use.
pub fn plugins_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| repository_root().map(|root| root.join("examples/plugins")))
        .unwrap_or_else(|| PathBuf::from(INSTALLED_PLUGINS))
}

/// Returns the directory under which executions get their workspaces.
pub fn workspace_root(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| std::env::temp_dir().join("vwmp-workspaces"))
}

/// Returns the worker binary, next to `vwmp` or as VWMP_WORKER says.
pub fn worker_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("VWMP_WORKER") {
        return Ok(PathBuf::from(path));
    }
    crate::launcher::find_worker_binary().ok_or_else(|| {
        "vwmp-worker was not found next to vwmp; build both with `cargo build --release` or set \
         VWMP_WORKER to its path"
            .to_string()
    })
}

/// Creates an execution id that is unique on this machine.
pub fn execution_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("run-{:x}-{:x}", nanos, std::process::id())
}
