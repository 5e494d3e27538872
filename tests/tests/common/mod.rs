//! Helpers of the escape suite: locating the built binaries, compiling the C
//! probe, preparing workspaces, and running `vwmp profile run` as root or
//! through an unprivileged launcher with a hard time limit.

#![allow(dead_code)]

pub mod server;

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Uid and gid the supervisor drops a root-started worker to, and the
/// identity of the unprivileged launcher when the suite runs as root.
pub const NOBODY: u32 = 65534;

/// Hard limit on one `vwmp profile run` seen from the test, so a hang fails
/// the test instead of blocking CI, in seconds.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Bytes kept from the start and from the end of each output stream; a
/// flooding probe must not fill the test's memory.
const CAPTURE_HEAD: usize = 1 << 20;
const CAPTURE_TAIL: usize = 64 << 10;

/// How long the output readers may take to reach EOF after vwmp exited.
const READER_GRACE: Duration = Duration::from_secs(5);

/// Characters of each stream shown in an assertion message.
const CONTEXT_CHARS: usize = 3000;

/// Environment variable set in vwmp's environment that must never reach a
/// plugin.
pub const SECRET_VARIABLE: &str = "VWMP_ESCAPE_SECRET";

/// How `vwmp` is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// Directly, by the test process, which must be root.
    Root,
    /// As uid/gid 65534 through `setpriv` when the suite is root; directly
    /// when it is not.
    Unprivileged,
}

/// Prints a visible skip line, past the test harness's output capture.
pub fn skip(reason: &str) {
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("unnamed test");
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "SKIPPED: {test}: {reason}");
}

/// Returns true when the suite runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Returns the kernel's Landlock ABI version, or 0 without Landlock.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: a null attribute, size 0 and the VERSION flag make the call
    // return a number without touching memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(ret).unwrap_or(0)
}

/// Returns true when Landlock offers at least ABI `min`; prints a skip line
/// naming `feature` otherwise.
pub fn require_landlock(min: u32, feature: &str) -> bool {
    let abi = landlock_abi();
    if abi == 0 {
        skip(&format!(
            "{feature} needs Landlock, which this kernel does not offer \
             (landlock_create_ruleset failed; /sys/kernel/security/landlock present: {})",
            Path::new("/sys/kernel/security/landlock").exists()
        ));
        return false;
    }
    if abi < min {
        skip(&format!(
            "{feature} needs Landlock ABI {min}, and this kernel offers ABI {abi}"
        ));
        return false;
    }
    true
}

/// Serialises the fork bomb against every other test: while it runs, the
/// per-uid process count of uid 65534 is exhausted for all workers.
static MACHINE: RwLock<()> = RwLock::new(());

/// Takes the shared side of the machine lock (every ordinary test).
pub fn shared_machine() -> RwLockReadGuard<'static, ()> {
    MACHINE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the exclusive side of the machine lock (the fork bomb).
pub fn exclusive_machine() -> RwLockWriteGuard<'static, ()> {
    MACHINE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Launch {
    /// Returns true when this launch mode can run here; prints why not.
    pub fn available(self) -> bool {
        match self {
            Launch::Root if !is_root() => {
                skip("needs root");
                false
            }
            Launch::Unprivileged if is_root() => match unprivileged_blocker() {
                Some(reason) => {
                    skip(&reason);
                    false
                }
                None => true,
            },
            _ => true,
        }
    }

    /// Uid the plugin runs as in this mode.
    pub fn plugin_uid(self) -> u32 {
        if is_root() {
            NOBODY
        } else {
            // SAFETY: getuid has no arguments and cannot fail.
            unsafe { libc::getuid() }
        }
    }

    /// Returns true when the plugin's uid must have no supplementary groups:
    /// the root worker clears them, and setpriv clears the launcher's.
    pub fn expects_no_groups(self) -> bool {
        is_root()
    }

    /// Name used in assertion messages.
    pub fn label(self) -> &'static str {
        match self {
            Launch::Root => "root launcher",
            Launch::Unprivileged => "unprivileged launcher",
        }
    }
}

