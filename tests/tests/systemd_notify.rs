//! `vwmp serve` under a simulated systemd: a real datagram socket as
//! `NOTIFY_SOCKET`, a watchdog period in `WATCHDOG_USEC`, and SIGTERM.

mod common;

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Watchdog period given to the server, in microseconds (400 ms), so it
/// pings every 200 ms.
const WATCHDOG_USEC: &str = "400000";

/// Time allowed for each expected message.
const MESSAGE_LIMIT: Duration = Duration::from_secs(20);

/// Kills the server if the test fails before it exits.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads datagrams until one contains `expected`, and returns it. On
/// timeout it stops the server and panics with the messages so far and the
/// server's exit status and stderr.
fn wait_for(
    socket: &UnixDatagram,
    expected: &str,
    seen: &mut Vec<String>,
    server: &mut Server,
) -> String {
    let deadline = Instant::now() + MESSAGE_LIMIT;
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match socket.recv(&mut buffer) {
            Ok(length) => {
                let message = String::from_utf8_lossy(&buffer[..length]).to_string();
                seen.push(message.clone());
                if message.lines().any(|line| line == expected) {
                    return message;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("failed to read the notify socket: {error}"),
        }
    }
    let _ = server.0.kill();
    let status = server.0.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = server.0.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    panic!(
        "no {expected} within {MESSAGE_LIMIT:?}; messages so far: {seen:?}; vwmp serve: \
         {status:?}, stderr:\n{stderr}"
    );
}

#[test]
fn serve_notifies_ready_watchdog_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    let child = Command::new(common::vwmp_binary())
        .arg("serve")
        .env_remove("JOURNAL_STREAM")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", WATCHDOG_USEC)
        .env_remove("WATCHDOG_PID")
        .env("VWMP_SERVER_LISTEN", "127.0.0.1:0")
        .env("VWMP_STORAGE_STATE_DIR", dir.path().join("state"))
        .env("VWMP_ENGINE_PROFILES_DIR", common::profiles_dir())
        .env(
            "VWMP_ENGINE_PLUGINS_DIR",
            common::repo_root().join("examples/plugins"),
        )
        .env("VWMP_ENGINE_WORKER_PATH", common::worker_binary())
        .env("VWMP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vwmp serve");
    let mut server = Server(child);
    let mut seen = Vec::new();

    let ready = wait_for(&socket, "READY=1", &mut seen, &mut server);
    assert!(ready.contains("STATUS=listening on "), "{ready}");
    assert!(ready.contains("127.0.0.1:"), "{ready}");
    wait_for(&socket, "WATCHDOG=1", &mut seen, &mut server);
    // A second ping shows that the pings repeat.
    wait_for(&socket, "WATCHDOG=1", &mut seen, &mut server);

    // SAFETY: kill with a child's pid that has not been reaped yet, because
    // `server` waits for it only in `Drop`.
    let result = unsafe { libc::kill(server.0.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(
        result,
        0,
        "kill failed: {}",
        std::io::Error::last_os_error()
    );
    wait_for(&socket, "STOPPING=1", &mut seen, &mut server);

    let status = server.0.wait().unwrap();
    let mut stderr = String::new();
    if let Some(mut pipe) = server.0.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(
        status.success(),
        "vwmp serve exited with {status}; stderr:\n{stderr}"
    );
}
