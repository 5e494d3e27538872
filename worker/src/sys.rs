//! Thin wrappers over the raw system calls the worker makes.
//!
//! Every `unsafe` block of the worker that calls into libc lives here, so the
//! sandbox modules read as plain, safe steps.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use vwmp_protocol::BpfInstruction;

/// Converts a libc return value of -1 into the current `errno`.
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Asks the kernel to send SIGKILL to this process when its parent exits.
pub fn set_parent_death_signal() -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } as _)?;
    Ok(())
}

/// Returns the parent process id.
pub fn parent_pid() -> libc::pid_t {
    // SAFETY: getppid has no arguments and cannot fail.
    unsafe { libc::getppid() }
}

/// Closes every descriptor from `first` upwards.
pub fn close_from(first: RawFd) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; the caller owns every
    // descriptor at or above `first` and holds no Rust handle to them.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    })?;
    Ok(())
}

/// Moves descriptor `from` to `to`, leaving `to` without close-on-exec.
pub fn move_fd(from: RawFd, to: RawFd) -> io::Result<()> {
    if from == to {
        return clear_cloexec(to);
    }
    // SAFETY: dup2 only changes the descriptor table; `to` is a slot the
    // caller reserves for this descriptor.
    check(unsafe { libc::dup2(from, to) } as _)?;
    // SAFETY: `from` is no longer used after the move.
    unsafe { libc::close(from) };
    Ok(())
}

/// Clears FD_CLOEXEC on `fd`.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD with 0 only changes descriptor flags.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } as _)?;
    Ok(())
}

/// Makes `fd` blocking.
pub fn set_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL and F_SETFL only read and change file status flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as _)?;
    let flags = (flags as libc::c_int) & !libc::O_NONBLOCK;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } as _)?;
    Ok(())
}

/// Makes `fd` non-blocking.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL and F_SETFL only read and change file status flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as _)?;
    let flags = (flags as libc::c_int) | libc::O_NONBLOCK;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } as _)?;
    Ok(())
}

/// Creates a pipe with close-on-exec set on both ends: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as _)?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Calls `unshare(2)` with the given CLONE_NEW* flags.
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes flags only and touches no memory of ours.
    check(unsafe { libc::unshare(flags) } as _)?;
    Ok(())
}

/// Returns the real, effective and saved uid.
pub fn uids() -> (u32, u32, u32) {
    let (mut real, mut effective, mut saved) = (0, 0, 0);
    // SAFETY: the three pointers are valid for writes; getresuid cannot fail
    // with valid pointers.
    unsafe { libc::getresuid(&mut real, &mut effective, &mut saved) };
    (real, effective, saved)
}

/// Returns the real, effective and saved gid.
pub fn gids() -> (u32, u32, u32) {
    let (mut real, mut effective, mut saved) = (0, 0, 0);
    // SAFETY: the three pointers are valid for writes.
    unsafe { libc::getresgid(&mut real, &mut effective, &mut saved) };
    (real, effective, saved)
}

/// Replaces the supplementary groups with an empty list.
pub fn clear_groups() -> io::Result<()> {
    // SAFETY: a zero-length list with a null pointer is valid for setgroups.
    check(unsafe { libc::setgroups(0, std::ptr::null()) } as _)?;
    Ok(())
}

/// Sets real, effective and saved gid.
pub fn set_gid(gid: u32) -> io::Result<()> {
    // SAFETY: setresgid takes plain integers.
    check(unsafe { libc::setresgid(gid, gid, gid) } as _)?;
    Ok(())
}

/// Sets real, effective and saved uid.
pub fn set_uid(uid: u32) -> io::Result<()> {
    // SAFETY: setresuid takes plain integers.
    check(unsafe { libc::setresuid(uid, uid, uid) } as _)?;
    Ok(())
}

/// Highest capability number the kernel knows.
pub fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(40)
}

/// Removes `cap` from the bounding set.
pub fn drop_bounding_capability(cap: u32) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes a capability number.
    check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } as _)?;
    Ok(())
}

/// Clears the ambient capability set.
pub fn clear_ambient_capabilities() -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    } as _)?;
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Empties the effective, permitted and inheritable capability sets.
pub fn clear_capabilities() -> io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: version 3 expects a header and an array of two data structs,
    // which both outlive the call.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) })?;
    Ok(())
}

/// Returns true when the effective, permitted and inheritable sets are empty.
pub fn capabilities_are_empty() -> io::Result<bool> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: as for capset, with `data` writable.
    check(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    Ok(data
        .iter()
        .all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0))
}

/// Sets both the soft and the hard value of a resource limit.
pub fn set_rlimit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `limit` is a valid rlimit struct that outlives the call.
    check(unsafe { libc::setrlimit(resource, &limit) } as _)?;
    Ok(())
}

/// Sets PR_SET_NO_NEW_PRIVS.
pub fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as _)?;
    Ok(())
}

