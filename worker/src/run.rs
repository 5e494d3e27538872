//! Runs the plugin under the confinement already applied to the worker.
//!
//! Process tree: the worker forks an init process (pid 1 of the step's pid
//! namespace when there is one), which forks and execs the plugin. Init reaps
//! every process of the step and reports the plugin's wait status on a pipe.
//! Then it exits. With a pid namespace, its exit makes the kernel kill
//! whatever the plugin left behind, double-forked daemons included.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use vwmp_protocol::{
    ExitStatus, LogFrame, LogStream, ResourceUsage, StdoutMode, StepOutcome, StepRequest,
    WorkerMessage,
};

use crate::sys;

use vwmp_protocol::MAX_STDOUT_CAPTURE as STDOUT_CAPTURE_LIMIT;

/// How long to keep reading the pipes after the plugin exited, for output of
/// descendants that are still alive when no pid namespace kills them.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Read size for the plugin's pipes.
const READ_CHUNK: usize = 16 * 1024;

/// Sends frames to the supervisor.
pub trait FrameSink {
    /// Sends one message; an error ends the step.
    fn send(&mut self, message: &WorkerMessage) -> io::Result<()>;
}

struct LineBuffer {
    stream: LogStream,
    pending: Vec<u8>,
    max_line: usize,
}

struct Relay<'a, S: FrameSink> {
    sink: &'a mut S,
    budget: u64,
    log_truncated: bool,
}

impl<S: FrameSink> Relay<'_, S> {
    fn emit(&mut self, stream: LogStream, data: &[u8], truncated: bool) -> io::Result<()> {
        if self.log_truncated {
            return Ok(());
        }
        let cost = data.len() as u64 + 1;
        if cost > self.budget {
            self.log_truncated = true;
            let note = LogFrame {
                stream: LogStream::Worker,
                data: b"output limit (limits.max_output) reached; further output is dropped"
                    .to_vec(),
                truncated: false,
            };
            return self.sink.send(&WorkerMessage::Log(note));
        }
        self.budget -= cost;
        self.sink.send(&WorkerMessage::Log(LogFrame {
            stream,
            data: data.to_vec(),
            truncated,
        }))
    }
}

impl LineBuffer {
    fn new(stream: LogStream, max_line: usize) -> Self {
        Self {
            stream,
            pending: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Splits `data` into lines and relays each complete one; a line longer
    /// than `max_line` is relayed in pieces marked truncated.
    fn push<S: FrameSink>(&mut self, data: &[u8], relay: &mut Relay<S>) -> io::Result<()> {
        for &byte in data {
            if byte == b'\n' {
                relay.emit(self.stream, &self.pending, false)?;
                self.pending.clear();
            } else {
                self.pending.push(byte);
                if self.pending.len() >= self.max_line {
                    relay.emit(self.stream, &self.pending, true)?;
                    self.pending.clear();
                }
            }
        }
        Ok(())
    }

    fn finish<S: FrameSink>(&mut self, relay: &mut Relay<S>) -> io::Result<()> {
        if !self.pending.is_empty() {
            relay.emit(self.stream, &self.pending, false)?;
            self.pending.clear();
        }
        Ok(())
    }
}

fn cstring(value: &[u8], what: &str) -> io::Result<CString> {
    CString::new(value).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        )
    })
}

