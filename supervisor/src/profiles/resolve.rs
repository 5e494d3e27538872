//! Resolution of a profile: walk its `extends` chain, merge the layers from
//! the base down, fill in defaults, check rules that span several fields, and
//! compile its seccomp filter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::ProfileError;
use super::file::{NamespaceSetting, NetworkMode, SyscallAction};
use super::groups::SyscallGroups;
use super::layer::{merge, Layer, LANDLOCK_NETWORK_ABI};
use super::resolved::{
    content_hash, FilesystemRules, LandlockSettings, NamespaceSettings, NetworkRules,
    ProfileLimits, ResolvedProfile, SyscallRules,
};
use super::seccomp::{self, is_always_denied, FilterSpec};

/// Longest `extends` chain, counting the profile itself. The shipped
/// profiles use two levels; the cap turns a runaway chain into an error.
pub(crate) const MAX_EXTENDS_DEPTH: usize = 8;

/// Wall-clock timeout when no profile in the chain sets one, in seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// SIGTERM-to-SIGKILL grace period when none is set, in seconds.
const DEFAULT_KILL_GRACE_SECS: u64 = 2;
/// Address-space limit when none is set, in bytes.
const DEFAULT_MEMORY_BYTES: u64 = 512 << 20;
/// CPU cores when none is set.
const DEFAULT_CPUS: f64 = 1.0;
/// File size limit when none is set, in bytes.
const DEFAULT_MAX_FILE_SIZE: u64 = 100 << 20;
/// Output kept per step when none is set, in bytes.
const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1 << 20;
/// Log line limit when none is set, in bytes.
const DEFAULT_MAX_LOG_LINE_BYTES: u32 = 16 << 10;
/// Landlock ABI required when none is set (the first Landlock release).
const DEFAULT_LANDLOCK_ABI: u32 = 1;

/// Finds a profile's layer by name: `Ok(None)` when no such profile exists.
pub(crate) type LayerLookup<'a> = dyn FnMut(&str) -> Result<Option<Layer>, ProfileError> + 'a;

/// Context for the error about a missing parent: the directory and its profiles.
pub(crate) struct ParentContext<'a> {
    pub dir: &'a Path,
    pub available: &'a dyn Fn() -> String,
}

/// Resolves the profile `name` whose own layer is `layer`.
pub(crate) fn resolve(
    name: &str,
    layer: Layer,
    lookup: &mut LayerLookup<'_>,
    parents: &ParentContext<'_>,
    groups: &SyscallGroups,
) -> Result<ResolvedProfile, ProfileError> {
    let leaf_path = layer.path.clone();
    let mut chain = vec![name.to_string()];
    let mut layers = vec![layer];

    while let Some(current) = layers.last() {
        let Some(parent) = current.extends.clone() else {
            break;
        };
        if chain.contains(&parent) {
            chain.push(parent);
            return Err(ProfileError::ExtendsCycle {
                chain: chain.join(" -> "),
            });
        }
        if chain.len() >= MAX_EXTENDS_DEPTH {
            chain.push(parent);
            return Err(ProfileError::ExtendsTooDeep {
                chain: chain.join(" -> "),
                limit: MAX_EXTENDS_DEPTH,
            });
        }
        let child_path = current.path.clone();
        let Some(parent_layer) = lookup(&parent)? else {
            return Err(ProfileError::ParentNotFound {
                path: child_path,
                parent,
                dir: parents.dir.to_path_buf(),
                available: (parents.available)(),
            });
        };
        chain.push(parent);
        layers.push(parent_layer);
    }

    let mut merged: Option<Layer> = None;
    for layer in layers.into_iter().rev() {
        merged = Some(match merged {
            None => layer,
            Some(parent) => merge(parent, layer),
        });
    }
    let merged = merged.unwrap_or_default();
    finalize(name, leaf_path, chain, merged, groups)
}

