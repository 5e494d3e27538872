//! Web origins (`scheme://host[:port]`, RFC 6454) as configured and as sent
//! in `Origin` headers, compared in one normalized form.

use std::net::Ipv6Addr;

/// Normalizes an origin: lowercase scheme and host, default port removed.
/// Accepts `http` and `https` only; a path, query, user info or the opaque
/// origin `null` is an error that names the part to remove.
pub fn normalize_origin(text: &str) -> Result<String, String> {
    let lowered = text.trim().to_ascii_lowercase();
    let example = "write it as scheme://host[:port], such as https://vwmp.example.com";
    let Some((scheme, rest)) = lowered.split_once("://") else {
        return Err(format!("{text:?} is not an origin; {example}"));
    };
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("{text:?} has scheme {scheme:?}; use http or https")),
    };
    if let Some(position) = rest.find(['/', '?', '#']) {
        return Err(format!(
            "{text:?} has a path or query {:?}; an origin ends after the host and port",
            &rest[position..]
        ));
    }
    if rest.contains('@') {
        return Err(format!(
            "{text:?} contains user info; remove the part before @"
        ));
    }

    let (host, port) = split_host_port(rest).map_err(|reason| format!("{text:?} {reason}"))?;
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "{text:?} has invalid port {port:?}; use 1 to 65535"
                ))
            }
            Ok(number) if number == default_port => None,
            Ok(number) => Some(number),
        },
    };
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Splits `host[:port]` or `[ipv6][:port]` and checks the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err("has an IPv6 address without a closing ]".to_string());
        };
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(format!("has invalid IPv6 address {address:?}"));
        }
        let host = &authority[..address.len() + 2];
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("has unexpected text {after:?} after the host")),
            },
        };
    }

    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let valid_label_chars = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if host.is_empty() || !valid_label_chars || host.starts_with(['.', '-']) {
        return Err(format!(
            "has invalid host {host:?}; use a DNS name or an IP address"
        ));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_normalized() {
        assert_eq!(
            normalize_origin("HTTPS://VWMP.Example.com").as_deref(),
            Ok("https://vwmp.example.com")
        );
        assert_eq!(
            normalize_origin("https://vwmp.example.com:443").as_deref(),
            Ok("https://vwmp.example.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert_eq!(
            normalize_origin("http://[::1]:80").as_deref(),
            Ok("http://[::1]")
        );
        assert_eq!(
            normalize_origin("http://[::1]:8080").as_deref(),
            Ok("http://[::1]:8080")
        );
    }

    #[test]
    fn origin_rejects_non_origins() {
        for bad in [
            "",
            "null",
            "vwmp.example.com",
            "ftp://vwmp.example.com",
            "https://vwmp.example.com/",
            "https://vwmp.example.com/app",
            "https://user@vwmp.example.com",
            "https://vwmp.example.com:0",
            "https://vwmp.example.com:70000",
            "https://vwmp.example.com:http",
            "https://",
            "https://-bad.example",
            "https://bad_host.example",
            "http://[::1",
            "http://[zz::1]",
            "http://[::1]x",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn origin_error_says_fix() {
        let error = normalize_origin("https://vwmp.example.com/").unwrap_err();
        assert_eq!(
            error,
            "\"https://vwmp.example.com/\" has a path or query \"/\"; an origin ends after the \
             host and port"
        );
    }
}