/// Runs the plugin of `request` and returns its outcome, relaying logs
/// through `sink` as they arrive.
pub fn run_plugin<S: FrameSink>(
    request: &StepRequest,
    socket_fd: RawFd,
    in_pid_namespace: bool,
    sink: &mut S,
) -> io::Result<StepOutcome> {
    let program = cstring(request.program.as_os_str().as_bytes(), "program path")?;
    let mut argv = vec![program.clone()];
    for arg in &request.args {
        argv.push(cstring(arg.as_bytes(), "an argument")?);
    }
    let mut env = Vec::new();
    for (name, value) in &request.policy.environment {
        env.push(cstring(
            format!("{name}={value}").as_bytes(),
            "an environment variable",
        )?);
    }
    let workspace = cstring(request.workspace.as_os_str().as_bytes(), "workspace path")?;

    let (stdin_read, stdin_write) = sys::pipe()?;
    let (stdout_read, stdout_write) = sys::pipe()?;
    let (stderr_read, stderr_write) = sys::pipe()?;
    let (status_read, status_write) = sys::pipe()?;

    let init_pid = match sys::fork()? {
        sys::Fork::Child => {
            // Init keeps only the plugin's ends and the status pipe; the
            // supervisor must see EOF on its socket when the worker dies.
            let _ = sys::close_socket_copy(socket_fd);
            drop(stdin_write);
            drop(stdout_read);
            drop(stderr_read);
            drop(status_read);
            run_init(
                &program,
                &argv,
                &env,
                &workspace,
                [stdin_read, stdout_write, stderr_write],
                status_write,
                in_pid_namespace,
            )
        }
        sys::Fork::Parent(pid) => pid,
    };
    drop(stdin_read);
    drop(stdout_write);
    drop(stderr_write);
    drop(status_write);

    let mut relay = Relay {
        sink,
        budget: request.policy.limits.max_output_bytes,
        log_truncated: false,
    };
    let max_line = request.policy.limits.max_line_bytes as usize;
    let mut stderr_lines = LineBuffer::new(LogStream::Stderr, max_line);
    let mut stdout_lines = LineBuffer::new(LogStream::Stdout, max_line);
    let mut captured = Vec::new();
    let mut stdout_truncated = false;

    sys::set_nonblocking(stdin_write.as_raw_fd())?;
    let mut stdin_fd = Some(stdin_write);
    let mut stdin_offset = 0usize;
    if request.stdin.is_empty() {
        stdin_fd = None;
    }
    let mut stdout_fd = Some(stdout_read);
    let mut stderr_fd = Some(stderr_read);
    let mut status_fd = Some(status_read);
    let mut status_bytes = Vec::with_capacity(4);
    let mut exited_at: Option<Instant> = None;
    let mut buffer = vec![0u8; READ_CHUNK];

    loop {
        if stdout_fd.is_none() && stderr_fd.is_none() && status_fd.is_none() {
            break;
        }
        let timeout = match exited_at {
            Some(at) => {
                let left = DRAIN_AFTER_EXIT.saturating_sub(at.elapsed());
                if left.is_zero() {
                    break;
                }
                left.as_millis() as libc::c_int
            }
            None => -1,
        };
        let mut fds = Vec::with_capacity(4);
        let mut roles = Vec::with_capacity(4);
        for (role, fd) in [
            (0, stdin_fd.as_ref()),
            (1, stdout_fd.as_ref()),
            (2, stderr_fd.as_ref()),
            (3, status_fd.as_ref()),
        ] {
            if let Some(fd) = fd {
                let events = if role == 0 {
                    libc::POLLOUT
                } else {
                    libc::POLLIN
                };
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events,
                    revents: 0,
                });
                roles.push(role);
            }
        }
        sys::poll(&mut fds, timeout)?;
        for (entry, role) in fds.iter().zip(roles) {
            if entry.revents == 0 {
                continue;
            }
            match role {
                0 => {
                    match sys::write_raw(entry.fd, &request.stdin[stdin_offset..]) {
                        Ok(written) => stdin_offset += written,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                        // EPIPE: the plugin closed stdin without reading all of it.
                        Err(_) => stdin_offset = request.stdin.len(),
                    }
                    if stdin_offset >= request.stdin.len() {
                        stdin_fd = None;
                    }
                }
                3 => {
                    let read = read_or_eof(entry.fd, &mut buffer)?;
                    if read == 0 {
                        status_fd = None;
                        exited_at = Some(Instant::now());
                    } else {
                        status_bytes.extend_from_slice(&buffer[..read]);
                    }
                }
                _ => {
                    let read = read_or_eof(entry.fd, &mut buffer)?;
                    let data = &buffer[..read];
                    if role == 1 {
                        if read == 0 {
                            stdout_fd = None;
                            stdout_lines.finish(&mut relay)?;
                        } else if request.stdout_mode == StdoutMode::Stream {
                            stdout_lines.push(data, &mut relay)?;
                        } else if captured.len() + read <= STDOUT_CAPTURE_LIMIT {
                            captured.extend_from_slice(data);
                        } else {
                            stdout_truncated = true;
                        }
                    } else if read == 0 {
                        stderr_fd = None;
                        stderr_lines.finish(&mut relay)?;
                    } else {
                        stderr_lines.push(data, &mut relay)?;
                    }
                }
            }
        }
    }
    stdout_lines.finish(&mut relay)?;
    stderr_lines.finish(&mut relay)?;
    let log_truncated = relay.log_truncated;

    let (_, init_status) = sys::wait(init_pid, 0)?;
    let status = if status_bytes.len() == 4 {
        decode_wait_status(i32::from_ne_bytes([
            status_bytes[0],
            status_bytes[1],
            status_bytes[2],
            status_bytes[3],
        ]))
    } else {
        // Init died before the plugin did, which only an outside kill causes.
        decode_wait_status(init_status)
    };

    let usage = sys::children_usage();
    let micros = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
    let mut denial_hints = Vec::new();
    if let ExitStatus::Signaled(signal) = status {
        if let Some(hint) = signal_hint(signal) {
            denial_hints.push(hint.to_string());
        }
    }
    Ok(StepOutcome {
        status,
        stdout: captured,
        usage: ResourceUsage {
            max_rss_kib: usage.ru_maxrss.max(0) as u64,
            user_cpu_micros: micros(usage.ru_utime),
            system_cpu_micros: micros(usage.ru_stime),
        },
        stdout_truncated,
        log_truncated,
        denial_hints,
    })
}

