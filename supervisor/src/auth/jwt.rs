//! JWT access tokens: the signing key file, issuing and verification.
//!
//! Tokens are signed with HS256 and a 256-bit random key. The server is the
//! only party that issues and checks them, so a shared-secret MAC gives the
//! same guarantee as a signature scheme such as EdDSA, with a key that is
//! just 32 random bytes (no key-pair encoding to parse). Verification
//! accepts HS256 only, so `alg: none` and algorithm-confusion tokens fail.
//!
//! The key lives in a file that the server creates at first start with mode
//! 0600 and refuses to read when group or others may read it. The key never
//! appears in logs or `Debug` output.

use std::fmt;
use std::fs::{DirBuilder, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::random::random_bytes;
use crate::model::{Role, UserId};

/// Lifetime of an access token. Short, because a stolen access token cannot
/// be revoked; the refresh token extends a session.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Clock skew tolerated when checking `exp` and `iat`, in seconds. The
/// library default of 60 s would stretch a 15-minute token by a minute.
pub const LEEWAY_SECONDS: u64 = 5;

/// The one algorithm that tokens are signed with and accepted in.
pub const ALGORITHM: Algorithm = Algorithm::HS256;

/// Length of the HS256 key in bytes: 256 bits, the size of the SHA-256
/// output, as RFC 7518 section 3.2 requires at least.
pub const SIGNING_KEY_BYTES: usize = 32;

/// Default `iss` claim.
pub const DEFAULT_ISSUER: &str = "vwmp";

/// Default `aud` claim.
pub const DEFAULT_AUDIENCE: &str = "vwmp-api";

/// Maximum length of a token accepted for verification, in bytes. Real
/// tokens are a few hundred bytes; the cap bounds base64 and JSON decoding
/// work per request.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Maximum size of the key file, in bytes. The key is 64 hex digits and a
/// newline; anything much larger is not a key file.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Mode of a new key file: read and write for the owner only.
const KEY_FILE_MODE: u32 = 0o600;

/// Mode of a key directory that this module creates.
const KEY_DIR_MODE: u32 = 0o700;

/// Permission bits that must be clear on an existing key file.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Errors from the key file, issuing and verifying tokens.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("access token expired: get a new one from POST /api/v1/auth/refresh")]
    Expired,

    #[error("invalid access token: {reason}; log in again")]
    Invalid { reason: &'static str },

    #[error("failed to sign access token: {reason}")]
    Sign { reason: String },

    #[error("system clock is before 1970-01-01: fix the clock")]
    Clock,

    #[error("failed to read signing key file {path}: check that the server's user can read it")]
    ReadKeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "failed to create signing key file {path}: check that its directory is writable by the server's user"
    )]
    CreateKeyFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("signing key file {path} is readable by group or others (mode {mode:03o}): run `chmod 600 {path}`")]
    KeyFilePermissions { path: PathBuf, mode: u32 },

    #[error("signing key file {path} is not a regular file: point the configuration at a file")]
    KeyFileNotRegular { path: PathBuf },

    #[error(
        "signing key file {path} does not contain 64 hex digits: delete it so the server generates \
         a new key (tokens signed with the old key then stop working)"
    )]
    KeyFileFormat { path: PathBuf },
}

