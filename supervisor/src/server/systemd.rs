//! systemd's notification protocol for `Type=notify` units: `READY=1` once
//! the listener is bound, `STOPPING=1` when shutdown starts, and
//! `WATCHDOG=1` at half the unit's `WatchdogSec=` while a database query
//! succeeds.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every function does nothing.
//! Workers never inherit `NOTIFY_SOCKET`, because the launcher clears their
//! environment. tests/tests/systemd_notify.rs checks the messages against
//! a real `vwmp serve`.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::AppState;

/// Sends `READY=1` with a status line naming the listen address.
pub fn notify_ready(address: std::net::SocketAddr) {
    let status = format!("listening on http://{address}");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Sends `STOPPING=1`.
pub fn notify_stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("shutting down: finishing requests in progress"),
    ]);
}

/// Starts the watchdog task when the unit sets `WatchdogSec=`: every half
/// period it runs a database query and sends `WATCHDOG=1` only when the
/// query succeeds within that half period, so a stuck runtime or database
/// makes systemd restart the service. After shutdown starts it pings
/// without the query until `shutdown` turns true. Returns `None` without a
/// watchdog.
pub fn spawn_watchdog(
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()?;
    let interval = period / 2;
    tracing::info!(
        watchdog_ms = period.as_millis() as u64,
        "systemd watchdog enabled; pinging at half the period"
    );
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            // While requests drain the database may already be closed, and
            // the ping only shows that the runtime still runs.
            if state.is_shutting_down() || database_answers(&state, interval).await {
                send(&[NotifyState::Watchdog]);
            }
        }
    }))
}

/// Returns true when a small database query succeeds within `limit`.
async fn database_answers(state: &AppState, limit: Duration) -> bool {
    match tokio::time::timeout(limit, state.store.count_users()).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "watchdog check failed: the database query failed; not pinging systemd");
            false
        }
        Err(_) => {
            tracing::warn!(
                limit_ms = limit.as_millis() as u64,
                "watchdog check timed out: the database did not answer; not pinging systemd"
            );
            false
        }
    }
}

/// Sends a notification and logs a failure, which only means that systemd
/// does not learn the state (the service keeps running).
fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "failed to notify systemd through NOTIFY_SOCKET");
    }
}
