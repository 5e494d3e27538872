//! Authentication and authorization building blocks for the HTTP server.
//!
//! Everything here is pure: no HTTP framework, no database. The store keeps
//! what these functions produce (password hashes, token and key hashes,
//! family ids), and the API layer combines both per request.
//!
//! Layout, one file per concept:
//! - `password`: Argon2id hashing, login verification with a dummy hash
//!   for unknown users, password policy and generation.
//! - `jwt`: the HS256 signing key file and 15-minute access tokens.
//! - `tokens`: refresh tokens, API keys and CSRF tokens, and their SHA-256
//!   hashes for storage.
//! - `cookies`: `Set-Cookie` values for the refresh and CSRF cookies and a
//!   bounded `Cookie` parser.
//! - `origin`: the `Origin` check for refresh, logout and WebSocket
//!   upgrades.
//! - `throttle`: login throttling per account and per client address.
//! - `rbac`: the role each API action needs and the ownership rules.
//!
//! A login runs `throttle::LoginThrottle::check`, then
//! `password::verify_login_async`, records the outcome in the throttle, and
//! on success issues an access token (`jwt::JwtIssuer::issue`) and a
//! refresh token with its CSRF token as cookies. A refresh checks the
//! origin, the CSRF double submit and the refresh token's hash; each
//! authenticated request ends in `rbac::authorize`.

pub mod cookies;
pub mod jwt;
pub mod origin;
pub mod password;
mod random;
pub mod rbac;
pub mod throttle;
pub mod tokens;

pub use cookies::{
    clear_csrf_cookie, clear_refresh_cookie, csrf_cookie, csrf_cookie_for, refresh_cookie,
    refresh_cookie_for, CookieError, CookieJar, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE,
};
pub use jwt::{AccessToken, Claims, JwtError, JwtIssuer, SigningKey};
pub use origin::{OriginError, OriginPolicy, OriginRequest};
pub use password::{
    generate_password, hash_new_password, hash_new_password_async, needs_rehash, verify_login,
    verify_login_async, Password, PasswordError,
};
pub use rbac::{
    authorize, required_role, scope_api_key_roles, Action, AuthMethod, Denied, Principal,
};
pub use throttle::{LockEvent, LockSubject, LoginThrottle, ThrottleLimits, Throttled};
pub use tokens::{
    csrf_matches, new_family_id, ApiKey, CsrfToken, RefreshToken, TokenError,
    REFRESH_TOKEN_LIFETIME,
};
