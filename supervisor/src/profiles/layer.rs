//! One profile file checked value by value, and the merge of a child file
//! over its parent.
//!
//! Merge rules: a scalar set in the child replaces the parent's, and tables
//! merge field by field. A list set in the child replaces the parent's list
//! whole. The exception is `syscalls.deny`, which accumulates, so a child can
//! never remove a parent's denial. `environment.set` merges per variable and
//! `environment.unset` removes variables a parent set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::ProfileError;
use super::file::{ErrnoValue, NamespaceSetting, NetworkMode, ProfileFile, SyscallAction};
use super::groups::SyscallGroups;
use super::paths::{check_variables, normalize_path_template};
use super::resolved::ERRNO_NAMES;
use super::seccomp::is_always_denied;
use super::syscall_table;
use super::units::{is_unlimited, parse_duration, parse_size, Quantity};

/// Maximum length of a profile name, in bytes.
const MAX_PROFILE_NAME_BYTES: usize = 64;
/// Maximum length of a description, in characters: one paragraph for
/// `vwmp profile show`.
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Shortest wall-clock timeout, in seconds: below it no plugin starts.
pub(crate) const MIN_TIMEOUT_SECS: u64 = 1;
/// Maximum wall-clock timeout, in seconds (one day). Longer work belongs in a
/// job system, not a workflow step.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 86_400;
/// Longest SIGTERM-to-SIGKILL grace period, in seconds.
pub(crate) const MAX_KILL_GRACE_SECS: u64 = 300;
/// Smallest address-space limit, in bytes: the C library, a dynamic loader
/// and a small interpreter need about this much to start.
pub(crate) const MIN_MEMORY_BYTES: u64 = 16 << 20;
/// Largest address-space limit, in bytes (1 TiB).
pub(crate) const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// Largest CPU time limit, in seconds (one week of CPU across threads).
pub(crate) const MAX_CPU_TIME_SECS: u64 = 604_800;
/// Largest CPU count for cgroup `cpu.max`.
pub(crate) const MAX_CPUS: f64 = 1024.0;
/// Smallest CPU count: one percent of a core, the cgroup v2 granularity that
/// still lets a process make progress.
pub(crate) const MIN_CPUS: f64 = 0.01;
/// Largest file size limit, in bytes (1 TiB).
pub(crate) const MAX_FILE_SIZE_BYTES: u64 = 1 << 40;
/// Minimum open-file limit: stdin, stdout, stderr, the program and its
/// libraries need about this many.
pub(crate) const MIN_OPEN_FILES: u64 = 16;
/// Most open files: Linux's default `fs.nr_open`.
pub(crate) const MAX_OPEN_FILES: u64 = 1 << 20;
/// Most processes and threads of one step.
pub(crate) const MAX_PROCESSES: u64 = 65_536;
/// Maximum output kept per step, in bytes, because the supervisor keeps it in
/// memory and stores it with the step.
pub(crate) const MAX_OUTPUT_BYTES: u64 = 64 << 20;
/// Shortest log line limit, in bytes.
pub(crate) const MIN_LOG_LINE_BYTES: u64 = 256;
/// Maximum log line limit, in bytes, because a line travels in one control
/// frame, which is capped at 1 MiB.
pub(crate) const MAX_LOG_LINE_BYTES: u64 = 256 << 10;
/// Newest Landlock ABI this release accepts in `min_abi` (ABI 7, Linux 6.15).
pub(crate) const MAX_LANDLOCK_ABI: u32 = 7;
/// Landlock ABI that added TCP bind and connect rules (Linux 6.7).
pub(crate) const LANDLOCK_NETWORK_ABI: u32 = 4;
/// Maximum number of ports in one port list.
const MAX_PORTS: usize = 64;
/// Maximum number of paths in one path list.
const MAX_PATHS: usize = 256;
/// Maximum number of names in one syscall or group list.
const MAX_SYSCALL_NAMES: usize = 1024;
/// Most environment variables.
const MAX_ENV_VARIABLES: usize = 256;
/// Maximum length of an environment variable name, in bytes.
const MAX_ENV_NAME_BYTES: usize = 256;
/// Maximum length of an environment variable value, in bytes.
const MAX_ENV_VALUE_BYTES: usize = 32 << 10;
/// Largest errno a seccomp filter can return (MAX_ERRNO in the kernel).
const MAX_ERRNO: i64 = 4095;

