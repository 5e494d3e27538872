//! `Set-Cookie` values for the refresh and CSRF cookies, and a bounded
//! parser for the `Cookie` request header.
//!
//! The refresh cookie is `HttpOnly` and scoped to the auth routes, so page
//! scripts never see it and other routes never receive it. Its name has the
//! `__Secure-` prefix, which browsers accept only with `Secure`. The CSRF
//! cookie is readable by scripts (the page copies it into the
//! [`CSRF_HEADER`] header) and has the `__Host-` prefix, which browsers
//! accept only with `Secure`, `Path=/` and no `Domain`, so a sibling
//! subdomain cannot plant one. Both are `SameSite=Strict`.

use std::time::Duration;

use super::tokens::{CsrfToken, RefreshToken, REFRESH_TOKEN_LIFETIME};

/// Name of the refresh token cookie.
pub const REFRESH_COOKIE: &str = "__Secure-vwmp_refresh";

/// Name of the CSRF token cookie.
pub const CSRF_COOKIE: &str = "__Host-vwmp_csrf";

/// Request header that must repeat the CSRF cookie's value.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Path the refresh cookie is sent to: the auth routes only.
pub const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

/// Maximum total length of the `Cookie` header(s) of one request, in bytes.
/// Browsers send at most about 4 KiB per cookie; 8 KiB matches common proxy
/// header limits and bounds the parsing work.
pub const MAX_COOKIE_HEADER_BYTES: usize = 8 * 1024;

/// Maximum number of cookies kept from one request. The server reads two;
/// the cap bounds the memory a crafted header can take.
pub const MAX_COOKIES: usize = 64;

/// Errors from parsing a `Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error(
        "Cookie header is longer than {max_bytes} bytes: clear this site's cookies in the browser"
    )]
    HeaderTooLong { max_bytes: usize },

    #[error(
        "Cookie header has more than {max_count} cookies: clear this site's cookies in the browser"
    )]
    TooManyCookies { max_count: usize },
}

/// Returns the `Set-Cookie` value that stores a refresh token for
/// [`REFRESH_TOKEN_LIFETIME`].
pub fn refresh_cookie(token: &RefreshToken) -> String {
    refresh_cookie_with(token.as_str(), REFRESH_TOKEN_LIFETIME.as_secs())
}

/// Returns the `Set-Cookie` value that stores a CSRF token for as long as
/// the refresh cookie lives.
pub fn csrf_cookie(token: &CsrfToken) -> String {
    csrf_cookie_with(token.as_str(), REFRESH_TOKEN_LIFETIME.as_secs())
}

/// Returns the `Set-Cookie` value that stores a refresh token for
/// `max_age`, such as the time left in its family.
pub fn refresh_cookie_for(token: &RefreshToken, max_age: Duration) -> String {
    refresh_cookie_with(token.as_str(), max_age.as_secs())
}

/// Returns the `Set-Cookie` value that stores a CSRF token for `max_age`.
pub fn csrf_cookie_for(token: &CsrfToken, max_age: Duration) -> String {
    csrf_cookie_with(token.as_str(), max_age.as_secs())
}

/// Returns the `Set-Cookie` value that deletes the refresh cookie (logout).
pub fn clear_refresh_cookie() -> String {
    refresh_cookie_with("", 0)
}

/// Returns the `Set-Cookie` value that deletes the CSRF cookie (logout).
pub fn clear_csrf_cookie() -> String {
    csrf_cookie_with("", 0)
}

fn refresh_cookie_with(value: &str, max_age: u64) -> String {
    format!(
        "{REFRESH_COOKIE}={value}; Max-Age={max_age}; Path={REFRESH_COOKIE_PATH}; \
         HttpOnly; Secure; SameSite=Strict"
    )
}

fn csrf_cookie_with(value: &str, max_age: u64) -> String {
    format!("{CSRF_COOKIE}={value}; Max-Age={max_age}; Path=/; Secure; SameSite=Strict")
}

