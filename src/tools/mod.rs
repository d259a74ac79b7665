//! The tools beside the service: `eval` scores a bundle on labelled data through the same pipeline
//! the server uses, and writes its report; `bench` loads a running server and measures it.

pub mod bench;
pub mod eval;
