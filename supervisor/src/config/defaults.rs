//! Default values and the bounds that validation applies, each with its
//! reason and unit.

use std::path::{Path, PathBuf};
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Default listen address: loopback only, so a fresh install is not
/// reachable from the network over plain HTTP.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Default request body limit in bytes (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;

/// Minimum body limit in bytes: a login request or a small
/// workflow must still fit.
pub const MIN_BODY_BYTES: u64 = 1 << 10;

/// Maximum body limit in bytes (64 MiB): each request body is held
/// in memory while it is parsed.
pub const MAX_BODY_BYTES: u64 = 64 << 20;

/// State directory when no file, variable or systemd setting names one,
/// relative to the current directory.
pub const DEFAULT_LOCAL_STATE_DIR: &str = "vwmp-state";

/// Variable that systemd sets to the unit's `StateDirectory=`, such as
/// `/var/lib/vwmp`; used as the default state directory when present.
pub const SYSTEMD_STATE_DIRECTORY: &str = "STATE_DIRECTORY";

/// Database file name inside the state directory.
pub const DATABASE_FILE: &str = "vwmp.db";

/// Signing key file name inside the state directory.
pub const SIGNING_KEY_FILE: &str = "jwt-signing.key";

/// Workspace directory name inside the state directory.
pub const WORKSPACES_DIR: &str = "workspaces";

/// Default execution history retention (30 days).
pub const DEFAULT_EXECUTION_RETENTION: Duration = Duration::from_secs(30 * DAY);

/// Default audit event retention (90 days).
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(90 * DAY);

/// Default time between two pruning runs (1 hour).
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(HOUR);

/// Minimum retention (1 hour): anything shorter would delete executions
/// that clients are still reading.
pub const MIN_RETENTION: Duration = Duration::from_secs(HOUR);

/// Maximum retention (100 years), which keeps "now minus retention" a
/// representable timestamp.
pub const MAX_RETENTION: Duration = Duration::from_secs(36_500 * DAY);

/// Minimum pruning interval (1 minute): each run scans the history tables.
pub const MIN_PRUNE_INTERVAL: Duration = Duration::from_secs(MINUTE);

/// Maximum pruning interval (7 days), so retention is applied at least weekly.
pub const MAX_PRUNE_INTERVAL: Duration = Duration::from_secs(7 * DAY);

/// Default JWT issuer (`iss` claim).
pub const DEFAULT_ISSUER: &str = "vwmp";

/// Default JWT audience (`aud` claim).
pub const DEFAULT_AUDIENCE: &str = "vwmp-api";

/// Maximum length of the issuer or audience in characters, because both
/// travel in every token.
pub const MAX_CLAIM_CHARS: usize = 256;

/// Default access token lifetime (15 minutes).
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * MINUTE);

/// Minimum access token lifetime (1 minute); shorter ones expire during
/// ordinary clock skew between hosts.
pub const MIN_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(MINUTE);

/// Maximum access token lifetime (1 hour): an access token cannot be revoked
/// before it expires, so its lifetime bounds the damage of a leaked one.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(HOUR);

/// Default refresh token lifetime (7 days).
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * DAY);

/// Minimum refresh token lifetime (1 hour), which must exceed the longest
/// access token lifetime.
pub const MIN_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(HOUR);

/// Maximum refresh token lifetime (90 days), after which a user signs in
/// again.
pub const MAX_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * DAY);

/// Default number of steps that run at once.
pub const DEFAULT_MAX_PARALLEL_STEPS: usize = 4;

/// Maximum `max_parallel_steps`: each running step uses a worker process, a
/// socket and a workspace, and larger values are usually typos.
pub const MAX_PARALLEL_STEPS: usize = 256;

/// Default user and group id of workers: `nobody`/`nogroup` on common
/// distributions.
pub const DEFAULT_RUN_AS_ID: u32 = 65_534;

/// Id that `setresuid`/`setresgid` read as "leave unchanged" (-1 as u32), so
/// it cannot name a user.
pub const UNCHANGED_ID: u32 = u32::MAX;

/// Default tracing filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Profiles directory of an installed system.
pub const INSTALLED_PROFILES: &str = "/etc/vwmp/profiles";

/// Plugins directory of an installed system.
pub const INSTALLED_PLUGINS: &str = "/var/lib/vwmp/plugins";

/// Finds a VWMP source checkout above the current directory or the running
/// executable, as `vwmp run` does.
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

/// Returns the default plugins directory: `examples/plugins` in a checkout,
/// [`INSTALLED_PLUGINS`] otherwise.
pub fn plugins_dir() -> PathBuf {
    repository_root()
        .map(|root| root.join("examples/plugins"))
        .unwrap_or_else(|| PathBuf::from(INSTALLED_PLUGINS))
}

/// Returns the default profiles directory: `sandbox-profiles` in a checkout,
/// [`INSTALLED_PROFILES`] otherwise.
pub fn profiles_dir() -> PathBuf {
    repository_root()
        .map(|root| root.join("sandbox-profiles"))
        .unwrap_or_else(|| PathBuf::from(INSTALLED_PROFILES))
}

/// Returns the default state directory: the first entry of systemd's
/// `STATE_DIRECTORY` when it is an absolute path, else
/// [`DEFAULT_LOCAL_STATE_DIR`] under `cwd`.
pub(crate) fn state_dir(env: &impl Fn(&str) -> Option<String>, cwd: &Path) -> PathBuf {
    // systemd separates several StateDirectory= entries with colons.
    let systemd = env(SYSTEMD_STATE_DIRECTORY)
        .and_then(|value| value.split(':').next().map(PathBuf::from))
        .filter(|path| path.is_absolute());
    systemd.unwrap_or_else(|| cwd.join(DEFAULT_LOCAL_STATE_DIR))
}