/// The cookies of one request, parsed from its `Cookie` header(s).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CookieJar {
    pairs: Vec<(String, String)>,
}

// Cookie values are credentials, so `Debug` lists only the names.
impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.pairs.iter().map(|(name, _)| name))
            .finish()
    }
}

impl CookieJar {
    /// Parses one `Cookie` header value.
    pub fn parse(header: &str) -> Result<Self, CookieError> {
        Self::parse_headers([header])
    }

    /// Parses every `Cookie` header of a request (HTTP/2 may split cookies
    /// over several), with [`MAX_COOKIE_HEADER_BYTES`] and [`MAX_COOKIES`]
    /// applied to all of them together.
    ///
    /// Pairs without `=` or with an empty or invalid name are skipped, as
    /// browsers do; one pair of double quotes around a value is removed.
    pub fn parse_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, CookieError> {
        let headers: Vec<&str> = headers.into_iter().collect();
        let total_len: usize = headers.iter().map(|header| header.len()).sum();
        if total_len > MAX_COOKIE_HEADER_BYTES {
            return Err(CookieError::HeaderTooLong {
                max_bytes: MAX_COOKIE_HEADER_BYTES,
            });
        }

        let mut pairs = Vec::new();
        for pair in headers.iter().flat_map(|header| header.split(';')) {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if !is_cookie_name(name) {
                continue;
            }
            if pairs.len() == MAX_COOKIES {
                return Err(CookieError::TooManyCookies {
                    max_count: MAX_COOKIES,
                });
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value);
            pairs.push((name.to_string(), value.to_string()));
        }
        Ok(Self { pairs })
    }

    /// Returns the value of the cookie `name` (case-sensitive) when exactly
    /// one cookie has that name. Duplicates return `None`, so a planted
    /// second copy makes the check fail instead of choosing one.
    pub fn get(&self, name: &str) -> Option<&str> {
        let mut matches = self.pairs.iter().filter(|(key, _)| key == name);
        let (_, value) = matches.next()?;
        match matches.next() {
            Some(_) => None,
            None => Some(value),
        }
    }