/// The HS256 key that signs and verifies access tokens.
///
/// `Debug` prints no key material, and the `jsonwebtoken` key types inside
/// are zeroed when dropped.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Generates a new random key that lives only in memory.
    pub fn generate() -> Self {
        Self::from_bytes(&random_bytes::<SIGNING_KEY_BYTES>())
    }

    /// Loads the key from `path`, or generates one and writes it there when
    /// the file does not exist.
    ///
    /// A new file is created with `O_EXCL` and mode 0600 under a temporary
    /// name, written, synced and then linked into place, so it is never
    /// readable by others and never seen half-written. When two processes
    /// start at once, the one that links second loads the winner's key. An
    /// existing file is rejected when group or others have any permission.
    pub fn load_or_create(path: &Path) -> Result<Self, JwtError> {
        match Self::load(path) {
            Err(JwtError::ReadKeyFile { source, .. })
                if source.kind() == io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        match Self::create(path)? {
            Some(key) => Ok(key),
            None => Self::load(path),
        }
    }

    fn from_bytes(bytes: &[u8; SIGNING_KEY_BYTES]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        }
    }

    fn load(path: &Path) -> Result<Self, JwtError> {
        let read_error = |source| JwtError::ReadKeyFile {
            path: path.to_path_buf(),
            source,
        };

        // Checked before opening so a FIFO or device cannot block the open.
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(JwtError::KeyFileNotRegular {
                path: path.to_path_buf(),
            });
        }

        // Checked again on the open file, which is what is actually read.
        let file = File::open(path).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & GROUP_OTHER_BITS != 0 {
            return Err(JwtError::KeyFilePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }

        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|_| JwtError::KeyFileFormat {
                path: path.to_path_buf(),
            })?;
        let mut bytes = [0u8; SIGNING_KEY_BYTES];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| JwtError::KeyFileFormat {
            path: path.to_path_buf(),
        })?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Writes a new key file; returns `None` when another process created
    /// the file first.
    fn create(path: &Path) -> Result<Option<Self>, JwtError> {
        let create_error = |source| JwtError::CreateKeyFile {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        DirBuilder::new()
            .recursive(true)
            .mode(KEY_DIR_MODE)
            .create(dir)
            .map_err(create_error)?;

        // tempfile opens with O_CREAT | O_EXCL and the given mode, so the
        // file is 0600 (or narrower, by umask) from its first moment.
        let mut temp = tempfile::Builder::new()
            .prefix(".vwmp-signing-key-")
            .permissions(Permissions::from_mode(KEY_FILE_MODE))
            .tempfile_in(dir)
            .map_err(create_error)?;
        let bytes = random_bytes::<SIGNING_KEY_BYTES>();
        let mut text = hex::encode(bytes);
        text.push('\n');
        temp.write_all(text.as_bytes()).map_err(create_error)?;
        temp.as_file().sync_all().map_err(create_error)?;

        // persist_noclobber links the file into place and fails when the
        // name exists, so a concurrent start never overwrites a key.
        match temp.persist_noclobber(path) {
            Ok(_) => {}
            Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            Err(error) => return Err(create_error(error.error)),
        }
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(create_error)?;

        tracing::info!(path = %path.display(), "generated a new access token signing key");
        Ok(Some(Self::from_bytes(&bytes)))
    }
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user the token was issued to.
    pub sub: UserId,
    /// The user's roles when the token was issued.
    pub roles: Vec<Role>,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: u64,
    /// Expiry time, in seconds since the Unix epoch.
    pub exp: u64,
    /// Unique token id (a UUID), for audit correlation.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// A signed access token and its expiry time.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The compact JWT, sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// Expiry time, in seconds since the Unix epoch.
    pub expires_at: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Issues and verifies access tokens with one key, issuer and audience.
#[derive(Clone)]
pub struct JwtIssuer {
    key: SigningKey,
    issuer: String,
    audience: String,
    lifetime: Duration,
    validation: Validation,
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// Creates an issuer that signs with `key` and accepts only tokens with
    /// this `iss` and `aud`.
    pub fn new(key: SigningKey, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            key,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            lifetime: ACCESS_TOKEN_LIFETIME,
            validation,
        }
    }

    /// Sets the lifetime of issued tokens instead of
    /// [`ACCESS_TOKEN_LIFETIME`], such as `auth.access_token_ttl` from the
    /// configuration, which bounds it to 1 minute through 1 hour.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Returns the lifetime of issued tokens.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Issues a token for `user` with `roles`, valid for the issuer's
    /// lifetime ([`ACCESS_TOKEN_LIFETIME`] unless set) from `now`.
    pub fn issue(
        &self,
        user: &UserId,
        roles: &[Role],
        now: SystemTime,
    ) -> Result<AccessToken, JwtError> {
        let iat = unix_seconds(now)?;
        let exp = iat + self.lifetime.as_secs();
        let claims = Claims {
            sub: user.clone(),
            roles: roles.to_vec(),
            iat,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &self.key.encoding)
            .map_err(|error| JwtError::Sign {
                reason: error.to_string(),
            })?;
        Ok(AccessToken {
            token,
            expires_at: exp,
        })
    }

    /// Verifies a token's signature, algorithm, `exp`, `iss` and `aud`, and
    /// that `iat` is not in the future; returns its claims.
    ///
    /// Expiry is checked against the system clock with
    /// [`LEEWAY_SECONDS`] of tolerance.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Invalid {
                reason: "token is too long",
            });
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key.decoding, &self.validation)
            .map_err(|error| map_decode_error(error.kind()))?;

        let now = unix_seconds(SystemTime::now())?;
        if data.claims.iat > now + LEEWAY_SECONDS {
            return Err(JwtError::Invalid {
                reason: "token is issued in the future",
            });
        }
        Ok(data.claims)
    }
}

/// Maps a `jsonwebtoken` error to a fixed reason that quotes nothing from
/// the token.
fn map_decode_error(kind: &ErrorKind) -> JwtError {
    let reason = match kind {
        ErrorKind::ExpiredSignature => return JwtError::Expired,
        ErrorKind::InvalidSignature => "signature does not match",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "algorithm is not HS256",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => "header or claims are malformed",
        ErrorKind::InvalidIssuer => "issuer does not match",
        ErrorKind::InvalidAudience => "audience does not match",
        ErrorKind::ImmatureSignature => "token is not valid yet",
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "token is malformed",
        _ => "token was rejected",
    };
    JwtError::Invalid { reason }
}

