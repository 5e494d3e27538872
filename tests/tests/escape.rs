//! The escape suite: a C probe (`tests/escape/probe.c`) tries one way out of
//! the sandbox per test, under `vwmp profile run`, with real processes and the
//! real kernel, and each test asserts the exact outcome (errno name, signal or
//! exit code). Tests use the `strict` profile unless their name or comment
//! names another; the positive controls run under `strict` and `default`.
//!
//! Every test runs twice: `root::NAME` starts vwmp as root (the worker drops
//! to uid 65534), `unprivileged::NAME` starts it as uid 65534 through
//! `setpriv` (the worker creates a user namespace). Without root, the root
//! variants print `SKIPPED: needs root` and the unprivileged ones start vwmp
//! directly. Tests that need a kernel feature the machine lacks print
//! `SKIPPED: <reason>`.
//!
//! The suite needs `gcc`, `/usr/bin/python3`, `setpriv` (when root) and the
//! `vwmp` and `vwmp-worker` binaries (`cargo build --workspace`).

mod common;

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{
    exclusive_machine, is_root, require_landlock, set_mode, shared_machine, Launch, Output, Run,
    Sandbox, NOBODY, SECRET_VARIABLE,
};

/// Exit code of `vwmp profile run` for a command killed by SIGSYS (128 + 31).
const EXIT_SIGSYS: i32 = 128 + libc::SIGSYS;

/// Exit code of `vwmp profile run` for a command killed by SIGXFSZ (128 + 25).
const EXIT_SIGXFSZ: i32 = 128 + libc::SIGXFSZ;

/// Exit code of `vwmp profile run` on timeout.
const EXIT_TIMEOUT: i32 = 124;

/// Maximum time a step with `--timeout 1` may take from the test's view, in
/// seconds: the timeout, the kill and the reaping, with room for a loaded
/// machine.
const SPIN_BOUND: Duration = Duration::from_secs(5);

/// Maximum peak RSS of vwmp relaying a flood of output, in KiB: the relay
/// must stream, not buffer.
const FLOOD_RSS_BOUND_KIB: i64 = 64 * 1024;

/// How long the daemon test watches the file after the step ended.
const DAEMON_WATCH: Duration = Duration::from_millis(1500);

/// Seconds the fork bomb keeps its children alive after fork failed, so the
/// test can start another step meanwhile.
const FORK_BOMB_HOLD_SECS: u64 = 8;

/// Runs probe `case` under `strict` in `sandbox`'s workspace.
fn strict(launch: Launch, sandbox: &Sandbox, case: &str, args: &[&OsStr]) -> Output {
    Run::probe(launch, "strict", &sandbox.workspace(), case, args).run()
}

/// Asserts the probe's RESULT line and its normal exit.
fn assert_result(launch: Launch, output: &Output, expected: &str) {
    assert_eq!(
        output.result(),
        Some(expected),
        "{}: wrong probe result\n{}",
        launch.label(),
        output.context()
    );
    assert_eq!(
        output.code,
        Some(0),
        "{}: the probe should exit 0 after reporting\n{}",
        launch.label(),
        output.context()
    );
}

// ---- files ---------------------------------------------------------------

