//! Password hashing and verification with Argon2id.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`),
//! so the parameters travel with each hash and can be raised later without
//! breaking old ones; [`needs_rehash`] tells the caller when to re-hash after
//! a successful login. Hashing takes tens of milliseconds and about 19 MiB of
//! memory, so async callers use [`hash_new_password_async`] and
//! [`verify_login_async`], which run on tokio's blocking thread pool.
//!
//! A login for a user that does not exist still runs one full verification
//! against a dummy hash ([`verify_login`] with `None`), so response time does
//! not reveal whether the account exists.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::Error as HashError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use rand::RngExt;
use serde::Deserialize;

/// Argon2id memory cost in KiB (19 MiB). This and the two constants below
/// are the minimum that OWASP's Password Storage Cheat Sheet recommends for
/// Argon2id (m=19 MiB, t=2, p=1), and also the `argon2` 0.6 crate defaults.
pub const MEMORY_COST_KIB: u32 = 19 * 1024;

/// Argon2id iterations (passes over memory).
pub const ITERATIONS: u32 = 2;

/// Argon2id lanes. One lane keeps each hash on a single thread, so
/// concurrent logins do not compete for the blocking pool's threads.
pub const PARALLELISM: u32 = 1;

/// Minimum length of a new password, in characters (Unicode scalar values).
/// NIST SP 800-63B asks for at least 8; 12 leaves room against offline
/// guessing if the database leaks.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Maximum length of any password, in bytes. Longer input adds no strength
/// and only lets a client make the server hash megabytes per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Length of a password made by [`generate_password`], in characters. With
/// the 57-character alphabet this is about 140 bits of entropy.
pub const GENERATED_PASSWORD_CHARS: usize = 24;

/// Characters of generated passwords: letters and digits without the
/// look-alikes `0 O 1 I l` so a password read aloud or from a terminal is
/// typed correctly, and nothing a shell or URL would treat specially.
const GENERATED_PASSWORD_ALPHABET: &[u8] =
    b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// Largest memory cost accepted from a stored hash, in KiB (256 MiB). A hash
/// with a higher cost is refused before verification because checking it
/// would let one login attempt tie up that much memory.
const MAX_STORED_MEMORY_COST_KIB: u32 = 256 * 1024;

/// Largest iteration count accepted from a stored hash, for the same reason.
const MAX_STORED_ITERATIONS: u32 = 16;

/// Largest lane count accepted from a stored hash, for the same reason.
const MAX_STORED_PARALLELISM: u32 = 8;

/// A password entered by a user, kept out of `Debug` output.
///
/// It deserializes from a JSON string and has no `Serialize` or `Display`,
/// so it cannot be written back into a response or log by accident.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Returns the plaintext, for hashing or for showing a generated
    /// password to the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Errors from checking, hashing or verifying passwords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is too short: use at least {min_chars} characters")]
    TooShort { min_chars: usize },

    #[error("password is too long: use at most {max_bytes} bytes")]
    TooLong { max_bytes: usize },

    #[error("failed to hash password: {reason}")]
    Hash { reason: String },

    #[error(
        "stored password hash is not a valid PHC string ({reason}): reset the user's password"
    )]
    ParseStoredHash { reason: String },

    #[error(
        "stored password hash uses `{algorithm}`, not argon2id version 19: reset the user's password"
    )]
    UnsupportedStoredHash { algorithm: String },

    #[error(
        "stored password hash asks for m={memory_kib} KiB, t={iterations}, p={parallelism}, \
         above the limits m={MAX_STORED_MEMORY_COST_KIB}, t={MAX_STORED_ITERATIONS}, \
         p={MAX_STORED_PARALLELISM}: reset the user's password"
    )]
    StoredHashTooCostly {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },

    #[error("failed to verify password: {reason}")]
    Verify { reason: String },

    #[error("password hashing task failed: {reason}")]
    Task { reason: String },
}

/// Checks a new password against the length policy: at least
/// [`MIN_PASSWORD_CHARS`] characters and at most [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_new_password(password: &Password) -> Result<(), PasswordError> {
    if password.0.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong {
            max_bytes: MAX_PASSWORD_BYTES,
        });
    }
    if password.0.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort {
            min_chars: MIN_PASSWORD_CHARS,
        });
    }
    Ok(())
}

/// Hashes a new password with Argon2id and a fresh random salt after
/// checking it with [`check_new_password`]; returns the PHC string to store.
pub fn hash_new_password(password: &Password) -> Result<String, PasswordError> {
    check_new_password(password)?;
    hash_unchecked(password.expose())
}

