//! Frame codec: a 4-byte little-endian length, then a bincode 2 body.
//!
//! The reader checks the length against a caller-chosen maximum before it
//! allocates. bincode then decodes from the received slice with a byte limit
//! tied to the frame's length, so a hostile length field inside the body
//! cannot make the decoder allocate more than a small multiple of the frame.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest control frame (handshake, request, outcome), in bytes. A step
/// request carries the compiled seccomp program, the policy and the step input,
/// which stay far below this; the cap bounds what a hostile peer can make us
/// allocate.
pub const MAX_CONTROL_FRAME: usize = 1024 * 1024;

/// Size of the length prefix in bytes.
pub const LENGTH_PREFIX: usize = 4;

/// Errors of encoding, decoding and frame I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("frame of {length} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge { length: usize, limit: usize },
    #[error("failed to encode message")]
    Encode(#[source] bincode::error::EncodeError),
    #[error("malformed frame body")]
    Decode(#[source] bincode::error::DecodeError),
    #[error("frame body has {extra} trailing bytes after the message")]
    TrailingBytes { extra: usize },
    #[error("peer closed the connection")]
    Closed,
    #[error("connection closed inside a frame")]
    Truncated,
    #[error("frame I/O failed")]
    Io(#[source] io::Error),
}

// The byte limit travels in the config type, so it must be a constant.
// bincode counts the memory a decoded collection claims: its length times
// the size of an element in memory. That exceeds the bytes the elements took
// on the wire; a BPF instruction is 8 bytes in memory and can be 4 in the
// frame. Decoding therefore allows up to 16 times the frame's length,
// rounded up to a tier, and never more than 16 MiB.
fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_CONTROL_FRAME>()
}

fn decode_with_limit<T: DeserializeOwned, const LIMIT: usize>(
    body: &[u8],
) -> Result<(T, usize), bincode::error::DecodeError> {
    let config = bincode::config::standard().with_limit::<LIMIT>();
    bincode::serde::decode_from_slice(body, config)
}

/// Encodes `message` as a frame body (without the length prefix).
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, CodecError> {
    let body = bincode::serde::encode_to_vec(message, config()).map_err(CodecError::Encode)?;
    if body.len() > MAX_CONTROL_FRAME {
        return Err(CodecError::FrameTooLarge {
            length: body.len(),
            limit: MAX_CONTROL_FRAME,
        });
    }
    Ok(body)
}

/// Decodes one message from a complete frame body, rejecting trailing bytes.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    if body.len() > MAX_CONTROL_FRAME {
        return Err(CodecError::FrameTooLarge {
            length: body.len(),
            limit: MAX_CONTROL_FRAME,
        });
    }
    let decoded = match body.len() {
        0..=256 => decode_with_limit::<T, 4096>(body),
        257..=4096 => decode_with_limit::<T, 65536>(body),
        4097..=65536 => decode_with_limit::<T, MAX_CONTROL_FRAME>(body),
        _ => decode_with_limit::<T, { 16 * MAX_CONTROL_FRAME }>(body),
    };
    let (message, used) = decoded.map_err(CodecError::Decode)?;
    if used != body.len() {
        return Err(CodecError::TrailingBytes {
            extra: body.len() - used,
        });
    }
    Ok(message)
}

/// Parses a length prefix and checks it against `limit` before any allocation.
pub fn frame_length(prefix: [u8; LENGTH_PREFIX], limit: usize) -> Result<usize, CodecError> {
    let length = u32::from_le_bytes(prefix) as usize;
    if length > limit.min(MAX_CONTROL_FRAME) {
        return Err(CodecError::FrameTooLarge { length, limit });
    }
    Ok(length)
}

/// Prepends the length prefix to an encoded body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LENGTH_PREFIX + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Blocking frame reader with a per-reader size limit.
pub struct FrameReader<R> {
    inner: R,
    limit: usize,
}

impl<R: Read> FrameReader<R> {
    /// Creates a reader that rejects frames longer than `limit` bytes.
    pub fn new(inner: R, limit: usize) -> Self {
        Self { inner, limit }
    }