fn read_outside_workspace(launch: Launch) {
    if !require_landlock(1, "reading outside the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.outside_file("secret", "secret\n");
    let output = strict(launch, &sandbox, "read", &[secret.as_os_str()]);
    assert_result(launch, &output, "read errno EACCES");
    assert!(
        !output.stdout.contains("VALUE content secret"),
        "{}: the secret was printed\n{}",
        launch.label(),
        output.context()
    );
}

fn write_outside_workspace(launch: Launch) {
    if !require_landlock(1, "writing outside the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    let target = sandbox.outside_file("target", "original\n");
    let output = strict(launch, &sandbox, "write", &[target.as_os_str()]);
    assert_result(launch, &output, "write errno EACCES");
    assert_eq!(
        std::fs::read_to_string(&target).ok().as_deref(),
        Some("original\n"),
        "{}: the file outside the workspace changed\n{}",
        launch.label(),
        output.context()
    );
}

fn create_outside_workspace(launch: Launch) {
    if !require_landlock(1, "creating a file outside the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    let target = sandbox.outside().join("created");
    let output = strict(launch, &sandbox, "write", &[target.as_os_str()]);
    assert_result(launch, &output, "write errno EACCES");
    assert!(
        !target.exists(),
        "{}: a file was created outside the workspace\n{}",
        launch.label(),
        output.context()
    );
}

fn list_outside_workspace(launch: Launch) {
    if !require_landlock(1, "listing outside the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.outside_file("secret", "secret\n");
    let output = strict(launch, &sandbox, "list", &[sandbox.outside().as_os_str()]);
    assert_result(launch, &output, "list errno EACCES");
}

fn symlink_out(launch: Launch) {
    if !require_landlock(1, "reading through a symlink") {
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.outside_file("secret", "secret\n");
    let link = sandbox.workspace().join("link");
    std::os::unix::fs::symlink(&secret, &link).expect("create the symlink");
    let output = strict(launch, &sandbox, "read", &[OsStr::new("link")]);
    assert_result(launch, &output, "read errno EACCES");
}

fn hardlink_out(launch: Launch) {
    if !require_landlock(1, "linking across directories") {
        return;
    }
    let sandbox = Sandbox::new();
    let secret = sandbox.outside_file("secret", "secret\n");
    let output = strict(
        launch,
        &sandbox,
        "hardlink",
        &[secret.as_os_str(), OsStr::new("linked")],
    );
    // The outside directory lacks REFER (and ABI 1 lacks REFER altogether),
    // so Landlock returns EXDEV.
    assert_result(launch, &output, "hardlink errno EXDEV");
    assert!(
        !sandbox.workspace().join("linked").exists(),
        "{}: the hard link was created\n{}",
        launch.label(),
        output.context()
    );
}

fn rename_out(launch: Launch) {
    // From ABI 2 Landlock reports a missing MAKE_REG as EACCES; ABI 1
    // returns EXDEV for every rename across directories.
    if !require_landlock(2, "renaming out of the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    let inside = sandbox.workspace_file("moved", "data\n");
    let target = sandbox.outside().join("moved");
    let output = strict(
        launch,
        &sandbox,
        "rename",
        &[OsStr::new("moved"), target.as_os_str()],
    );
    // The outside directory lacks MAKE_REG, which Landlock reports as EACCES
    // (before any missing REFER).
    assert_result(launch, &output, "rename errno EACCES");
    assert!(
        inside.exists(),
        "{}: the file left the workspace\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        !target.exists(),
        "{}: the file arrived outside\n{}",
        launch.label(),
        output.context()
    );
}

fn dotdot_traversal(launch: Launch) {
    if !require_landlock(1, "`..` traversal") {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.outside_file("secret", "secret\n");
    let output = strict(launch, &sandbox, "read", &[OsStr::new("../outside/secret")]);
    assert_result(launch, &output, "read errno EACCES");
}

fn exec_from_workspace(launch: Launch) {
    if !require_landlock(1, "executing from the workspace") {
        return;
    }
    let sandbox = Sandbox::new();
    let copy = sandbox.workspace().join("true");
    std::fs::copy("/bin/true", &copy).expect("copy /bin/true into the workspace");
    set_mode(&copy, 0o755);
    common::give_to_nobody(&copy);
    let output = strict(launch, &sandbox, "exec", &[copy.as_os_str()]);
    assert_result(launch, &output, "exec errno EACCES");
}

/// Control: the `trusted` profile has no Landlock, so the same read succeeds,
/// which shows the EACCES above comes from the sandbox, not file modes.
fn outside_readable_without_landlock(launch: Launch) {
    let sandbox = Sandbox::new();
    let secret = sandbox.outside_file("secret", "secret\n");
    let output = Run::probe(
        launch,
        "trusted",
        &sandbox.workspace(),
        "read",
        &[secret.as_os_str()],
    )
    .run();
    assert_result(launch, &output, "read ok");
    assert_eq!(
        output.value("content"),
        Some("secret"),
        "{}: wrong content\n{}",
        launch.label(),
        output.context()
    );
}

// ---- network -------------------------------------------------------------

fn tcp_connect_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let port = listener
        .local_addr()
        .expect("listener address")
        .port()
        .to_string();
    let output = strict(launch, &sandbox, "tcp_connect", &[OsStr::new(&port)]);
    assert_result(launch, &output, "tcp_connect errno EPERM");
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the listener\n{}",
        launch.label(),
        output.context()
    );
}

fn tcp_bind_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
        .to_string();
    let output = strict(launch, &sandbox, "tcp_bind", &[OsStr::new(&port)]);
    assert_result(launch, &output, "tcp_bind errno EPERM");
}

fn udp_send_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_nonblocking(true)
        .expect("make the socket non-blocking");
    let port = socket
        .local_addr()
        .expect("socket address")
        .port()
        .to_string();
    let output = strict(launch, &sandbox, "udp_send", &[OsStr::new(&port)]);
    assert_result(launch, &output, "udp_send errno EPERM");
    let mut buffer = [0u8; 64];
    assert!(
        matches!(socket.recv(&mut buffer), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a datagram arrived\n{}",
        launch.label(),
        output.context()
    );
}

/// Under the `network` profile, TCP is allowed to ports 53, 80 and 443 only:
/// Landlock (ABI 4) stops a connect to any other port.
fn tcp_connect_unlisted_port(launch: Launch) {
    if !require_landlock(4, "TCP port rules") {
        return;
    }
    let sandbox = Sandbox::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let port = listener
        .local_addr()
        .expect("listener address")
        .port()
        .to_string();
    let output = Run::probe(
        launch,
        "network",
        &sandbox.workspace(),
        "tcp_connect",
        &[OsStr::new(&port)],
    )
    .run();
    assert_result(launch, &output, "tcp_connect errno EACCES");
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the listener\n{}",
        launch.label(),
        output.context()
    );
}

/// The `network` profile allows no TCP bind: Landlock (ABI 4) stops it.
fn tcp_bind_network_profile(launch: Launch) {
    if !require_landlock(4, "TCP port rules") {
        return;
    }
    let sandbox = Sandbox::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
        .to_string();
    let output = Run::probe(
        launch,
        "network",
        &sandbox.workspace(),
        "tcp_bind",
        &[OsStr::new(&port)],
    )
    .run();
    assert_result(launch, &output, "tcp_bind errno EACCES");
}

/// Landlock's network rules cover TCP only, so the `network` profile's
/// seccomp filter must stop UDP sockets.
fn udp_send_network_profile(launch: Launch) {
    let sandbox = Sandbox::new();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
    socket
        .set_nonblocking(true)
        .expect("make the socket non-blocking");
    let port = socket
        .local_addr()
        .expect("socket address")
        .port()
        .to_string();
    let output = Run::probe(
        launch,
        "network",
        &sandbox.workspace(),
        "udp_send",
        &[OsStr::new(&port)],
    )
    .run();
    assert_result(launch, &output, "udp_send errno EPERM");
    let mut buffer = [0u8; 64];
    assert!(
        matches!(socket.recv(&mut buffer), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a datagram arrived\n{}",
        launch.label(),
        output.context()
    );
}

/// Binds the abstract socket `\0vwmp-escape-<pid>-<launch>-<profile>`.
fn abstract_listener(launch: Launch, profile: &str) -> (UnixListener, String) {
    let name = format!("vwmp-escape-{}-{launch:?}-{profile}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
    let listener = UnixListener::bind_addr(&address).expect("bind the abstract socket");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    (listener, name)
}

/// Under strict, seccomp stops socket(2) itself.
fn abstract_unix_strict(launch: Launch) {
    let sandbox = Sandbox::new();
    let (listener, name) = abstract_listener(launch, "strict");
    let output = strict(launch, &sandbox, "abstract_connect", &[OsStr::new(&name)]);
    assert_result(launch, &output, "abstract_connect errno EPERM");
    assert_eq!(
        output.value("failed_at"),
        Some("socket"),
        "{}: strict should stop socket(2)\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the abstract socket\n{}",
        launch.label(),
        output.context()
    );
}

/// Under default, seccomp denies socket(2) for every family, AF_UNIX
/// included, because Landlock does not govern Unix socket paths.
fn abstract_unix_default(launch: Launch) {
    let sandbox = Sandbox::new();
    let (listener, name) = abstract_listener(launch, "default");
    let output = Run::probe(
        launch,
        "default",
        &sandbox.workspace(),
        "abstract_connect",
        &[OsStr::new(&name)],
    )
    .run();
    assert_result(launch, &output, "abstract_connect errno EPERM");
    assert_eq!(
        output.value("failed_at"),
        Some("socket"),
        "{}: default should deny socket(2) under network none\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the abstract socket\n{}",
        launch.label(),
        output.context()
    );
}

/// Binds a Unix socket that everyone may connect to in the outside
/// directory, like a system bus or a container daemon's socket on a host.
fn host_unix_socket(sandbox: &Sandbox) -> (UnixListener, PathBuf) {
    let path = sandbox.outside().join("host.sock");
    let listener = UnixListener::bind(&path).expect("bind a Unix socket outside the workspace");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    set_mode(&path, 0o777);
    (listener, path)
}

fn unix_path_socket_strict(launch: Launch) {
    let sandbox = Sandbox::new();
    let (listener, path) = host_unix_socket(&sandbox);
    let output = strict(launch, &sandbox, "unix_connect", &[path.as_os_str()]);
    // strict allows no socket(2) at all.
    assert_result(launch, &output, "unix_connect errno EPERM");
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the host's socket\n{}",
        launch.label(),
        output.context()
    );
}

/// `default` keeps AF_UNIX sockets for network mode "none", so only the
/// filesystem rules could keep the plugin away from a socket outside its
/// paths. Any errno is accepted; the connection must not happen.
fn unix_path_socket_default(launch: Launch) {
    let sandbox = Sandbox::new();
    let (listener, path) = host_unix_socket(&sandbox);
    let output = Run::probe(
        launch,
        "default",
        &sandbox.workspace(),
        "unix_connect",
        &[path.as_os_str()],
    )
    .run();
    assert!(
        output
            .result()
            .is_some_and(|result| result.starts_with("unix_connect errno ")),
        "{}: the plugin connected to a Unix socket outside its paths\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        matches!(listener.accept(), Err(ref err) if err.kind() == ErrorKind::WouldBlock),
        "{}: a connection reached the host's socket\n{}",
        launch.label(),
        output.context()
    );
}

fn raw_socket_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = strict(launch, &sandbox, "raw_socket", &[]);
    assert_result(launch, &output, "raw_socket errno EPERM");
}

fn netlink_socket_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = strict(launch, &sandbox, "netlink_socket", &[]);
    assert_result(launch, &output, "netlink_socket errno EPERM");
}

// ---- other processes -----------------------------------------------------

fn ptrace_parent_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = strict(launch, &sandbox, "ptrace_parent", &[]);
    assert_result(launch, &output, "ptrace_parent errno EPERM");
}

fn process_vm_readv_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = strict(launch, &sandbox, "process_vm_readv", &[]);
    assert_result(launch, &output, "process_vm_readv errno EPERM");
}

