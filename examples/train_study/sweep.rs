//! The sweeps of `train_study`: head choices and threshold rules on cached vectors.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use ndarray::{Array2, Axis};
use parlance::model::heads::lexical::{LexicalSettings, PatternFeature};
use parlance::train::calibrate::{choose_threshold, HeldRow, ThresholdRule, DEFAULT_RULE};
use parlance::train::intent::{self, fit_intent, Held, IntentSetup, Rows};
use parlance::train::logreg::SparseRows;

use crate::{ood, Rng};

/// A cached file: pooled vectors, (intent, text) per row; intent names are rows with intent "=NAME".
pub struct Cache {
    pub x: Array2<f32>,
    pub rows: Vec<(String, String)>,
}

pub fn load(dir: &Path, stem: &str) -> anyhow::Result<Cache> {
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{stem}.json")))?)?;
    let dim = meta["dim"].as_u64().unwrap() as usize;
    let rows: Vec<(String, String)> = serde_json::from_value(meta["rows"].clone())?;
    let bytes = std::fs::read(dir.join(format!("{stem}.f32")))?;
    let v: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Cache { x: Array2::from_shape_vec((rows.len(), dim), v)?, rows })
}

/// The off-topic intent's name when off-topic examples are trained (`--oos-train`).
const OOS: &str = "out_of_scope";

/// The intent of background rows appended to a cache (`--background`).
pub const BG: &str = "__background__";

/// A cache with the background cache's rows appended (intent [`BG`]).
pub fn with_background(mut c: Cache, bg: &Cache) -> Cache {
    c.x = ndarray::concatenate(Axis(0), &[c.x.view(), bg.x.view()]).expect("same dim");
    c.rows.extend(bg.rows.iter().map(|r| (BG.to_string(), r.1.clone())));
    c
}

/// The background rows of a cache, split (trained, held as dev's off-topic rows); trained rows at
/// least `tau` cosine from the nearest of `bot` rows are left out.
fn background_rows(c: &Config, cache: &Cache, bot: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let Some(tau) = c.background else { return (Vec::new(), Vec::new()) };
    let all: Vec<usize> = (0..cache.rows.len()).filter(|&i| cache.rows[i].0 == BG).collect();
    let (held, trained): (Vec<usize>, Vec<usize>) = all.into_iter().partition(|i| i % 4 == 3);
    let xb = cache.x.select(Axis(0), &trained);
    let sims = xb.dot(&cache.x.select(Axis(0), bot).t());
    let near = sims.map_axis(Axis(1), |r| r.fold(f32::MIN, |a, &b| a.max(b)));
    (trained.into_iter().zip(near).filter(|(_, n)| *n < tau).map(|(i, _)| i).collect(), held)
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[derive(Debug, Clone)]
pub struct Config {
    pub last_layer_only: bool,
    pub names: bool,
    pub setup: IntentSetup,
    /// None: no lexical features; Some((settings, 0)): a vocabulary; Some((settings, n)): n hashed buckets.
    pub lexical: Option<(LexicalSettings, usize)>,
    /// `pat`: a lexical column per lookup table and regex of the project (filled by `rasa`).
    pub patterns: Option<Vec<PatternFeature>>,
    /// `bg` / `bgTAU`: the background rows (`--background`) trained as `out_of_scope`, those whose
    /// cosine to the nearest training example is at least TAU left out; a quarter held out as the
    /// off-topic rows of dev.
    pub background: Option<f32>,
}

pub fn config(name: &str) -> Config {
    let mut c = Config { last_layer_only: false, names: true, setup: IntentSetup::default(), lexical: None, patterns: None, background: None };
    for part in name.split('+') {
        match part {
            "base" => {}
            "std" => c.setup.standardize = true,
            "l12" => c.last_layer_only = true,
            "nonames" => c.names = false,
            p if p.starts_with("iter") => c.setup.max_iter = p[4..].parse().unwrap(),
            "lex" => c.lexical = Some((LexicalSettings::default(), 0)),
            "hash" => c.lexical = Some((LexicalSettings::default(), 1 << 14)),
            "pat" => c.patterns = Some(Vec::new()),
            // logit adjustment (`IntentSetup::balance`, Menon et al. 2021): adj0 = none
            p if p.starts_with("adj") => c.setup.balance = p[3..].parse().unwrap(),
            p if p.starts_with("bg") => c.background = Some(p[2..].parse().unwrap_or(2.0)),
            p if p.starts_with("cap") => c.setup.rule = ThresholdRule::McCapped(p[3..].parse().unwrap()),
            p if p.starts_with('c') => c.setup.c = p[1..].parse().expect("cNUMBER"),
            p if p.starts_with("scale") => c.lexical.as_mut().expect("lex before scale").0.scale = p[5..].parse().unwrap(),
            p if p.starts_with("mindf") => c.lexical.as_mut().expect("lex before mindf").0.min_df = p[5..].parse().unwrap(),
            p => panic!("unknown config part {p}"),
        }
    }
    c
}

/// The rows of `x` as the configuration reads them (layer 12's half renormalised, or both).
fn dense(c: &Config, x: &Array2<f32>) -> Array2<f32> {
    if !c.last_layer_only {
        return x.clone();
    }
    let h = x.ncols() / 2;
    let mut out = x.slice(ndarray::s![.., h..]).to_owned();
    for mut r in out.axis_iter_mut(Axis(0)) {
        let n = r.dot(&r).sqrt().max(1e-12);
        r /= n;
    }
    out
}

/// Lexical features of train and eval texts under a configuration.
fn lexical(c: &Config, train: &[&str], others: &[&[&str]]) -> Option<(SparseRows, Vec<SparseRows>)> {
    let (settings, buckets) = c.lexical.clone()?;
    if buckets == 0 {
        let v = parlance::train::lexical::fit_vocabulary(train, &[], &settings);
        let v = v.with_patterns(c.patterns.clone().unwrap_or_default()).expect("patterns compile");
        let f = |t: &[&str]| parlance::train::lexical::featurize(&v, t);
        Some((f(train), others.iter().map(|o| f(o)).collect()))
    } else {
        let (_, feats) = parlance::train::lexical::fit_hashed(train, &settings, buckets);
        let f = |t: &[&str]| SparseRows { rows: t.iter().map(|s| feats(s)).collect(), cols: buckets };
        Some((f(train), others.iter().map(|o| f(o)).collect()))
    }
}

/// What one fit scores on the test half.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub head_acc: f64,
    pub served_acc: f64,
    pub rejected: f64,
    pub recall: f64,
    pub mcc: f64,
    pub threshold: f64,
    pub fit_s: f64,
    pub features: f64,
}

