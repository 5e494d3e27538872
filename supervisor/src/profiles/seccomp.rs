//! Compiles a profile's syscall rules into the classic BPF program that a
//! worker installs with `seccomp(SECCOMP_SET_MODE_FILTER)`.
//!
//! Layout of every program, in the order the kernel runs it:
//!
//! 1. A hand-written prefix: a foreign architecture or an x32 syscall number
//!    kills the process, and `clone3` fails with ENOSYS. seccompiler 0.5
//!    checks the architecture but not the x32 bit. `clone3` passes its flags
//!    in memory, where a filter cannot read them, while `clone` passes them in
//!    a register. glibc 2.34+ falls back from `clone3` to `clone` only on
//!    ENOSYS.
//! 2. The argument section: argument checks that hold in every profile
//!    (namespace flags of `clone`, `ioctl` TIOCSTI and TIOCLINUX,
//!    `personality`, socket families). A match returns the hard action: the
//!    profile's errno, or KILL_PROCESS for `action = "kill"`. Under
//!    `action = "log"` these still fail with the errno, so tuning a profile
//!    never opens them.
//! 3. The verdict section, by syscall number alone: the always-denied calls
//!    and the profile's `deny` list get the hard action, the allowlist is
//!    allowed, anything else gets the profile's action.
//!
//! Section 2 is built by seccompiler, section 3 here as a binary search.
//! Classic BPF jumps are relative, so the sections can be concatenated. The
//! argument section's "no match" returns are rewritten into jumps to the
//! start of the verdict section.

use std::collections::{BTreeMap, BTreeSet};

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use vwmp_protocol::{BpfInstruction, DeniedAction, SeccompProgram};

use super::file::{NetworkMode, SyscallAction};
use super::syscall_table::native_number;

/// Syscalls that every filter denies, whatever a profile allows.
///
/// Some reach into other processes: `ptrace`, `process_vm_*`, `pidfd_getfd`,
/// `kcmp` and `process_madvise`. Some open kernel attack surface that
/// ordinary programs do not need: `bpf`, `perf_event_open`, `userfaultfd`,
/// the keyring, and `io_uring_*`, whose operations bypass seccomp. The rest
/// load modules or kernels, change mounts and namespaces (old and new mount
/// APIs, `setns`, `unshare`, `chroot`), open files by handle past path checks
/// (`open_by_handle_at`), or change machine state (`swapon`, `reboot`).
pub(crate) const ALWAYS_DENIED: &[&str] = &[
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    "process_madvise",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "setns",
    "unshare",
    "chroot",
    "open_by_handle_at",
    "swapon",
    "swapoff",
    "reboot",
];

/// Returns whether every filter denies `name`, whatever the profile allows.
pub(crate) fn is_always_denied(name: &str) -> bool {
    ALWAYS_DENIED.contains(&name)
}

/// `clone` flags that create namespaces; `clone` with any of them is denied.
const NAMESPACE_CLONE_FLAGS: [i32; 8] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWTIME,
];

/// `ioctl` commands that inject input into a terminal (TIOCSTI) or reach the
/// Linux console driver (TIOCLINUX); values from asm-generic/ioctls.h, which
/// x86_64 and aarch64 use.
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;

/// `personality` arguments that pass: PER_LINUX and the query value.
const PERSONALITY_LINUX: u64 = 0;
const PERSONALITY_QUERY: u64 = 0xffff_ffff;

/// `struct seccomp_data` offsets, from linux/seccomp.h.
const SECCOMP_DATA_NR_OFFSET: u32 = 0;
const SECCOMP_DATA_ARCH_OFFSET: u32 = 4;

/// Syscall numbers with this bit set belong to the x32 ABI on x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// AUDIT_ARCH values from linux/audit.h (machine, 64-bit and little-endian bits).
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;

/// Maximum program length the kernel accepts (BPF_MAXINSNS in
/// linux/bpf_common.h).
pub(crate) const MAX_INSTRUCTIONS: usize = 4096;

/// Classic BPF opcodes, from linux/bpf_common.h: BPF_LD | BPF_W | BPF_ABS,
/// BPF_JMP | BPF_JA, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K and
/// BPF_RET | BPF_K.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;

/// Return value the argument section uses for "no match, go on"; every
/// instance is rewritten into a jump before the program leaves this module.
/// SECCOMP_RET_TRACE is never used by VWMP otherwise.
const CONTINUE_MARKER: u32 = 0x5643;

/// Inputs of the compiler, taken from a resolved profile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterSpec<'a> {
    /// Syscalls the profile allows, groups expanded.
    pub allowed: &'a BTreeSet<String>,
    /// The profile's own deny list.
    pub denied: &'a BTreeSet<String>,
    pub action: SyscallAction,
    /// Errno returned by denied calls under `errno` and `log`.
    pub errno: u32,
    pub network: NetworkMode,
}