/// Why the suite, as root, cannot start vwmp as uid 65534, if it cannot.
fn unprivileged_blocker() -> Option<String> {
    if !Path::new("/usr/bin/setpriv").is_file() && which("setpriv").is_none() {
        return Some("the unprivileged launch needs setpriv (util-linux)".to_string());
    }
    let mut needed = vec![vwmp_binary(), worker_binary(), profiles_dir()];
    needed.push(probe().to_path_buf());
    for path in needed {
        if let Some(blocker) = not_reachable_by_others(&path) {
            return Some(format!(
                "uid {NOBODY} cannot reach {}: {blocker}; check out the repository under \
                 directories that others may traverse",
                path.display()
            ));
        }
    }
    None
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// Checks that every ancestor of `path` is searchable by others and that
/// `path` itself is readable by others.
fn not_reachable_by_others(path: &Path) -> Option<String> {
    for ancestor in path.ancestors().skip(1) {
        if ancestor.as_os_str().is_empty() {
            continue;
        }
        match std::fs::metadata(ancestor) {
            Ok(meta) if meta.permissions().mode() & 0o001 == 0 => {
                return Some(format!(
                    "{} is not searchable by others",
                    ancestor.display()
                ))
            }
            Ok(_) => {}
            Err(err) => return Some(format!("{}: {err}", ancestor.display())),
        }
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o004 == 0 => {
            Some(format!("{} is not readable by others", path.display()))
        }
        Ok(_) => None,
        Err(err) => Some(format!("{}: {err}", path.display())),
    }
}

/// Root of the repository (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Returns the shipped profiles directory.
pub fn profiles_dir() -> PathBuf {
    repo_root().join("sandbox-profiles")
}

/// Directory of the build's binaries: the test executable is in
/// `target/<profile>/deps/`.
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// Finds binary `name` of this workspace: in this build's profile directory,
/// else in `target/release`.
///
/// NOTE: `cargo test` builds the binaries of a package only for that
/// package's own integration tests, so `cargo test --workspace` alone leaves
/// `target/debug/vwmp` unbuilt. CI runs `cargo build --release` first, hence
/// the fallback; a stale release build would be tested in that case.
///
/// `VWMP_TEST_BIN_DIR` names another directory to take the binaries from,
/// for a build directory that other checkouts share and may overwrite.
fn built_binary(name: &str) -> PathBuf {
    static REPORTED: OnceLock<()> = OnceLock::new();
    if let Some(dir) = std::env::var_os("VWMP_TEST_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let dir = binaries_dir();
    let path = dir.join(name);
    if path.is_file() {
        return path;
    }
    let release = dir
        .parent()
        .map(|target| target.join("release").join(name))
        .filter(|candidate| candidate.is_file());
    if let Some(release) = release {
        REPORTED.get_or_init(|| {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(
                stderr,
                "NOTE: {} is missing; testing the release build in {}",
                path.display(),
                release.parent().unwrap_or(Path::new("")).display()
            );
        });
        return release;
    }
    panic!(
        "{} is missing: run `cargo build --workspace` before the escape suite (cargo test does \
         not build the binaries of other packages)",
        path.display()
    );
}

/// Returns the `vwmp` binary of this build.
pub fn vwmp_binary() -> PathBuf {
    built_binary("vwmp")
}

/// Returns the `vwmp-worker` binary of this build.
pub fn worker_binary() -> PathBuf {
    built_binary("vwmp-worker")
}

/// Compiles `tests/escape/probe.c` once per test binary and returns its path.
pub fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("escape-probe");
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        // The probe's directory is the plugin directory of every probe run:
        // uid 65534 must read and execute it.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("make the probe directory 0755");
        let source = repo_root().join("tests/escape/probe.c");
        let staging = dir.join(format!("probe.{}", std::process::id()));
        let output = Command::new("gcc")
            .arg("-O1")
            .arg("-o")
            .arg(&staging)
            .arg(&source)
            .output()
            .expect("run gcc (install it: apt-get install gcc)");
        assert!(
            output.status.success(),
            "gcc failed on {}:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let path = dir.join("probe");
        // Rename is atomic, so a concurrent test binary never runs a half
        // written probe.
        std::fs::rename(&staging, &path).expect("move the probe into place");
        path
    })
}

/// A temporary tree with a workspace and a directory outside it:
/// `base/workspace` (owned by uid 65534 when root) and `base/outside`
/// (0777, so only the sandbox, not file permissions, can deny access).
pub struct Sandbox {
    base: tempfile::TempDir,
}

impl Sandbox {
    /// Creates the tree.
    pub fn new() -> Self {
        let base = tempfile::Builder::new()
            .prefix("vwmp-escape-")
            .tempdir()
            .expect("create a temporary directory");
        set_mode(base.path(), 0o755);
        let sandbox = Self { base };
        std::fs::create_dir(sandbox.workspace()).expect("create the workspace");
        set_mode(&sandbox.workspace(), 0o755);
        give_to_nobody(&sandbox.workspace());
        std::fs::create_dir(sandbox.outside()).expect("create the outside directory");
        set_mode(&sandbox.outside(), 0o777);
        sandbox
    }

    /// Returns the base directory, parent of the workspace.
    pub fn base(&self) -> &Path {
        self.base.path()
    }

    /// Returns the workspace.
    pub fn workspace(&self) -> PathBuf {
        self.base.path().join("workspace")
    }

    /// Returns the directory outside the workspace.
    pub fn outside(&self) -> PathBuf {
        self.base.path().join("outside")
    }

