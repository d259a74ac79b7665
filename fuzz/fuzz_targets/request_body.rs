//! Request decoding: any bytes as a body of any parse route, any content type. Must never panic;
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
});