/// A limit that a file sets: to a value or to `unlimited`.
pub(crate) type OptionalLimit = Option<Option<u64>>;

/// One profile file with every value parsed and checked. `None` means the
/// file does not set the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Layer {
    pub path: PathBuf,
    pub extends: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<u64>,
    pub kill_grace: Option<u64>,
    pub memory: OptionalLimit,
    pub cpu_time: OptionalLimit,
    pub cpus: Option<f64>,
    pub max_file_size: OptionalLimit,
    pub max_open_files: OptionalLimit,
    pub max_processes: OptionalLimit,
    pub max_output: Option<u64>,
    pub max_log_line: Option<u64>,
    pub read_only: Option<Vec<String>>,
    pub read_write: Option<Vec<String>>,
    pub executable: Option<Vec<String>>,
    pub landlock_enabled: Option<bool>,
    pub landlock_min_abi: Option<u32>,
    pub network_mode: Option<NetworkMode>,
    pub connect_ports: Option<Vec<u16>>,
    pub bind_ports: Option<Vec<u16>>,
    pub syscalls_enabled: Option<bool>,
    pub groups: Option<Vec<String>>,
    pub allow: Option<Vec<String>>,
    pub deny: BTreeSet<String>,
    pub action: Option<SyscallAction>,
    pub errno: Option<u32>,
    pub namespaces: BTreeMap<&'static str, NamespaceSetting>,
    pub environment_set: BTreeMap<String, String>,
    pub environment_unset: Vec<String>,
}

/// Returns whether `name` is a valid profile name: `^[a-z][a-z0-9_-]{0,63}$`.
pub fn is_valid_profile_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|first| first.is_ascii_lowercase());
    starts_with_letter
        && name.len() <= MAX_PROFILE_NAME_BYTES
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Formats the error message for an invalid profile name.
pub(crate) fn profile_name_hint(name: &str) -> String {
    format!(
        "invalid profile name {name:?}; use lowercase letters, digits, '_' and '-', starting with a letter, at most 64 bytes"
    )
}

/// Checks every value of one file and converts it into a [`Layer`].
pub(crate) fn layer_from_file(
    path: &Path,
    file: &ProfileFile,
    groups: &SyscallGroups,
) -> Result<Layer, ProfileError> {
    let invalid = |field: &str, message: String| ProfileError::InvalidField {
        path: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let mut layer = Layer {
        path: path.to_path_buf(),
        ..Layer::default()
    };

    if let Some(parent) = &file.extends {
        if !is_valid_profile_name(parent) {
            return Err(invalid("extends", profile_name_hint(parent)));
        }
        layer.extends = Some(parent.clone());
    }
    if let Some(description) = &file.description {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(invalid(
                "description",
                format!("longer than {MAX_DESCRIPTION_CHARS} characters; shorten it"),
            ));
        }
        layer.description = Some(description.clone());
    }

    read_limits(file, &mut layer).map_err(|(field, message)| invalid(field, message))?;
    read_filesystem(file, &mut layer).map_err(|(field, message)| invalid(field, message))?;
    read_network(file, &mut layer).map_err(|(field, message)| invalid(field, message))?;
    read_syscalls(file, groups, &mut layer).map_err(|(field, message)| invalid(field, message))?;
    read_environment(file, &mut layer).map_err(|(field, message)| invalid(field, message))?;

    if let Some(min_abi) = file.landlock.min_abi {
        let abi = u32::try_from(min_abi)
            .ok()
            .filter(|abi| (1..=MAX_LANDLOCK_ABI).contains(abi))
            .ok_or_else(|| {
                invalid(
                    "landlock.min_abi",
                    format!(
                        "invalid ABI {min_abi}; use a Landlock ABI from 1 to {MAX_LANDLOCK_ABI}"
                    ),
                )
            })?;
        layer.landlock_min_abi = Some(abi);
    }
    layer.landlock_enabled = file.landlock.enabled;

    let namespaces = &file.namespaces;
    let settings = [
        ("user", namespaces.user),
        ("pid", namespaces.pid),
        ("net", namespaces.net),
        ("ipc", namespaces.ipc),
        ("uts", namespaces.uts),
        ("mount", namespaces.mount),
    ];
    for (name, setting) in settings {
        if let Some(setting) = setting {
            layer.namespaces.insert(name, setting);
        }
    }
    Ok(layer)
}