/// Architecture of this build, for the filter's architecture check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NativeArch {
    target: TargetArch,
    audit: u32,
    /// Whether the x32 bit must be checked (x86_64 only).
    has_x32: bool,
}

fn native_arch() -> Result<NativeArch, String> {
    if cfg!(target_arch = "x86_64") {
        Ok(NativeArch {
            target: TargetArch::x86_64,
            audit: AUDIT_ARCH_X86_64,
            has_x32: true,
        })
    } else if cfg!(target_arch = "aarch64") {
        Ok(NativeArch {
            target: TargetArch::aarch64,
            audit: AUDIT_ARCH_AARCH64,
            has_x32: false,
        })
    } else {
        Err(format!(
            "seccomp filters are built for x86_64 and aarch64 only, not {}; use a profile with syscalls.enabled = false",
            std::env::consts::ARCH
        ))
    }
}

/// Compiles the filter for one resolved profile.
pub(crate) fn compile(spec: &FilterSpec<'_>) -> Result<SeccompProgram, String> {
    let arch = native_arch()?;
    let hard_action = match spec.action {
        SyscallAction::Kill => SeccompAction::KillProcess,
        SyscallAction::Errno | SyscallAction::Log => SeccompAction::Errno(spec.errno),
    };
    let (soft_action, denied_action) = match spec.action {
        SyscallAction::Errno => (
            SeccompAction::Errno(spec.errno),
            DeniedAction::Errno(spec.errno),
        ),
        SyscallAction::Kill => (SeccompAction::KillProcess, DeniedAction::Kill),
        SyscallAction::Log => (SeccompAction::Log, DeniedAction::Log),
    };

    let mut program = prefix(arch)?;
    program.extend(argument_section(spec, arch, hard_action.clone())?);
    program.extend(verdict_section(spec, hard_action, soft_action)?);
    if program.len() > MAX_INSTRUCTIONS {
        return Err(format!(
            "the filter has {} instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}; allow fewer syscalls",
            program.len()
        ));
    }

    let instructions = program
        .into_iter()
        .map(|instruction| BpfInstruction {
            code: instruction.code,
            jt: instruction.jt,
            jf: instruction.jf,
            k: instruction.k,
        })
        .collect();
    Ok(SeccompProgram {
        instructions,
        denied_action,
    })
}

