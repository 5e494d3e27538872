//! The handle the service keeps for each queued or running execution: its
//! cancel flag, why it is being stopped, and its live event channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::{broadcast, watch};

use super::live::{LiveEvent, LIVE_EVENT_BUFFER};
use crate::model::{ExecutionId, UserId};

/// Reason an execution is stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StopReason {
    /// A user cancelled it; it ends `cancelled`.
    Cancelled { by: UserId },
    /// The server is shutting down; it ends `interrupted`.
    Shutdown,
}

/// Shared between the service, the execution's task and its event sink.
pub(super) struct Control {
    pub execution_id: ExecutionId,
    cancel: watch::Sender<bool>,
    stop: Mutex<Option<StopReason>>,
    started: AtomicBool,
    pub live: broadcast::Sender<LiveEvent>,
}

impl Control {
    /// Creates the handle of a queued execution.
    pub fn new(execution_id: ExecutionId) -> Self {
        let (cancel, _) = watch::channel(false);
        let (live, _) = broadcast::channel(LIVE_EVENT_BUFFER);
        Control {
            execution_id,
            cancel,
            stop: Mutex::new(None),
            started: AtomicBool::new(false),
            live,
        }
    }

    /// Records `reason` and raises the cancel flag, which kills the running
    /// steps and skips the rest. The first reason wins; returns false when a
    /// stop was already requested.
    pub fn request_stop(&self, reason: StopReason) -> bool {
        let mut stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        if stop.is_some() {
            return false;
        }
        *stop = Some(reason);
        // The reason is set before the flag, so a task that reads the flag
        // can also read the reason.
        self.cancel.send_replace(true);
        true
    }

    /// Returns why the execution is being stopped, if it is.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Returns a receiver of the cancel flag, for the engine.
    pub fn cancel_receiver(&self) -> watch::Receiver<bool> {
        self.cancel.subscribe()
    }

    /// Records that the execution got a slot and its engine run began.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// Returns true once the execution left the queue.
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// Sends a live event; having no subscriber is normal.
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.live.send(event);
    }
}