/// Verifies a login password against the user's stored PHC hash, or against
/// a dummy hash when `stored_hash` is `None` (unknown user) so that both
/// cases take the same time.
///
/// Returns `Ok(false)` for a wrong password, a password over
/// [`MAX_PASSWORD_BYTES`] and an unknown user. The comparison of hash
/// outputs is constant-time inside the `argon2` crate.
pub fn verify_login(password: &Password, stored_hash: Option<&str>) -> Result<bool, PasswordError> {
    match stored_hash {
        Some(stored_hash) => verify_against(password, stored_hash),
        None => {
            let dummy = dummy_hash()?;
            // The result is discarded: no user means no match, whatever
            // the password is.
            let _ = verify_against(password, dummy)?;
            Ok(false)
        }
    }
}

/// Returns true when a stored hash was made with other parameters than the
/// current ones, so the caller should store a new hash after a successful
/// login. Unparseable hashes also return true.
pub fn needs_rehash(stored_hash: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored_hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm != argon2::ARGON2ID_IDENT
        || hash.version != Some(Version::V0x13.into())
        || params.m_cost() != MEMORY_COST_KIB
        || params.t_cost() != ITERATIONS
        || params.p_cost() != PARALLELISM
}

/// Generates a random password of [`GENERATED_PASSWORD_CHARS`] characters
/// from an alphabet without look-alike characters.
pub fn generate_password() -> Password {
    let mut rng = rand::rng();
    let text = (0..GENERATED_PASSWORD_CHARS)
        .map(|_| {
            let index = rng.random_range(0..GENERATED_PASSWORD_ALPHABET.len());
            char::from(GENERATED_PASSWORD_ALPHABET[index])
        })
        .collect::<String>();
    Password(text)
}

/// Runs [`hash_new_password`] on tokio's blocking thread pool.
pub async fn hash_new_password_async(password: Password) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_new_password(&password))
        .await
        .map_err(|error| PasswordError::Task {
            reason: error.to_string(),
        })?
}

/// Runs [`verify_login`] on tokio's blocking thread pool.
pub async fn verify_login_async(
    password: Password,
    stored_hash: Option<String>,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || verify_login(&password, stored_hash.as_deref()))
        .await
        .map_err(|error| PasswordError::Task {
            reason: error.to_string(),
        })?
}

/// Builds the hasher with this module's fixed parameters.
fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_COST_KIB, ITERATIONS, PARALLELISM, None).map_err(|error| {
        PasswordError::Hash {
            reason: error.to_string(),
        }
    })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_unchecked(password: &str) -> Result<String, PasswordError> {
    // `hash_password` draws a 16-byte salt from the operating system.
    let hash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|error| PasswordError::Hash {
            reason: error.to_string(),
        })?;
    Ok(hash.to_string())
}

fn verify_against(password: &Password, stored_hash: &str) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(stored_hash).map_err(|error| PasswordError::ParseStoredHash {
        reason: error.to_string(),
    })?;

    // Only argon2id version 19 is accepted: the verifier would otherwise
    // follow whatever algorithm a tampered row names.
    if hash.algorithm != argon2::ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
        return Err(PasswordError::UnsupportedStoredHash {
            algorithm: hash.algorithm.as_str().chars().take(32).collect(),
        });
    }

    let params = Params::try_from(&hash).map_err(|error| PasswordError::ParseStoredHash {
        reason: error.to_string(),
    })?;
    if params.m_cost() > MAX_STORED_MEMORY_COST_KIB
        || params.t_cost() > MAX_STORED_ITERATIONS
        || params.p_cost() > MAX_STORED_PARALLELISM
    {
        return Err(PasswordError::StoredHashTooCostly {
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        });
    }

    // An over-long password cannot match any hash made by this module, but
    // it still pays for one verification so its timing looks like a miss.
    let input = if password.0.len() > MAX_PASSWORD_BYTES {
        &password.0.as_bytes()[..MAX_PASSWORD_BYTES]
    } else {
        password.0.as_bytes()
    };
    let outcome = hasher()?.verify_password(input, &hash);
    if password.0.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    match outcome {
        Ok(()) => Ok(true),
        Err(HashError::PasswordInvalid) => Ok(false),
        Err(error) => Err(PasswordError::Verify {
            reason: error.to_string(),
        }),
    }
}