type FieldError = (&'static str, String);

fn bounded(
    field: &'static str,
    value: u64,
    min: u64,
    max: u64,
    show: fn(u64) -> String,
) -> Result<u64, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err((
            field,
            format!(
                "{} is out of range; use a value from {} to {}",
                show(value),
                show(min),
                show(max)
            ),
        ))
    }
}

fn show_size(bytes: u64) -> String {
    super::units::format_size(bytes)
}

fn show_duration(seconds: u64) -> String {
    super::units::format_duration(seconds)
}

fn show_count(count: u64) -> String {
    count.to_string()
}

/// Parses an optional limit that may be `unlimited`.
fn optional_limit(
    field: &'static str,
    value: Option<&Quantity>,
    parse: fn(&Quantity) -> Result<u64, String>,
    range: (u64, u64),
    show: fn(u64) -> String,
) -> Result<OptionalLimit, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if is_unlimited(value) {
        return Ok(Some(None));
    }
    let parsed = parse(value).map_err(|message| (field, message))?;
    bounded(field, parsed, range.0, range.1, show).map(|value| Some(Some(value)))
}

fn required_limit(
    field: &'static str,
    value: Option<&Quantity>,
    parse: fn(&Quantity) -> Result<u64, String>,
    range: (u64, u64),
    show: fn(u64) -> String,
) -> Result<Option<u64>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if is_unlimited(value) {
        return Err((field, "this limit cannot be unlimited; give a value".into()));
    }
    let parsed = parse(value).map_err(|message| (field, message))?;
    bounded(field, parsed, range.0, range.1, show).map(Some)
}

fn parse_count(value: &Quantity) -> Result<u64, String> {
    match value {
        Quantity::Integer(number) => u64::try_from(*number)
            .map_err(|_| format!("invalid count {number}; use a positive integer")),
        Quantity::Text(text) => Err(format!(
            "invalid count {text:?}; use a positive integer or \"unlimited\""
        )),
    }
}

fn read_limits(file: &ProfileFile, layer: &mut Layer) -> Result<(), FieldError> {
    let limits = &file.limits;
    layer.timeout = required_limit(
        "limits.timeout",
        limits.timeout.as_ref(),
        parse_duration,
        (MIN_TIMEOUT_SECS, MAX_TIMEOUT_SECS),
        show_duration,
    )?;
    layer.kill_grace = required_limit(
        "limits.kill_grace",
        limits.kill_grace.as_ref(),
        parse_duration,
        (0, MAX_KILL_GRACE_SECS),
        show_duration,
    )?;

    layer.memory = optional_limit(
        "limits.memory",
        limits.memory.as_ref(),
        parse_size,
        (MIN_MEMORY_BYTES, MAX_MEMORY_BYTES),
        show_size,
    )?;

    layer.cpu_time = optional_limit(
        "limits.cpu_time",
        limits.cpu_time.as_ref(),
        parse_duration,
        (1, MAX_CPU_TIME_SECS),
        show_duration,
    )?;

    layer.max_file_size = optional_limit(
        "limits.max_file_size",
        limits.max_file_size.as_ref(),
        parse_size,
        (0, MAX_FILE_SIZE_BYTES),
        show_size,
    )?;

    layer.max_open_files = optional_limit(
        "limits.max_open_files",
        limits.max_open_files.as_ref(),
        parse_count,
        (MIN_OPEN_FILES, MAX_OPEN_FILES),
        show_count,
    )?;
    layer.max_processes = optional_limit(
        "limits.max_processes",
        limits.max_processes.as_ref(),
        parse_count,
        (1, MAX_PROCESSES),
        show_count,
    )?;

    layer.max_output = required_limit(
        "limits.max_output",
        limits.max_output.as_ref(),
        parse_size,
        (0, MAX_OUTPUT_BYTES),
        show_size,
    )?;
    layer.max_log_line = required_limit(
        "limits.max_log_line",
        limits.max_log_line.as_ref(),
        parse_size,
        (MIN_LOG_LINE_BYTES, MAX_LOG_LINE_BYTES),
        show_size,
    )?;

    if let Some(cpus) = limits.cpus {
        let cpus = cpus.as_f64();
        if !(MIN_CPUS..=MAX_CPUS).contains(&cpus) {
            return Err((
                "limits.cpus",
                format!(
                    "{cpus} is out of range; use a number of cores from {MIN_CPUS} to {MAX_CPUS}"
                ),
            ));
        }
        layer.cpus = Some(cpus);
    }
    Ok(())
}

