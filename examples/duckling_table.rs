//! Prints the per-language, per-dimension coverage of Duckling's corpora (Markdown, for
//! docs/entities.md): `cargo run --release --example duckling_table [-- --failures]`.

#[path = "../tests/support/duckling.rs"]
mod duckling;

fn main() {
    let Some(cases) = duckling::load() else {
        eprintln!("{} not found", duckling::data_path().display());
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let (table, failures) = duckling::run(&cases);
    let elapsed = started.elapsed();
    print!("{}", duckling::markdown(&table));
    println!("\n{} cases in {:.1} ms ({:.1} µs a case, one thread)", cases.len(), elapsed.as_secs_f64() * 1e3, elapsed.as_secs_f64() * 1e6 / cases.len() as f64);
    if std::env::args().any(|a| a == "--failures") {
        for f in failures {
            println!("FAIL\t{f}");
        }
    }
}
