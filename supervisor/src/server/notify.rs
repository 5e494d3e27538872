//! systemd's service notification protocol (`sd_notify`): `READY=1` once
//! the listener is bound, `STOPPING=1` when shutdown starts, and
//! `WATCHDOG=1` pings when the unit sets `WatchdogSec=`.
//!
//! systemd passes the socket in `NOTIFY_SOCKET`: a path, or an abstract
//! socket name written with a leading `@`. Without the variable every
//! function here does nothing, so `vwmp serve` behaves the same outside
//! systemd.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

/// Variable that names the notification socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `message` to the socket named by `NOTIFY_SOCKET`, if set. Failures
/// are logged, because a lost notification must not stop the server.
pub fn notify(message: &str) {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    let socket = socket.to_string_lossy().into_owned();
    if let Err(error) = notify_to(&socket, message) {
        tracing::warn!(%error, socket, "failed to send a systemd notification");
    }
}

/// Sends `message` to the notification socket `socket` (a path, or `@name`
/// for an abstract socket).
pub fn notify_to(socket: &str, message: &str) -> io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sender.send_to_addr(message.as_bytes(), &address)?;
        }
        None => {
            sender.send_to(message.as_bytes(), Path::new(socket))?;
        }
    }
    Ok(())
}

/// Returns the watchdog ping interval: half of `WATCHDOG_USEC` when the
/// watchdog is enabled for this process, else `None`.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Sends `WATCHDOG=1` every `interval` until `shutdown` turns true.
pub async fn run_watchdog(interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => notify("WATCHDOG=1"),
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_reaches_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buffer = [0u8; 64];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"READY=1");
    }

    #[test]
    fn message_reaches_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("vwmp-notify-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&address).unwrap();
        notify_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let mut buffer = [0u8; 64];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"STOPPING=1");
    }

    #[test]
    fn missing_socket_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.sock");
        assert!(notify_to(path.to_str().unwrap(), "READY=1").is_err());
    }
}