    /// Reads and decodes one message; `CodecError::Closed` means a clean EOF.
    pub fn read<T: DeserializeOwned>(&mut self) -> Result<T, CodecError> {
        let mut prefix = [0u8; LENGTH_PREFIX];
        let mut filled = 0;
        while filled < LENGTH_PREFIX {
            match self.inner.read(&mut prefix[filled..]) {
                Ok(0) if filled == 0 => return Err(CodecError::Closed),
                Ok(0) => return Err(CodecError::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CodecError::Io(e)),
            }
        }
        let length = frame_length(prefix, self.limit)?;
        let mut body = vec![0u8; length];
        self.inner.read_exact(&mut body).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                CodecError::Truncated
            } else {
                CodecError::Io(e)
            }
        })?;
        decode(&body)
    }
}

/// Blocking frame writer.
pub struct FrameWriter<W> {
    inner: W,
}

impl<W: Write> FrameWriter<W> {
    /// Wraps a byte sink.
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Encodes and writes one message as a single frame.
    pub fn write<T: Serialize>(&mut self, message: &T) -> Result<(), CodecError> {
        let body = encode(message)?;
        self.inner
            .write_all(&frame(&body))
            .map_err(CodecError::Io)?;
        self.inner.flush().map_err(CodecError::Io)
    }

    /// Returns the wrapped sink.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{LogFrame, LogStream, WorkerMessage};
    use proptest::prelude::*;

    fn sample() -> WorkerMessage {
        WorkerMessage::Log(LogFrame {
            stream: LogStream::Stderr,
            data: b"hello".to_vec(),
            truncated: false,
        })
    }

    #[test]
    fn collections_of_small_elements_decode() {
        // About 4 wire bytes per instruction and 8 in memory: the case that a
        // decode limit equal to the frame's length refused.
        let program = crate::policy::SeccompProgram {
            instructions: (0..700_u32)
                .map(|index| crate::policy::BpfInstruction {
                    code: 0x15,
                    jt: 1,
                    jf: 0,
                    k: index % 100,
                })
                .collect(),
            denied_action: crate::policy::DeniedAction::Kill,
        };
        let body = encode(&program).unwrap();
        assert!(body.len() < 4096, "{} bytes", body.len());
        let decoded: crate::policy::SeccompProgram = decode(&body).unwrap();
        assert_eq!(decoded, program);
    }

    #[test]
    fn round_trip_through_reader() {
        let mut wire = Vec::new();
        FrameWriter::new(&mut wire).write(&sample()).unwrap();
        let decoded: WorkerMessage = FrameReader::new(&wire[..], MAX_CONTROL_FRAME)
            .read()
            .unwrap();
        assert_eq!(decoded, sample());
    }

    #[test]
    fn oversized_length_rejected_before_read() {
        let wire = (u32::MAX).to_le_bytes();
        let result: Result<WorkerMessage, _> = FrameReader::new(&wire[..], 4096).read();
        assert!(matches!(result, Err(CodecError::FrameTooLarge { .. })));
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut body = encode(&sample()).unwrap();
        body.push(0);
        let result: Result<WorkerMessage, _> = decode(&body);
        assert!(matches!(
            result,
            Err(CodecError::TrailingBytes { extra: 1 })
        ));
    }

    #[test]
    fn hostile_inner_length_is_bounded() {
        // Variant 3 (Log), stream 0, then a vector length claiming 2^62 bytes.
        let mut body = vec![3u8, 0u8];
        body.push(0xFD);
        body.extend_from_slice(&(1u64 << 62).to_le_bytes());
        let result: Result<WorkerMessage, _> = decode(&body);
        assert!(matches!(result, Err(CodecError::Decode(_))));
    }

    #[test]
    fn truncated_frame_reported() {
        let mut wire = Vec::new();
        FrameWriter::new(&mut wire).write(&sample()).unwrap();
        wire.truncate(wire.len() - 1);
        let result: Result<WorkerMessage, _> =
            FrameReader::new(&wire[..], MAX_CONTROL_FRAME).read();
        assert!(matches!(result, Err(CodecError::Truncated)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<WorkerMessage>(&bytes);
            let _ = decode::<crate::messages::SupervisorMessage>(&bytes);
            let _ = FrameReader::new(&bytes[..], 256).read::<WorkerMessage>();
        }

        #[test]
        fn mutated_frames_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let mut body = encode(&sample()).unwrap();
            for (index, value) in flips {
                let at = index % body.len();
                body[at] = value;
            }
            let _ = decode::<WorkerMessage>(&body);
        }
    }
}