/// Scores held-out rows at threshold `t`: (in-scope acc, in-scope rejected, oos recall, mcc).
pub fn at(rows: &[HeldRow], t: f32) -> (f64, f64, f64, f64) {
    let pairs: Vec<(Option<usize>, Option<usize>)> = rows.iter().map(|r| (r.gold, r.answer.filter(|_| r.confidence >= t))).collect();
    let ins: Vec<_> = pairs.iter().filter(|p| p.0.is_some()).collect();
    let off: Vec<_> = pairs.iter().filter(|p| p.0.is_none()).collect();
    let frac = |n: usize, d: usize| n as f64 / d.max(1) as f64;
    (
        frac(ins.iter().filter(|p| p.0 == p.1).count(), ins.len()),
        frac(ins.iter().filter(|p| p.1.is_none()).count(), ins.len()),
        frac(off.iter().filter(|p| p.1.is_none()).count(), off.len()),
        parlance::train::oos::matthews(&pairs),
    )
}

/// One draw of the protocol: train rows (indices into the train cache), intents kept, dev/test
/// rows (indices into the dev cache).
pub struct Draw {
    pub train: Vec<usize>,
    pub intents: Vec<String>,
    pub dev: Vec<usize>,
    pub test: Vec<usize>,
    /// Train rows of held-out intents trained as one more intent, `out_of_scope` (`--oos-train N`).
    pub oos: Vec<usize>,
}

