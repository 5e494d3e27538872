//! Judges whether one profile is at most as permissive as another, for the
//! rule that a step may ask for a stricter profile than its plugin's cap but
//! never a looser one.

use super::file::{NamespaceSetting, NetworkMode, SyscallAction};
use super::paths::template_within;
use super::resolved::{ProfileLimits, ResolvedProfile};

/// Checks that `step` grants nothing that `cap` does not, component by
/// component. Returns every violation as a sentence, or `Ok(())`.
///
/// - Landlock: if the cap uses it, the step must, with at least its ABI.
/// - Filesystem (when the cap uses Landlock): each step path must lie under a
///   cap path with the same or a stronger right. Read-only paths may lie
///   under any cap path, read-write under read-write, executable under
///   executable.
/// - Network: `none` is narrower than `tcp`, which is narrower than `host`;
///   two `tcp` profiles compare their port lists as sets.
/// - Syscalls (when the cap filters them): the step must filter too, allow a
///   subset, deny a superset, and use an action at least as strict, ranked
///   `log` < `errno` < `kill`.
/// - Namespaces: each at least as required, ranked `off` < `optional` <
///   `required`.
/// - Limits: none higher; "unlimited" is higher than any value.
///
/// The environment is not compared: it grants no access.
pub fn ensure_not_looser(step: &ResolvedProfile, cap: &ResolvedProfile) -> Result<(), Vec<String>> {
    let mut violations = Vec::new();
    compare_landlock(step, cap, &mut violations);
    compare_network(step, cap, &mut violations);
    compare_syscalls(step, cap, &mut violations);
    compare_namespaces(step, cap, &mut violations);
    compare_limits(&step.limits, &cap.limits, &mut violations);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

fn compare_landlock(step: &ResolvedProfile, cap: &ResolvedProfile, violations: &mut Vec<String>) {
    if !cap.landlock.enabled {
        return;
    }
    if !step.landlock.enabled {
        violations.push("Landlock is disabled, but the cap enables it".into());
        return;
    }
    if step.landlock.min_abi < cap.landlock.min_abi {
        violations.push(format!(
            "Landlock min_abi {} is below the cap's {}",
            step.landlock.min_abi, cap.landlock.min_abi
        ));
    }

    let step_fs = &step.filesystem;
    let cap_fs = &cap.filesystem;
    let any_cap_path: Vec<&String> = cap_fs
        .read_only
        .iter()
        .chain(&cap_fs.read_write)
        .chain(&cap_fs.executable)
        .collect();
    let checks: [(&str, &[String], Vec<&String>); 3] = [
        ("read-only", &step_fs.read_only, any_cap_path),
        (
            "read-write",
            &step_fs.read_write,
            cap_fs.read_write.iter().collect(),
        ),
        (
            "executable",
            &step_fs.executable,
            cap_fs.executable.iter().collect(),
        ),
    ];
    for (right, paths, allowed) in checks {
        for path in paths {
            if !allowed.iter().any(|outer| template_within(path, outer)) {
                violations.push(format!(
                    "{right} path {path} is not covered by a cap path with that right"
                ));
            }
        }
    }
}

fn network_rank(mode: NetworkMode) -> u8 {
    match mode {
        NetworkMode::None => 0,
        NetworkMode::Tcp => 1,
        NetworkMode::Host => 2,
    }
}

fn compare_network(step: &ResolvedProfile, cap: &ResolvedProfile, violations: &mut Vec<String>) {
    let (step_net, cap_net) = (&step.network, &cap.network);
    if network_rank(step_net.mode) > network_rank(cap_net.mode) {
        violations.push(format!(
            "network mode {:?} is wider than the cap's {:?}",
            step_net.mode, cap_net.mode
        ));
        return;
    }
    if step_net.mode == NetworkMode::Tcp && cap_net.mode == NetworkMode::Tcp {
        let lists = [
            ("connect", &step_net.connect_ports, &cap_net.connect_ports),
            ("bind", &step_net.bind_ports, &cap_net.bind_ports),
        ];
        for (kind, step_ports, cap_ports) in lists {
            let extra: Vec<String> = step_ports
                .iter()
                .filter(|port| !cap_ports.contains(port))
                .map(u16::to_string)
                .collect();
            if !extra.is_empty() {
                violations.push(format!(
                    "TCP {kind} ports {} are not allowed by the cap",
                    extra.join(", ")
                ));
            }
        }
    }
}

fn action_rank(action: SyscallAction) -> u8 {
    match action {
        SyscallAction::Log => 0,
        SyscallAction::Errno => 1,
        SyscallAction::Kill => 2,
    }
}

fn compare_syscalls(step: &ResolvedProfile, cap: &ResolvedProfile, violations: &mut Vec<String>) {
    let (step_sys, cap_sys) = (&step.syscalls, &cap.syscalls);
    if !cap_sys.enabled {
        return;
    }
    if !step_sys.enabled {
        violations.push("the syscall filter is disabled, but the cap enables it".into());
        return;
    }
    let extra: Vec<&str> = step_sys
        .allowed
        .difference(&cap_sys.allowed)
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        violations.push(format!(
            "syscalls {} are allowed, but not by the cap",
            extra.join(", ")
        ));
    }
    let missing: Vec<&str> = cap_sys
        .denied
        .difference(&step_sys.denied)
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        violations.push(format!(
            "syscalls {} are in the cap's deny list but not in this one",
            missing.join(", ")
        ));
    }
    if action_rank(step_sys.action) < action_rank(cap_sys.action) {
        violations.push(format!(
            "syscall action {:?} is weaker than the cap's {:?}",
            step_sys.action, cap_sys.action
        ));
    }
}

