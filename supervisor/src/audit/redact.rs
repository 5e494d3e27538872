//! Masks common secret shapes in free text and JSON: authorization and
//! cookie headers, bearer tokens, JWTs, `password=`-style pairs, passwords in
//! URLs, PEM private key blocks and VWMP API keys.
//!
//! This catches secrets by their shape; values of secret workflow parameters
//! are masked by exact value in `engine::redact`. Masking errs towards hiding
//! too much: after a header name, the rest of the line (up to a double quote)
//! is masked.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

/// Replacement for a masked value.
pub const MASK: &str = "********";

/// Prefix of VWMP API keys. A key is the prefix followed by at least 20
/// base64url characters. [`redact_text`] masks only candidates with a digit
/// or an uppercase letter, so identifiers such as metric names stay readable.
pub const API_KEY_PREFIX: &str = "vwmp_";

fn compile(pattern: &str) -> Regex {
    // The patterns are constants covered by tests, so failing here is a
    // programming error, not bad input.
    Regex::new(pattern).unwrap_or_else(|error| panic!("invalid redaction pattern: {error}"))
}

/// `-----BEGIN … PRIVATE KEY-----` up to its END line, or to the end of the
/// text when the block was cut off.
static PEM_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
});

/// `scheme://user:password@host`: the password part.
static URL_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@"));

/// Credential-carrying headers, as `Name: value` or a JSON `"name": "value"`.
/// The authentication scheme stays visible.
static CREDENTIAL_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)\b((?:proxy-)?authorization|set-cookie|cookie|x-api-key|x-auth-token)("?\s*[:=]\s*"?)((?:bearer|basic|digest|negotiate|token)\s+)?[^\r\n"]+"#,
    )
});

/// JSON members whose name ends in a secret word: `"password": "…"`.
static SECRET_JSON_MEMBER: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)("[a-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)"\s*:\s*)"(?:[^"\\]|\\.)*""#,
    )
});

/// `key=value` pairs whose key ends in a secret word, as in query strings,
/// command lines and connection strings.
static SECRET_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r#"(?i)\b([a-z0-9_.-]*?(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)\s*=\s*)("[^"]*"|'[^']*'|[^\s&,;"']+)"#,
    )
});

/// A JSON Web Token: three base64url segments, the header starting `eyJ`
/// (the encoding of `{"`). The signature may be empty.
static JWT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"));

/// `Bearer <token>` outside a header; 20 characters or more so that prose
/// such as "bearer authentication" stays readable.
static BEARER_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{20,}"));

/// Candidate VWMP API keys; [`is_api_key`] filters them.
static API_KEY: LazyLock<Regex> = LazyLock::new(|| compile(r"\bvwmp_[A-Za-z0-9_-]{20,}"));

/// Returns true for an API key candidate that contains a digit or an
/// uppercase letter. Random keys of 20+ base64url characters nearly always
/// do, while names such as `vwmp_steps_started_total` never do.
fn is_api_key(candidate: &str) -> bool {
    candidate[API_KEY_PREFIX.len()..]
        .chars()
        .any(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// Applies `replace_all`, keeping the borrowed text when nothing matched.
fn replace<'t>(text: Cow<'t, str>, regex: &Regex, replacement: &str) -> Cow<'t, str> {
    match regex.replace_all(&text, replacement) {
        Cow::Borrowed(_) => text,
        Cow::Owned(replaced) => Cow::Owned(replaced),
    }
}

/// Masks every secret shape in `text`; returns it unchanged (borrowed) when
/// nothing matched.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    out = replace(
        out,
        &PEM_PRIVATE_KEY,
        "-----BEGIN ${1}PRIVATE KEY-----********-----END ${1}PRIVATE KEY-----",
    );
    out = replace(out, &URL_PASSWORD, "${1}********@");
    out = replace(out, &CREDENTIAL_HEADER, "${1}${2}${3}********");
    out = replace(out, &SECRET_JSON_MEMBER, "${1}\"********\"");
    out = replace(out, &SECRET_PAIR, "${1}********");
    out = replace(out, &JWT, MASK);
    out = replace(out, &BEARER_TOKEN, "${1}********");

    let masked_keys = API_KEY.replace_all(&out, |captures: &Captures<'_>| {
        let candidate = &captures[0];
        if is_api_key(candidate) {
            MASK.to_string()
        } else {
            candidate.to_string()
        }
    });
    match masked_keys {
        Cow::Owned(replaced) if replaced != out => Cow::Owned(replaced),
        _ => out,
    }
}