fn path_list(
    field: &'static str,
    paths: Option<&Vec<String>>,
) -> Result<Option<Vec<String>>, FieldError> {
    let Some(paths) = paths else {
        return Ok(None);
    };
    if paths.len() > MAX_PATHS {
        return Err((
            field,
            format!("more than {MAX_PATHS} paths; use fewer, broader paths"),
        ));
    }
    let mut normalized = Vec::with_capacity(paths.len());
    for path in paths {
        let path = normalize_path_template(path).map_err(|message| (field, message))?;
        if !normalized.contains(&path) {
            normalized.push(path);
        }
    }
    Ok(Some(normalized))
}

fn read_filesystem(file: &ProfileFile, layer: &mut Layer) -> Result<(), FieldError> {
    let filesystem = &file.filesystem;
    layer.read_only = path_list("filesystem.read_only", filesystem.read_only.as_ref())?;
    layer.read_write = path_list("filesystem.read_write", filesystem.read_write.as_ref())?;
    layer.executable = path_list("filesystem.executable", filesystem.executable.as_ref())?;
    Ok(())
}

fn port_list(
    field: &'static str,
    ports: Option<&Vec<i64>>,
) -> Result<Option<Vec<u16>>, FieldError> {
    let Some(ports) = ports else {
        return Ok(None);
    };
    if ports.len() > MAX_PORTS {
        return Err((
            field,
            format!("more than {MAX_PORTS} ports; use fewer ports"),
        ));
    }
    let mut parsed = BTreeSet::new();
    for port in ports {
        let port = u16::try_from(*port)
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| {
                (
                    field,
                    format!("invalid port {port}; use a TCP port from 1 to 65535"),
                )
            })?;
        parsed.insert(port);
    }
    Ok(Some(parsed.into_iter().collect()))
}

fn read_network(file: &ProfileFile, layer: &mut Layer) -> Result<(), FieldError> {
    layer.network_mode = file.network.mode;
    layer.connect_ports = port_list("network.connect_ports", file.network.connect_ports.as_ref())?;
    layer.bind_ports = port_list("network.bind_ports", file.network.bind_ports.as_ref())?;
    Ok(())
}

fn syscall_list(
    field: &'static str,
    names: Option<&Vec<String>>,
    reject_always_denied: bool,
) -> Result<Option<Vec<String>>, FieldError> {
    let Some(names) = names else {
        return Ok(None);
    };
    if names.len() > MAX_SYSCALL_NAMES {
        return Err((
            field,
            format!("more than {MAX_SYSCALL_NAMES} names; use groups"),
        ));
    }
    for name in names {
        if !syscall_table::is_known(name) {
            let hint = if name.starts_with('@') {
                "; list groups in syscalls.groups"
            } else {
                "; use a Linux syscall name as listed in syscalls(2)"
            };
            return Err((field, format!("unknown syscall {name:?}{hint}")));
        }
        if reject_always_denied && is_always_denied(name) {
            return Err((
                field,
                format!("{name:?} is denied by every filter and cannot be allowed; remove it"),
            ));
        }
    }
    let unique: BTreeSet<_> = names.iter().cloned().collect();
    Ok(Some(unique.into_iter().collect()))
}