fn finalize(
    name: &str,
    path: PathBuf,
    chain: Vec<String>,
    layer: Layer,
    groups: &SyscallGroups,
) -> Result<ResolvedProfile, ProfileError> {
    let invalid = |field: &str, message: String| ProfileError::InvalidField {
        path: path.clone(),
        field: field.to_string(),
        message,
    };

    let syscalls = syscall_rules(&layer, groups);
    let limits = ProfileLimits {
        timeout_secs: layer.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS),
        kill_grace_secs: layer.kill_grace.unwrap_or(DEFAULT_KILL_GRACE_SECS),
        memory_bytes: layer.memory.unwrap_or(Some(DEFAULT_MEMORY_BYTES)),
        cpu_time_secs: layer.cpu_time.unwrap_or(None),
        cpus: layer.cpus.unwrap_or(DEFAULT_CPUS),
        max_file_size: layer.max_file_size.unwrap_or(Some(DEFAULT_MAX_FILE_SIZE)),
        max_open_files: layer.max_open_files.unwrap_or(None),
        max_processes: layer.max_processes.unwrap_or(None),
        max_output_bytes: layer.max_output.unwrap_or(DEFAULT_MAX_OUTPUT_BYTES),
        max_log_line_bytes: layer
            .max_log_line
            .and_then(|bytes| u32::try_from(bytes).ok())
            .unwrap_or(DEFAULT_MAX_LOG_LINE_BYTES),
    };
    if limits.kill_grace_secs >= limits.timeout_secs {
        return Err(invalid(
            "limits.kill_grace",
            format!(
                "the grace period of {}s is not shorter than the timeout of {}s; shorten kill_grace",
                limits.kill_grace_secs, limits.timeout_secs
            ),
        ));
    }

    let filesystem = FilesystemRules {
        read_only: layer.read_only.unwrap_or_default(),
        read_write: layer.read_write.unwrap_or_default(),
        executable: layer.executable.unwrap_or_default(),
    };
    let landlock = LandlockSettings {
        enabled: layer.landlock_enabled.unwrap_or(true),
        min_abi: layer.landlock_min_abi.unwrap_or(DEFAULT_LANDLOCK_ABI),
    };

    let network = NetworkRules {
        mode: layer.network_mode.unwrap_or(NetworkMode::None),
        connect_ports: layer.connect_ports.unwrap_or_default(),
        bind_ports: layer.bind_ports.unwrap_or_default(),
    };
    check_network(&network, landlock).map_err(|(field, message)| invalid(field, message))?;

    let namespace_layer = &layer.namespaces;
    let setting = |name: &str, default| namespace_layer.get(name).copied().unwrap_or(default);
    let namespaces = NamespaceSettings {
        user: setting("user", NamespaceSetting::Optional),
        pid: setting("pid", NamespaceSetting::Required),
        net: setting("net", NamespaceSetting::Off),
        ipc: setting("ipc", NamespaceSetting::Off),
        uts: setting("uts", NamespaceSetting::Off),
        mount: setting("mount", NamespaceSetting::Off),
    };
    if network.mode != NetworkMode::None && namespaces.net != NamespaceSetting::Off {
        return Err(invalid(
            "namespaces.net",
            "a new network namespace has no connectivity, so it contradicts network.mode; set namespaces.net = \"off\" or network.mode = \"none\"".into(),
        ));
    }

    check_network_enforced(network.mode, syscalls.enabled, namespaces.net)
        .map_err(|(field, message)| invalid(field, message))?;
    if syscalls.enabled && syscalls.allowed.is_empty() {
        return Err(invalid(
            "syscalls.groups",
            "the filter allows no syscall, so no program could start; add groups such as \"@ordinary\" or set syscalls.enabled = false".into(),
        ));
    }

    let seccomp = if syscalls.enabled {
        let spec = FilterSpec {
            allowed: &syscalls.allowed,
            denied: &syscalls.denied,
            action: syscalls.action,
            errno: syscalls.errno,
            network: network.mode,
        };
        let program = seccomp::compile(&spec).map_err(|message| ProfileError::CompileSeccomp {
            profile: name.to_string(),
            message,
        })?;
        Some(program)
    } else {
        None
    };

    let mut profile = ResolvedProfile {
        name: name.to_string(),
        path,
        chain,
        description: layer.description.unwrap_or_default(),
        limits,
        filesystem,
        landlock,
        network,
        syscalls,
        namespaces,
        environment: layer.environment_set,
        seccomp,
        hash: String::new(),
    };
    profile.hash = content_hash(&profile.canonical_body());
    Ok(profile)
}

