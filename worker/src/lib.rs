//! The VWMP worker: runs one step in a confined process.
//!
//! The supervisor starts `vwmp-worker` with an empty environment, stdin and
//! stdout on /dev/null and one end of a Unix socket pair as descriptor 3
//! ([`SOCKET_FD`]). The worker sends `Hello`, receives a `StepRequest`,
//! confines itself (see [`sandbox`]), reports what holds, runs the plugin
//! (see [`run`]) and sends the outcome.

pub mod run;
pub mod sandbox;
pub mod sys;

use std::io;
use std::os::unix::net::UnixStream;

use sha2::{Digest, Sha256};
use vwmp_protocol::{
    codec::FrameReader, FrameWriter, Hello, KernelFeatures, SupervisorMessage, WorkerMessage,
    MAX_CONTROL_FRAME, PROTOCOL_VERSION,
};

/// Descriptor on which the worker inherits its end of the supervisor socket.
pub const SOCKET_FD: i32 = 3;

/// Exit code when the step could not run (protocol or setup failure).
pub const EXIT_SETUP_FAILED: i32 = 70;

struct SocketSink<'a> {
    writer: FrameWriter<&'a UnixStream>,
}

impl run::FrameSink for SocketSink<'_> {
    fn send(&mut self, message: &WorkerMessage) -> io::Result<()> {
        self.writer
            .write(message)
            .map_err(|err| io::Error::new(io::ErrorKind::BrokenPipe, err))
    }
}

/// Detects the kernel features the worker can use.
pub fn detect_features() -> KernelFeatures {
    let (_, effective, _) = sys::uids();
    KernelFeatures {
        landlock_abi: sys::landlock_abi(),
        seccomp_filter: sys::seccomp_filter_supported(),
        running_as_root: effective == 0,
        kernel_release: sys::kernel_release(),
    }
}

/// Runs the worker protocol on [`SOCKET_FD`]; returns the process exit code.
pub fn main_entry() -> i32 {
    // Die with the supervisor, and keep nothing it did not mean to pass.
    if sys::set_parent_death_signal().is_err() {
        return EXIT_SETUP_FAILED;
    }
    if sys::close_from(SOCKET_FD + 1).is_err() || sys::set_blocking(SOCKET_FD).is_err() {
        return EXIT_SETUP_FAILED;
    }
    // SAFETY: descriptor 3 is the socket the supervisor passed, and nothing
    // else in this process owns it.
    let socket = unsafe { sys::socket_from_fd(SOCKET_FD) };
    match serve(&socket) {
        Ok(code) => code,
        Err(_) => EXIT_SETUP_FAILED,
    }
}

fn serve(socket: &UnixStream) -> Result<i32, vwmp_protocol::CodecError> {
    let mut sink = SocketSink {
        writer: FrameWriter::new(socket),
    };
    let mut reader = FrameReader::new(socket, MAX_CONTROL_FRAME);

    let features = detect_features();
    sink.writer.write(&WorkerMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        worker_version: env!("CARGO_PKG_VERSION").to_string(),
        features: features.clone(),
    }))?;

    let request = match reader.read::<SupervisorMessage>() {
        Ok(SupervisorMessage::StepRequest(request)) => request,
        Ok(SupervisorMessage::Reject { .. }) => return Ok(EXIT_SETUP_FAILED),
        Err(err) => {
            // Tell the supervisor why before giving up; the socket may be
            // gone too, so a failed write changes nothing.
            let message = format!("the worker could not read the step request: {err}");
            let _ = sink.writer.write(&WorkerMessage::StepError { message });
            return Ok(EXIT_SETUP_FAILED);
        }
    };

    // The digest is checked before confinement, while the file is readable
    // whatever the profile says.
    if let Some(expected) = &request.program_digest {
        if let Err(message) = check_digest(&request.program, expected) {
            sink.writer.write(&WorkerMessage::StepError { message })?;
            return Ok(EXIT_SETUP_FAILED);
        }
    }

    let confinement = match sandbox::confine(&request.policy, &features) {
        Ok(confinement) => confinement,
        Err(err) => {
            sink.writer
                .write(&WorkerMessage::SandboxFailed(err.into_failure()))?;
            return Ok(EXIT_SETUP_FAILED);
        }
    };
    sink.writer
        .write(&WorkerMessage::SandboxApplied(confinement.clone()))?;

    let in_pid_namespace = confinement.kill_scope == "pid-namespace";
    match run::run_plugin(&request, SOCKET_FD, in_pid_namespace, &mut sink) {
        Ok(outcome) => {
            sink.writer.write(&WorkerMessage::Outcome(outcome))?;
            Ok(0)
        }
        Err(err) => {
            sink.writer.write(&WorkerMessage::StepError {
                message: format!("failed to run the plugin: {err}"),
            })?;
            Ok(EXIT_SETUP_FAILED)
        }
    }
}

fn check_digest(program: &std::path::Path, expected: &str) -> Result<(), String> {
    let data = std::fs::read(program).map_err(|err| {
        format!(
            "failed to read {} to check its digest: {err}",
            program.display()
        )
    })?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    if actual != expected {
        return Err(format!(
            "digest mismatch for {}: expected {expected}, found {actual}; the file changed after \
             the plugin was registered",
            program.display()
        ));
    }
    Ok(())
}