fn read_syscalls(
    file: &ProfileFile,
    groups: &SyscallGroups,
    layer: &mut Layer,
) -> Result<(), FieldError> {
    let syscalls = &file.syscalls;
    layer.syscalls_enabled = syscalls.enabled;
    layer.action = syscalls.action;

    if let Some(references) = &syscalls.groups {
        if references.len() > MAX_SYSCALL_NAMES {
            return Err((
                "syscalls.groups",
                format!("more than {MAX_SYSCALL_NAMES} groups"),
            ));
        }
        for reference in references {
            if groups.get(reference).is_none() {
                return Err((
                    "syscalls.groups",
                    format!(
                        "unknown group {reference:?}; known groups: {}",
                        groups.references().join(", ")
                    ),
                ));
            }
        }
        let mut unique: Vec<String> = Vec::with_capacity(references.len());
        for reference in references {
            if !unique.contains(reference) {
                unique.push(reference.clone());
            }
        }
        layer.groups = Some(unique);
    }
    layer.allow = syscall_list("syscalls.allow", syscalls.allow.as_ref(), true)?;
    layer.deny = syscall_list("syscalls.deny", syscalls.deny.as_ref(), false)?
        .unwrap_or_default()
        .into_iter()
        .collect();

    if let Some(errno) = &syscalls.errno {
        let value = match errno {
            ErrnoValue::Number(number) if (1..=MAX_ERRNO).contains(number) => {
                u32::try_from(*number).ok()
            }
            ErrnoValue::Number(_) => None,
            ErrnoValue::Name(name) => ERRNO_NAMES
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| *value),
        };
        let names: Vec<_> = ERRNO_NAMES.iter().map(|(name, _)| *name).collect();
        let value = value.ok_or_else(|| {
            (
                "syscalls.errno",
                format!(
                    "invalid errno {errno:?}; use one of {} or a number from 1 to {MAX_ERRNO}",
                    names.join(", ")
                ),
            )
        })?;
        layer.errno = Some(value);
    }
    Ok(())
}

fn is_valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_');
    valid_start
        && name.len() <= MAX_ENV_NAME_BYTES
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn read_environment(file: &ProfileFile, layer: &mut Layer) -> Result<(), FieldError> {
    let environment = &file.environment;
    if environment.set.len() > MAX_ENV_VARIABLES {
        return Err((
            "environment.set",
            format!("more than {MAX_ENV_VARIABLES} variables; set fewer"),
        ));
    }
    let name_hint = |name: &str| {
        format!("invalid variable name {name:?}; use letters, digits and '_', not starting with a digit")
    };
    for (name, value) in &environment.set {
        if !is_valid_env_name(name) {
            return Err(("environment.set", name_hint(name)));
        }
        if value.contains('\0') {
            return Err((
                "environment.set",
                format!("{name}: the value contains a NUL byte; remove it"),
            ));
        }
        if value.len() > MAX_ENV_VALUE_BYTES {
            return Err((
                "environment.set",
                format!("{name}: the value is longer than {MAX_ENV_VALUE_BYTES} bytes; shorten it"),
            ));
        }
        check_variables(value)
            .map_err(|message| ("environment.set", format!("{name}: {message}")))?;
    }
    for name in &environment.unset {
        if !is_valid_env_name(name) {
            return Err(("environment.unset", name_hint(name)));
        }
    }
    layer.environment_set = environment.set.clone();
    layer.environment_unset = environment.unset.clone();
    Ok(())
}

