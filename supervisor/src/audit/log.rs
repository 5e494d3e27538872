//! The audit log: emits each event as one JSON line through `tracing`
//! (target `audit`), appends it to an optional 0600 file, and hands it to an
//! optional [`AuditStore`].

use std::fs::{File, OpenOptions, Permissions};
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::event::{AuditEvent, AuditLevel};

/// `tracing` target of audit lines, for filters such as `audit=info`.
pub const AUDIT_TARGET: &str = "audit";

/// Mode of a newly created audit file: owner read and write only, because
/// events name users, addresses and resources.
pub const AUDIT_FILE_MODE: u32 = 0o600;

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Persistent storage of audit events; the SQLite store implements it.
pub trait AuditStore: Send + Sync {
    /// Stores one event, already redacted. The error text is logged.
    fn persist<'a>(&'a self, event: &'a AuditEvent) -> BoxFuture<'a, Result<(), String>>;
}

/// A failure of the audit file.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit file could not be opened or created.
    #[error(
        "failed to open audit file {path}: {source}; check that its directory exists, that \
         this user may write there, and that the path is not a symbolic link"
    )]
    OpenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The audit file's permissions could not be restricted to its owner.
    #[error("failed to set mode 0600 on audit file {path}: {source}; make this user its owner")]
    RestrictFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An open audit file.
#[derive(Debug)]
struct AuditFile {
    path: PathBuf,
    file: Mutex<File>,
}

/// Emits, appends and stores audit events. Share it behind an `Arc`.
#[derive(Default)]
pub struct AuditLog {
    file: Option<AuditFile>,
    store: Option<Arc<dyn AuditStore>>,
    failures: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("file", &self.file.as_ref().map(|file| &file.path))
            .field("store", &self.store.is_some())
            .field("failures", &self.failures)
            .finish()
    }
}

impl AuditLog {
    /// Creates a log that only emits through `tracing`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an audit file that every event is appended to, creating it with
    /// mode 0600 and restricting an existing file to 0600.
    pub fn with_file(mut self, path: &Path) -> Result<Self, AuditError> {
        let file = open_audit_file(path)?;
        self.file = Some(AuditFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        });
        Ok(self)
    }

    /// Adds the store that persists every event.
    pub fn with_store(mut self, store: Arc<dyn AuditStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reopens the audit file under its path, after log rotation moved it.
    /// Does nothing without an audit file.
    pub fn reopen_file(&self) -> Result<(), AuditError> {
        let Some(audit_file) = &self.file else {
            return Ok(());
        };
        let reopened = open_audit_file(&audit_file.path)?;
        match audit_file.file.lock() {
            Ok(mut file) => *file = reopened,
            Err(poisoned) => *poisoned.into_inner() = reopened,
        }
        Ok(())
    }

    /// Returns how many file writes and store calls have failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Redacts `event`, emits it through `tracing`, appends it to the audit
    /// file and persists it in the store. Failures of the file or store are
    /// logged and counted, never returned, so an audit problem does not fail
    /// the request that caused the event.
    pub async fn record(&self, event: AuditEvent) {
        let event = event.redacted();
        let line = event.to_json_line();
        emit(event.level, &line);

        if let Some(audit_file) = &self.file {
            if let Err(error) = append_line(audit_file, &line) {
                let failures = self.count_failure();
                if failures.is_power_of_two() {
                    tracing::error!(
                        path = %audit_file.path.display(),
                        error = %error,
                        failures,
                        "failed to append an audit event to the audit file"
                    );
                }
            }
        }

        if let Some(store) = &self.store {
            if let Err(error) = store.persist(&event).await {
                let failures = self.count_failure();
                if failures.is_power_of_two() {
                    tracing::error!(
                        event_type = event.event_type.as_str(),
                        error = %error,
                        failures,
                        "failed to store an audit event"
                    );
                }
            }
        }
    }

    /// Counts one failure and returns the new total. Logging only when the
    /// total is a power of two keeps a full disk from flooding the log.
    fn count_failure(&self) -> u64 {
        self.failures.fetch_add(1, Ordering::Relaxed) + 1
    }
}

fn emit(level: AuditLevel, line: &str) {
    match level {
        AuditLevel::Info => tracing::info!(target: AUDIT_TARGET, "{line}"),
        AuditLevel::Warn => tracing::warn!(target: AUDIT_TARGET, "{line}"),
        AuditLevel::Error => tracing::error!(target: AUDIT_TARGET, "{line}"),
    }
}

