//! Request decoding: any bytes as a body of any parse route, any content type, and as a Rasa
//! button payload. Must never panic;
//! every failure must be a client error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parlance::http::types::{BatchRequest, ParseRequest, RasaParseRequest};
use actix_web::ResponseError;
use parlance::http::{check_content_type, decode_json, ApiError};

fn client_error<T>(r: Result<T, ApiError>) {
    if let Err(e) = r {
        assert!(e.status_code().is_client_error(), "{e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|b| (*b as usize) % 24).unwrap_or(0).min(data.len());
    let (ct, body) = data.split_at(split);
    let _ = check_content_type(std::str::from_utf8(ct).ok());
    client_error(decode_json::<ParseRequest>(body));
    client_error(decode_json::<BatchRequest>(body));
    client_error(decode_json::<RasaParseRequest>(body));
    // a Rasa button payload in any text: found or not, never a panic
    if let Ok(text) = std::str::from_utf8(body) {
        if let Some(found) = parlance::pipeline::payload::parse(text, |_| true) {
            // too many values is refused before any entity is built; otherwise bounded
            let Ok(p) = found else { return };
            assert!(p.entities.len() <= parlance::pipeline::payload::MAX_ENTITY_VALUES);
            let language = parlance::lang::DetectedLanguage { code: "en".into(), confidence: 1.0, source: "request" };
            let model = parlance::pipeline::ModelRef { id: "m".into(), name: "m".into(), version: "0".into() };
            let _ = p.into_result(text.to_string(), language, model);
        }
    }
});