/// Returns the dummy hash, made once per process from a random password with
/// the current parameters so verifying against it costs the same as a real
/// verification.
fn dummy_hash() -> Result<&'static str, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_unchecked(generate_password().expose())?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::new(text)
    }

    #[test]
    fn hash_then_verify_matches() {
        let hash = hash_new_password(&password("correct horse battery")).unwrap();
        let matched = verify_login(&password("correct horse battery"), Some(&hash)).unwrap();
        assert!(matched);
    }

    #[test]
    fn wrong_password_rejected() {
        let hash = hash_new_password(&password("correct horse battery")).unwrap();
        let matched = verify_login(&password("correct horse battery!"), Some(&hash)).unwrap();
        assert!(!matched);
    }

    #[test]
    fn hash_is_phc_argon2id() {
        let hash = hash_new_password(&password("correct horse battery")).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[test]
    fn hashes_are_salted() {
        let first = hash_new_password(&password("correct horse battery")).unwrap();
        let second = hash_new_password(&password("correct horse battery")).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn short_password_rejected() {
        let result = hash_new_password(&password("elevenchars"));
        assert_eq!(result, Err(PasswordError::TooShort { min_chars: 12 }));
    }

    #[test]
    fn short_counts_characters() {
        // Twelve characters, 24 bytes: long enough.
        assert_eq!(check_new_password(&password("ééééééééééééé")), Ok(()));
    }

    #[test]
    fn long_password_rejected() {
        let result = check_new_password(&password(&"a".repeat(MAX_PASSWORD_BYTES + 1)));
        assert_eq!(result, Err(PasswordError::TooLong { max_bytes: 1024 }));
    }

    #[test]
    fn max_length_accepted() {
        let result = check_new_password(&password(&"a".repeat(MAX_PASSWORD_BYTES)));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn overlong_login_not_matched() {
        let text = "a".repeat(MAX_PASSWORD_BYTES);
        let hash = hash_new_password(&password(&text)).unwrap();
        let longer = format!("{text}a");
        let matched = verify_login(&password(&longer), Some(&hash)).unwrap();
        assert!(!matched);
    }

    #[test]
    fn unknown_user_not_matched() {
        let matched = verify_login(&password("correct horse battery"), None).unwrap();
        assert!(!matched);
    }

    #[test]
    fn malformed_hash_is_error() {
        let result = verify_login(&password("correct horse battery"), Some("not a hash"));
        assert!(matches!(result, Err(PasswordError::ParseStoredHash { .. })));
    }

    #[test]
    fn argon2i_hash_refused() {
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let hash = argon2i
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        let result = verify_login(&password("correct horse battery"), Some(&hash));
        assert_eq!(
            result,
            Err(PasswordError::UnsupportedStoredHash {
                algorithm: "argon2i".to_string()
            })
        );
    }

    #[test]
    fn costly_hash_refused() {
        let hash = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let result = verify_login(&password("correct horse battery"), Some(hash));
        assert!(matches!(
            result,
            Err(PasswordError::StoredHashTooCostly {
                memory_kib: 4194304,
                ..
            })
        ));
    }

    #[test]
    fn current_hash_needs_no_rehash() {
        let hash = hash_new_password(&password("correct horse battery")).unwrap();
        assert!(!needs_rehash(&hash));
    }

    #[test]
    fn weaker_hash_needs_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let hash = weak
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(needs_rehash(&hash));
    }

    #[test]
    fn weaker_hash_still_verifies() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let hash = weak
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        let matched = verify_login(&password("correct horse battery"), Some(&hash)).unwrap();
        assert!(matched);
    }

    #[test]
    fn generated_password_shape() {
        let generated = generate_password();
        assert_eq!(generated.expose().chars().count(), GENERATED_PASSWORD_CHARS);
        assert!(generated
            .expose()
            .bytes()
            .all(|byte| GENERATED_PASSWORD_ALPHABET.contains(&byte)));
    }

    #[test]
    fn generated_passwords_differ() {
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn generated_password_is_valid() {
        assert_eq!(check_new_password(&generate_password()), Ok(()));
    }

    #[test]
    fn debug_hides_password() {
        let shown = format!("{:?}", password("correct horse battery"));
        assert!(!shown.contains("horse"), "{shown}");
    }

    #[test]
    fn deserializes_from_string() {
        let parsed: Password = serde_json::from_str("\"correct horse battery\"").unwrap();
        assert_eq!(parsed.expose(), "correct horse battery");
    }

    #[tokio::test]
    async fn async_round_trip() {
        let hash = hash_new_password_async(password("correct horse battery"))
            .await
            .unwrap();
        let matched = verify_login_async(password("correct horse battery"), Some(hash))
            .await
            .unwrap();
        assert!(matched);
    }
}