/// Words that mark a JSON member name as secret when the name is the word or
/// ends in `_word`, such as `password` or `db_password`. So `api_key_id`, an
/// identifier, stays visible.
const SECRET_MEMBER_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "authorization",
    "cookie",
];

fn is_secret_member(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SECRET_MEMBER_WORDS
        .iter()
        .any(|word| name == *word || name.ends_with(&format!("_{word}")))
}

/// Masks secret shapes in every string of a JSON value, and replaces with
/// [`MASK`] the scalar values of members named like secrets: `password`,
/// `token`, `api_key` and similar words, alone or after an underscore, as in
/// `db_password`.
pub fn redact_json(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(name, value)| {
                    let scalar = !matches!(value, Value::Array(_) | Value::Object(_) | Value::Null);
                    let masked = if scalar && is_secret_member(name) {
                        Value::String(MASK.to_string())
                    } else {
                        redact_json(value)
                    };
                    (name.clone(), masked)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        redact_text(text).into_owned()
    }

    #[test]
    fn patterns_compile() {
        for regex in [
            &PEM_PRIVATE_KEY,
            &URL_PASSWORD,
            &CREDENTIAL_HEADER,
            &SECRET_JSON_MEMBER,
            &SECRET_PAIR,
            &JWT,
            &BEARER_TOKEN,
            &API_KEY,
        ] {
            assert!(!regex.as_str().is_empty());
        }
    }

    #[test]
    fn bearer_header() {
        assert_eq!(
            masked("Authorization: Bearer abc.def-ghi"),
            "Authorization: Bearer ********"
        );
    }

    #[test]
    fn basic_header() {
        assert_eq!(
            masked("authorization: Basic dXNlcjpwYXNzd29yZA=="),
            "authorization: Basic ********"
        );
    }

    #[test]
    fn proxy_authorization_header() {
        assert_eq!(
            masked("Proxy-Authorization: Basic dXNlcjpwYXNz\r\nHost: x"),
            "Proxy-Authorization: Basic ********\r\nHost: x"
        );
    }

    #[test]
    fn header_in_json() {
        let text = r#"{"authorization":"Bearer abc","accept":"*/*"}"#;
        let expected = r#"{"authorization":"Bearer ********","accept":"*/*"}"#;
        assert_eq!(masked(text), expected);
    }

    #[test]
    fn cookie_header() {
        assert_eq!(
            masked("Cookie: vwmp_refresh=Zm9vYmFy; theme=dark"),
            "Cookie: ********"
        );
        assert_eq!(
            masked("Set-Cookie: vwmp_refresh=abc; HttpOnly"),
            "Set-Cookie: ********"
        );
    }

    #[test]
    fn api_key_header() {
        assert_eq!(masked("X-Api-Key: k-123"), "X-Api-Key: ********");
    }

    #[test]
    fn standalone_bearer_token() {
        assert_eq!(
            masked("retrying with bearer AbCdEfGhIjKlMnOpQrStUv"),
            "retrying with bearer ********"
        );
    }

    #[test]
    fn jwt() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.MEUCIQDx-_9";
        assert_eq!(
            masked(&format!("token {jwt} expired")),
            "token ******** expired"
        );
    }

    #[test]
    fn unsigned_jwt() {
        let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIn0.";
        assert_eq!(masked(jwt), MASK);
    }

    #[test]
    fn password_pair() {
        assert_eq!(
            masked("connect host=db user=app password=s3cr3t sslmode=require"),
            "connect host=db user=app password=******** sslmode=require"
        );
    }

    #[test]
    fn quoted_password_pair() {
        assert_eq!(
            masked("PASSWORD = \"two words\" next"),
            "PASSWORD = ******** next"
        );
    }

    #[test]
    fn query_string_pairs() {
        assert_eq!(
            masked("GET /cb?access_token=abc&state=1&client_secret=xyz"),
            "GET /cb?access_token=********&state=1&client_secret=********"
        );
    }

    #[test]
    fn token_secret_api_key_pairs() {
        assert_eq!(masked("token=abc"), "token=********");
        assert_eq!(masked("secret=abc"), "secret=********");
        assert_eq!(masked("api_key=abc"), "api_key=********");
        assert_eq!(masked("API-KEY=abc"), "API-KEY=********");
    }

    #[test]
    fn json_password_member() {
        assert_eq!(
            masked(r#"{"user":"alice","password":"p\"w","keep":1}"#),
            r#"{"user":"alice","password":"********","keep":1}"#
        );
    }

    #[test]
    fn json_token_members() {
        assert_eq!(
            masked(r#"{"refresh_token": "abc", "api_key": "def"}"#),
            r#"{"refresh_token": "********", "api_key": "********"}"#
        );
    }

    #[test]
    fn url_password() {
        assert_eq!(
            masked("cloning https://bot:ghp_abc123@git.example.com/repo"),
            "cloning https://bot:********@git.example.com/repo"
        );
    }

    #[test]
    fn pem_private_key() {
        let text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\ndone";
        assert_eq!(
            masked(text),
            "key:\n-----BEGIN RSA PRIVATE KEY-----********-----END RSA PRIVATE KEY-----\ndone"
        );
    }

    #[test]
    fn cut_off_pem_masks_rest() {
        let text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg";
        assert_eq!(
            masked(text),
            "-----BEGIN PRIVATE KEY-----********-----END PRIVATE KEY-----"
        );
    }

    #[test]
    fn public_key_kept() {
        let text = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----";
        assert_eq!(masked(text), text);
    }

    #[test]
    fn vwmp_api_key() {
        assert_eq!(
            masked("used key vwmp_Q2hhbmdlTWUhMTIzNDU2Nzg5MA now"),
            "used key ******** now"
        );
    }

    #[test]
    fn metric_names_kept() {
        let text = "vwmp_steps_started_total and vwmp_step_duration_seconds_bucket";
        assert_eq!(masked(text), text);
    }

    #[test]
    fn normal_text_untouched() {
        for text in [
            "",
            "step build finished in 1.2s with exit code 0",
            "Password reset requested for alice; token expired at 10:00",
            "authorization failed for user bob: missing role editor",
            "bearer tokens are described in RFC 6750",
            "GET /api/v1/workflows?page=2&per_page=50",
            "tokens=5 max_tokens_used",
            "https://example.com/path?q=1",
            "eyJ alone is not a token",
        ] {
            assert!(
                matches!(redact_text(text), Cow::Borrowed(_)),
                "{text:?} became {:?}",
                masked(text)
            );
        }
    }

    #[test]
    fn masking_is_idempotent() {
        let once = masked("Authorization: Bearer abc password=x eyJa.eyJb.c");
        assert_eq!(masked(&once), once);
    }

    #[test]
    fn json_members_by_name() {
        let value = serde_json::json!({
            "password": "hunter2",
            "db_password": 1234,
            "api_key_id": "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b",
            "token_family": "f1",
            "nested": [{"Client-Secret": "x", "note": "password=abc"}],
            "token": null,
        });
        let redacted = redact_json(&value);
        assert_eq!(redacted["password"], MASK);
        assert_eq!(redacted["db_password"], MASK);
        assert_eq!(redacted["api_key_id"], value["api_key_id"]);
        assert_eq!(redacted["token_family"], "f1");
        assert_eq!(redacted["nested"][0]["Client-Secret"], MASK);
        assert_eq!(redacted["nested"][0]["note"], "password=********");
        assert_eq!(redacted["token"], Value::Null);
    }
}
