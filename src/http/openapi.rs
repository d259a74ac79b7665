//! The OpenAPI 3 description of the API, generated from the handlers and types themselves.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Parlance", description = "French/English natural-language understanding: intents, slots and entities."),
    paths(
        super::parse, super::parse_batch, super::rasa_parse, super::model_info,
        super::live, super::ready, super::metrics, super::playground
    ),
    modifiers(&Security),
    tags(
        (name = "parse", description = "Parse texts"),
        (name = "rasa", description = "Rasa NLU compatible"),
        (name = "model", description = "The served model"),
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
    }
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(ApiDoc::openapi().to_json().unwrap_or_default())
}
