//! Async frame I/O on the supervisor side of a worker socket.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use vwmp_protocol::codec::{self, CodecError, LENGTH_PREFIX};
use vwmp_protocol::{SupervisorMessage, WorkerMessage, MAX_CONTROL_FRAME};

/// Reads one worker message, rejecting a frame over the limit before
/// allocating its body.
pub async fn read(socket: &mut UnixStream) -> Result<WorkerMessage, CodecError> {
    let mut prefix = [0u8; LENGTH_PREFIX];
    match socket.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(CodecError::Closed)
        }
        Err(err) => return Err(CodecError::Io(err)),
    }
    let length = codec::frame_length(prefix, MAX_CONTROL_FRAME)?;
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            CodecError::Truncated
        } else {
            CodecError::Io(err)
        }
    })?;
    codec::decode(&body)
}

/// Writes one supervisor message as a frame.
pub async fn write(socket: &mut UnixStream, message: &SupervisorMessage) -> Result<(), CodecError> {
    let body = codec::encode(message)?;
    socket
        .write_all(&codec::frame(&body))
        .await
        .map_err(CodecError::Io)
}

/// Names a message variant for protocol errors.
pub fn name(message: &WorkerMessage) -> &'static str {
    match message {
        WorkerMessage::Hello(_) => "Hello",
        WorkerMessage::SandboxApplied(_) => "SandboxApplied",
        WorkerMessage::SandboxFailed(_) => "SandboxFailed",
        WorkerMessage::Log(_) => "Log",
        WorkerMessage::Outcome(_) => "Outcome",
        WorkerMessage::StepError { .. } => "StepError",
    }
}