fn kill_outside_denied(launch: Launch) {
    let sandbox = Sandbox::new();
    let mut sleeper = Command::new("sleep");
    sleeper.arg("30").stdin(Stdio::null()).stdout(Stdio::null());
    if is_root() {
        // The plugin's own uid, so only the sandbox can block the signal.
        sleeper.uid(NOBODY).gid(NOBODY);
    }
    let mut sleeper = sleeper.spawn().expect("start sleep 30");
    let pid = sleeper.id().to_string();
    let output = strict(launch, &sandbox, "kill", &[OsStr::new(&pid)]);
    let alive = matches!(sleeper.try_wait(), Ok(None));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    // The step's pid namespace does not contain the sleeper: ESRCH.
    assert_result(launch, &output, "kill errno ESRCH");
    assert!(
        alive,
        "{}: the process outside the sandbox was killed\n{}",
        launch.label(),
        output.context()
    );
}

/// Checks that a signal to the plugin's process group reaches only the
/// plugin's own processes, not the worker outside the step's pid namespace.
fn signal_process_group(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "kill_group", &[]);
    assert_result(launch, &output, "kill_group ok");
    assert!(
        !output.summary().contains("worker failed"),
        "{}: the plugin's signal reached the worker\n{}",
        launch.label(),
        output.context()
    );
}

