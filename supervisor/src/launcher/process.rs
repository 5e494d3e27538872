//! The worker process: spawning it with a clean slate and killing its group.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::net::UnixStream;
use tokio::process::{Child, ChildStderr, Command};

/// Descriptor number on which the worker expects its socket.
const WORKER_SOCKET_FD: i32 = 3;

/// Name of the worker binary.
pub const WORKER_BINARY: &str = "vwmp-worker";

/// Errors of starting a worker.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("failed to create the worker socket pair: {0}")]
    SocketPair(#[source] io::Error),
    #[error("failed to start the worker {path}: {source}; build it with `cargo build --release` or set the worker path")]
    Spawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A running worker: its process, process group and socket.
pub struct Worker {
    child: Child,
    pgid: i32,
    socket: Option<UnixStream>,
    exit: Option<io::Result<ExitStatus>>,
}

/// Starts a worker with an empty environment, /dev/null on stdin and stdout,
/// a piped stderr for diagnostics, its own process group and the socket on
/// descriptor 3.
pub fn spawn_worker(path: &Path) -> Result<Worker, SpawnError> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(SpawnError::SocketPair)?;
    ours.set_nonblocking(true).map_err(SpawnError::SocketPair)?;
    let theirs: OwnedFd = theirs.into();
    let their_fd = theirs.as_raw_fd();

    let mut command = Command::new(path);
    command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: the closure runs in the forked child before exec and calls only
    // dup2 and fcntl, which are async-signal-safe; `their_fd` stays open in
    // the parent until spawn returns.
    unsafe {
        command.pre_exec(move || {
            if their_fd == WORKER_SOCKET_FD {
                if libc::fcntl(their_fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(their_fd, WORKER_SOCKET_FD) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|source| SpawnError::Spawn {
        path: path.to_path_buf(),
        source,
    })?;
    drop(theirs);
    let pgid = child.id().map(|id| id as i32).unwrap_or(0);
    let socket = UnixStream::from_std(ours).map_err(SpawnError::SocketPair)?;
    Ok(Worker {
        child,
        pgid,
        socket: Some(socket),
        exit: None,
    })
}

impl Worker {
    /// Takes the supervisor's end of the socket.
    pub fn take_socket(&mut self) -> UnixStream {
        self.socket.take().expect("socket taken once per worker")
    }

    /// Takes the worker's stderr pipe.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends SIGTERM to the worker's process group.
    pub fn terminate_group(&self) {
        self.signal_group(libc::SIGTERM);
    }

    /// Sends SIGKILL to the worker's process group, unless it was reaped.
    pub fn kill_group(&self) {
        self.signal_group(libc::SIGKILL);
    }

    fn signal_group(&self, signal: i32) {
        // Once reaped, the pgid may name someone else's group.
        if self.pgid <= 0 || self.exit.is_some() {
            return;
        }
        // SAFETY: killpg takes plain integers. The group leader is our
        // unreaped child, so the pgid still names the step's group.
        unsafe { libc::killpg(self.pgid, signal) };
    }

    /// Waits for the worker to exit and reaps it.
    pub async fn wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            let status = self.child.wait().await;
            self.exit = Some(status);
        }
        self.exit.as_ref().and_then(|r| r.as_ref().ok().copied())
    }
}

/// Builds the error text for a worker that failed, with its exit status and
/// the end of its stderr.
pub fn describe_failure(reason: &str, exit: Option<ExitStatus>, stderr: &[u8]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut text = reason.to_string();
    if let Some(status) = exit {
        if let Some(signal) = status.signal() {
            text.push_str(&format!("; the worker was killed by signal {signal}"));
        } else if let Some(code) = status.code() {
            text.push_str(&format!("; the worker exited with code {code}"));
        }
    }
    let stderr = String::from_utf8_lossy(stderr);
    let stderr = stderr.trim();
    if !stderr.is_empty() {
        text.push_str(&format!("; worker stderr: {stderr}"));
    }
    text
}

/// Finds `vwmp-worker` next to the running executable, or one directory up
/// (cargo puts test binaries in `target/*/deps`).
pub fn find_worker_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join(WORKER_BINARY), dir.parent()?.join(WORKER_BINARY)]
        .into_iter()
        .find(|candidate| candidate.is_file())
}
