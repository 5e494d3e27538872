//! Authentication of API requests and the authorization helper.
//!
//! `Authorization: Bearer <credential>` carries either a JWT access token or
//! an API key (recognised by its `vwmp_` prefix). Either way the user must
//! still exist and be enabled. The roles in force are narrowed to the
//! user's current roles, so removing a role takes effect before an access
//! token or key expires.

use std::net::{IpAddr, SocketAddr};

use warp::http::HeaderMap;
use warp::{Filter, Rejection};

use super::problem::{Problem, ProblemCode};
use super::{now_millis, with_state};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::rbac::{authorize, scope_api_key_roles, Action, AuthMethod, Principal};
use crate::auth::tokens::API_KEY_PREFIX;
use crate::auth::{ApiKey, JwtError};
use crate::model::{Role, UserId};
use crate::server::http::PeerAddr;
use crate::server::AppState;

/// Longest `Authorization` header accepted, in bytes. Access tokens are a
/// few hundred bytes and API keys under a hundred.
const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Maximum length of a user agent kept for audit events, in bytes. The
/// audit log caps it again in characters.
const MAX_USER_AGENT_BYTES: usize = 2048;

/// Client address and user agent of a request, for audit events and login
/// throttling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client address: the peer address, or the last `X-Forwarded-For`
    /// entry when a trusted reverse proxy forwards the request.
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Adds the address and user agent to an audit event.
    pub fn annotate(
        &self,
        mut builder: crate::audit::AuditEventBuilder,
    ) -> crate::audit::AuditEventBuilder {
        if let Some(ip) = self.ip {
            builder = builder.ip_address(ip);
        }
        if let Some(agent) = &self.user_agent {
            builder = builder.user_agent(agent.clone());
        }
        builder
    }
}

/// An authenticated caller and where the request came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client: ClientInfo,
}

impl Caller {
    /// Returns the caller's user id.
    pub fn user_id(&self) -> &UserId {
        &self.principal.user_id
    }

    /// Checks that the caller may perform `action` on a resource owned by
    /// `owner`; on denial, records a `permission_denied` audit event and
    /// returns 403 `forbidden`.
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
        owner: Option<&UserId>,
    ) -> Result<(), Problem> {
        match authorize(&self.principal, action, owner) {
            Ok(()) => Ok(()),
            Err(denied) => {
                let event = self
                    .client
                    .annotate(AuditEvent::builder(
                        AuditEventType::PermissionDenied,
                        AuditOutcome::Denied,
                    ))
                    .user(self.principal.user_id.clone())
                    .detail("action", action.as_str())
                    .detail("reason", denied.to_string())
                    .build();
                state.audit.record(event).await;
                Err(Problem::forbidden(denied.to_string()))
            }
        }
    }
}

/// Returns a filter that extracts the client's address and user agent.
pub fn client_info(
    state: &AppState,
) -> impl Filter<Extract = (ClientInfo,), Error = std::convert::Infallible> + Clone {
    let trusted_proxy = state.config.server.trusted_proxy;
    warp::ext::optional::<PeerAddr>()
        .and(warp::header::headers_cloned())
        .map(move |peer: Option<PeerAddr>, headers: HeaderMap| {
            read_client_info(
                peer.map(|PeerAddr(address)| address),
                &headers,
                trusted_proxy,
            )
        })
}

fn read_client_info(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxy: bool,
) -> ClientInfo {
    let mut ip = peer.map(|address| address.ip());
    if trusted_proxy {
        // The proxy appends the address it saw, so the last entry is the
        // only one the proxy vouches for.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let forwarded = entries
            .last()
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            ip = forwarded;
        }
    }
    let user_agent = headers
        .get(warp::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= MAX_USER_AGENT_BYTES)
        .map(str::to_string);
    ClientInfo { ip, user_agent }
}

/// Returns a filter that authenticates the request and extracts the
/// [`Caller`], or rejects with 401.
pub fn authenticated(
    state: &AppState,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    with_state(state)
        .and(client_info(state))
        .and(warp::header::optional::<String>("authorization"))
        .and_then(
            |state: AppState, client: ClientInfo, header: Option<String>| async move {
                let principal = authenticate(&state, header.as_deref())
                    .await
                    .map_err(warp::reject::custom)?;
                Ok::<_, Rejection>(Caller { principal, client })
            },
        )
}

/// Returns a filter that authenticates the request and checks that the
/// caller may perform `action`, which must not need ownership, rejecting
/// with 401 or an audited 403. Put it before body and query filters, so a
/// caller without the role learns nothing from validation errors.
pub fn authorized(
    state: &AppState,
    action: Action,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    with_state(state).and(authenticated(state)).and_then(
        move |state: AppState, caller: Caller| async move {
            caller
                .authorize(&state, action, None)
                .await
                .map_err(warp::reject::custom)?;
            Ok::<_, Rejection>(caller)
        },
    )
}