// ---- denied system calls -------------------------------------------------

fn io_uring_setup_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "io_uring_setup", &[]);
    assert_result(launch, &output, "io_uring_setup errno EPERM");
}

fn bpf_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "bpf", &[]);
    assert_result(launch, &output, "bpf errno EPERM");
}

fn perf_event_open_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "perf_event_open", &[]);
    assert_result(launch, &output, "perf_event_open errno EPERM");
}

fn userfaultfd_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "userfaultfd", &[]);
    assert_result(launch, &output, "userfaultfd errno EPERM");
}

fn keyctl_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "keyctl", &[]);
    assert_result(launch, &output, "keyctl errno EPERM");
}

fn add_key_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "add_key", &[]);
    assert_result(launch, &output, "add_key errno EPERM");
}

fn mount_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "mount", &[]);
    assert_result(launch, &output, "mount errno EPERM");
}

fn unshare_user_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "unshare_user", &[]);
    assert_result(launch, &output, "unshare_user errno EPERM");
}

fn clone_newuser_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "clone_newuser", &[]);
    assert_result(launch, &output, "clone_newuser errno EPERM");
}

fn clone3_enosys(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "clone3", &[]);
    assert_result(launch, &output, "clone3 errno ENOSYS");
}

fn tiocsti_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "tiocsti", &[]);
    assert_result(launch, &output, "tiocsti errno EPERM");
}

fn tioclinux_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "tioclinux", &[]);
    assert_result(launch, &output, "tioclinux errno EPERM");
}