fn statement(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Builds the checks that run before any rule: architecture, x32 and clone3.
fn prefix(arch: NativeArch) -> Result<BpfProgram, String> {
    let clone3 = syscall_number("clone3")?;
    let mut program = vec![
        statement(BPF_LD_W_ABS, SECCOMP_DATA_ARCH_OFFSET),
        jump(BPF_JMP_JEQ_K, arch.audit, 1, 0),
        statement(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        statement(BPF_LD_W_ABS, SECCOMP_DATA_NR_OFFSET),
    ];
    if arch.has_x32 {
        program.push(jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
        program.push(statement(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS));
    }
    program.push(jump(BPF_JMP_JEQ_K, clone3, 0, 1));
    program.push(statement(
        BPF_RET_K,
        libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    ));
    Ok(program)
}

fn syscall_number(name: &str) -> Result<u32, String> {
    native_number(name)
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| format!("syscall {name:?} has no number on this architecture"))
}

/// Builds the section that denies dangerous arguments of syscalls that are
/// otherwise allowed (namespace flags of `clone`, terminal `ioctl`s,
/// `personality`, socket families); other calls fall through to the next
/// section. Syscalls denied whatever their arguments are left to the search
/// in [`verdict_section`].
fn argument_section(
    spec: &FilterSpec<'_>,
    arch: NativeArch,
    hard_action: SeccompAction,
) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (name, conditional_rules) in argument_denials(spec.network)? {
        if conditional_rules.is_empty() || is_always_denied(name) || spec.denied.contains(name) {
            continue;
        }
        let Some(number) = native_number(name) else {
            continue;
        };
        rules.entry(number).or_insert(conditional_rules);
    }
    if rules.is_empty() {
        return Ok(Vec::new());
    }

    let marker = SeccompAction::Trace(CONTINUE_MARKER);
    let marker_value = u32::from(marker.clone());
    let filter = SeccompFilter::new(rules, marker, hard_action, arch.target)
        .map_err(|error| error.to_string())?;
    let compiled: BpfProgram = filter
        .try_into()
        .map_err(|error: seccompiler::BackendError| error.to_string())?;
    let mut section = strip_arch_check(compiled, arch)?;

    // Each "no rule matched" return becomes a jump past the end of this
    // section, which is the first instruction of the verdict section.
    let last = section.len().saturating_sub(1);
    for (index, instruction) in section.iter_mut().enumerate() {
        if instruction.code == BPF_RET_K && instruction.k == marker_value {
            let offset = u32::try_from(last - index)
                .map_err(|_| "the argument section is too long to jump over".to_string())?;
            *instruction = statement(BPF_JMP_JA, offset);
        }
    }
    Ok(section)
}

/// Builds the section that decides by syscall number alone: the always
/// denied and profile-denied calls get the hard action, the allowlist is
/// allowed, and anything else gets the profile's action.
///
/// The section is a balanced binary search over the syscall numbers, built
/// here rather than by seccompiler. seccompiler 0.5 emits a linear list of
/// about five instructions per syscall (1,432 for `strict`). The kernel checks
/// and compiles the program when the worker installs it, on the critical path
/// of every step: installing that list took about 0.8 ms here (strace -T).
/// The search costs two instructions per run of numbers with the same verdict
/// and decides any syscall in about eight comparisons. It reads only the
/// syscall number, so the kernel's action cache (Linux 5.11 and later) still
/// learns which numbers are always allowed.
fn verdict_section(
    spec: &FilterSpec<'_>,
    hard_action: SeccompAction,
    soft_action: SeccompAction,
) -> Result<BpfProgram, String> {
    let numbers = |names: &mut dyn Iterator<Item = &str>| -> BTreeSet<u32> {
        names
            .filter_map(native_number)
            .filter_map(|number| u32::try_from(number).ok())
            .collect()
    };
    let hard = numbers(
        &mut ALWAYS_DENIED
            .iter()
            .copied()
            .chain(spec.denied.iter().map(String::as_str)),
    );
    let allowed = numbers(
        &mut spec
            .allowed
            .iter()
            .map(String::as_str)
            .filter(|name| *name != "clone3"),
    );
    let (allow, soft, hard_value) = (
        u32::from(SeccompAction::Allow),
        u32::from(soft_action),
        u32::from(hard_action),
    );
    let verdict = |number: u32| {
        if hard.contains(&number) {
            hard_value
        } else if allowed.contains(&number) {
            allow
        } else {
            soft
        }
    };
    let segments = verdict_segments(hard.iter().chain(&allowed).copied(), verdict);
    let mut program = vec![statement(BPF_LD_W_ABS, SECCOMP_DATA_NR_OFFSET)];
    program.extend(search_tree(&segments)?);
    Ok(program)
}

/// A run of syscall numbers, from `start` up to the next segment's start,
/// that all get the return value `verdict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    start: u32,
    verdict: u32,
}

/// Cuts the number line into segments of equal verdict; the first starts at
/// 0 and the last runs to the end. `listed` contains every number whose
/// verdict may differ from the verdict of unlisted numbers.
fn verdict_segments(
    listed: impl Iterator<Item = u32>,
    verdict: impl Fn(u32) -> u32,
) -> Vec<Segment> {
    let highest = listed.max().unwrap_or(0);
    let mut segments: Vec<Segment> = Vec::new();
    for number in 0..=highest.saturating_add(1) {
        let value = verdict(number);
        if segments.last().is_none_or(|last| last.verdict != value) {
            segments.push(Segment {
                start: number,
                verdict: value,
            });
        }
    }
    segments
}

/// Emits a binary search over `segments` (the syscall number is in the
/// accumulator) that returns the verdict of the number's segment. A subtree
/// farther than a conditional jump can reach (255 instructions) is reached
/// through an unconditional jump, whose offset has 32 bits.
fn search_tree(segments: &[Segment]) -> Result<BpfProgram, String> {
    match segments {
        [] => Err("internal error: empty syscall segment list".into()),
        [only] => Ok(vec![statement(BPF_RET_K, only.verdict)]),
        _ => {
            let middle = segments.len() / 2;
            let below = search_tree(&segments[..middle])?;
            let above = search_tree(&segments[middle..])?;
            let boundary = segments[middle].start;
            let mut program = Vec::with_capacity(below.len() + above.len() + 2);
            match u8::try_from(below.len()) {
                Ok(offset) => program.push(jump(BPF_JMP_JGE_K, boundary, offset, 0)),
                Err(_) => {
                    let offset = u32::try_from(below.len())
                        .map_err(|_| "the syscall search is too long".to_string())?;
                    program.push(jump(BPF_JMP_JGE_K, boundary, 0, 1));
                    program.push(statement(BPF_JMP_JA, offset));
                }
            }
            program.extend(below);
            program.extend(above);
            Ok(program)
        }
    }
}