    /// Creates `outside/<name>` with `content`, mode 0666, owned by uid
    /// 65534 when root (so the kernel's hardlink protection does not apply).
    pub fn outside_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.outside().join(name);
        std::fs::write(&path, content).expect("write a file outside the workspace");
        set_mode(&path, 0o666);
        give_to_nobody(&path);
        path
    }

    /// Creates `workspace/<name>` with `content`, owned by uid 65534 when root.
    pub fn workspace_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.workspace().join(name);
        std::fs::write(&path, content).expect("write a file in the workspace");
        set_mode(&path, 0o644);
        give_to_nobody(&path);
        path
    }
}

/// Sets the permission bits of `path`.
pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|err| panic!("chmod {mode:o} {}: {err}", path.display()));
}

/// Gives `path` to uid/gid 65534 when the suite runs as root.
pub fn give_to_nobody(path: &Path) {
    if is_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY))
            .unwrap_or_else(|err| panic!("chown {NOBODY} {}: {err}", path.display()));
    }
}

/// What one `vwmp profile run` did.
#[derive(Debug)]
pub struct Output {
    /// Exit code of vwmp; `None` when vwmp itself died by a signal.
    pub code: Option<i32>,
    /// Signal that killed vwmp itself, if one did.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes vwmp wrote to stdout in all.
    pub stdout_bytes: u64,
    pub elapsed: Duration,
    /// Peak resident set size of the vwmp process, in KiB.
    pub max_rss_kib: i64,
}

impl Output {
    /// Returns the probe's `RESULT` line without the prefix, e.g. `read errno EACCES`.
    pub fn result(&self) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix("RESULT "))
    }

    /// Returns the value of the probe's `VALUE <name> <value>` line.
    pub fn value(&self, name: &str) -> Option<&str> {
        let prefix = format!("VALUE {name} ");
        self.stdout.lines().find_map(|line| {
            line.strip_prefix(&prefix)
                .or_else(|| (line == prefix.trim_end()).then_some(""))
        })
    }

    /// Returns every value of the probe's `VALUE <name> ...` lines.
    pub fn values(&self, name: &str) -> Vec<&str> {
        let prefix = format!("VALUE {name} ");
        self.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .collect()
    }

    /// Returns vwmp's last stderr line, the confinement summary.
    pub fn summary(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }

    /// Formats everything worth showing when an assertion fails.
    pub fn context(&self) -> String {
        format!(
            "vwmp exit code {:?} (signal {:?}) after {:?}\n--- stdout ({} bytes) ---\n{}\n\
             --- stderr ---\n{}\n--- summary ---\n{}",
            self.code,
            self.signal,
            self.elapsed,
            self.stdout_bytes,
            shorten(&self.stdout),
            shorten(&self.stderr),
            self.summary()
        )
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= CONTEXT_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(CONTEXT_CHARS / 2).collect();
    let tail: Vec<char> = text.chars().rev().take(CONTEXT_CHARS / 2).collect();
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}\n[... cut ...]\n{tail}")
}

/// Output of one stream: the first and the last bytes, and the total.
#[derive(Default)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let room = CAPTURE_HEAD.saturating_sub(self.head.len());
        let (first, rest) = data.split_at(room.min(data.len()));
        self.head.extend_from_slice(first);
        self.tail.extend(rest);
        let excess = self.tail.len().saturating_sub(CAPTURE_TAIL);
        self.tail.drain(..excess);
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if !self.tail.is_empty() {
            let skipped = self.total - self.head.len() as u64 - self.tail.len() as u64;
            if skipped > 0 {
                text.push_str(&format!("\n[... {skipped} bytes not kept ...]\n"));
            }
            let tail: Vec<u8> = self.tail.iter().copied().collect();
            text.push_str(&String::from_utf8_lossy(&tail));
        }
        text
    }
}

fn drain(mut stream: impl Read + Send + 'static, into: Arc<Mutex<Capture>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => into
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(&chunk[..read]),
            }
        }
    })
}

/// Options of one `vwmp profile run`.
pub struct Run<'a> {
    pub launch: Launch,
    pub profile: &'a str,
    pub workspace: &'a Path,
    /// `--timeout` in seconds, if given.
    pub timeout: Option<u64>,
    /// Hard limit seen from the test.
    pub limit: Duration,
    pub command: Vec<OsString>,
}

impl<'a> Run<'a> {
    /// Runs the probe case `case` with `args` under `profile`.
    pub fn probe(
        launch: Launch,
        profile: &'a str,
        workspace: &'a Path,
        case: &str,
        args: &[&OsStr],
    ) -> Self {
        let mut command = vec![probe().as_os_str().to_owned(), OsString::from(case)];
        command.extend(args.iter().map(|arg| arg.to_os_string()));
        Self::command(launch, profile, workspace, command)
    }