/// Appends `line` and a newline with one write, so lines from concurrent
/// writers (O_APPEND) do not interleave.
// NOTE: this is a blocking write on the caller's thread. Events are small
// and local files are fast; move it to a writer task if that changes.
fn append_line(audit_file: &AuditFile, line: &str) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let mut file = match audit_file.file.lock() {
        Ok(file) => file,
        Err(poisoned) => poisoned.into_inner(),
    };
    file.write_all(&bytes)
}

fn open_audit_file(path: &Path) -> Result<File, AuditError> {
    // O_NOFOLLOW: a symbolic link planted at the path must not redirect
    // audit lines into another file.
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(AUDIT_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| AuditError::OpenFile {
            path: path.to_path_buf(),
            source,
        })?;

    // `mode` applies only on creation; tighten a file that already existed.
    let restrict = |source| AuditError::RestrictFile {
        path: path.to_path_buf(),
        source,
    };
    let mode = file.metadata().map_err(restrict)?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(Permissions::from_mode(AUDIT_FILE_MODE))
            .map_err(restrict)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::audit::{AuditEventType, AuditOutcome};

    fn event() -> AuditEvent {
        AuditEvent::builder(AuditEventType::PermissionDenied, AuditOutcome::Denied)
            .detail("route", "/api/v1/audit")
            .build()
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A store that keeps events, or fails every call.
    #[derive(Default)]
    struct MemoryStore {
        events: Mutex<Vec<AuditEvent>>,
        fail: bool,
        calls: AtomicUsize,
    }

    impl AuditStore for MemoryStore {
        fn persist<'a>(&'a self, event: &'a AuditEvent) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::Relaxed);
                if self.fail {
                    return Err("database is locked".to_string());
                }
                self.events.lock().unwrap().push(event.clone());
                Ok(())
            })
        }
    }

    /// A writer that tracing output goes to in tests.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn file_gets_one_line_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::new().with_file(&path).unwrap();
        log.record(event()).await;
        log.record(event()).await;
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let parsed: AuditEvent = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(parsed.event_type, AuditEventType::PermissionDenied);
        assert_eq!(log.failures(), 0);
    }

    #[test]
    fn new_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        AuditLog::new().with_file(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn existing_file_restricted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        AuditLog::new().with_file(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn symlink_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("audit.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = AuditLog::new().with_file(&link).unwrap_err();
        assert!(matches!(error, AuditError::OpenFile { .. }), "{error}");
    }

    #[test]
    fn missing_directory_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent/audit.log");
        let error = AuditLog::new().with_file(&path).unwrap_err();
        assert!(error.to_string().contains("absent/audit.log"), "{error}");
    }

    #[tokio::test]
    async fn store_gets_redacted_event() {
        let store = Arc::new(MemoryStore::default());
        let log = AuditLog::new().with_store(store.clone());
        let mut event = event();
        // Built without the builder, so only `record` can redact it.
        event.user_agent = Some("client password=hunter2".to_string());
        log.record(event).await;
        let stored = store.events.lock().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            stored[0].user_agent.as_deref(),
            Some("client password=********")
        );
    }

    #[tokio::test]
    async fn store_failure_counted() {
        let store = Arc::new(MemoryStore {
            fail: true,
            ..MemoryStore::default()
        });
        let log = AuditLog::new().with_store(store.clone());
        log.record(event()).await;
        log.record(event()).await;
        assert_eq!(store.calls.load(Ordering::Relaxed), 2);
        assert_eq!(log.failures(), 2);
    }

    #[tokio::test]
    async fn reopen_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotated = dir.path().join("audit.log.1");
        let log = AuditLog::new().with_file(&path).unwrap();
        log.record(event()).await;
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen_file().unwrap();
        log.record(event()).await;
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap().lines().count(),
            1
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tracing_gets_json_line() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        // tracing caches, per call site, whether any subscriber is interested.
        // A test on another thread that sets or drops its own subscriber at
        // the same moment can leave that cache at "never" (seen in about one
        // full run in three). So the cache is rebuilt and the event retried,
        // and the assertions below still need one real line.
        let log = AuditLog::new();
        for _ in 0..20 {
            tracing::callsite::rebuild_interest_cache();
            log.record(event()).await;
            if !captured.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }

        let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(output.contains(" WARN audit: "), "{output}");
        assert!(
            output.contains("\"event_type\":\"permission_denied\""),
            "{output}"
        );
    }
}
