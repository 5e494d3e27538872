//! The `Origin` check that guards cookie-authenticated routes (refresh,
//! logout) and WebSocket upgrades against cross-site requests.
//!
//! A request passes when its `Origin` equals one of the configured allowed
//! origins or, when none are configured, the server's own origin (the
//! request's scheme and `Host`). Origins compare after normalisation:
//! lowercase, and the default port (80 for http, 443 for https) removed.
//!
//! A missing `Origin` is rejected when the request carries a cookie.
//! Browsers send `Origin` on every POST and every WebSocket handshake, so a
//! cookie without `Origin` comes from something that is not a current
//! browser, and accepting it would reopen the hole this check closes.
//! Requests without cookies (command-line clients with a bearer token or
//! API key) carry no ambient credential, so they pass without `Origin`.
//! The literal `null` origin (sandboxed frames, `file:` pages) is always
//! rejected.

/// Longest origin quoted in an error message, in characters.
const MAX_QUOTED_ORIGIN_CHARS: usize = 100;

/// Errors from checking a request's origin or the configured origins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error(
        "request carries a cookie but no Origin header: send it from a page of an allowed origin"
    )]
    MissingOrigin,

    #[error("origin {origin} is not allowed: add it to the server's allowed origins")]
    NotAllowed { origin: String },

    #[error("request has no Host header, so its own origin is unknown: send Host or configure allowed origins")]
    MissingHost,

    #[error("allowed origin {origin} is invalid: use scheme://host[:port] with http or https, such as https://vwmp.example.com")]
    InvalidAllowedOrigin { origin: String },
}

/// The parts of a request that the origin check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginRequest<'a> {
    /// The `Origin` header, if present.
    pub origin: Option<&'a str>,
    /// `http` or `https`: the scheme the client used, as seen behind any
    /// trusted reverse proxy.
    pub scheme: &'a str,
    /// The `Host` header (or HTTP/2 `:authority`), if present.
    pub host: Option<&'a str>,
    /// Whether the request carries a cookie, a credential the browser
    /// attaches on its own.
    pub has_cookie: bool,
}

/// The configured allowed origins, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Creates a policy from the configured origins; an empty list means
    /// "same origin only".
    pub fn new<S: AsRef<str>>(allowed: &[S]) -> Result<Self, OriginError> {
        let allowed = allowed
            .iter()
            .map(|origin| {
                normalize_origin(origin.as_ref()).ok_or_else(|| OriginError::InvalidAllowedOrigin {
                    origin: quote(origin.as_ref()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allowed })
    }

    /// Returns the normalised allowed origins, for CORS configuration.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Checks a request's `Origin` against this policy.
    pub fn check(&self, request: &OriginRequest<'_>) -> Result<(), OriginError> {
        let Some(origin) = request.origin else {
            return if request.has_cookie {
                Err(OriginError::MissingOrigin)
            } else {
                Ok(())
            };
        };
        let not_allowed = || OriginError::NotAllowed {
            origin: quote(origin),
        };
        let normalized = normalize_origin(origin).ok_or_else(not_allowed)?;

        if !self.allowed.is_empty() {
            return if self.allowed.contains(&normalized) {
                Ok(())
            } else {
                Err(not_allowed())
            };
        }

        let host = request.host.ok_or(OriginError::MissingHost)?;
        let own =
            normalize_origin(&format!("{}://{host}", request.scheme)).ok_or_else(not_allowed)?;
        if normalized == own {
            Ok(())
        } else {
            Err(not_allowed())
        }
    }
}

/// Normalises `scheme://host[:port]` (one trailing `/` allowed): lowercase,
/// default port removed. Returns `None` for anything else, including the
/// `null` origin, paths, user info and schemes other than http and https.
fn normalize_origin(text: &str) -> Option<String> {
    let text = text.strip_suffix('/').unwrap_or(text).to_ascii_lowercase();
    let (scheme, authority) = text.split_once("://")?;
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };

    // A bracketed IPv6 literal contains colons, so the port separator is
    // the first colon after the closing bracket.
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        let valid = host[1..host.len() - 1]
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() || byte == b':' || byte == b'.');
        if !valid || host.len() < 3 {
            return None;
        }
        match rest {
            "" => (host, None),
            _ => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.');
        if !valid {
            return None;
        }
        (host, port)
    };

    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(port) if port == default_port => Some(format!("{scheme}://{host}")),
        Some(port) => {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|byte| byte.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|number| number != 0);
            valid.then(|| format!("{scheme}://{host}:{port}"))
        }
    }
}

