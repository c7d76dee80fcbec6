//! `x-request-id`: kept when the client sent a well-formed one, generated
//! otherwise (tower-http's layers), and echoed on every response.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tower_http::request_id::{MakeRequestId, RequestId};

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Generates UUIDv7 request ids (time-ordered, so they sort in logs).
#[derive(Clone, Copy, Default)]
pub struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Whether a client-sent request id is safe to keep: 1 to 128 characters of
/// letters, digits and `-_.:`.
pub fn is_well_formed(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Drops a malformed incoming `x-request-id` so that a fresh one is made.
pub async fn drop_malformed(mut req: Request, next: Next) -> Response {
    let malformed = req
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|v| !v.to_str().is_ok_and(is_well_formed));
    if malformed {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// The request id of a request (set by the layers above).
pub fn of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::is_well_formed;

    #[test]
    fn request_id_format() {
        assert!(is_well_formed("0190f3c2-7c9b-7000-8000-000000000000"));
        assert!(is_well_formed("trace:abc.def_1"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("has space"));
        assert!(!is_well_formed("<script>"));
        assert!(!is_well_formed(&"x".repeat(129)));
    }
}