fn tiocsti_high_bits_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "tiocsti_high", &[]);
    assert_result(launch, &output, "tiocsti_high errno EPERM");
}

fn personality32_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "personality32", &[]);
    assert_result(launch, &output, "personality32 errno EPERM");
}

fn personality_query_allowed(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "personality_query", &[]);
    assert_result(launch, &output, "personality_query ok");
}

/// Asserts that the probe was killed by SIGSYS and that vwmp's summary names seccomp.
fn assert_seccomp_kill(launch: Launch, output: &Output) {
    assert_eq!(
        output.code,
        Some(EXIT_SIGSYS),
        "{}: expected a SIGSYS kill\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        output.summary().contains("seccomp"),
        "{}: the summary should name seccomp\n{}",
        launch.label(),
        output.context()
    );
    assert_eq!(
        output.result(),
        None,
        "{}: the call returned instead of killing\n{}",
        launch.label(),
        output.context()
    );
}

/// Returns true when the kernel runs i386 system calls (IA32 emulation), as
/// the probe finds outside any sandbox; without it `int $0x80` faults with
/// SIGSEGV before seccomp sees it.
fn ia32_emulation() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new(common::probe())
            .arg("int80")
            .output()
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains("RESULT int80 ok"))
    })
}

fn int80_killed(launch: Launch) {
    if !ia32_emulation() {
        common::skip("the kernel has no IA32 emulation, so int $0x80 never reaches seccomp");
        return;
    }
    let output = strict(launch, &Sandbox::new(), "int80", &[]);
    assert_seccomp_kill(launch, &output);
}

fn x32_bit_killed(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "x32", &[]);
    assert_seccomp_kill(launch, &output);
}

// ---- identity and inherited state ----------------------------------------

fn capabilities_empty(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "caps", &[]);
    assert_result(launch, &output, "caps ok");
    for (set, expected) in [
        ("cap_eff", "0000000000000000"),
        ("cap_prm", "0000000000000000"),
        ("cap_inh", "0000000000000000"),
        ("cap_bnd", "0000000000000000"),
        ("cap_amb", "0000000000000000"),
    ] {
        assert_eq!(
            output.value(set),
            Some(expected),
            "{}: capability set {set} is not empty\n{}",
            launch.label(),
            output.context()
        );
    }
}

fn unprivileged_identity(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "ids", &[]);
    assert_result(launch, &output, "ids ok");
    let uid = launch.plugin_uid();
    let expected_uids = format!("{uid} {uid} {uid}");
    assert_eq!(
        output.value("uid"),
        Some(expected_uids.as_str()),
        "{}: wrong real/effective/saved uid\n{}",
        launch.label(),
        output.context()
    );
    if is_root() {
        let expected_gids = format!("{NOBODY} {NOBODY} {NOBODY}");
        assert_eq!(
            output.value("gid"),
            Some(expected_gids.as_str()),
            "{}: wrong real/effective/saved gid\n{}",
            launch.label(),
            output.context()
        );
    }
    if launch.expects_no_groups() {
        assert_eq!(
            output.value("group_count"),
            Some("0"),
            "{}: supplementary groups remain\n{}",
            launch.label(),
            output.context()
        );
    }
}

fn no_new_privs_set(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "no_new_privs", &[]);
    assert_result(launch, &output, "no_new_privs ok");
    assert_eq!(
        output.value("no_new_privs"),
        Some("1"),
        "{}: no_new_privs is not set\n{}",
        launch.label(),
        output.context()
    );
}

fn core_dumps_off(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "core", &[]);
    assert_result(launch, &output, "core ok");
    assert_eq!(
        output.value("core_soft"),
        Some("0"),
        "{}: soft RLIMIT_CORE is not 0\n{}",
        launch.label(),
        output.context()
    );
    assert_eq!(
        output.value("core_hard"),
        Some("0"),
        "{}: hard RLIMIT_CORE is not 0\n{}",
        launch.label(),
        output.context()
    );
}

fn rlimit_raise_denied(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "rlimit_raise", &[]);
    assert_result(launch, &output, "rlimit_raise errno EPERM");
}

fn no_leaked_fds(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "fds", &[]);
    assert_result(launch, &output, "fds ok");
    assert_eq!(
        output.value("leaked"),
        Some("0"),
        "{}: descriptors above 2 are open in the plugin\n{}",
        launch.label(),
        output.context()
    );
}