    /// Returns the parsed name/value pairs in header order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Returns the number of parsed cookies.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Returns true when no cookie was parsed.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Returns true for an RFC 6265 cookie name: one or more visible ASCII
/// characters other than separators.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(cookie: &str) -> Vec<&str> {
        cookie.split("; ").skip(1).collect()
    }

    #[test]
    fn refresh_cookie_attributes() {
        let token = RefreshToken::generate();
        let cookie = refresh_cookie(&token);
        assert!(cookie.starts_with(&format!("__Secure-vwmp_refresh={};", token.as_str())));
        assert_eq!(
            attributes(&cookie),
            vec![
                "Max-Age=604800",
                "Path=/api/v1/auth",
                "HttpOnly",
                "Secure",
                "SameSite=Strict"
            ]
        );
    }

    #[test]
    fn csrf_cookie_attributes() {
        let token = CsrfToken::generate();
        let cookie = csrf_cookie(&token);
        assert!(cookie.starts_with(&format!("__Host-vwmp_csrf={};", token.as_str())));
        assert_eq!(
            attributes(&cookie),
            vec!["Max-Age=604800", "Path=/", "Secure", "SameSite=Strict"]
        );
    }

    #[test]
    fn csrf_cookie_readable_by_scripts() {
        assert!(!csrf_cookie(&CsrfToken::generate()).contains("HttpOnly"));
    }

    #[test]
    fn clear_refresh_expires_now() {
        assert_eq!(
            clear_refresh_cookie(),
            "__Secure-vwmp_refresh=; Max-Age=0; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn clear_csrf_expires_now() {
        assert_eq!(
            clear_csrf_cookie(),
            "__Host-vwmp_csrf=; Max-Age=0; Path=/; Secure; SameSite=Strict"
        );
    }

    #[test]
    fn parse_pairs() {
        let jar = CookieJar::parse("a=1; b=two;c = three ").unwrap();
        let pairs: Vec<_> = jar.pairs().collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", "two"), ("c", "three")]);
    }

    #[test]
    fn parse_quoted_value() {
        let jar = CookieJar::parse("a=\"quoted\"").unwrap();
        assert_eq!(jar.get("a"), Some("quoted"));
    }

    #[test]
    fn parse_value_with_equals() {
        let jar = CookieJar::parse("a=b=c").unwrap();
        assert_eq!(jar.get("a"), Some("b=c"));
    }

    #[test]
    fn parse_skips_invalid_pairs() {
        let jar = CookieJar::parse("novalue; =empty; bad name=x; ok=1").unwrap();
        let pairs: Vec<_> = jar.pairs().collect();
        assert_eq!(pairs, vec![("ok", "1")]);
    }

    #[test]
    fn parse_empty_header() {
        assert!(CookieJar::parse("").unwrap().is_empty());
    }

    #[test]
    fn names_case_sensitive() {
        let jar = CookieJar::parse("Token=1").unwrap();
        assert_eq!(jar.get("token"), None);
    }

    #[test]
    fn duplicate_name_is_absent() {
        let jar = CookieJar::parse("__Host-vwmp_csrf=a; __Host-vwmp_csrf=b").unwrap();
        assert_eq!(jar.get(CSRF_COOKIE), None);
    }

    #[test]
    fn several_headers_joined() {
        let jar = CookieJar::parse_headers(["a=1", "b=2"]).unwrap();
        assert_eq!(jar.get("b"), Some("2"));
        assert_eq!(jar.len(), 2);
    }

    #[test]
    fn long_header_rejected() {
        let header = format!("a={}", "x".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(
            CookieJar::parse(&header),
            Err(CookieError::HeaderTooLong { max_bytes: 8192 })
        );
    }

    #[test]
    fn long_split_header_rejected() {
        let half = "x".repeat(MAX_COOKIE_HEADER_BYTES / 2 + 1);
        assert_eq!(
            CookieJar::parse_headers([half.as_str(), half.as_str()]),
            Err(CookieError::HeaderTooLong { max_bytes: 8192 })
        );
    }

    #[test]
    fn many_cookies_rejected() {
        let header = (0..=MAX_COOKIES)
            .map(|index| format!("c{index}=1"))
            .collect::<Vec<_>>()
            .join("; ");
        assert_eq!(
            CookieJar::parse(&header),
            Err(CookieError::TooManyCookies { max_count: 64 })
        );
    }

    #[test]
    fn max_cookies_accepted() {
        let header = (0..MAX_COOKIES)
            .map(|index| format!("c{index}=1"))
            .collect::<Vec<_>>()
            .join("; ");
        assert_eq!(CookieJar::parse(&header).unwrap().len(), MAX_COOKIES);
    }

    #[test]
    fn refresh_cookie_parses_back() {
        let token = RefreshToken::generate();
        let set_cookie = refresh_cookie(&token);
        let (pair, _) = set_cookie.split_once(';').unwrap();
        let jar = CookieJar::parse(pair).unwrap();
        assert_eq!(jar.get(REFRESH_COOKIE), Some(token.as_str()));
    }

    #[test]
    fn debug_hides_values() {
        let jar = CookieJar::parse("__Secure-vwmp_refresh=s3cr3t").unwrap();
        let shown = format!("{jar:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn cookie_max_age_given() {
        let refresh = refresh_cookie_for(&RefreshToken::generate(), Duration::from_secs(3600));
        assert!(refresh.contains("; Max-Age=3600;"), "{refresh}");
        let csrf = csrf_cookie_for(&CsrfToken::generate(), Duration::from_secs(59));
        assert!(csrf.contains("; Max-Age=59;"), "{csrf}");
    }
}
