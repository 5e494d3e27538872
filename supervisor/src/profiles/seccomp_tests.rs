//! Tests of the BPF compiler: the program's shape, its decisions checked with
//! a small classic BPF interpreter, and real programs run under a filter.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use super::*;
use crate::profiles::ProfileSet;

const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const RET_LOG: u32 = libc::SECCOMP_RET_LOG;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

const BASIC: &[&str] = &[
    "read",
    "write",
    "exit_group",
    "clone",
    "ioctl",
    "personality",
    "socket",
    "socketpair",
    "uname",
];

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn build(
    allowed: &[&str],
    denied: &[&str],
    action: SyscallAction,
    network: NetworkMode,
) -> SeccompProgram {
    let allowed = names(allowed);
    let denied = names(denied);
    let spec = FilterSpec {
        allowed: &allowed,
        denied: &denied,
        action,
        errno: libc::EPERM as u32,
        network,
    };
    compile(&spec).unwrap()
}

fn basic(network: NetworkMode) -> SeccompProgram {
    build(BASIC, &[], SyscallAction::Errno, network)
}

/// Runs a classic BPF program over one `struct seccomp_data`, as the kernel
/// does, and returns the action it selects.
fn evaluate(program: &SeccompProgram, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let load = |offset: u32| -> u32 {
        match offset {
            0 => nr,
            4 => arch,
            8 | 12 => 0,
            16..=63 => {
                let arg = args[((offset - 16) / 8) as usize];
                if offset & 4 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("load from offset {offset} outside seccomp_data"),
        }
    };
    let instructions = &program.instructions;
    let mut accumulator = 0_u32;
    let mut pc = 0_usize;
    loop {
        let instruction = instructions[pc];
        let k = instruction.k;
        let (jt, jf) = (usize::from(instruction.jt), usize::from(instruction.jf));
        pc += 1;
        match instruction.code {
            0x20 => accumulator = load(k),
            0x54 => accumulator &= k,
            0x05 => pc += k as usize,
            0x15 => pc += if accumulator == k { jt } else { jf },
            0x25 => pc += if accumulator > k { jt } else { jf },
            0x35 => pc += if accumulator >= k { jt } else { jf },
            0x45 => pc += if accumulator & k != 0 { jt } else { jf },
            0x06 => return k,
            code => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}

fn native_audit_arch() -> u32 {
    if cfg!(target_arch = "aarch64") {
        AUDIT_ARCH_AARCH64
    } else {
        AUDIT_ARCH_X86_64
    }
}

fn nr(name: &str) -> u32 {
    syscall_number(name).unwrap()
}

fn call(program: &SeccompProgram, name: &str, args: [u64; 6]) -> u32 {
    evaluate(program, native_audit_arch(), nr(name), args)
}

fn shipped() -> ProfileSet {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sandbox-profiles");
    ProfileSet::load(&dir).unwrap()
}

#[cfg(target_arch = "x86_64")]
#[test]
fn prefix_instructions() {
    let program = basic(NetworkMode::None);
    let expected = [
        (0x20, 0, 0, 4),
        (0x15, 1, 0, AUDIT_ARCH_X86_64),
        (0x06, 0, 0, RET_KILL),
        (0x20, 0, 0, 0),
        (0x35, 0, 1, 0x4000_0000),
        (0x06, 0, 0, RET_KILL),
        (0x15, 0, 1, 435),
        (0x06, 0, 0, RET_ENOSYS),
        // The deny section starts by loading the syscall number again.
        (0x20, 0, 0, 0),
    ];
    for (index, (code, jt, jf, k)) in expected.into_iter().enumerate() {
        let expected = BpfInstruction { code, jt, jf, k };
        assert_eq!(program.instructions[index], expected, "instruction {index}");
    }
}

#[test]
fn jumps_stay_inside_program() {
    for network in [NetworkMode::None, NetworkMode::Tcp, NetworkMode::Host] {
        let program = basic(network);
        let length = program.instructions.len();
        for (index, instruction) in program.instructions.iter().enumerate() {
            let targets = match instruction.code {
                0x05 => vec![index + 1 + instruction.k as usize],
                0x15 | 0x25 | 0x35 | 0x45 => vec![
                    index + 1 + usize::from(instruction.jt),
                    index + 1 + usize::from(instruction.jf),
                ],
                _ => Vec::new(),
            };
            for target in targets {
                assert!(target < length, "jump at {index} to {target} of {length}");
            }
        }
        let last = program.instructions.last().unwrap();
        assert_eq!(last.code, 0x06, "program must end with a return");
    }
}

#[test]
fn no_continue_marker_left() {
    let marker = u32::from(SeccompAction::Trace(CONTINUE_MARKER));
    let program = basic(NetworkMode::Tcp);
    let leftover = program
        .instructions
        .iter()
        .any(|instruction| instruction.code == 0x06 && instruction.k == marker);
    assert!(!leftover);
}

#[test]
fn foreign_arch_killed() {
    let program = basic(NetworkMode::None);
    let i386 = 3 | 0x4000_0000;
    assert_eq!(evaluate(&program, i386, nr("read"), [0; 6]), RET_KILL);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_syscall_killed() {
    let program = basic(NetworkMode::None);
    let x32_read = nr("read") | X32_SYSCALL_BIT;
    assert_eq!(
        evaluate(&program, AUDIT_ARCH_X86_64, x32_read, [0; 6]),
        RET_KILL
    );
}

#[test]
fn clone3_gets_enosys() {
    let program = basic(NetworkMode::None);
    assert_eq!(call(&program, "clone3", [0; 6]), RET_ENOSYS);
}

#[test]
fn allowlist_decides() {
    let program = basic(NetworkMode::None);
    assert_eq!(call(&program, "read", [0; 6]), RET_ALLOW);
    assert_eq!(call(&program, "uname", [0; 6]), RET_ALLOW);
    assert_eq!(call(&program, "getpid", [0; 6]), RET_EPERM);
}

#[test]
fn always_denied_despite_allow() {
    let program = build(
        &["read", "ptrace", "bpf"],
        &[],
        SyscallAction::Errno,
        NetworkMode::Host,
    );
    assert_eq!(call(&program, "ptrace", [0; 6]), RET_EPERM);
    assert_eq!(call(&program, "bpf", [0; 6]), RET_EPERM);
    assert_eq!(call(&program, "read", [0; 6]), RET_ALLOW);
}

#[test]
fn clone_namespace_flags_denied() {
    let program = basic(NetworkMode::None);
    let thread_flags = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;
    assert_eq!(
        call(&program, "clone", [thread_flags, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    for flag in NAMESPACE_CLONE_FLAGS {
        let flags = thread_flags | flag as u64;
        assert_eq!(
            call(&program, "clone", [flags, 0, 0, 0, 0, 0]),
            RET_EPERM,
            "flag {flag:#x}"
        );
    }
}

#[test]
fn ioctl_tiocsti_denied_in_low_bits() {
    let program = basic(NetworkMode::None);
    let tiocsti = TIOCSTI;
    assert_eq!(call(&program, "ioctl", [0, tiocsti, 0, 0, 0, 0]), RET_EPERM);
    assert_eq!(
        call(&program, "ioctl", [0, tiocsti | 1 << 32, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        call(&program, "ioctl", [0, TIOCLINUX, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        call(&program, "ioctl", [0, 0x5401 /* TCGETS */, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
#[test]
fn ioctl_constants_match_libc() {
    assert_eq!(TIOCSTI, libc::TIOCSTI);
    assert_eq!(TIOCLINUX, libc::TIOCLINUX);
}

#[test]
fn personality_only_default() {
    let program = basic(NetworkMode::None);
    assert_eq!(call(&program, "personality", [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&program, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    let no_randomize = 0x0040000;
    assert_eq!(
        call(&program, "personality", [no_randomize, 0, 0, 0, 0, 0]),
        RET_EPERM
    );
}

#[test]
fn sockets_under_none() {
    let program = basic(NetworkMode::None);
    let stream = libc::SOCK_STREAM as u64;
    assert_eq!(
        call(
            &program,
            "socket",
            [libc::AF_UNIX as u64, stream, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
    assert_eq!(
        call(
            &program,
            "socket",
            [libc::AF_INET as u64, stream, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
    assert_eq!(
        call(
            &program,
            "socketpair",
            [libc::AF_UNIX as u64, stream, 0, 0, 0, 0]
        ),
        RET_ALLOW
    );
    assert_eq!(
        call(
            &program,
            "socketpair",
            [libc::AF_INET6 as u64, stream, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
}

#[test]
fn sockets_under_tcp() {
    let program = basic(NetworkMode::Tcp);
    let inet = libc::AF_INET as u64;
    let inet6 = libc::AF_INET6 as u64;
    let stream = libc::SOCK_STREAM as u64;
    let flags = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64;
    assert_eq!(
        call(&program, "socket", [inet, stream, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        call(&program, "socket", [inet6, stream | flags, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        call(
            &program,
            "socket",
            [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
    for kind in [
        libc::SOCK_DGRAM,
        libc::SOCK_RAW,
        libc::SOCK_SEQPACKET,
        10, // SOCK_PACKET, deprecated in libc but still accepted by the kernel
    ] {
        assert_eq!(
            call(&program, "socket", [inet, kind as u64, 0, 0, 0, 0]),
            RET_EPERM,
            "type {kind}"
        );
    }
    assert_eq!(
        call(
            &program,
            "socket",
            [libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
    assert_eq!(
        call(
            &program,
            "socket",
            [libc::AF_PACKET as u64, stream, 0, 0, 0, 0]
        ),
        RET_EPERM
    );
}

#[test]
fn sockets_under_host() {
    let program = basic(NetworkMode::Host);
    let netlink = libc::AF_NETLINK as u64;
    assert_eq!(
        call(
            &program,
            "socket",
            [netlink, libc::SOCK_RAW as u64, 0, 0, 0, 0]
        ),
        RET_ALLOW
    );
}

#[test]
fn profile_deny_overrides_allow() {
    let program = build(BASIC, &["uname"], SyscallAction::Errno, NetworkMode::None);
    assert_eq!(call(&program, "uname", [0; 6]), RET_EPERM);
}

#[test]
fn log_action_keeps_hard_denials() {
    let program = build(BASIC, &["uname"], SyscallAction::Log, NetworkMode::None);
    assert_eq!(program.denied_action, DeniedAction::Log);
    assert_eq!(call(&program, "getpid", [0; 6]), RET_LOG);
    assert_eq!(call(&program, "uname", [0; 6]), RET_EPERM);
    assert_eq!(call(&program, "ptrace", [0; 6]), RET_EPERM);
    let inet = libc::AF_INET as u64;
    assert_eq!(call(&program, "socket", [inet, 1, 0, 0, 0, 0]), RET_EPERM);
}

#[test]
fn kill_action_everywhere() {
    let program = build(BASIC, &[], SyscallAction::Kill, NetworkMode::None);
    assert_eq!(program.denied_action, DeniedAction::Kill);
    assert_eq!(call(&program, "getpid", [0; 6]), RET_KILL);
    assert_eq!(call(&program, "unshare", [0; 6]), RET_KILL);
    assert_eq!(call(&program, "read", [0; 6]), RET_ALLOW);
}

#[test]
fn custom_errno() {
    let allowed = names(BASIC);
    let denied = BTreeSet::new();
    let spec = FilterSpec {
        allowed: &allowed,
        denied: &denied,
        action: SyscallAction::Errno,
        errno: libc::EACCES as u32,
        network: NetworkMode::None,
    };
    let program = compile(&spec).unwrap();
    assert_eq!(
        program.denied_action,
        DeniedAction::Errno(libc::EACCES as u32)
    );
    let eacces = libc::SECCOMP_RET_ERRNO | libc::EACCES as u32;
    assert_eq!(call(&program, "getpid", [0; 6]), eacces);
    assert_eq!(call(&program, "mount", [0; 6]), eacces);
}

#[test]
fn shipped_profiles_compile() {
    let profiles = shipped();
    for name in profiles.names() {
        let profile = profiles.get(&name).unwrap();
        let Some(program) = profile.seccomp() else {
            assert_eq!(name, "trusted", "only trusted runs without a filter");
            continue;
        };
        assert!(program.instructions.len() <= MAX_INSTRUCTIONS, "{name}");
        assert_eq!(call(program, "clone3", [0; 6]), RET_ENOSYS, "{name}");
        assert_eq!(call(program, "execve", [0; 6]), RET_ALLOW, "{name}");
        assert_eq!(call(program, "ptrace", [0; 6]), RET_EPERM, "{name}");
    }
}

#[test]
fn strict_denies_socket() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let unix = libc::AF_UNIX as u64;
    let stream = libc::SOCK_STREAM as u64;
    assert_eq!(
        call(program, "socket", [unix, stream, 0, 0, 0, 0]),
        RET_EPERM
    );
    assert_eq!(
        call(program, "socketpair", [unix, stream, 0, 0, 0, 0]),
        RET_ALLOW
    );
}

// The tests below install real filters. seccomp applies a filter to the
// calling thread only, and children inherit it. So each run confines a fresh
// thread that spawns the program and then exits, and the test process itself
// stays unconfined.

fn run_confined(program: &SeccompProgram, argv: &[&str]) -> Output {
    let filter: BpfProgram = program
        .instructions
        .iter()
        .map(|instruction| sock_filter {
            code: instruction.code,
            jt: instruction.jt,
            jf: instruction.jf,
            k: instruction.k,
        })
        .collect();
    let argv: Vec<String> = argv.iter().map(|arg| arg.to_string()).collect();
    std::thread::spawn(move || {
        seccompiler::apply_filter(&filter).unwrap();
        Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap()
    })
    .join()
    .unwrap()
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_succeeds(output: &Output, expected_stdout: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "status {:?}, stderr: {stderr}",
        output.status
    );
    assert_eq!(stdout_of(output), expected_stdout, "stderr: {stderr}");
}

const PYTHON: &str = "/usr/bin/python3";

/// Python that calls raw syscalls through ctypes; `sc` returns "result errno".
const PYTHON_SYSCALL_PRELUDE: &str = r#"import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(*args):
    ctypes.set_errno(0)
    result = libc.syscall(*[ctypes.c_long(a) for a in args])
    if result == 0 and args[0] == 56:
        os._exit(0)
    return f'{result} {ctypes.get_errno()}'
"#;

fn python_syscalls(program: &SeccompProgram, calls: &str) -> String {
    let script = format!("{PYTHON_SYSCALL_PRELUDE}print({calls})");
    let output = run_confined(program, &[PYTHON, "-c", &script]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "status {:?}, stderr: {stderr}",
        output.status
    );
    stdout_of(&output).trim().to_string()
}

#[test]
fn strict_runs_shell() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let output = run_confined(program, &["/bin/sh", "-c", "echo ok"]);
    assert_succeeds(&output, "ok\n");
}

#[test]
fn strict_runs_bash_pipeline() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let script = "x=$(echo b; echo a); printf '%s\\n' \"$x\" | sort | tr -d '\\n'; echo";
    let output = run_confined(program, &["/bin/bash", "-c", script]);
    assert_succeeds(&output, "ab\n");
}

#[test]
fn strict_runs_python() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let output = run_confined(program, &[PYTHON, "-c", "print(1)"]);
    assert_succeeds(&output, "1\n");
}

#[test]
fn strict_runs_python_threads_and_subprocess() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let script = "import json, subprocess, threading, tempfile, time\n\
t = threading.Thread(target=lambda: None); t.start(); t.join()\n\
out = subprocess.run(['/bin/echo', 'x'], capture_output=True).stdout\n\
time.localtime()\n\
print(json.dumps(out.decode().strip()))";
    let output = run_confined(program, &[PYTHON, "-c", script]);
    assert_succeeds(&output, "\"x\"\n");
}

#[test]
fn strict_runs_ls() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let output = run_confined(program, &["/bin/ls", "/"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(stdout_of(&output).lines().any(|line| line == "usr"));
}

#[test]
fn default_runs_ls_long() {
    let profiles = shipped();
    let program = profiles.get("default").unwrap().seccomp().unwrap();
    let output = run_confined(program, &["/bin/ls", "-l", "/usr"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(stdout_of(&output).contains("bin"));
}

#[test]
fn confined_tiocsti_high_bits() {
    let profiles = shipped();
    let program = profiles.get("strict").unwrap().seccomp().unwrap();
    let ioctl = nr("ioctl");
    let calls = format!("sc({ioctl}, 0, 0x5412), sc({ioctl}, 0, 0x100005412)");
    assert_eq!(python_syscalls(program, &calls), "-1 1 -1 1");
}

#[test]
fn confined_namespace_calls() {
    let profiles = shipped();
    let program = profiles.get("default").unwrap().seccomp().unwrap();
    let clone_newuser = libc::CLONE_NEWUSER | libc::SIGCHLD;
    let calls = format!(
        "sc({}, {clone_newuser}, 0, 0, 0, 0), sc({}, {}), sc({}, 0)",
        nr("clone"),
        nr("unshare"),
        libc::CLONE_NEWUSER,
        nr("clone3"),
    );
    assert_eq!(python_syscalls(program, &calls), "-1 1 -1 1 -1 38");
}

#[test]
fn confined_personality() {
    let profiles = shipped();
    let program = profiles.get("default").unwrap().seccomp().unwrap();
    let personality = nr("personality");
    let calls = format!("sc({personality}, 0x0040000), sc({personality}, 0xffffffff)");
    assert_eq!(python_syscalls(program, &calls), "-1 1 0 0");
}

#[test]
fn confined_socket_families() {
    let profiles = shipped();
    let program = profiles.get("default").unwrap().seccomp().unwrap();
    let script = "import socket\n\
a, b = socket.socketpair()\n\
for family in (socket.AF_UNIX, socket.AF_INET):\n    try:\n        socket.socket(family)\n    except PermissionError:\n        print('denied')";
    let output = run_confined(program, &[PYTHON, "-c", script]);
    assert_succeeds(&output, "denied\ndenied\n");
}

#[test]
fn confined_network_stream_only() {
    let profiles = shipped();
    let program = profiles.get("network").unwrap().seccomp().unwrap();
    let script = "import socket\n\
socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()\n\
try:\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nexcept PermissionError:\n    print('denied')";
    let output = run_confined(program, &[PYTHON, "-c", script]);
    assert_succeeds(&output, "denied\n");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn confined_x32_call_killed() {
    let profiles = shipped();
    let program = profiles.get("default").unwrap().seccomp().unwrap();
    let script = format!(
        "{PYTHON_SYSCALL_PRELUDE}sc({})",
        nr("getpid") | X32_SYSCALL_BIT
    );
    let output = run_confined(program, &[PYTHON, "-c", &script]);
    assert_eq!(output.status.signal(), Some(libc::SIGSYS));
}

/// Returns the strict profile's allowlist without `uname`.
fn strict_without_uname() -> Vec<String> {
    let profiles = shipped();
    let allowed = &profiles.get("strict").unwrap().syscalls().allowed;
    allowed
        .iter()
        .filter(|name| *name != "uname")
        .cloned()
        .collect()
}

#[test]
fn confined_kill_action() {
    let allowed = strict_without_uname();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let program = build(&allowed, &[], SyscallAction::Kill, NetworkMode::None);
    let output = run_confined(&program, &["/bin/uname", "-s"]);
    assert_eq!(output.status.signal(), Some(libc::SIGSYS));
}

#[test]
fn confined_errno_action() {
    let allowed = strict_without_uname();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let program = build(&allowed, &[], SyscallAction::Errno, NetworkMode::None);
    let output = run_confined(&program, &["/bin/uname", "-s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Operation not permitted"),
        "stderr: {stderr}"
    );
}

#[test]
fn confined_log_action_allows() {
    let allowed = strict_without_uname();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let program = build(&allowed, &[], SyscallAction::Log, NetworkMode::None);
    // uname(2) is not in the list: under `log` it runs and is only logged.
    let output = run_confined(&program, &["/bin/uname", "-s"]);
    assert_succeeds(&output, "Linux\n");
}

/// Runs a bare allow section for `allowed` over every number up to `limit`
/// and checks each verdict against the set.
fn check_search_tree(allowed: &BTreeSet<u32>, limit: u32) -> usize {
    const ALLOW: u32 = 1;
    const DENY: u32 = 2;
    let segments = verdict_segments(allowed.iter().copied(), |number| {
        if allowed.contains(&number) {
            ALLOW
        } else {
            DENY
        }
    });
    let tree = search_tree(&segments).unwrap();
    let mut instructions = vec![BpfInstruction {
        code: 0x20,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    instructions.extend(tree.iter().map(|instruction| BpfInstruction {
        code: instruction.code,
        jt: instruction.jt,
        jf: instruction.jf,
        k: instruction.k,
    }));
    let program = SeccompProgram {
        instructions,
        denied_action: DeniedAction::Errno(1),
    };
    for number in 0..=limit {
        let expected = if allowed.contains(&number) {
            ALLOW
        } else {
            DENY
        };
        assert_eq!(
            evaluate(&program, 0, number, [0; 6]),
            expected,
            "syscall number {number}"
        );
    }
    assert_eq!(evaluate(&program, 0, u32::MAX, [0; 6]), DENY);
    program.instructions.len()
}

#[test]
fn search_tree_matches_the_allowlist() {
    check_search_tree(&BTreeSet::new(), 600);
    check_search_tree(&[0].into(), 600);
    check_search_tree(&[1, 2, 3, 600].into(), 700);
    check_search_tree(&(0..450).collect(), 700);
    // Every other number: the most segments per syscall, which forces the
    // long-jump layout near the root.
    check_search_tree(&(0..900).step_by(2).collect(), 1000);
    let odd: BTreeSet<u32> = (1..700).step_by(3).collect();
    check_search_tree(&odd, 800);
}

#[test]
fn shipped_programs_are_compact() {
    let set = shipped();
    for name in ["strict", "default", "network"] {
        let program = &set.get(name).unwrap().seccomp().unwrap().instructions;
        assert!(
            program.len() < 400,
            "{name} compiles to {} instructions",
            program.len()
        );
    }
}