/// Reads the resolved profile `profile` from `vwmp profile show`.
fn profile_table(profile: &str) -> toml::Table {
    let shown = Command::new(common::vwmp_binary())
        .args(["profile", "show", profile, "--profiles-dir"])
        .arg(common::profiles_dir())
        .output()
        .expect("run vwmp profile show");
    assert!(
        shown.status.success(),
        "vwmp profile show {profile} failed: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    text.parse()
        .unwrap_or_else(|err| panic!("vwmp profile show printed invalid TOML: {err}\n{text}"))
}

/// Names of the variables that the profile sets for the plugin.
fn profile_variables(profile: &str) -> Vec<String> {
    profile_table(profile)
        .get("environment")
        .and_then(|environment| environment.get("set"))
        .and_then(toml::Value::as_table)
        .map(|set| set.keys().cloned().collect())
        .unwrap_or_default()
}

/// Reads the size limit `limits.<field>` of `profile` in bytes, from text
/// such as "1MiB".
fn profile_size_limit(profile: &str, field: &str) -> u64 {
    let table = profile_table(profile);
    let value = table
        .get("limits")
        .and_then(|limits| limits.get(field))
        .unwrap_or_else(|| panic!("profile {profile} has no limits.{field}"));
    if let Some(bytes) = value.as_integer() {
        return u64::try_from(bytes).expect("a size limit is not negative");
    }
    let text = value
        .as_str()
        .expect("a size limit is a number or a string");
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .unwrap_or_else(|_| panic!("invalid size {text:?}"));
    let unit = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => panic!("unknown size unit {other:?} in {text:?}"),
    };
    number * unit
}

fn no_leaked_environment(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "env", &[]);
    assert_result(launch, &output, "env ok");
    let variables = output.values("env");
    assert!(
        !variables
            .iter()
            .any(|entry| entry.starts_with(SECRET_VARIABLE)),
        "{}: {SECRET_VARIABLE} from vwmp's environment reached the plugin\n{}",
        launch.label(),
        output.context()
    );
    let allowed = profile_variables("strict");
    for entry in variables {
        let name = entry.split('=').next().unwrap_or(entry);
        assert!(
            allowed.iter().any(|allowed| allowed == name),
            "{}: variable {name} is not one of the profile's {allowed:?}\n{}",
            launch.label(),
            output.context()
        );
    }
}

// ---- resource limits -----------------------------------------------------

fn memory_hog_fails(launch: Launch) {
    let output = strict(launch, &Sandbox::new(), "memory", &[]);
    assert_result(launch, &output, "memory errno ENOMEM");
}

fn file_size_limit_kills(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = strict(launch, &sandbox, "fsize", &[]);
    assert_eq!(
        output.code,
        Some(EXIT_SIGXFSZ),
        "{}: expected a SIGXFSZ kill\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        output.summary().contains("max_file_size"),
        "{}: the summary should name limits.max_file_size\n{}",
        launch.label(),
        output.context()
    );
}

fn fork_bomb_contained(launch: Launch) {
    let sandbox = Sandbox::new();
    let hold = FORK_BOMB_HOLD_SECS.to_string();
    let bomb = Run::probe(
        launch,
        "strict",
        &sandbox.workspace(),
        "forkbomb",
        &[OsStr::new(&hold)],
    )
    .spawn();
    let line = bomb.wait_for_line("RESULT ");

    // While the bomb keeps its processes, start another step and fork the
    // test process itself.
    let other = Sandbox::new();
    let second = Run::command(
        launch,
        "strict",
        &other.workspace(),
        vec![OsString::from("/bin/echo"), OsString::from("ok")],
    )
    .run();
    let forked = Command::new("/bin/true").status();
    let output = bomb.finish();

    assert_eq!(
        line.as_deref(),
        Some("RESULT forkbomb errno EAGAIN"),
        "{}: the fork bomb was not stopped by EAGAIN\n{}",
        launch.label(),
        output.context()
    );
    assert_eq!(
        second.code,
        Some(0),
        "{}: a second step failed while the bomb ran\n{}",
        launch.label(),
        second.context()
    );
    assert_eq!(
        second.stdout.trim(),
        "ok",
        "{}: the second step printed something else\n{}",
        launch.label(),
        second.context()
    );
    assert!(
        matches!(forked, Ok(status) if status.success()),
        "{}: the test process could not fork while the bomb ran: {forked:?}",
        launch.label()
    );
    assert_eq!(
        output.code,
        Some(0),
        "{}: the bomb step should end normally\n{}",
        launch.label(),
        output.context()
    );
}

