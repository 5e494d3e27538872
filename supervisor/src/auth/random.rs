//! Random bytes and tokens for every secret this module makes.
//!
//! All of them come from `rand::rng()`, a ChaCha12 generator that `rand`
//! seeds and periodically reseeds from the operating system, so nothing here
//! depends on the clock or a fixed seed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;

/// Returns `N` bytes from the thread's cryptographically secure generator.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Returns `N` random bytes encoded as unpadded base64url text.
pub(crate) fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// Returns the length in characters of `bytes` bytes as unpadded base64url.
pub(crate) const fn base64url_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// Returns true when `text` has exactly `bytes` bytes' worth of unpadded
/// base64url characters.
pub(crate) fn is_base64url_of_len(text: &str, bytes: usize) -> bool {
    text.len() == base64url_len(bytes)
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ() {
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
    }

    #[test]
    fn token_length_matches() {
        let token = random_token::<32>();
        assert_eq!(token.len(), base64url_len(32));
    }

    #[test]
    fn token_shape_accepted() {
        assert!(is_base64url_of_len(&random_token::<16>(), 16));
    }

    #[test]
    fn padded_token_rejected() {
        let padded = format!("{}=", &random_token::<16>()[1..]);
        assert!(!is_base64url_of_len(&padded, 16));
    }
}