/// Removes the architecture check seccompiler puts at the start of every
/// program, because the prefix already made it. Fails if seccompiler's
/// layout is not the expected three instructions.
fn strip_arch_check(program: BpfProgram, arch: NativeArch) -> Result<BpfProgram, String> {
    let expected = [
        statement(BPF_LD_W_ABS, SECCOMP_DATA_ARCH_OFFSET),
        jump(BPF_JMP_JEQ_K, arch.audit, 1, 0),
        statement(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    match program.get(..expected.len()) {
        Some(head) if head == expected => Ok(program[expected.len()..].to_vec()),
        _ => Err(
            "seccompiler produced an unexpected program layout; check the seccompiler version"
                .into(),
        ),
    }
}

fn condition(
    arg_index: u8,
    operator: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, String> {
    // Dword compares the low 32 bits only, which is what the kernel reads for
    // these int and unsigned int arguments: a filter comparing 64 bits would
    // let `TIOCSTI | 1 << 32` through.
    SeccompCondition::new(arg_index, SeccompCmpArgLen::Dword, operator, value)
        .map_err(|error| error.to_string())
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, String> {
    SeccompRule::new(conditions).map_err(|error| error.to_string())
}

/// Returns, per syscall, the argument patterns that are denied; the rules of
/// one syscall are alternatives and the conditions of one rule all must hold.
fn argument_denials(network: NetworkMode) -> Result<Vec<(&'static str, Vec<SeccompRule>)>, String> {
    let clone_rules = NAMESPACE_CLONE_FLAGS
        .iter()
        .map(|flag| {
            // The flags are positive int constants below 2^31.
            let flag = *flag as u64;
            rule(vec![condition(0, SeccompCmpOp::MaskedEq(flag), flag)?])
        })
        .collect::<Result<Vec<_>, _>>()?;

    let ioctl_rules = vec![
        rule(vec![condition(1, SeccompCmpOp::Eq, TIOCSTI)?])?,
        rule(vec![condition(1, SeccompCmpOp::Eq, TIOCLINUX)?])?,
    ];

    let personality_rules = vec![rule(vec![
        condition(0, SeccompCmpOp::Ne, PERSONALITY_LINUX)?,
        condition(0, SeccompCmpOp::Ne, PERSONALITY_QUERY)?,
    ])?];

    let socket_rules = socket_denials(network)?;

    Ok(vec![
        ("clone", clone_rules),
        ("ioctl", ioctl_rules),
        ("personality", personality_rules),
        ("socket", socket_rules),
        ("socketpair", socketpair_denials(network)?),
    ])
}

/// Returns the socketpair(2) argument patterns denied under `network`: any
/// family but AF_UNIX, the only one the kernel pairs, unless the network is
/// the host's.
fn socketpair_denials(network: NetworkMode) -> Result<Vec<SeccompRule>, String> {
    match network {
        NetworkMode::None | NetworkMode::Tcp => Ok(vec![rule(vec![condition(
            0,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )?])?]),
        NetworkMode::Host => Ok(Vec::new()),
    }
}

/// Returns the socket(2) argument patterns denied under `network`: arg0 is
/// the address family, arg1 the type with flags.
///
/// AF_UNIX is denied under `none` and `tcp` alike, because Landlock (up to
/// ABI 7) does not govern connecting to a Unix socket path, so any
/// world-writable socket on the host (the D-Bus system bus, an X server)
/// would be reachable. Processes still get connected pairs from socketpair.
fn socket_denials(network: NetworkMode) -> Result<Vec<SeccompRule>, String> {
    let inet = libc::AF_INET as u64;
    let inet6 = libc::AF_INET6 as u64;
    match network {
        // Every family: the condition `family >= 0` always holds.
        NetworkMode::None => Ok(vec![rule(vec![condition(0, SeccompCmpOp::Ge, 0)?])?]),
        NetworkMode::Tcp => {
            let mut rules = vec![rule(vec![
                condition(0, SeccompCmpOp::Ne, inet)?,
                condition(0, SeccompCmpOp::Ne, inet6)?,
            ])?];
            // The socket type is the low 4 bits of arg1 (SOCK_NONBLOCK and
            // SOCK_CLOEXEC sit above them). SOCK_STREAM is 1, so any of the
            // bits 1, 2 or 3 set means another type: datagram, raw, packet.
            // Type 0 passes here and the kernel rejects it.
            for family in [inet, inet6] {
                for bit in [0x2_u64, 0x4, 0x8] {
                    rules.push(rule(vec![
                        condition(0, SeccompCmpOp::Eq, family)?,
                        condition(1, SeccompCmpOp::MaskedEq(bit), bit)?,
                    ])?);
                }
            }
            Ok(rules)
        }
        NetworkMode::Host => Ok(Vec::new()),
    }
}

#[cfg(test)]
#[path = "seccomp_tests.rs"]
mod tests;