/// Reads PR_GET_NO_NEW_PRIVS.
pub fn no_new_privs() -> bool {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes integers only.
    unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 }
}

/// Marks the process as dumpable again, which a change of uid clears; the
/// process needs it to write its own `/proc/self/uid_map`.
pub fn set_dumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes integers only.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) } as _)?;
    Ok(())
}

/// Marks the process as not dumpable, which also blocks ptrace by its uid.
pub fn set_not_dumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes integers only.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } as _)?;
    Ok(())
}

/// Returns the Landlock ABI version of the running kernel, or 0.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the
    // call only returns a number.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        0
    } else {
        ret as u32
    }
}

/// Returns true when the kernel supports seccomp filters.
pub fn seccomp_filter_supported() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

/// Installs a seccomp filter on the calling thread.
pub fn install_seccomp(instructions: &[BpfInstruction]) -> io::Result<()> {
    let filters: Vec<libc::sock_filter> = instructions
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let program = libc::sock_fprog {
        len: u16::try_from(filters.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "filter too long"))?,
        filter: filters.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `program` points at `filters`, which outlives the call; the
    // kernel copies the program before returning.
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &program as *const libc::sock_fprog,
        )
    })?;
    Ok(())
}

/// Result of `fork`.
pub enum Fork {
    Child,
    Parent(libc::pid_t),
}

/// Forks the process.
///
/// The worker is single-threaded, so the child may run any code, not only
/// async-signal-safe functions.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the worker never starts threads, so the child inherits a
    // consistent copy of the whole process.
    let pid = check(unsafe { libc::fork() } as _)?;
    Ok(if pid == 0 {
        Fork::Child
    } else {
        Fork::Parent(pid as libc::pid_t)
    })
}

/// Waits for a child; returns its pid and raw wait status.
pub fn wait(pid: libc::pid_t, flags: libc::c_int) -> io::Result<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is valid for writes.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok((ret, status));
    }
}

/// Returns the resource usage of waited-for children.
pub fn children_usage() -> libc::rusage {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for writes.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage
}

/// Replaces the process image; returns only on failure.
pub fn exec(program: &CString, argv: &[CString], env: &[CString]) -> io::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: every pointer refers to a NUL-terminated string owned by the
    // caller, and both arrays end with a null pointer.
    unsafe { libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// Ends the process at once, without running destructors or flushing.
pub fn exit_now(code: libc::c_int) -> ! {
    // SAFETY: _exit never returns and is safe in a forked child.
    unsafe { libc::_exit(code) }
}

/// Writes the whole buffer to a raw descriptor, ignoring errors.
pub fn write_all_raw(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reads of its length.
        let ret = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if ret <= 0 {
            return;
        }
        data = &data[ret as usize..];
    }
}

/// Polls the given descriptors; returns the number ready.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: `fds` is a valid, writable slice of pollfd structs.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(ret as usize);
    }
}

/// Reads into `buf` from a raw descriptor.
pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let ret = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    check(ret as _).map(|n| n as usize)
}

/// Writes from `buf` to a raw descriptor.
pub fn write_raw(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length.
    let ret = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    check(ret as _).map(|n| n as usize)
}

/// Sets a signal's disposition to the default action.
pub fn default_signal(signal: libc::c_int) {
    // SAFETY: SIG_DFL is a valid disposition for any catchable signal.
    unsafe { libc::signal(signal, libc::SIG_DFL) };
}

/// Ignores a signal.
pub fn ignore_signal(signal: libc::c_int) {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    unsafe { libc::signal(signal, libc::SIG_IGN) };
}

/// Returns the kernel release string from uname.
pub fn kernel_release() -> String {
    // SAFETY: an all-zero utsname is a valid value of the plain C struct.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is valid for writes.
    if unsafe { libc::uname(&mut name) } != 0 {
        return String::new();
    }
    let bytes: Vec<u8> = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Closes a descriptor that no Rust handle owns in this process.
pub fn close_socket_copy(fd: RawFd) -> io::Result<()> {
    // SAFETY: after fork the child's copy of the socket descriptor is not
    // used by any handle in the child.
    check(unsafe { libc::close(fd) } as _)?;
    Ok(())
}

/// Changes the working directory.
pub fn change_dir(path: &CString) -> io::Result<()> {
    // SAFETY: `path` is a NUL-terminated string.
    check(unsafe { libc::chdir(path.as_ptr()) } as _)?;
    Ok(())
}

/// Wraps the inherited socket descriptor in a `UnixStream`.
///
/// # Safety
/// `fd` must be an open socket that nothing else in the process owns.
pub unsafe fn socket_from_fd(fd: RawFd) -> std::os::unix::net::UnixStream {
    // SAFETY: guaranteed by the caller.
    unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) }
}

/// Starts a new session and process group led by the calling process.
pub fn new_session() -> io::Result<()> {
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() } as _)?;
    Ok(())
}