    /// Runs an arbitrary command under `profile`.
    pub fn command(
        launch: Launch,
        profile: &'a str,
        workspace: &'a Path,
        command: Vec<OsString>,
    ) -> Self {
        Self {
            launch,
            profile,
            workspace,
            timeout: None,
            limit: RUN_LIMIT,
            command,
        }
    }

    /// Sets `--timeout`.
    pub fn timeout(mut self, seconds: u64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Sets the test-side hard limit.
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// Starts vwmp.
    pub fn spawn(self) -> Running {
        let vwmp = vwmp_binary();
        let mut command = if self.launch == Launch::Unprivileged && is_root() {
            let mut setpriv = Command::new("setpriv");
            setpriv
                .arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(&vwmp);
            setpriv
        } else {
            Command::new(&vwmp)
        };

        command
            .arg("profile")
            .arg("run")
            .arg(self.profile)
            .arg("--workspace")
            .arg(self.workspace)
            .arg("--profiles-dir")
            .arg(profiles_dir());
        if let Some(timeout) = self.timeout {
            command.arg("--timeout").arg(timeout.to_string());
        }
        command
            .arg("--")
            .args(&self.command)
            .env(SECRET_VARIABLE, "leak")
            .env_remove("VWMP_WORKER")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a kill on timeout takes setpriv
            // and vwmp together.
            .process_group(0);

        let started = Instant::now();
        // Reaped by `Running::finish` with wait4, which also returns the
        // peak RSS that `Child::wait` does not.
        #[allow(clippy::zombie_processes)]
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("failed to start {}: {err}", vwmp.display()));

        let stdout = Arc::new(Mutex::new(Capture::default()));
        let stderr = Arc::new(Mutex::new(Capture::default()));
        let readers = vec![
            drain(
                child.stdout.take().expect("piped stdout"),
                Arc::clone(&stdout),
            ),
            drain(
                child.stderr.take().expect("piped stderr"),
                Arc::clone(&stderr),
            ),
        ];
        Running {
            pid: child.id() as libc::pid_t,
            reaped: false,
            started,
            limit: self.limit,
            stdout,
            stderr,
            readers,
        }
    }

    /// Runs vwmp to the end.
    pub fn run(self) -> Output {
        self.spawn().finish()
    }
}

/// A vwmp process started by [`Run::spawn`].
pub struct Running {
    pid: libc::pid_t,
    /// Whether `finish` reaped vwmp; a `Running` dropped before that (a
    /// failed assertion) kills it.
    reaped: bool,
    started: Instant,
    limit: Duration,
    stdout: Arc<Mutex<Capture>>,
    stderr: Arc<Mutex<Capture>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Returns the stdout captured so far.
    pub fn stdout_now(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .text()
    }

    /// Waits until stdout has a line starting with `prefix` and returns it;
    /// `None` when vwmp's hard limit passes first.
    pub fn wait_for_line(&self, prefix: &str) -> Option<String> {
        while self.started.elapsed() < self.limit {
            if let Some(line) = self
                .stdout_now()
                .lines()
                .find(|line| line.starts_with(prefix))
            {
                return Some(line.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits for vwmp to end (killing it at the hard limit) and collects
    /// its output and resource usage.
    pub fn finish(mut self) -> Output {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of the plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let mut killed = false;
        loop {
            // SAFETY: `status` and `usage` are valid for writes; the pid is
            // our unreaped child.
            let ret = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut usage) };
            if ret == self.pid {
                break;
            }
            if ret == -1 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                panic!("wait4 on vwmp (pid {}) failed: {err}", self.pid);
            }
            if !killed && self.started.elapsed() > self.limit {
                // SAFETY: killpg takes integers; the group is our child's.
                unsafe { libc::killpg(self.pid, libc::SIGKILL) };
                killed = true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.reaped = true;
        let elapsed = self.started.elapsed();

        // The readers end at EOF; a descendant that escaped with a copy of
        // the pipes would keep them open, so wait only a little.
        let readers_deadline = Instant::now() + READER_GRACE;
        while Instant::now() < readers_deadline && !self.readers.iter().all(JoinHandle::is_finished)
        {
            std::thread::sleep(Duration::from_millis(5));
        }

        let stdout = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
        let stderr = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let output = Output {
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            stdout: stdout.text(),
            stderr: stderr.text(),
            stdout_bytes: stdout.total,
            elapsed,
            max_rss_kib: usage.ru_maxrss,
        };
        assert!(
            !killed,
            "vwmp did not end within the test's hard limit of {:?} and was killed\n{}",
            self.limit,
            output.context()
        );
        output
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: killpg and waitpid take integers and a null status
        // pointer, which waitpid accepts; the pid is our unreaped child.
        unsafe {
            libc::killpg(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}