/// Authenticates an `Authorization` header value.
pub async fn authenticate(state: &AppState, header: Option<&str>) -> Result<Principal, Problem> {
    let credential = bearer_credential(header)?;
    if credential.starts_with(API_KEY_PREFIX) {
        authenticate_api_key(state, credential).await
    } else {
        authenticate_jwt(state, credential).await
    }
}

/// Extracts the credential of `Bearer <credential>`.
fn bearer_credential(header: Option<&str>) -> Result<&str, Problem> {
    let Some(header) = header else {
        return Err(Problem::unauthenticated(
            "this route needs authentication: send Authorization: Bearer <access token or API key>",
        ));
    };
    if header.len() > MAX_AUTHORIZATION_BYTES {
        return Err(Problem::unauthenticated(format!(
            "the Authorization header exceeds {MAX_AUTHORIZATION_BYTES} bytes: send one access \
             token or API key"
        )));
    }
    let (scheme, credential) = header.trim().split_once(' ').unwrap_or((header, ""));
    let credential = credential.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() {
        return Err(Problem::unauthenticated(
            "the Authorization header must use the Bearer scheme: send Authorization: Bearer \
             <access token or API key>",
        ));
    }
    Ok(credential)
}

async fn authenticate_jwt(state: &AppState, token: &str) -> Result<Principal, Problem> {
    let claims = state.jwt.verify(token).map_err(|error| match error {
        JwtError::Expired => Problem::new(
            ProblemCode::TokenExpired,
            "the access token expired: get a new one from POST /api/v1/auth/refresh or log in again",
        ),
        JwtError::Invalid { reason } => {
            Problem::unauthenticated(format!("invalid access token ({reason}): log in again"))
        }
        other => {
            tracing::error!(error = %other, "failed to verify an access token");
            Problem::internal()
        }
    })?;
    let roles = current_roles(state, &claims.sub, &claims.roles).await?;
    Ok(Principal {
        user_id: claims.sub,
        roles,
        via: AuthMethod::Jwt,
    })
}

async fn authenticate_api_key(state: &AppState, presented: &str) -> Result<Principal, Problem> {
    let invalid = || {
        Problem::unauthenticated(
            "invalid, expired or revoked API key: create a new key with POST /api/v1/api-keys",
        )
    };
    let key = ApiKey::parse(presented).map_err(|_| invalid())?;
    let record = state
        .store
        .api_key_by_hash(&key.hash())
        .await
        .map_err(|error| Problem::from_store(error, "find API key"))?
        .ok_or_else(invalid)?;
    let now = now_millis();
    // NOTE: the store assigns its own id to a new key, so the id inside the
    // key text differs from `record.id`. The lookup relies on the hash of
    // the whole key instead, which covers its 256-bit secret.
    if !key.matches_hash(&record.key_hash) || !record.is_active(now) {
        return Err(invalid());
    }
    let roles = current_roles(state, &record.user_id, &record.roles).await?;
    if let Err(error) = state.store.touch_api_key(&record.id, now).await {
        // Only `last_used_at` is lost, so the request goes on.
        tracing::warn!(key_id = %record.id, %error, "failed to record the use of an API key");
    }
    Ok(Principal {
        user_id: record.user_id,
        roles,
        via: AuthMethod::ApiKey { key_id: record.id },
    })
}

/// Returns `granted` narrowed to the user's current roles. A missing or
/// disabled user is 401.
async fn current_roles(
    state: &AppState,
    user_id: &UserId,
    granted: &[Role],
) -> Result<Vec<Role>, Problem> {
    let user = state
        .store
        .user_by_id(user_id)
        .await
        .map_err(|error| Problem::from_store(error, "find user"))?;
    match user {
        Some(user) if !user.disabled => Ok(scope_api_key_roles(granted, &user.roles)),
        _ => Err(Problem::unauthenticated(
            "the account of this credential no longer exists or is disabled: ask an admin",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_parsed() {
        assert_eq!(bearer_credential(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_credential(Some("bearer  abc ")).unwrap(), "abc");
        for bad in [
            None,
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer   "),
            Some("abc"),
        ] {
            let problem = bearer_credential(bad).unwrap_err();
            assert_eq!(problem.code, ProblemCode::Unauthenticated, "{bad:?}");
        }
    }

    #[test]
    fn long_header_rejected() {
        let header = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES));
        assert!(bearer_credential(Some(&header)).is_err());
    }

    #[test]
    fn forwarded_for_only_behind_proxy() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        headers.insert("user-agent", "curl/8".parse().unwrap());

        let direct = read_client_info(Some(peer), &headers, false);
        assert_eq!(direct.ip, Some(peer.ip()));
        assert_eq!(direct.user_agent.as_deref(), Some("curl/8"));

        let proxied = read_client_info(Some(peer), &headers, true);
        assert_eq!(proxied.ip, Some("198.51.100.7".parse().unwrap()));
    }
}
