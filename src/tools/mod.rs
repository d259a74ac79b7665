//! The tools beside the service: `eval` scores a bundle on labelled data through the same pipeline
//! the server uses, and writes its report; `bench` loads a running server and measures it;
//! `commands` holds the flags and the runs of `parlance parse`, `eval`, `bench`, `train` and
//! `validate`.

pub mod bench;
pub mod commands;
pub mod eval;
