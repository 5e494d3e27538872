//! Fuzz target: arbitrary bytes must never panic the frame decoder, and
//! whatever decodes must survive an encode/decode round trip unchanged.
//!
//! Run from `protocol/`: `cargo +nightly fuzz run decode_frame`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vwmp_protocol::{
    decode, encode, FrameReader, SupervisorMessage, WorkerMessage, MAX_CONTROL_FRAME,
};

/// Frame limits the reader is tried with: a small one, so that the length
/// check fires often, and the production default.
const READER_LIMITS: [usize; 2] = [256, MAX_CONTROL_FRAME];

/// Reads frames from `data` until the first error; every frame that decodes
/// must round-trip.
fn read_stream<T>(data: &[u8], limit: usize)
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let mut reader = FrameReader::new(data, limit);
    while let Ok(message) = reader.read::<T>() {
        round_trip(&message);
    }
}

/// Encodes `message` and decodes it again; the result must be equal.
fn round_trip<T>(message: &T)
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    // A message that decoded from at most MAX_CONTROL_FRAME bytes encodes
    // to no more than that, so encoding must succeed.
    let body = encode(message).expect("a decoded message encodes again");
    let again: T = decode(&body).expect("an encoded message decodes again");
    assert_eq!(&again, message);
}

fuzz_target!(|data: &[u8]| {
    // The data as one frame body.
    if let Ok(message) = decode::<WorkerMessage>(data) {
        round_trip(&message);
    }
    if let Ok(message) = decode::<SupervisorMessage>(data) {
        round_trip(&message);
    }
    // The data as a stream of length-prefixed frames.
    for limit in READER_LIMITS {
        read_stream::<WorkerMessage>(data, limit);
        read_stream::<SupervisorMessage>(data, limit);
    }
});