/// Explains a fatal signal that a sandbox limit usually causes.
pub fn signal_hint(signal: i32) -> Option<&'static str> {
    match signal {
        libc::SIGSYS => Some(
            "blocked by seccomp: the plugin made a system call that the profile does not allow",
        ),
        libc::SIGXCPU => Some("CPU time limit (limits.cpu_time) exceeded"),
        libc::SIGXFSZ => Some("file size limit (limits.max_file_size) exceeded"),
        _ => None,
    }
}

fn read_or_eof(fd: RawFd, buffer: &mut [u8]) -> io::Result<usize> {
    match sys::read_raw(fd, buffer) {
        Ok(read) => Ok(read),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(err) => Err(err),
    }
}

fn decode_wait_status(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    }
}

/// Body of the init process; never returns.
fn run_init(
    program: &CString,
    argv: &[CString],
    env: &[CString],
    workspace: &CString,
    plugin_fds: [OwnedFd; 3],
    status_write: OwnedFd,
    in_pid_namespace: bool,
) -> ! {
    let _ = sys::set_parent_death_signal();
    // As pid 1 of the step's namespace, init leads a new session, so the
    // plugin cannot signal the worker through its process group. Without a
    // pid namespace the plugin stays in the worker's group, which is how
    // the supervisor then reaches it.
    if in_pid_namespace {
        let _ = sys::new_session();
    }
    let plugin_pid = match sys::fork() {
        Ok(sys::Fork::Child) => {
            let [stdin, stdout, stderr] = plugin_fds;
            exec_plugin(program, argv, env, workspace, stdin, stdout, stderr)
        }
        Ok(sys::Fork::Parent(pid)) => pid,
        Err(err) => {
            let message = format!("vwmp-worker: failed to fork the plugin: {err}\n");
            sys::write_all_raw(plugin_fds[2].as_raw_fd(), message.as_bytes());
            sys::exit_now(127);
        }
    };
    drop(plugin_fds);

    // Reap every process of the step; report the plugin's status, then exit.
    loop {
        match sys::wait(-1, 0) {
            Ok((pid, status)) if pid == plugin_pid => {
                sys::write_all_raw(status_write.as_raw_fd(), &status.to_ne_bytes());
                sys::exit_now(0);
            }
            Ok(_) => continue,
            Err(_) => sys::exit_now(0),
        }
    }
}

fn exec_plugin(
    program: &CString,
    argv: &[CString],
    env: &[CString],
    workspace: &CString,
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> ! {
    let fail = |message: String| -> ! {
        sys::write_all_raw(2, message.as_bytes());
        sys::exit_now(127)
    };
    for (fd, target) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
        let raw = fd.as_raw_fd();
        std::mem::forget(fd);
        if let Err(err) = sys::move_fd(raw, target) {
            let _ = err;
            sys::exit_now(126);
        }
    }
    // Nothing but stdin, stdout and stderr reaches the plugin.
    if let Err(err) = sys::close_from(3) {
        fail(format!("vwmp-worker: failed to close descriptors: {err}\n"));
    }
    sys::default_signal(libc::SIGPIPE);
    if let Err(err) = sys::change_dir(workspace) {
        fail(format!(
            "vwmp-worker: failed to enter the workspace {}: {err}\n",
            workspace.to_string_lossy()
        ));
    }
    let err = sys::exec(program, argv, env);
    fail(format!(
        "vwmp-worker: failed to execute {}: {err}\n",
        program.to_string_lossy()
    ))
}