/// `skew`: each intent gets a count drawn log-uniformly between 2 and `shots` (real bots: intents
/// with two examples beside intents with many).
/// `prop`: counts in proportion to the intent's share of dev (2 to `shots`: the imbalance follows
/// the traffic).
pub fn draw(train: &Cache, dev: &Cache, shots: usize, seed: u64, holdout: bool, oos_train: usize, skew: bool) -> Draw {
    let prop = std::env::var("STUDY_PROP").is_ok_and(|v| v == "1");
    let mut freq: BTreeMap<&str, f64> = BTreeMap::new();
    dev.rows.iter().for_each(|r| *freq.entry(r.0.as_str()).or_default() += 1.0);
    let top = freq.values().cloned().fold(1.0, f64::max);
    let mut all: Vec<String> = train.rows.iter().filter(|r| !r.0.starts_with('=') && r.0 != BG).map(|r| r.0.clone()).collect();
    all.sort();
    all.dedup();
    let mut rng = Rng(1000 + seed);
    let mut order = all.clone();
    rng.shuffle(&mut order);
    let held = if holdout { all.len() / 4 } else { 0 };
    let mut intents: Vec<String> = order[held..].to_vec();
    intents.sort();
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in train.rows.iter().enumerate() {
        by.entry(r.0.as_str()).or_default().push(i);
    }
    let mut rows = Vec::new();
    for it in &intents {
        let mut v = by[it.as_str()].clone();
        rng.shuffle(&mut v);
        let n = if skew && prop {
            ((shots as f64 * freq.get(it.as_str()).copied().unwrap_or(0.0) / top).round() as usize).clamp(2, shots)
        } else if skew {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            (2f64.ln() + u * ((shots as f64).ln() - 2f64.ln())).exp().round() as usize
        } else {
            shots
        };
        rows.extend(v.into_iter().take(n));
    }
    // off-topic training examples: round-robin over the held-out intents' shuffled rows
    let mut pools: Vec<Vec<usize>> = order[..held].iter().map(|it| by[it.as_str()].clone()).collect();
    pools.iter_mut().for_each(|p| rng.shuffle(p));
    let mut oos = Vec::new();
    for k in 0.. {
        if oos.len() >= oos_train || pools.iter().all(|p| p.len() <= k) {
            break;
        }
        oos.extend(pools.iter().filter_map(|p| p.get(k)).take(oos_train - oos.len()));
    }
    let real = (0..dev.rows.len()).filter(|&i| !dev.rows[i].0.starts_with('='));
    let (d, t): (Vec<usize>, Vec<usize>) = real.partition(|i| i % 2 == 0);
    Draw { train: rows, intents, dev: d, test: t, oos }
}

