//! Authentication (tokens, passwords) and authorisation (the policy).

pub mod claims;
pub mod jwks;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod principal;

pub use policy::Action;
pub use principal::{Principal, Role, TenantCaller};

use axum::http::HeaderMap;

use jwt::JwtVerifier;

/// Reads the bearer token of a request into a principal. A missing token is
/// anonymous; a refused token is anonymous too, but keeps the reason, so
/// public operations (sign-in, refresh) still work and everything else
/// answers `UNAUTHENTICATED` with that reason.
pub fn principal_from_headers(verifier: &JwtVerifier, headers: &HeaderMap) -> Principal {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Principal::anonymous();
    };
    let Some(token) = value.to_str().ok().and_then(bearer_token) else {
        return Principal::Anonymous {
            token_error: Some("the Authorization header must be `Bearer <token>`".into()),
        };
    };
    principal_from_token(verifier, token)
}

/// Verifies a raw token (HTTP header or websocket `connection_init`).
pub fn principal_from_token(verifier: &JwtVerifier, token: &str) -> Principal {
    match verifier.verify(token) {
        Ok(principal) => principal,
        Err(e) => Principal::Anonymous { token_error: Some(e.0) },
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}