fn compare_namespaces(step: &ResolvedProfile, cap: &ResolvedProfile, violations: &mut Vec<String>) {
    let pairs = step
        .namespaces
        .entries()
        .into_iter()
        .zip(cap.namespaces.entries());
    for ((name, step_setting), (_, cap_setting)) in pairs {
        if step_setting < cap_setting {
            violations.push(format!(
                "{name} namespace is {}, but the cap makes it {}",
                setting_word(step_setting),
                setting_word(cap_setting)
            ));
        }
    }
}

fn setting_word(setting: NamespaceSetting) -> &'static str {
    match setting {
        NamespaceSetting::Off => "off",
        NamespaceSetting::Optional => "optional",
        NamespaceSetting::Required => "required",
    }
}

fn compare_limits(step: &ProfileLimits, cap: &ProfileLimits, violations: &mut Vec<String>) {
    let mut check = |name: &str, step_value: Option<u64>, cap_value: Option<u64>| {
        let looser = match (step_value, cap_value) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(step_value), Some(cap_value)) => step_value > cap_value,
        };
        if looser {
            let show = |value: Option<u64>| {
                value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
            };
            violations.push(format!(
                "limits.{name} {} is higher than the cap's {}",
                show(step_value),
                show(cap_value)
            ));
        }
    };
    check("timeout", Some(step.timeout_secs), Some(cap.timeout_secs));
    check(
        "kill_grace",
        Some(step.kill_grace_secs),
        Some(cap.kill_grace_secs),
    );
    check("memory", step.memory_bytes, cap.memory_bytes);
    check("cpu_time", step.cpu_time_secs, cap.cpu_time_secs);
    check("max_file_size", step.max_file_size, cap.max_file_size);
    check("max_open_files", step.max_open_files, cap.max_open_files);
    check("max_processes", step.max_processes, cap.max_processes);
    check(
        "max_output",
        Some(step.max_output_bytes),
        Some(cap.max_output_bytes),
    );
    check(
        "max_log_line",
        Some(u64::from(step.max_log_line_bytes)),
        Some(u64::from(cap.max_log_line_bytes)),
    );
    if step.cpus > cap.cpus {
        violations.push(format!(
            "limits.cpus {} is higher than the cap's {}",
            step.cpus, cap.cpus
        ));
    }
}
