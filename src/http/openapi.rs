//! The OpenAPI 3 description of the API, generated from the handlers and types themselves.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parlance", description = "French/English natural-language understanding: intents, slots and entities."),
    paths(
        super::parse::parse, super::parse::parse_batch, super::parse::rasa_parse, super::parse::named_rasa_parse, super::models::model_info,
        super::models::models_list, super::models::named_model_info, super::parse::named_parse,
        super::parse::named_parse_batch, super::models::reload, super::ops::live, super::ops::ready, super::ops::metrics,
        super::ops::playground, super::train::start, super::train::status, super::train::cancel
    ),
    modifiers(&Security),
    tags(
        (name = "parse", description = "Parse texts"),
        (name = "rasa", description = "Rasa NLU compatible"),
        (name = "model", description = "The default model"),
        (name = "models", description = "Several named models"),
        (name = "admin", description = "Model reloads (admin key)"),
        (name = "health", description = "Probes"),
        (name = "operations", description = "Metrics and the playground page"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme("admin_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    }
}

/// The document, made exact for this server: the text and batch limits in force, the model's
/// languages, the known time zones and dimensions. A request the schema allows is one the server
/// accepts (schemathesis checks both ways in CI).
pub async fn serve(state: actix_web::web::Data<super::AppState>) -> HttpResponse {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let served = state.models.default_model();
    let limits = served.parser.limits();
    let languages = &served.parser.manifest().languages;
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        walk(schemas, &mut |props| constrain(props, limits, languages));
    }
    // A model name in a path is one of the served ones.
    let names = state.models.names();
    if let Some(paths) = doc.pointer_mut("/paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                for param in op.get_mut("parameters").and_then(|p| p.as_array_mut()).into_iter().flatten() {
                    if param["name"] == "name" && param["in"] == "path" {
                        param["schema"] = serde_json::json!({"type": "string", "enum": names});
                    }
                }
            }
        }
    }
    HttpResponse::Ok().json(doc)
}

/// Calls `f` on every `properties` object, at any depth (flattened types sit under `allOf`).
fn walk(v: &mut serde_json::Value, f: &mut dyn FnMut(&mut serde_json::Map<String, serde_json::Value>)) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get_mut("properties") {
                f(props);
            }
            for (k, child) in map.iter_mut() {
                if k != "properties" {
                    walk(child, f);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|c| walk(c, f)),
        _ => {}
    }
}

/// A text the server accepts: at least one non-space character, at most the limit.
fn text_schema(limits: &crate::pipeline::Limits) -> serde_json::Value {
    serde_json::json!({"type": "string", "minLength": 1, "maxLength": limits.max_text_chars, "pattern": NOT_BLANK})
}

fn constrain(props: &mut serde_json::Map<String, serde_json::Value>, limits: &crate::pipeline::Limits, languages: &[String]) {
    use serde_json::json;
    let nullable = |mut s: serde_json::Value| {
        // Option<T> fields: keep null allowed
        if let Some(t) = s.get("type").cloned() {
            s["type"] = json!([t, "null"]);
        }
        s
    };
    if props.contains_key("text") {
        props.insert("text".into(), text_schema(limits));
    }
    if props.contains_key("texts") {
        props.insert("texts".into(), json!({"type": "array", "minItems": 1, "maxItems": limits.max_batch_texts, "items": text_schema(limits)}));
    }
    if props.contains_key("lang") {
        let tags = languages.iter().map(|l| regex_escape(l)).collect::<Vec<_>>().join("|");
        let pattern = format!("^(?i:{tags})([-_][A-Za-z0-9]{{1,8}})*$");
        props.insert("lang".into(), nullable(json!({"type": "string", "pattern": pattern})));
    }
    if props.contains_key("timezone") {
        let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
        props.insert("timezone".into(), nullable(json!({"type": "string", "enum": zones})));
    }
    if props.contains_key("reference_time") {
        props.insert(
            "reference_time".into(),
            nullable(json!({"type": "string", "pattern": REFERENCE_TIME_PATTERN,
                "description": "A local time in `timezone` (\"2026-03-10T09:00:00\"), or RFC 3339 with an offset. The server also reads days 29 to 31 where the month has them."})),
        );
    }
    if props.contains_key("dimensions") {
        let names: Vec<&str> = crate::entities::Dimension::all().iter().map(|d| d.name()).collect();
        props.insert("dimensions".into(), nullable(json!({"type": "array", "items": {"type": "string", "enum": names}})));
    }
}

/// Some char outside Unicode's White_Space set (what `char::is_whitespace` tests); `\S` would
/// not do, as ECMAScript's whitespace differs (U+0085 is not in it, U+FEFF is).
const NOT_BLANK: &str = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Dates the server always reads: days 01-28 keep every generated example a real date. An offset
/// needs seconds (RFC 3339).
const REFERENCE_TIME_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?)?$";

fn regex_escape(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("\\{c}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::error::{status_of, ERROR_CODES};

    /// The OpenAPI error list is checked against the one table: every error code an answer's
    /// description names is in `ERROR_CODES` with that answer's status, and every code of the
    /// table that a route can send is named by some answer.
    #[test]
    fn openapi_error_answers_follow_the_error_table() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut named = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, answer) in op["responses"].as_object().into_iter().flatten() {
                    let text = answer["description"].as_str().unwrap_or_default();
                    for word in text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')) {
                        let Some(want) = status_of(word) else { continue };
                        assert_eq!(want.to_string(), *status, "{method} {path}: {word} is {want} in ERROR_CODES, not {status}");
                        named.insert(word.to_string());
                    }
                }
            }
        }
        // sent by the HTTP layer itself on any route, or only from /metrics-free paths: not per route
        let layer_wide = ["not_found", "method_not_allowed", "bad_request", "headers_too_large", "internal_error", "http_error"];
        for row in ERROR_CODES.iter().filter(|r| !layer_wide.contains(&r.code)) {
            assert!(named.contains(row.code), "no OpenAPI answer names {}", row.code);
        }
    }
}
