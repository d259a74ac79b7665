//! Optional API keys. With parse keys configured, parse routes need one; the admin key (its own,
//! never a parse key) guards `/admin`. Keys come from the environment or a file, are compared in
//! constant time, and are never logged.

use std::path::Path;

use actix_web::dev::ServiceRequest;
use actix_web::http::header;
use subtle::ConstantTimeEq;

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
    pub fn load(
        parse: Option<&str>,
        parse_file: Option<&Path>,
        admin: Option<&str>,
        admin_file: Option<&Path>,
    ) -> anyhow::Result<Keys> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read key file {}: {e}", p.display()));
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
            anyhow::ensure!(!keys.parse.iter().any(|k| k == a), "the admin key must differ from every parse key");
        }
        Ok(keys)
    }

    pub fn parse_keys_configured(&self) -> bool {
        !self.parse.is_empty()
    }

    /// Whether `req` may use a route of `access`. Admin routes are closed when no admin key is set.
    pub fn allows(&self, req: &ServiceRequest, access: Access) -> bool {
        let presented = presented_key(req);
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

/// `Authorization: Bearer KEY`, `X-API-Key: KEY`, or Rasa's `?token=KEY`.
fn presented_key(req: &ServiceRequest) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(k) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(k.trim().to_string());
        }
    }
    if let Some(v) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    req.query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| t.to_string())
}

/// The access a path needs.
pub fn access_for(path: &str) -> Access {
    if path.starts_with("/admin") {
        Access::Admin
    } else if path.starts_with("/v1/") || path == "/model/parse" {
        Access::Parse
    } else {
        Access::Open
    }
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
        assert_eq!(access_for("/admin/models/x/reload"), Access::Admin);
        assert_eq!(access_for("/model/parse"), Access::Parse);
        assert_eq!(access_for("/health/live"), Access::Open);
        assert_eq!(access_for("/metrics"), Access::Open);
    }
}