fn cpu_spin_times_out(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = Run::probe(launch, "strict", &sandbox.workspace(), "spin", &[])
        .timeout(1)
        .run();
    assert_eq!(
        output.code,
        Some(EXIT_TIMEOUT),
        "{}: expected the timeout exit code\n{}",
        launch.label(),
        output.context()
    );
    assert!(
        output.elapsed < SPIN_BOUND,
        "{}: the timeout took {:?}\n{}",
        launch.label(),
        output.elapsed,
        output.context()
    );
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

fn daemon_dies_with_step(launch: Launch) {
    let sandbox = Sandbox::new();
    let ticks = sandbox.workspace().join("ticks");
    let output = strict(launch, &sandbox, "daemon", &[OsStr::new("ticks")]);
    assert_result(launch, &output, "daemon ok");
    let at_end = file_len(&ticks);
    std::thread::sleep(DAEMON_WATCH);
    let later = file_len(&ticks);
    assert!(
        at_end > 0,
        "{}: the daemon never wrote (the test proves nothing)\n{}",
        launch.label(),
        output.context()
    );
    assert_eq!(
        later,
        at_end,
        "{}: the double-forked daemon kept writing after the step ended\n{}",
        launch.label(),
        output.context()
    );
}

fn stdout_flood_bounded(launch: Launch) {
    let sandbox = Sandbox::new();
    let output = Run::probe(launch, "strict", &sandbox.workspace(), "flood", &[])
        .timeout(3)
        .run();
    assert_eq!(
        output.code,
        Some(EXIT_TIMEOUT),
        "{}: expected the timeout exit code\n{}",
        launch.label(),
        output.context()
    );
    let max_output = profile_size_limit("strict", "max_output");
    assert!(
        output.stdout_bytes <= max_output,
        "{}: vwmp relayed {} bytes, more than limits.max_output ({max_output})\n{}",
        launch.label(),
        output.stdout_bytes,
        output.context()
    );
    assert!(
        output.max_rss_kib < FLOOD_RSS_BOUND_KIB,
        "{}: vwmp peaked at {} KiB relaying the flood\n{}",
        launch.label(),
        output.max_rss_kib,
        output.context()
    );
}

// ---- positive controls ---------------------------------------------------

/// Profiles the positive controls run under.
const CONTROL_PROFILES: [&str; 2] = ["strict", "default"];

fn control(launch: Launch, case: &str, check: impl Fn(&str, &Output)) {
    for profile in CONTROL_PROFILES {
        let sandbox = Sandbox::new();
        let output = Run::probe(launch, profile, &sandbox.workspace(), case, &[]).run();
        assert_eq!(
            output.result(),
            Some(format!("{case} ok").as_str()),
            "{} under {profile}: the control failed\n{}",
            launch.label(),
            output.context()
        );
        check(profile, &output);
    }
}

fn fork_and_wait(launch: Launch) {
    control(launch, "fork_wait", |profile, output| {
        assert_eq!(
            output.value("child_exit"),
            Some("42"),
            "{} under {profile}: wrong child exit status\n{}",
            launch.label(),
            output.context()
        );
    });
}

fn pipe_works(launch: Launch) {
    control(launch, "pipe", |profile, output| {
        assert_eq!(
            output.value("pipe_data"),
            Some("through"),
            "{} under {profile}: wrong pipe data\n{}",
            launch.label(),
            output.context()
        );
    });
}

fn dev_null_writable(launch: Launch) {
    control(launch, "devnull", |_, _| {});
}

fn workspace_file_works(launch: Launch) {
    control(launch, "workspace_file", |profile, output| {
        assert_eq!(
            output.value("content"),
            Some("kept"),
            "{} under {profile}: wrong file content\n{}",
            launch.label(),
            output.context()
        );
    });
}

/// Runs `command` with a script `name` of `content` in the workspace under
/// both control profiles and asserts it printed `expected`.
fn script_control(launch: Launch, interpreter: &str, name: &str, content: &str, expected: &str) {
    for profile in CONTROL_PROFILES {
        let sandbox = Sandbox::new();
        sandbox.workspace_file(name, content);
        let command = vec![OsString::from(interpreter), OsString::from(name)];
        let output = Run::command(launch, profile, &sandbox.workspace(), command).run();
        assert_eq!(
            output.code,
            Some(0),
            "{} under {profile}: {interpreter} {name} failed\n{}",
            launch.label(),
            output.context()
        );
        assert_eq!(
            output.stdout.trim(),
            expected,
            "{} under {profile}: wrong output of {interpreter} {name}\n{}",
            launch.label(),
            output.context()
        );
    }
}

fn python_script(launch: Launch) {
    script_control(
        launch,
        "/usr/bin/python3",
        "script.py",
        "import sys\nprint('hello from python', sys.version_info.major)\n",
        "hello from python 3",
    );
}

fn python_plugin(launch: Launch) {
    for profile in CONTROL_PROFILES {
        let plugin_dir = tempfile::Builder::new()
            .prefix("vwmp-escape-plugin-")
            .tempdir()
            .expect("create a plugin directory");
        set_mode(plugin_dir.path(), 0o755);
        let script = plugin_dir.path().join("plugin.py");
        std::fs::write(
            &script,
            "#!/usr/bin/python3\nprint('hello from the plugin directory')\n",
        )
        .expect("write the plugin script");
        set_mode(&script, 0o755);
        let sandbox = Sandbox::new();
        let output = Run::command(
            launch,
            profile,
            &sandbox.workspace(),
            vec![script.into_os_string()],
        )
        .run();
        assert_eq!(
            output.code,
            Some(0),
            "{} under {profile}: the Python plugin failed\n{}",
            launch.label(),
            output.context()
        );
        assert_eq!(
            output.stdout.trim(),
            "hello from the plugin directory",
            "{} under {profile}: wrong output\n{}",
            launch.label(),
            output.context()
        );
    }
}

fn shell_script(launch: Launch) {
    script_control(
        launch,
        "/bin/sh",
        "script.sh",
        "set -e\necho one > out.txt\nread line < out.txt\necho \"hello from sh $line\"\n",
        "hello from sh one",
    );
}

// ---- the two launch modes ------------------------------------------------

/// Runs an ordinary test under the shared machine lock.
fn run_shared(launch: Launch, test: fn(Launch)) {
    let _machine = shared_machine();
    if launch.available() {
        test(launch);
    }
}

/// Runs a test that exhausts a per-uid resource, alone.
fn run_exclusive(launch: Launch, test: fn(Launch)) {
    let _machine = exclusive_machine();
    if launch.available() {
        test(launch);
    }
}

/// Declares `root::NAME` and `unprivileged::NAME` for every listed test.
macro_rules! in_both_launch_modes {
    (shared: [$($shared:ident),* $(,)?], exclusive: [$($exclusive:ident),* $(,)?] $(,)?) => {
        mod root {
            $(#[test] fn $shared() { super::run_shared(super::Launch::Root, super::$shared); })*
            $(#[test] fn $exclusive() { super::run_exclusive(super::Launch::Root, super::$exclusive); })*
        }
        mod unprivileged {
            $(#[test] fn $shared() { super::run_shared(super::Launch::Unprivileged, super::$shared); })*
            $(#[test] fn $exclusive() { super::run_exclusive(super::Launch::Unprivileged, super::$exclusive); })*
        }
    };
}

in_both_launch_modes! {
    shared: [
        read_outside_workspace,
        write_outside_workspace,
        create_outside_workspace,
        list_outside_workspace,
        symlink_out,
        hardlink_out,
        rename_out,
        dotdot_traversal,
        exec_from_workspace,
        outside_readable_without_landlock,
        tcp_connect_denied,
        tcp_bind_denied,
        udp_send_denied,
        tcp_connect_unlisted_port,
        tcp_bind_network_profile,
        udp_send_network_profile,
        abstract_unix_strict,
        abstract_unix_default,
        unix_path_socket_strict,
        unix_path_socket_default,
        raw_socket_denied,
        netlink_socket_denied,
        ptrace_parent_denied,
        process_vm_readv_denied,
        kill_outside_denied,
        signal_process_group,
        io_uring_setup_denied,
        bpf_denied,
        perf_event_open_denied,
        userfaultfd_denied,
        keyctl_denied,
        add_key_denied,
        mount_denied,
        unshare_user_denied,
        clone_newuser_denied,
        clone3_enosys,
        tiocsti_denied,
        tioclinux_denied,
        tiocsti_high_bits_denied,
        personality32_denied,
        personality_query_allowed,
        int80_killed,
        x32_bit_killed,
        capabilities_empty,
        unprivileged_identity,
        no_new_privs_set,
        core_dumps_off,
        rlimit_raise_denied,
        no_leaked_fds,
        no_leaked_environment,
        memory_hog_fails,
        file_size_limit_kills,
        cpu_spin_times_out,
        daemon_dies_with_step,
        stdout_flood_bounded,
        fork_and_wait,
        pipe_works,
        dev_null_writable,
        workspace_file_works,
        python_script,
        python_plugin,
        shell_script,
    ],
    exclusive: [fork_bomb_contained],
}