fn unix_seconds(time: SystemTime) -> Result<u64, JwtError> {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .map_err(|_| JwtError::Clock)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::OpenOptionsExt;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    use super::*;

    fn issuer() -> JwtIssuer {
        JwtIssuer::new(SigningKey::generate(), DEFAULT_ISSUER, DEFAULT_AUDIENCE)
    }

    fn user() -> UserId {
        UserId::parse("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b").unwrap()
    }

    /// Signs arbitrary claims with the issuer's key, bypassing `issue`.
    fn sign_raw(issuer: &JwtIssuer, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(ALGORITHM), claims, &issuer.key.encoding).unwrap()
    }

    fn valid_claims() -> serde_json::Value {
        let now = unix_seconds(SystemTime::now()).unwrap();
        json!({
            "sub": user().as_str(),
            "roles": ["editor"],
            "iat": now,
            "exp": now + 900,
            "jti": "0b6e0f5c-2d0e-4f43-9a6a-3c1f9f1d9e11",
            "iss": DEFAULT_ISSUER,
            "aud": DEFAULT_AUDIENCE,
        })
    }

    fn invalid_reason(result: Result<Claims, JwtError>) -> &'static str {
        match result {
            Err(JwtError::Invalid { reason }) => reason,
            other => panic!("expected an invalid token, got {other:?}"),
        }
    }

    #[test]
    fn issue_then_verify() {
        let issuer = issuer();
        let token = issuer
            .issue(&user(), &[Role::Editor], SystemTime::now())
            .unwrap();
        let claims = issuer.verify(&token.token).unwrap();
        assert_eq!(claims.sub, user());
        assert_eq!(claims.roles, vec![Role::Editor]);
        assert_eq!(claims.exp, token.expires_at);
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.iss, DEFAULT_ISSUER);
        assert_eq!(claims.aud, DEFAULT_AUDIENCE);
    }

    #[test]
    fn token_ids_unique() {
        let issuer = issuer();
        let now = SystemTime::now();
        let first = issuer.verify(&issuer.issue(&user(), &[], now).unwrap().token);
        let second = issuer.verify(&issuer.issue(&user(), &[], now).unwrap().token);
        assert_ne!(first.unwrap().jti, second.unwrap().jti);
    }

    #[test]
    fn header_pins_hs256() {
        let token = issuer()
            .issue(&user(), &[], SystemTime::now())
            .unwrap()
            .token;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn expired_token_rejected() {
        let issuer = issuer();
        let past = SystemTime::now() - ACCESS_TOKEN_LIFETIME - Duration::from_secs(60);
        let token = issuer.issue(&user(), &[], past).unwrap();
        assert!(matches!(
            issuer.verify(&token.token),
            Err(JwtError::Expired)
        ));
    }

    #[test]
    fn expiry_within_leeway_accepted() {
        let issuer = issuer();
        let past = SystemTime::now() - ACCESS_TOKEN_LIFETIME + Duration::from_secs(2);
        let token = issuer.issue(&user(), &[], past).unwrap();
        assert!(issuer.verify(&token.token).is_ok());
    }

    #[test]
    fn expiry_beyond_leeway_rejected() {
        let issuer = issuer();
        let past = SystemTime::now() - ACCESS_TOKEN_LIFETIME - Duration::from_secs(10);
        let token = issuer.issue(&user(), &[], past).unwrap();
        assert!(matches!(
            issuer.verify(&token.token),
            Err(JwtError::Expired)
        ));
    }

    #[test]
    fn string_exp_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims["exp"] = json!("99999999999");
        let token = sign_raw(&issuer, &claims);
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "header or claims are malformed"
        );
    }

    #[test]
    fn missing_exp_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove("exp");
        let token = sign_raw(&issuer, &claims);
        assert!(issuer.verify(&token).is_err());
    }

    #[test]
    fn future_iat_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims["iat"] = json!(unix_seconds(SystemTime::now()).unwrap() + 60);
        let token = sign_raw(&issuer, &claims);
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "token is issued in the future"
        );
    }

    #[test]
    fn wrong_issuer_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims["iss"] = json!("someone-else");
        let token = sign_raw(&issuer, &claims);
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "issuer does not match"
        );
    }

    #[test]
    fn wrong_audience_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims["aud"] = json!("another-api");
        let token = sign_raw(&issuer, &claims);
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "audience does not match"
        );
    }

    #[test]
    fn unknown_role_rejected() {
        let issuer = issuer();
        let mut claims = valid_claims();
        claims["roles"] = json!(["root"]);
        let token = sign_raw(&issuer, &claims);
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "header or claims are malformed"
        );
    }

    #[test]
    fn other_key_rejected() {
        let token = issuer()
            .issue(&user(), &[Role::Admin], SystemTime::now())
            .unwrap();
        assert_eq!(
            invalid_reason(issuer().verify(&token.token)),
            "signature does not match"
        );
    }

    #[test]
    fn alg_none_rejected() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
        let token = format!("{header}.{payload}.");
        assert!(matches!(
            issuer().verify(&token),
            Err(JwtError::Invalid { .. })
        ));
    }

    #[test]
    fn hs512_rejected() {
        let issuer = issuer();
        let other = EncodingKey::from_secret(&[7u8; 64]);
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS512), &valid_claims(), &other).unwrap();
        assert_eq!(
            invalid_reason(issuer.verify(&token)),
            "algorithm is not HS256"
        );
    }

    #[test]
    fn tampered_payload_rejected() {
        let issuer = issuer();
        let token = issuer
            .issue(&user(), &[Role::Viewer], SystemTime::now())
            .unwrap()
            .token;
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = valid_claims();
        claims["roles"] = json!(["admin"]);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(
            invalid_reason(issuer.verify(&forged)),
            "signature does not match"
        );
    }

    #[test]
    fn garbage_rejected() {
        assert_eq!(
            invalid_reason(issuer().verify("not.a.token")),
            "token is malformed"
        );
    }

    #[test]
    fn oversized_token_rejected() {
        let token = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(invalid_reason(issuer().verify(&token)), "token is too long");
    }

    #[test]
    fn key_file_created_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        SigningKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn key_file_is_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        SigningKey::load_or_create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 2 * SIGNING_KEY_BYTES);
        assert!(text.trim().bytes().all(|byte| byte.is_ascii_hexdigit()));
    }

    #[test]
    fn key_file_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        let first = JwtIssuer::new(
            SigningKey::load_or_create(&path).unwrap(),
            DEFAULT_ISSUER,
            DEFAULT_AUDIENCE,
        );
        let second = JwtIssuer::new(
            SigningKey::load_or_create(&path).unwrap(),
            DEFAULT_ISSUER,
            DEFAULT_AUDIENCE,
        );
        let token = first.issue(&user(), &[], SystemTime::now()).unwrap();
        assert!(second.verify(&token.token).is_ok());
    }

    #[test]
    fn key_dir_created_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("jwt.key");
        SigningKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(dir.path().join("state"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn no_temp_file_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        SigningKey::load_or_create(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("jwt.key")]);
    }

    #[test]
    fn readable_key_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .unwrap();
        writeln!(file, "{}", hex::encode([1u8; 32])).unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();

        let error = SigningKey::load_or_create(&path).unwrap_err();
        assert!(matches!(
            error,
            JwtError::KeyFilePermissions { mode: 0o644, .. }
        ));
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn malformed_key_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        std::fs::write(&path, "not hex\n").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let error = SigningKey::load_or_create(&path).unwrap_err();
        assert!(matches!(error, JwtError::KeyFileFormat { .. }));
    }

    #[test]
    fn short_key_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        std::fs::write(&path, hex::encode([1u8; 16])).unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let error = SigningKey::load_or_create(&path).unwrap_err();
        assert!(matches!(error, JwtError::KeyFileFormat { .. }));
    }

    #[test]
    fn directory_as_key_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = SigningKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, JwtError::KeyFileNotRegular { .. }));
    }

    #[test]
    fn debug_hides_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        let key = SigningKey::load_or_create(&path).unwrap();
        let hex_key = std::fs::read_to_string(&path).unwrap();
        let issuer = JwtIssuer::new(key.clone(), DEFAULT_ISSUER, DEFAULT_AUDIENCE);
        for shown in [format!("{key:?}"), format!("{issuer:?}")] {
            assert!(!shown.contains(hex_key.trim()), "{shown}");
            assert!(!shown.contains("["), "{shown}");
        }
    }

    #[test]
    fn debug_hides_token() {
        let token = issuer().issue(&user(), &[], SystemTime::now()).unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains(&token.token), "{shown}");
    }

    #[test]
    fn configured_lifetime_sets_exp() {
        let issuer = issuer().with_lifetime(Duration::from_secs(120));
        assert_eq!(issuer.lifetime(), Duration::from_secs(120));
        let token = issuer.issue(&user(), &[], SystemTime::now()).unwrap();
        let claims = issuer.verify(&token.token).unwrap();
        assert_eq!(claims.exp - claims.iat, 120);
        assert_eq!(token.expires_at, claims.exp);
    }
}
