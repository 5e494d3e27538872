//! Opaque credentials: refresh tokens, API keys and CSRF tokens, and the
//! hashes that the store keeps in their place.
//!
//! Every value carries 256 random bits, so a plain SHA-256 is enough to
//! store it (a slow password hash guards low-entropy input, not this), and
//! a leaked database row cannot be turned back into a usable credential.
//! The plaintext exists only in the response that hands it out and in the
//! requests that present it. The wrappers here print no plaintext in
//! `Debug`.

use std::fmt;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::random::{base64url_len, is_base64url_of_len, random_token};
use crate::model::ApiKeyId;

/// Lifetime of a refresh token family, from login. Each refresh rotates the
/// token but keeps the family's expiry.
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Random bytes in a refresh token: 256 bits.
pub const REFRESH_TOKEN_BYTES: usize = 32;

/// Prefix of every API key, so a leaked key is recognisable by secret
/// scanners and in logs.
pub const API_KEY_PREFIX: &str = "vwmp_";

/// Random bytes in an API key's secret part: 256 bits.
pub const API_KEY_SECRET_BYTES: usize = 32;

/// Lifetime of an API key when the request names none.
pub const API_KEY_DEFAULT_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Longest lifetime an API key may be given, so every key expires.
pub const API_KEY_MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Random bytes in a CSRF token: 256 bits (at least 128 are needed).
pub const CSRF_TOKEN_BYTES: usize = 32;

/// Length of a UUID in its hyphenated text form.
const UUID_TEXT_LEN: usize = 36;

/// Errors from parsing presented credentials. The messages never quote the
/// presented value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("refresh token is malformed: log in again")]
    ParseRefreshToken,

    #[error("API key is malformed ({reason}): present the whole key as shown when it was created, vwmp_<key id>_<secret>")]
    ParseApiKey { reason: &'static str },
}

/// Returns the SHA-256 of `value` as lowercase hex: the form in which
/// refresh tokens and API keys are stored.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.ct_eq(right).into()
}

/// Returns a new refresh token family id: a random UUID.
pub fn new_family_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An opaque refresh token: 256 random bits as unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// Generates a new random refresh token.
    pub fn generate() -> Self {
        Self(random_token::<REFRESH_TOKEN_BYTES>())
    }

    /// Parses a token presented in a cookie, checking only its shape.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        if is_base64url_of_len(text, REFRESH_TOKEN_BYTES) {
            Ok(Self(text.to_string()))
        } else {
            Err(TokenError::ParseRefreshToken)
        }
    }

    /// Returns the token text, for the `Set-Cookie` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the SHA-256 hex hash to store or look up.
    pub fn hash(&self) -> String {
        sha256_hex(&self.0)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// An API key: `vwmp_<key id>_<secret>`, where the key id is the
/// [`ApiKeyId`] the store looks the key up by and the secret is 256 random
/// bits as unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: ApiKeyId,
    value: String,
}

impl ApiKey {
    /// Generates a new key with a new id.
    pub fn generate() -> Self {
        let id = ApiKeyId::generate();
        let value = format!(
            "{API_KEY_PREFIX}{id}_{}",
            random_token::<API_KEY_SECRET_BYTES>()
        );
        Self { id, value }
    }

    /// Parses a presented key, checking its prefix, id and secret shape.
    pub fn parse(presented: &str) -> Result<Self, TokenError> {
        let expected_len =
            API_KEY_PREFIX.len() + UUID_TEXT_LEN + 1 + base64url_len(API_KEY_SECRET_BYTES);
        if presented.len() != expected_len {
            return Err(TokenError::ParseApiKey {
                reason: "wrong length",
            });
        }
        let rest = presented
            .strip_prefix(API_KEY_PREFIX)
            .ok_or(TokenError::ParseApiKey {
                reason: "missing vwmp_ prefix",
            })?;
        // A UUID contains no `_`, so the first one ends the id even though
        // the base64url secret may contain more.
        let (id, secret) = rest.split_once('_').ok_or(TokenError::ParseApiKey {
            reason: "missing separator",
        })?;
        let id = ApiKeyId::parse(id).map_err(|_| TokenError::ParseApiKey {
            reason: "invalid key id",
        })?;
        if !is_base64url_of_len(secret, API_KEY_SECRET_BYTES) {
            return Err(TokenError::ParseApiKey {
                reason: "invalid secret",
            });
        }
        Ok(Self {
            id,
            value: presented.to_string(),
        })
    }

    /// Returns the key id, which is not secret.
    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    /// Returns the whole key, to show once to the user who created it.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Returns the SHA-256 hex hash of the whole key, to store.
    pub fn hash(&self) -> String {
        sha256_hex(&self.value)
    }

    /// Returns true when this key hashes to `stored_hash`, compared in
    /// constant time.
    pub fn matches_hash(&self, stored_hash: &str) -> bool {
        constant_time_eq(self.hash().as_bytes(), stored_hash.as_bytes())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// A CSRF token for the double-submit check: sent both as a cookie that
/// scripts can read and, by the page, in a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// Generates a new random token.
    pub fn generate() -> Self {
        Self(random_token::<CSRF_TOKEN_BYTES>())
    }

    /// Returns the token text, for the `Set-Cookie` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(<redacted>)")
    }
}

