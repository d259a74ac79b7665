use super::*;

use ort::value::Tensor;

fn default_graph() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default/model.onnx")
}

/// Input `name` of one batch, its token ids different for each `seed`.
fn input(name: &str, seed: i64) -> DynValue {
    let (batch, width) = (1 + seed as usize % 3, 5 + seed as usize % 7);
    let value = match name {
        "input_ids" => ndarray::Array2::from_shape_fn((batch, width), |(r, c)| if c == 0 { 101 } else { 1000 + seed * 37 + (r * 11 + c) as i64 }),
        "attention_mask" => ndarray::Array2::ones((batch, width)),
        _ => ndarray::Array2::zeros((batch, width)),
    };
    Tensor::from_array(value).expect("tensor").into_dyn()
}

fn run(session: &RunSession, seed: i64) -> Vec<ArrayD<f32>> {
    let names: Vec<String> = session.inputs().iter().map(|i| i.name().to_string()).collect();
    let inputs: Vec<(&str, DynValue)> = names.iter().map(|n| (n.as_str(), input(n, seed))).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    session.run(&inputs, &outputs).expect("run")
}

#[test]
fn workers_share_one_session_and_concurrent_runs_answer_as_one_at_a_time() {
    crate::model::runtime::init().expect("ONNX Runtime (make setup)");
    let settings = SessionSettings::default();
    let a = session_for(&default_graph(), &settings).expect("models/default loads");
    let b = session_for(&default_graph(), &settings).expect("again");
    assert!(Arc::ptr_eq(&a, &b), "two single-thread workers on one graph share one session");
    assert!(shared_sessions() >= 1);
    let wide = SessionSettings { intra_threads: 2, ..settings };
    assert!(!Arc::ptr_eq(&a, &session_for(&default_graph(), &wide).expect("wide")), "a multi-thread session is never shared");

    let alone: Vec<_> = (0..8).map(|seed| run(&a, seed)).collect();
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let session = if t % 2 == 0 { &a } else { &b };
                let alone = &alone;
                s.spawn(move || {
                    for round in 0..6 {
                        let seed = (t + round) % 8;
                        let got = run(session, seed as i64);
                        for (x, y) in got.iter().zip(&alone[seed]) {
                            assert_eq!(x.shape(), y.shape());
                            let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                            assert!(worst < 1e-5, "thread {t}, seed {seed}: an output moved by {worst}");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no run panicked");
        }
    });
    assert!(a.warmed_for(0));
    assert!(!a.warmed_for(10) && a.warmed_for(10), "the first call marks the size warmed");
}