/// Merges `child` over `parent` (see the module docs for the rules). The
/// result keeps the child's path and `extends`.
pub(crate) fn merge(parent: Layer, child: Layer) -> Layer {
    let mut namespaces = parent.namespaces;
    namespaces.extend(child.namespaces);

    let mut environment_set = parent.environment_set;
    for name in &child.environment_unset {
        environment_set.remove(name);
    }
    environment_set.extend(child.environment_set);

    let mut deny = parent.deny;
    deny.extend(child.deny);

    Layer {
        path: child.path,
        extends: child.extends,
        description: child.description.or(parent.description),
        timeout: child.timeout.or(parent.timeout),
        kill_grace: child.kill_grace.or(parent.kill_grace),
        memory: child.memory.or(parent.memory),
        cpu_time: child.cpu_time.or(parent.cpu_time),
        cpus: child.cpus.or(parent.cpus),
        max_file_size: child.max_file_size.or(parent.max_file_size),
        max_open_files: child.max_open_files.or(parent.max_open_files),
        max_processes: child.max_processes.or(parent.max_processes),
        max_output: child.max_output.or(parent.max_output),
        max_log_line: child.max_log_line.or(parent.max_log_line),
        read_only: child.read_only.or(parent.read_only),
        read_write: child.read_write.or(parent.read_write),
        executable: child.executable.or(parent.executable),
        landlock_enabled: child.landlock_enabled.or(parent.landlock_enabled),
        landlock_min_abi: child.landlock_min_abi.or(parent.landlock_min_abi),
        network_mode: child.network_mode.or(parent.network_mode),
        connect_ports: child.connect_ports.or(parent.connect_ports),
        bind_ports: child.bind_ports.or(parent.bind_ports),
        syscalls_enabled: child.syscalls_enabled.or(parent.syscalls_enabled),
        groups: child.groups.or(parent.groups),
        allow: child.allow.or(parent.allow),
        deny,
        action: child.action.or(parent.action),
        errno: child.errno.or(parent.errno),
        namespaces,
        environment_set,
        environment_unset: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::parse_profile;
    use super::*;

    fn groups() -> SyscallGroups {
        SyscallGroups::parse(
            Path::new("groups.toml"),
            "[io]\ndescription = \"io\"\nsyscalls = [\"read\", \"write\"]\n",
        )
        .unwrap()
    }

    fn layer(text: &str) -> Result<Layer, ProfileError> {
        let path = Path::new("sandbox-profiles/x.toml");
        let file = parse_profile(path, text)?;
        layer_from_file(path, &file, &groups())
    }

    fn error(text: &str) -> String {
        layer(text).unwrap_err().to_string()
    }

    #[test]
    fn profile_names() {
        assert!(is_valid_profile_name("strict"));
        assert!(is_valid_profile_name("my_profile-2"));
        assert!(!is_valid_profile_name("Strict"));
        assert!(!is_valid_profile_name("2fast"));
        assert!(!is_valid_profile_name(""));
        assert!(!is_valid_profile_name(&"a".repeat(65)));
    }

    #[test]
    fn memory_error_names_file_and_field() {
        assert_eq!(
            error("[limits]\nmemory = \"12XB\"\n"),
            "sandbox-profiles/x.toml: limits.memory: invalid size \"12XB\"; use a number of bytes or a suffix KiB, MiB or GiB, such as \"512MiB\""
        );
    }

    #[test]
    fn limits_parse_units() {
        let layer = layer(
            "[limits]\ntimeout = \"5m\"\nmemory = \"unlimited\"\nmax_open_files = 64\ncpus = 2\n",
        )
        .unwrap();
        assert_eq!(layer.timeout, Some(300));
        assert_eq!(layer.memory, Some(None));
        assert_eq!(layer.max_open_files, Some(Some(64)));
        assert_eq!(layer.cpus, Some(2.0));
    }

    #[test]
    fn limits_out_of_range() {
        assert!(error("[limits]\ntimeout = \"2d\"\n").contains("limits.timeout"));
        assert!(error("[limits]\ntimeout = \"48h\"\n").contains("out of range"));
        assert!(error("[limits]\nmemory = \"1MiB\"\n").contains("out of range"));
        assert!(error("[limits]\ncpus = 0\n").contains("limits.cpus"));
        assert!(error("[limits]\nmax_open_files = \"many\"\n").contains("invalid count"));
        assert!(error("[limits]\ntimeout = \"unlimited\"\n").contains("cannot be unlimited"));
    }

    #[test]
    fn paths_validated() {
        let message = error("[filesystem]\nread_only = [\"${workspace}/../etc\"]\n");
        assert!(
            message.starts_with("sandbox-profiles/x.toml: filesystem.read_only: "),
            "{message}"
        );
        assert!(
            error("[filesystem]\nread_write = [\"${home}\"]\n").contains("filesystem.read_write")
        );
    }

    #[test]
    fn ports_validated() {
        assert!(error("[network]\nconnect_ports = [0]\n").contains("invalid port 0"));
        assert!(error("[network]\nbind_ports = [70000]\n").contains("network.bind_ports"));
        let layer = layer("[network]\nconnect_ports = [443, 80, 443]\n").unwrap();
        assert_eq!(layer.connect_ports, Some(vec![80, 443]));
    }

    #[test]
    fn syscalls_validated() {
        assert!(error("[syscalls]\ngroups = [\"@nope\"]\n").contains("known groups: @io"));
        assert!(error("[syscalls]\nallow = [\"raed\"]\n").contains("unknown syscall \"raed\""));
        assert!(error("[syscalls]\nallow = [\"@io\"]\n").contains("syscalls.groups"));
        assert!(error("[syscalls]\nallow = [\"ptrace\"]\n").contains("denied by every filter"));
        assert!(layer("[syscalls]\ndeny = [\"ptrace\"]\n").is_ok());
    }

    #[test]
    fn errno_names_and_numbers() {
        assert_eq!(
            layer("[syscalls]\nerrno = \"EACCES\"\n").unwrap().errno,
            Some(13)
        );
        assert_eq!(layer("[syscalls]\nerrno = 38\n").unwrap().errno, Some(38));
        assert!(error("[syscalls]\nerrno = \"EWHAT\"\n").contains("syscalls.errno"));
        assert!(error("[syscalls]\nerrno = 5000\n").contains("syscalls.errno"));
    }

    #[test]
    fn environment_validated() {
        assert!(error("[environment.set]\n\"1X\" = \"a\"\n").contains("invalid variable name"));
        assert!(error("[environment.set]\nX = \"${secret}\"\n").contains("unknown variable"));
        assert!(error("[environment]\npass = [\"HOME\"]\n").contains("pass"));
    }

    #[test]
    fn min_abi_range() {
        assert!(error("[landlock]\nmin_abi = 0\n").contains("landlock.min_abi"));
        assert!(error("[landlock]\nmin_abi = 99\n").contains("from 1 to"));
    }

    #[test]
    fn merge_rules() {
        let parent = layer(
            "[filesystem]\nread_only = [\"/usr\", \"/etc\"]\n\
             [syscalls]\ndeny = [\"read\"]\nallow = [\"write\"]\n\
             [limits]\nmemory = \"64MiB\"\ntimeout = 10\n\
             [environment.set]\nA = \"1\"\nB = \"2\"\n",
        )
        .unwrap();

        let child = layer(
            "[filesystem]\nread_only = [\"/usr\"]\n\
             [syscalls]\ndeny = [\"uname\"]\n\
             [limits]\nmemory = \"32MiB\"\n\
             [environment]\nset = { C = \"3\" }\nunset = [\"A\"]\n",
        )
        .unwrap();

        let merged = merge(parent, child);
        assert_eq!(merged.read_only, Some(vec!["/usr".to_string()]));
        assert_eq!(merged.allow, Some(vec!["write".to_string()]));
        assert!(merged.deny.contains("read"));
        assert!(merged.deny.contains("uname"));
        assert_eq!(merged.memory, Some(Some(32 << 20)));
        assert_eq!(merged.timeout, Some(10));
        assert_eq!(merged.environment_set.get("A"), None);
        assert_eq!(
            merged.environment_set.get("B").map(String::as_str),
            Some("2")
        );
        assert_eq!(
            merged.environment_set.get("C").map(String::as_str),
            Some("3")
        );
    }
}