/// Checks the double-submit CSRF rule: the cookie and the header are both
/// present, have the shape of a token from [`CsrfToken::generate`], and are
/// equal (compared in constant time).
pub fn csrf_matches(cookie_value: Option<&str>, header_value: Option<&str>) -> bool {
    let (Some(cookie), Some(header)) = (cookie_value, header_value) else {
        return false;
    };
    is_base64url_of_len(cookie, CSRF_TOKEN_BYTES)
        && constant_time_eq(cookie.as_bytes(), header.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_round_trip() {
        let token = RefreshToken::generate();
        assert_eq!(RefreshToken::parse(token.as_str()), Ok(token));
    }

    #[test]
    fn refresh_token_is_256_bits() {
        assert_eq!(RefreshToken::generate().as_str().len(), 43);
    }

    #[test]
    fn refresh_tokens_differ() {
        assert_ne!(RefreshToken::generate(), RefreshToken::generate());
    }

    #[test]
    fn refresh_token_hash_is_sha256_hex() {
        let token = RefreshToken::generate();
        let hash = token.hash();
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, sha256_hex(token.as_str()));
        assert_ne!(hash, token.as_str());
    }

    #[test]
    fn sha256_known_value() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn malformed_refresh_tokens_rejected() {
        let valid = RefreshToken::generate();
        let cases = [
            String::new(),
            "short".to_string(),
            format!("{}=", &valid.as_str()[1..]),
            format!("{}+", &valid.as_str()[1..]),
            format!("{}A", valid.as_str()),
        ];
        for case in cases {
            assert_eq!(
                RefreshToken::parse(&case),
                Err(TokenError::ParseRefreshToken),
                "{case:?}"
            );
        }
    }

    #[test]
    fn family_ids_are_uuids() {
        let family = new_family_id();
        assert!(ApiKeyId::parse(&family).is_ok(), "{family}");
    }

    #[test]
    fn api_key_round_trip() {
        let key = ApiKey::generate();
        assert_eq!(ApiKey::parse(key.as_str()), Ok(key));
    }

    #[test]
    fn api_key_has_prefix_and_id() {
        let key = ApiKey::generate();
        let expected_start = format!("vwmp_{}_", key.id());
        assert!(key.as_str().starts_with(&expected_start), "{key:?}");
    }

    #[test]
    fn api_key_matches_own_hash() {
        let key = ApiKey::generate();
        assert!(key.matches_hash(&key.hash()));
    }

    #[test]
    fn api_key_rejects_other_hash() {
        let key = ApiKey::generate();
        assert!(!key.matches_hash(&ApiKey::generate().hash()));
    }

    #[test]
    fn api_key_rejects_empty_hash() {
        assert!(!ApiKey::generate().matches_hash(""));
    }

    #[test]
    fn malformed_api_keys_rejected() {
        let valid = ApiKey::generate().as_str().to_string();
        let secret = &valid[valid.len() - 43..];
        let secret_without_underscore = secret.replace('_', "A");
        let cases = [
            (String::new(), "wrong length"),
            (format!("xxxx_{}", &valid[5..]), "missing vwmp_ prefix"),
            (valid.replacen('-', "_", 1), "invalid key id"),
            (
                format!("vwmp_{}X{secret_without_underscore}", &valid[5..41]),
                "missing separator",
            ),
            (
                format!("{}={}", &valid[..42], &secret[1..]),
                "invalid secret",
            ),
        ];
        for (case, reason) in cases {
            assert_eq!(
                ApiKey::parse(&case),
                Err(TokenError::ParseApiKey { reason }),
                "{case:?}"
            );
        }
    }

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn csrf_equal_values_match() {
        let token = CsrfToken::generate();
        assert!(csrf_matches(Some(token.as_str()), Some(token.as_str())));
    }

    #[test]
    fn csrf_different_values_rejected() {
        let cookie = CsrfToken::generate();
        let header = CsrfToken::generate();
        assert!(!csrf_matches(Some(cookie.as_str()), Some(header.as_str())));
    }

    #[test]
    fn csrf_missing_header_rejected() {
        let token = CsrfToken::generate();
        assert!(!csrf_matches(Some(token.as_str()), None));
    }

    #[test]
    fn csrf_missing_cookie_rejected() {
        let token = CsrfToken::generate();
        assert!(!csrf_matches(None, Some(token.as_str())));
    }

    #[test]
    fn csrf_empty_values_rejected() {
        assert!(!csrf_matches(Some(""), Some("")));
    }

    #[test]
    fn csrf_token_is_256_bits() {
        assert_eq!(CsrfToken::generate().as_str().len(), 43);
    }

    #[test]
    fn debug_hides_secrets() {
        let refresh = RefreshToken::generate();
        let api_key = ApiKey::generate();
        let csrf = CsrfToken::generate();
        let secret = &api_key.as_str()[42..];
        let shown_refresh = format!("{refresh:?}");
        let shown_api_key = format!("{api_key:?}");
        let shown_csrf = format!("{csrf:?}");
        assert!(!shown_refresh.contains(refresh.as_str()), "{shown_refresh}");
        assert!(!shown_api_key.contains(secret), "{shown_api_key}");
        assert!(!shown_csrf.contains(csrf.as_str()), "{shown_csrf}");
    }

    #[test]
    fn errors_hide_presented_value() {
        let presented = format!("vwmp_{}", "s3cr3t".repeat(14));
        let error = ApiKey::parse(&presented).unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }
}
