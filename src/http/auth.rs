//! Optional API keys. With parse keys configured, parse routes need one; the admin key (its own,
//! never a parse key) guards `/admin`. Keys come from the environment or a file, are compared in
//! constant time, and are never logged.

use std::path::Path;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use subtle::ConstantTimeEq;

/// API keys that cannot be read or are not usable.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read key file {}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("the admin key must differ from every parse key")]
    AdminIsParseKey,
}

#[derive(Default, Clone)]
pub struct Keys {
    parse: Vec<Vec<u8>>,
    admin: Option<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print a key
        write!(f, "Keys {{ parse: {} key(s), admin: {} }}", self.parse.len(), self.admin.is_some())
    }
}

/// Which key a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Parse,
    Admin,
}

fn split_keys(s: &str) -> Vec<Vec<u8>> {
    s.split([',', '\n']).map(str::trim).filter(|k| !k.is_empty()).map(|k| k.as_bytes().to_vec()).collect()
}

impl Keys {
    /// Parse keys from a comma- or line-separated list and/or a file of the same; admin key likewise.
    pub fn load(parse: Option<&str>, parse_file: Option<&Path>, admin: Option<&str>, admin_file: Option<&Path>) -> Result<Keys, KeysError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|source| KeysError::Read { path: p.to_path_buf(), source });
        let mut keys = Keys::default();
        if let Some(s) = parse {
            keys.parse.extend(split_keys(s));
        }
        if let Some(p) = parse_file {
            keys.parse.extend(split_keys(&read(p)?));
        }
        let admin = match (admin, admin_file) {
            (Some(s), _) => split_keys(s).into_iter().next(),
            (None, Some(p)) => split_keys(&read(p)?).into_iter().next(),
            (None, None) => None,
        };
        keys.admin = admin;
        if let Some(a) = &keys.admin {
            if keys.parse.iter().any(|k| k == a) {
                return Err(KeysError::AdminIsParseKey);
            }
        }
        Ok(keys)
    }

    /// Whether `req` may use a route of `access`. Admin routes are closed when no admin key is set.
    pub fn allows(&self, req: &ServiceRequest, access: Access) -> bool {
        self.allows_key(presented_key(req).as_deref(), access)
    }

    /// Whether a presented key (or none) opens a route of `access`.
    pub fn allows_key(&self, presented: Option<&str>, access: Access) -> bool {
        match access {
            Access::Open => true,
            Access::Parse if self.parse.is_empty() => true,
            Access::Parse => presented.is_some_and(|p| any_equal(&self.parse, p.as_bytes())),
            Access::Admin => match (&self.admin, presented) {
                (Some(a), Some(p)) => bool::from(a.as_slice().ct_eq(p.as_bytes())),
                _ => false,
            },
        }
    }
}

/// Checks every key (no early exit), each in constant time.
fn any_equal(keys: &[Vec<u8>], presented: &[u8]) -> bool {
    keys.iter().fold(0u8, |acc, k| acc | k.as_slice().ct_eq(presented).unwrap_u8()) == 1
}

/// `Authorization: Bearer KEY`, `X-API-Key: KEY`, or Rasa's `?token=KEY` (percent-decoded).
fn presented_key(req: &ServiceRequest) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(k) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(k.trim().to_string());
        }
    }
    if let Some(v) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    query_token(req.query_string())
}

/// The `token` parameter of a query string, decoded as a form value (`%2B` is `+`, `+` a space).
pub fn query_token(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok()?.into_iter().find_map(|(k, v)| (k == "token").then_some(v))
}

/// Set on a request to a route that also takes its key in the body (Rasa's `/model/parse`) when
/// no valid key came in the headers or the query: the handler must find one in the body.
#[derive(Debug, Clone, Copy)]
pub struct BodyTokenRequired;

/// The key check of one route, run after routing: `access` belongs to the matched resource, so
/// an encoded or otherwise disguised path is checked as the route it reaches, and a path that
/// reaches no route never gets here (it is a 404). `body_token` lets the request through to the
/// handler with [`BodyTokenRequired`] instead of refusing it.
pub async fn authorize(
    access: Access,
    body_token: bool,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let keys = match req.app_data::<web::Data<super::AppState>>() {
        Some(state) => &state.keys,
        None => return Ok(next.call(req).await?.map_into_left_body()),
    };
    if keys.allows(&req, access) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    if body_token && access == Access::Parse {
        req.extensions_mut().insert(BodyTokenRequired);
        return Ok(next.call(req).await?.map_into_left_body());
    }
    Ok(req.into_response(super::ApiError::Unauthorized.error_response()).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn keys() -> Keys {
        Keys::load(Some("k1, k2"), None, Some("adm"), None).unwrap()
    }

    #[test]
    fn parse_routes_need_a_parse_key() {
        let k = keys();
        let bearer = TestRequest::default().insert_header(("authorization", "Bearer k2")).to_srv_request();
        assert!(k.allows(&bearer, Access::Parse));
        let header = TestRequest::default().insert_header(("x-api-key", "k1")).to_srv_request();
        assert!(k.allows(&header, Access::Parse));
        let rasa = TestRequest::default().uri("/model/parse?token=k1").to_srv_request();
        assert!(k.allows(&rasa, Access::Parse));
        let wrong = TestRequest::default().insert_header(("x-api-key", "k3")).to_srv_request();
        assert!(!k.allows(&wrong, Access::Parse));
        assert!(!k.allows(&TestRequest::default().to_srv_request(), Access::Parse));
        assert!(k.allows(&TestRequest::default().to_srv_request(), Access::Open));
    }

    #[test]
    fn admin_never_accepts_a_parse_key() {
        let k = keys();
        let parse_key = TestRequest::default().insert_header(("x-api-key", "k1")).to_srv_request();
        assert!(!k.allows(&parse_key, Access::Admin));
        let admin = TestRequest::default().insert_header(("x-api-key", "adm")).to_srv_request();
        assert!(k.allows(&admin, Access::Admin));
        assert!(Keys::load(Some("same"), None, Some("same"), None).is_err());
        // no admin key configured: admin routes are closed
        let none = Keys::load(Some("k1"), None, None, None).unwrap();
        assert!(!none.allows(&admin, Access::Admin));
    }

    #[test]
    fn no_keys_means_open_parse_routes_and_debug_hides_keys() {
        let k = Keys::default();
        assert!(k.allows(&TestRequest::default().to_srv_request(), Access::Parse));
        assert!(!format!("{:?}", keys()).contains("k1"));
    }

    #[test]
    fn query_tokens_are_decoded() {
        assert_eq!(query_token("token=a%2Bb%20c").as_deref(), Some("a+b c"));
        assert_eq!(query_token("x=1&token=k1").as_deref(), Some("k1"));
        assert_eq!(query_token("tokens=k1"), None);
        assert_eq!(query_token(""), None);
        let k = keys();
        let encoded = TestRequest::default().uri("/model/parse?token=%6B1").to_srv_request();
        assert!(k.allows(&encoded, Access::Parse));
    }
}