/// Fits one configuration on one draw; the threshold by each rule in `rules` (the first is served).
pub fn fit_draw(c: &Config, train: &Cache, dev: &Cache, d: &Draw, rules: &[ThresholdRule]) -> Vec<Outcome> {
    let started = Instant::now();
    let (bg_train, mut bg_held) = background_rows(c, train, &d.train);
    if std::env::var("STUDY_BG_HELD").is_ok_and(|v| v == "0") {
        bg_held.clear();
    }
    let mut intents = d.intents.clone();
    if !d.oos.is_empty() || !bg_train.is_empty() {
        intents.push(OOS.to_string());
    }
    let index: BTreeMap<&str, usize> = d.intents.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut rows = d.train.clone();
    rows.extend(&d.oos);
    rows.extend(&bg_train);
    // STUDY_DEV_OOS=0: dev without its off-topic rows (a bot owner with no off-topic examples; the
    // background's held rows stand in for them where `bg` is on), the test half keeps them
    let dev_oos = std::env::var("STUDY_DEV_OOS").map_or(true, |v| v != "0");
    let dev_idx: Vec<usize> = d.dev.iter().copied().filter(|&i| dev_oos || index.contains_key(dev.rows[i].0.as_str())).collect();
    let examples = rows.len();
    if c.names {
        rows.extend(train.rows.iter().enumerate().filter(|(_, r)| r.0.strip_prefix('=').is_some_and(|n| index.contains_key(n))).map(|(i, _)| i));
    }
    // a row of a held-out intent is an off-topic training example (`--oos-train`)
    let y: Vec<usize> = rows.iter().map(|&i| index.get(train.rows[i].0.trim_start_matches('=')).copied().unwrap_or(d.intents.len())).collect();
    let x = dense(c, &train.x.select(Axis(0), &rows));
    let texts = |c: &Cache, idx: &[usize]| idx.iter().map(|&i| c.rows[i].1.clone()).collect::<Vec<String>>();
    let (tt, mut dt, st) = (texts(train, &rows), texts(dev, &dev_idx), texts(dev, &d.test));
    dt.extend(texts(train, &bg_held));
    let lex = lexical(c, &refs(&tt), &[&refs(&dt), &refs(&st)]);
    let features = started.elapsed().as_secs_f64();
    let xd = ndarray::concatenate(Axis(0), &[dev.x.select(Axis(0), &dev_idx).view(), train.x.select(Axis(0), &bg_held).view()]).unwrap();
    let (xd, xs) = (dense(c, &xd), dense(c, &dev.x.select(Axis(0), &d.test)));
    let labels = |idx: &[usize]| intent::dev_labels(idx.iter().map(|&i| dev.rows[i].0.as_str()), &intents, &[]);
    let (mut dl, mut doos) = labels(&dev_idx);
    dl.extend(bg_held.iter().map(|_| None));
    doos.extend(bg_held.iter().map(|_| true));
    let (sl, soos) = labels(&d.test);
    let sp = |i: usize| lex.as_ref().map(|l| &l.1[i]);
    let t = Instant::now();
    let fit = fit_intent(
        Rows { dense: &x, sparse: lex.as_ref().map(|l| &l.0) },
        &y,
        examples,
        Some((Rows { dense: &xd, sparse: sp(0) }, dl, doos)),
        &intents,
        &c.setup,
    );
    let fit_s = t.elapsed().as_secs_f64();
    let logits = intent::rows_logits(&fit.head, fit.lexical.as_ref(), Rows { dense: &xs, sparse: sp(1) });
    let oos_classes: Vec<bool> = intents.iter().map(|n| n == OOS).collect();
    let test_held = Held { logits, label: sl, oos: soos, similarity: None };
    let test_rows = intent::held_rows(&test_held, &oos_classes, fit.temperature);
    let dev_rows = intent::held_rows(&fit.held, &oos_classes, fit.temperature);
    let score = |dev_rows: &[HeldRow], test_rows: &[HeldRow], rule: ThresholdRule| {
        let chosen = choose_threshold(dev_rows, rule).chosen;
        let (acc, rej, rec, mcc) = at(test_rows, chosen);
        Outcome { head_acc: at(test_rows, 0.0).0, served_acc: acc, rejected: rej, recall: rec, mcc, threshold: chosen as f64, fit_s, features }
    };
    // a `capX` config serves its own rule (the offset was chosen with it)
    let served = |i: usize, r: ThresholdRule| if i == 0 && c.setup.rule != DEFAULT_RULE { c.setup.rule } else { r };
    let mut out: Vec<Outcome> = rules.iter().enumerate().map(|(i, &rule)| score(&dev_rows, &test_rows, served(i, rule))).collect();
    let scored = ood::Scored {
        dev_rows: &dev_rows,
        test_rows: &test_rows,
        dev_logits: &fit.held.logits,
        test_logits: &test_held.logits,
        t: fit.temperature,
        x: &x,
        y: &y,
        classes: intents.len(),
        kept: d.intents.len(),
        xd: &xd,
        xs: &xs,
    };
    out.extend(ood::other_scores(&scored, |dv, tv| score(dv, tv, DEFAULT_RULE), |g| at(g, choose_threshold(g, DEFAULT_RULE).chosen).3));
    out
}

fn mean_sd(v: &[f64]) -> String {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64).sqrt();
    format!("{:.1} ± {:.1}", 100.0 * m, 100.0 * sd)
}

fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).map_or(default.to_string(), |i| args[i + 1].clone())
}