/// Shortens and escapes an untrusted origin for an error message.
fn quote(origin: &str) -> String {
    let shortened: String = origin.chars().take(MAX_QUOTED_ORIGIN_CHARS).collect();
    format!("{shortened:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(origin: Option<&'a str>, host: Option<&'a str>) -> OriginRequest<'a> {
        OriginRequest {
            origin,
            scheme: "https",
            host,
            has_cookie: true,
        }
    }

    fn same_origin() -> OriginPolicy {
        OriginPolicy::default()
    }

    #[test]
    fn same_origin_accepted() {
        let result =
            same_origin().check(&request(Some("https://vwmp.example"), Some("vwmp.example")));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn same_origin_default_port() {
        let result = same_origin().check(&request(
            Some("https://vwmp.example"),
            Some("vwmp.example:443"),
        ));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn same_origin_case_insensitive() {
        let result =
            same_origin().check(&request(Some("https://VWMP.example"), Some("vwmp.EXAMPLE")));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn other_port_rejected() {
        let result = same_origin().check(&request(
            Some("https://vwmp.example:8443"),
            Some("vwmp.example"),
        ));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn other_scheme_rejected() {
        let result =
            same_origin().check(&request(Some("http://vwmp.example"), Some("vwmp.example")));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn other_host_rejected() {
        let result =
            same_origin().check(&request(Some("https://evil.example"), Some("vwmp.example")));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn suffix_host_rejected() {
        let result = same_origin().check(&request(
            Some("https://vwmp.example.evil.example"),
            Some("vwmp.example"),
        ));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn null_origin_rejected() {
        let result = same_origin().check(&request(Some("null"), Some("vwmp.example")));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn missing_origin_with_cookie_rejected() {
        let result = same_origin().check(&request(None, Some("vwmp.example")));
        assert_eq!(result, Err(OriginError::MissingOrigin));
    }

    #[test]
    fn missing_origin_without_cookie_accepted() {
        let mut without_cookie = request(None, Some("vwmp.example"));
        without_cookie.has_cookie = false;
        assert_eq!(same_origin().check(&without_cookie), Ok(()));
    }

    #[test]
    fn missing_host_rejected() {
        let result = same_origin().check(&request(Some("https://vwmp.example"), None));
        assert_eq!(result, Err(OriginError::MissingHost));
    }

    #[test]
    fn configured_origin_accepted() {
        let policy = OriginPolicy::new(&["https://app.example/"]).unwrap();
        let result = policy.check(&request(Some("https://app.example"), Some("api.example")));
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn configured_list_replaces_own() {
        let policy = OriginPolicy::new(&["https://app.example"]).unwrap();
        let result = policy.check(&request(Some("https://api.example"), Some("api.example")));
        assert!(matches!(result, Err(OriginError::NotAllowed { .. })));
    }

    #[test]
    fn ipv6_loopback_accepted() {
        let mut loopback = request(Some("http://[::1]:8080"), Some("[::1]:8080"));
        loopback.scheme = "http";
        assert_eq!(same_origin().check(&loopback), Ok(()));
    }

    #[test]
    fn invalid_configured_origins() {
        for origin in [
            "",
            "null",
            "vwmp.example",
            "ftp://vwmp.example",
            "https://vwmp.example/path",
            "https://user@vwmp.example",
            "https://vwmp.example:0",
            "https://vwmp.example:99999",
            "https://vwmp.example:",
            "https://[zz]",
            "https://",
        ] {
            let result = OriginPolicy::new(&[origin]);
            assert!(
                matches!(result, Err(OriginError::InvalidAllowedOrigin { .. })),
                "{origin:?} was accepted"
            );
        }
    }

    #[test]
    fn normalized_forms() {
        let cases = [
            ("https://A.example:443", "https://a.example"),
            ("http://a.example:80/", "http://a.example"),
            ("http://a.example:8080", "http://a.example:8080"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("http://[::1]", "http://[::1]"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_origin(input).as_deref(),
                Some(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn error_quotes_shortened_origin() {
        let origin = format!("https://{}.example", "a".repeat(500));
        let error = same_origin()
            .check(&request(Some(&origin), Some("vwmp.example")))
            .unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
    }
}
