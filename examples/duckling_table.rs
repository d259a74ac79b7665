//! Prints the per-language, per-dimension coverage of Duckling's corpora (Markdown, for
//! docs/entities.md): `cargo run --release --example duckling_table [-- --failures]`.
//! `-- --speed` also times `extract` (all dimensions) on the criterion bench's two 10-word
//! sentences (median and p90 of 20 000 calls each, one thread).

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
    if std::env::args().any(|a| a == "--speed") {
        speed();
    }
    if std::env::args().any(|a| a == "--failures") {
        for f in failures {
            println!("FAIL\t{f}");
        }
    }
}

fn speed() {
    use parlance::entities::{extract, Context, Lang};
    let texts = [
        (Lang::Fr, "rappelle-moi d'appeler maman demain à quinze heures s'il te plaît"),
        (Lang::En, "please remind me to call my mother tomorrow at three"),
    ];
    for (lang, text) in texts {
        let ctx = Context::from_request(Some("2026-03-10T09:00:00"), Some("Europe/Paris"), lang).unwrap();
        let mut times: Vec<f64> = (0..20_000)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(extract(std::hint::black_box(text), &ctx, None));
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        println!("extract {lang:?} 10 words: median {:.1} µs, p90 {:.1} µs", times[times.len() / 2], times[times.len() * 9 / 10]);
    }
}