fn check_network(
    network: &NetworkRules,
    landlock: LandlockSettings,
) -> Result<(), (&'static str, String)> {
    let has_ports = !network.connect_ports.is_empty() || !network.bind_ports.is_empty();
    match network.mode {
        NetworkMode::Tcp => {
            if !landlock.enabled {
                return Err((
                    "landlock.enabled",
                    "network.mode \"tcp\" is enforced by Landlock; set landlock.enabled = true, or use network.mode = \"host\"".into(),
                ));
            }
            if landlock.min_abi < LANDLOCK_NETWORK_ABI {
                return Err((
                    "landlock.min_abi",
                    format!(
                        "network.mode \"tcp\" needs Landlock ABI {LANDLOCK_NETWORK_ABI} or later for port rules, but min_abi is {}; set landlock.min_abi = {LANDLOCK_NETWORK_ABI}",
                        landlock.min_abi
                    ),
                ));
            }
            if !has_ports {
                return Err((
                    "network.connect_ports",
                    "network.mode \"tcp\" with no ports opens nothing; list ports, or use network.mode = \"none\"".into(),
                ));
            }
        }
        NetworkMode::None | NetworkMode::Host => {
            if has_ports {
                let field = if network.connect_ports.is_empty() {
                    "network.bind_ports"
                } else {
                    "network.connect_ports"
                };
                return Err((
                    field,
                    "ports apply only to network.mode \"tcp\"; remove them or set network.mode = \"tcp\"".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that something enforces a restricted network mode: the seccomp
/// socket rules, or for `none` also a required network namespace.
fn check_network_enforced(
    mode: NetworkMode,
    syscalls_enabled: bool,
    net_namespace: NamespaceSetting,
) -> Result<(), (&'static str, String)> {
    if syscalls_enabled {
        return Ok(());
    }
    match mode {
        NetworkMode::None if net_namespace == NamespaceSetting::Required => Ok(()),
        NetworkMode::None => Err((
            "network.mode",
            "network.mode \"none\" is enforced by the seccomp socket rules or a network namespace; set syscalls.enabled = true or namespaces.net = \"required\", or use network.mode = \"host\"".into(),
        )),
        NetworkMode::Tcp => Err((
            "network.mode",
            "network.mode \"tcp\" relies on the seccomp filter to block UDP and raw sockets; set syscalls.enabled = true, or use network.mode = \"host\"".into(),
        )),
        NetworkMode::Host => Ok(()),
    }
}

fn syscall_rules(layer: &Layer, groups: &SyscallGroups) -> SyscallRules {
    let references = layer.groups.clone().unwrap_or_default();
    let mut allowed: BTreeSet<String> = references
        .iter()
        .filter_map(|reference| groups.get(reference))
        .flat_map(|group| group.syscalls.iter().cloned())
        .collect();
    allowed.extend(layer.allow.iter().flatten().cloned());
    allowed
        .retain(|name| !layer.deny.contains(name) && !is_always_denied(name) && name != "clone3");

    SyscallRules {
        enabled: layer.syscalls_enabled.unwrap_or(true),
        groups: references,
        allowed,
        denied: layer.deny.clone(),
        action: layer.action.unwrap_or(SyscallAction::Errno),
        errno: layer.errno.unwrap_or(libc::EPERM as u32),
    }
}