/// The MASSIVE protocol for one locale: configs × shots × draws, the default rule served, then
/// the rules compared on the first config.
pub fn run(dir: &Path, locale: &str, args: &[String]) -> anyhow::Result<()> {
    let mut train = load(dir, &format!("{locale}.train{}", opt(args, "--train", "")))?;
    if let Some(i) = args.iter().position(|a| a == "--background") {
        train = with_background(train, &load(dir, &args[i + 1])?);
    }
    let mut dev = load(dir, &format!("{locale}.dev"))?;
    // `--far STEM [--far-rows A..B]`: rows of another cache (chit-chat) as off-topic messages of
    // both dev halves, beside (or, with `--holdout 0`, instead of) the held-out intents' rows
    if let Some(i) = args.iter().position(|a| a == "--far") {
        let far = load(dir, &args[i + 1])?;
        let range = opt(args, "--far-rows", &format!("0..{}", far.rows.len()));
        let (a, b) = range.split_once("..").ok_or_else(|| anyhow::anyhow!("--far-rows A..B"))?;
        let idx: Vec<usize> = (a.parse::<usize>()?..b.parse::<usize>()?).filter(|&r| !far.rows[r].0.starts_with('=')).collect();
        dev.x = ndarray::concatenate(Axis(0), &[dev.x.view(), far.x.select(Axis(0), &idx).view()])?;
        dev.rows.extend(idx.iter().map(|&r| ("~far".to_string(), far.rows[r].1.clone())));
    }
    let draws: u64 = opt(args, "--draws", "3").parse()?;
    let holdout = opt(args, "--holdout", "1") == "1";
    let oos_train: usize = opt(args, "--oos-train", "0").parse()?;
    let rules = [
        DEFAULT_RULE,
        ThresholdRule::McCapped(0.03),
        ThresholdRule::McCapped(0.01),
        ThresholdRule::Mcc,
        ThresholdRule::Accuracy,
        ThresholdRule::MeanAccuracyRecall,
        ThresholdRule::Fixed(0.3),
        ThresholdRule::Fixed(0.0),
    ];
    println!("| locale | shots | config | head acc. | served in-scope acc. | in-scope rejected | off-topic recall | MCC ×100 | fit s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut by_rule: BTreeMap<String, Vec<Vec<Outcome>>> = BTreeMap::new();
    for shots in opt(args, "--shots", "10,30").split(',') {
        let skew = shots.starts_with("skew");
        let n: usize = shots.trim_start_matches("skew").parse().unwrap_or(usize::MAX);
        for name in opt(args, "--configs", "base").split(',') {
            let c = config(name);
            let outs: Vec<Vec<Outcome>> =
                (0..draws).map(|s| fit_draw(&c, &train, &dev, &draw(&train, &dev, n, s, holdout, oos_train, skew), &rules)).collect();
            let col = |f: &dyn Fn(&Outcome) -> f64| mean_sd(&outs.iter().map(|o| f(&o[0])).collect::<Vec<_>>());
            let fit = outs.iter().map(|o| o[0].fit_s + o[0].features).sum::<f64>() / outs.len() as f64;
            println!(
                "| {locale} | {shots} | {name} | {} | {} | {} | {} | {} | {fit:.1} |",
                col(&|o| o.head_acc),
                col(&|o| o.served_acc),
                col(&|o| o.rejected),
                col(&|o| o.recall),
                col(&|o| o.mcc)
            );
            by_rule.insert(format!("{shots} {name}"), outs);
        }
    }
    println!("\noff-topic scores under the default rule (same fits):\n");
    println!("| locale | shots, config | score | threshold | served in-scope acc. | in-scope rejected | off-topic recall | MCC ×100 |");
    println!("|---|---|---|---|---|---|---|---|");
    for (key, outs) in &by_rule {
        rule_row(locale, key, "top probability", outs, 0);
        for (i, name) in ood::SCORES.iter().enumerate() {
            rule_row(locale, key, name, outs, rules.len() + i);
        }
    }
    println!("\nthreshold rules (same fits; chosen on the dev half, scored on the test half):\n");
    println!("| locale | shots, config | rule | threshold | served in-scope acc. | in-scope rejected | off-topic recall | MCC ×100 |");
    println!("|---|---|---|---|---|---|---|---|");
    for (key, outs) in &by_rule {
        for (r, rule) in rules.iter().enumerate() {
            rule_row(locale, key, &format!("{rule:?}"), outs, r);
        }
    }
    Ok(())
}

/// One row of the score and rule tables: outcome `r` of every draw, mean ± sd.
fn rule_row(locale: &str, key: &str, name: &str, outs: &[Vec<Outcome>], r: usize) {
    let col = |f: &dyn Fn(&Outcome) -> f64| mean_sd(&outs.iter().map(|o| f(&o[r])).collect::<Vec<_>>());
    let th = outs.iter().map(|o| o[r].threshold).sum::<f64>() / outs.len() as f64;
    println!(
        "| {locale} | {key} | {name} | {th:.2} | {} | {} | {} | {} |",
        col(&|o| o.served_acc),
        col(&|o| o.rejected),
        col(&|o| o.recall),
        col(&|o| o.mcc)
    );
}

/// The Rasa projects: 5-fold cross-validation (every fifth example of each intent), accuracy, per
/// configuration.
pub fn rasa(dir: &Path, args: &[String]) -> anyhow::Result<()> {
    let configs = opt(args, "--configs", "base");
    let bg = args.iter().position(|a| a == "--background").map(|i| args[i + 1].clone());
    let background = bg.as_ref().map(|b| load(dir, b)).transpose()?;
    let stems: Vec<&String> = args.iter().filter(|a| !a.starts_with("--") && !configs.contains(a.as_str()) && Some(*a) != bg.as_ref()).collect();
    println!("| project | examples | {} |", configs.replace(',', " | "));
    println!("|---|---|{}", "---|".repeat(configs.split(',').count()));
    let mut totals = vec![(0usize, 0usize); configs.split(',').count()];
    for stem in stems {
        let mut cache = load(dir, stem)?;
        if let Some(b) = &background {
            cache = with_background(cache, b);
        }
        let patterns = project_patterns(dir, stem)?;
        let mut cells = Vec::new();
        let n = cache.rows.iter().filter(|r| !r.0.starts_with('=') && r.0 != BG).count();
        for (ci, name) in configs.split(',').enumerate() {
            let mut c = config(name);
            c.patterns = c.patterns.map(|_| patterns.clone());
            let (mut right, mut total) = (0, 0);
            for fold in 0..5 {
                let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
                let (mut tr, mut te) = (Vec::new(), Vec::new());
                for (i, r) in cache.rows.iter().enumerate().filter(|(_, r)| !r.0.starts_with('=') && r.0 != BG) {
                    let k = seen.entry(r.0.as_str()).or_default();
                    if *k % 5 == fold {
                        te.push(i)
                    } else {
                        tr.push(i)
                    }
                    *k += 1;
                }
                let mut intents: Vec<String> = tr.iter().map(|&i| cache.rows[i].0.clone()).collect();
                intents.sort();
                intents.dedup();
                let d = Draw { train: tr, intents, dev: te.clone(), test: te, oos: Vec::new() };
                let o = &fit_draw(&c, &cache, &cache, &d, &[ThresholdRule::Fixed(0.0)])[0];
                let ins = d.test.iter().filter(|&&i| d.intents.contains(&cache.rows[i].0)).count();
                right += (o.head_acc * ins as f64).round() as usize;
                total += d.test.len();
            }
            totals[ci].0 += right;
            totals[ci].1 += total;
            cells.push(format!("{:.1}", 100.0 * right as f64 / total.max(1) as f64));
        }
        let probe = parlance::model::heads::lexical::Vocabulary::new(LexicalSettings::default(), Vec::new(), Vec::new());
        let probe = probe.with_patterns(patterns.clone()).expect("patterns compile");
        let hits = cache.rows.iter().filter(|r| !r.0.starts_with('=') && !probe.features(&r.1).is_empty()).count();
        println!("| {stem} | {n} ({} patterns, {hits} matching) | {} |", patterns.len(), cells.join(" | "));
    }
    let all: Vec<String> = totals.iter().map(|(r, t)| format!("{:.1}", 100.0 * *r as f64 / (*t).max(1) as f64)).collect();
    println!("| all | | {} |", all.join(" | "));
    Ok(())
}

/// Every lookup table and regex of a cached Rasa project's file, as `parlance train` gathers them.
fn project_patterns(dir: &Path, stem: &str) -> anyhow::Result<Vec<PatternFeature>> {
    use parlance::train::rasa_extras::{collect, LookupFiles};
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{stem}.json")))?)?;
    let file = std::path::PathBuf::from(meta["file"].as_str().unwrap_or_default());
    if file.extension().is_none_or(|e| e != "yml" && e != "yaml") {
        return Ok(Vec::new());
    }
    let g = collect(std::slice::from_ref(&file), &Default::default(), &LookupFiles::inside_data(std::slice::from_ref(&file)))?;
    Ok(g.pattern_features)
}
