//! Dates, times and intervals, resolved against the reference time in its IANA zone.

use super::grain::Grain;
use super::measures::{duration_at, duration_unit};
use super::numbers::number_at;
use super::text::{Kind, Toks};
use super::Lang;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use serde_json::{json, Value};

mod anchored;
mod bounds;
mod clock;
mod dates;
mod holidays;
mod nth;
mod numeric;
mod open;
mod periods;
mod pods;
mod spans;
mod zones;

/// Largest count in a relative date-time ("in N days/hours…", "N years ago"); more is not a date.
const MAX_RELATIVE: f64 = 100_000.0;

#[derive(Clone, Debug)]
pub(crate) enum TV {
    /// Wall-clock instant in the context zone.
    Inst(NaiveDateTime, Grain),
    /// Absolute instant (reference ± an exact duration).
    Abs(DateTime<Tz>, Grain),
    /// Wall-clock interval, `to` exclusive.
    Itv(NaiveDateTime, NaiveDateTime, Grain),
    /// Open interval: after (true) or before a wall-clock instant.
    Open(NaiveDateTime, Grain, bool),
}

/// Wall-clock time → zoned time. Ambiguous (clocks going back): the earlier instant. Skipped
/// (clocks going forward): shifted forward by the length of the gap (02:30 → 03:30).
pub(crate) fn localize(tz: &Tz, n: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&n) {
        chrono::LocalResult::Single(d) => d,
        chrono::LocalResult::Ambiguous(a, _) => a,
        chrono::LocalResult::None => {
            let before = n - Duration::hours(3);
            let off = tz.offset_from_local_datetime(&before).earliest().map(|o| o.fix().local_minus_utc()).unwrap_or(0);
            tz.from_utc_datetime(&(n - Duration::seconds(off as i64)))
        }
    }
}

fn fmt(d: &DateTime<Tz>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

impl TV {
    pub fn to_json(&self, tz: &Tz) -> Value {
        match self {
            TV::Inst(n, g) => json!({"type": "instant", "value": fmt(&localize(tz, *n)), "grain": g.name()}),
            TV::Abs(d, g) => json!({"type": "instant", "value": fmt(d), "grain": g.name()}),
            TV::Itv(a, b, g) => json!({"type": "interval", "from": fmt(&localize(tz, *a)), "to": fmt(&localize(tz, *b)), "grain": g.name()}),
            TV::Open(n, g, after) => json!({
                "type": "open_interval",
                "direction": if *after { "after" } else { "before" },
                "value": fmt(&localize(tz, *n)),
                "grain": g.name(),
            }),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Tod {
    h: u32, // 0..=24 (24 = midnight at the end of the day)
    m: u32,
    grain: Grain,
    /// 12-hour clock reading without am/pm ("at 3"): 3:00 or 15:00.
    amb: bool,
    /// Seconds ("15:23:24").
    s: u32,
}

#[derive(Clone, Copy)]
struct Pod {
    from: u32,
    to: u32,
}

pub(crate) struct Cx<'a> {
    pub t: &'a Toks,
    pub lang: Lang,
    pub now: NaiveDateTime,
    pub abs: DateTime<Tz>,
    /// The text has a word that counts from or lasts from a time ("after", "from", "for",
    /// "après"…): the rules of `anchored` run only then.
    pub anchors: bool,
    /// Memo of `date_at` per token (every grammar asks for a date after what it read).
    pub date_memo: std::cell::RefCell<Vec<Option<Option<(usize, NaiveDate)>>>>,
}

/// Whether the words that `anchored`'s rules need are in the text.
pub(crate) fn anchor_words(t: &Toks, lang: Lang) -> bool {
    let ws: &[&str] = match lang {
        Lang::Fr => &["apres", "avant"],
        Lang::En => &["after", "from", "past", "before", "for"],
    };
    t.t.iter().any(|k| ws.contains(&k.key.as_str()))
}

const FR_MONTHS: [&str; 12] =
    ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre", "decembre"];
const EN_MONTHS: [&str; 12] =
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const FR_DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
const EN_DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

fn at(d: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap() + Duration::minutes((h * 60 + m) as i64)
}

impl Cx<'_> {
    fn fr(&self) -> bool {
        self.lang == Lang::Fr
    }
    fn today(&self) -> NaiveDate {
        self.now.date()
    }

    fn skip_sep(&self, e: usize) -> usize {
        if self.t.is(e, ",") {
            e + 1
        } else {
            e
        }
    }

    /// All time readings starting at token `i` (the overlap policy keeps the longest).
    pub fn time_at(&self, i: usize, out: &mut Vec<(usize, TV)>) {
        let t = self.t;
        if t.kind(i) == Some(Kind::Punct) && !t.is(i, "-") {
            return;
        }
        let first = out.len();
        // before the time of day: "by 2pm" is a deadline, not 2pm (same span, first proposed wins)
        if let Some(r) = self.by_at(i) {
            out.push(r);
        }
        self.date_led(i, out);
        self.tod_led(i, out);
        if let Some((e, pod, d)) = self.pod_standalone_at(i) {
            out.push((e, TV::Itv(at(d, pod.from, 0), at(d, pod.to, 0), Grain::Hour)));
            if let Some((e2, tod)) = self.tod_at(self.skip_sep(e)) {
                out.push((e2, TV::Inst(self.on_pod_today(d, tod, pod), tod.grain)));
            }
        }
        if let Some((e, a, b)) = self.tod_interval_at(i) {
            let probe = self.itv_on(self.today(), a, b);
            let d = match probe {
                TV::Itv(_, to, _) if to <= self.now => self.today() + Duration::days(1),
                _ => self.today(),
            };
            out.push((e, self.itv_on(d, a, b)));
            if let Some((e2, d2)) = self.date_at(self.skip_sep(e)) {
                out.push((e2, self.itv_on(d2, a, b)));
            }
        }
        self.rules_at(i, out);
        let zoned: Vec<(usize, TV)> = out[first..].iter().filter_map(|(e, tv)| self.zoned(*e, tv)).collect();
        out.extend(zoned);
        if self.anchors && !self.fr() && (first..out.len()).any(|k| self.t.is(out[k].0, "for")) {
            let lasting: Vec<(usize, TV)> = out[first..].iter().filter_map(|(e, tv)| self.lasting_after(*e, tv)).collect();
            out.extend(lasting);
        }
    }

    /// A date, and what may follow it: a time of day (and a part of the day), a time interval, a
    /// part of the day (and a time).
    fn date_led(&self, i: usize, out: &mut Vec<(usize, TV)>) {
        let Some((e, d)) = self.date_at(i) else { return };
        out.push((e, TV::Inst(at(d, 0, 0), Grain::Day)));
        // "labor day weekend", "memorial day weekend": the long weekend of a Monday holiday
        let weekend = if self.fr() { None } else { self.t.phrases(e, &["weekend", "week end"]) };
        if let Some(e2) = weekend.filter(|_| d.weekday() == chrono::Weekday::Mon && self.holiday_at(i).is_some_and(|h| h == (e, d))) {
            out.push((e2, TV::Itv(at(d - Duration::days(3), 18, 0), at(d + Duration::days(1), 0, 0), Grain::Hour)));
        }
        let j = self.skip_sep(e);
        if let Some((e2, tod)) = self.tod_at(j).or_else(|| self.weak_tod_at(j)) {
            out.push((e2, TV::Inst(self.on_date(d, tod, None), tod.grain)));
            // "le 16 vers 6h dans la soirée"
            if let Some((e3, pod)) = self.pod_word_at(e2) {
                out.push((e3, TV::Inst(self.on_date(d, apply_pod(tod, pod), Some(pod)), tod.grain)));
            }
        }
        if let Some((e2, a, b)) = self.tod_interval_at(j) {
            out.push((e2, self.itv_on(d, a, b)));
        }
        // "jeudi après 9h30", "le 20 à partir de 10h"
        if let Some((e2, after, open::Anchor::Tod(tod))) = self.open_anchor_at(j) {
            out.push((e2, TV::Open(self.on_date(d, tod, None), tod.grain, after)));
        }
        // "demain jusqu'à 16h", "le 20 jusqu'à 18h": that day up to that time
        if let Some((e2, tod)) = self.t.phrase(j, "jusqu").and_then(|k| self.tod_at(k)) {
            out.push((e2, TV::Itv(at(d, 0, 0), self.on_date(d, tod, None), tod.grain)));
        }
        if let Some((e2, pod)) = self.pod_word_at(j) {
            out.push((e2, TV::Itv(at(d, pod.from, 0), at(d, pod.to, 0), Grain::Hour)));
            let k = self.skip_sep(e2);
            if let Some((e3, tod)) = self.tod_at(k) {
                out.push((e3, TV::Inst(self.on_date(d, tod, Some(pod)), tod.grain)));
            }
        }
    }

    /// A time of day, alone or before its day ("à 15h demain", "8 heures ce soir", "9 tomorrow
    /// evening"): a weak reading ("8 heures", "eight") only before its day.
    fn tod_led(&self, i: usize, out: &mut Vec<(usize, TV)>) {
        let strong = self.tod_at(i);
        let Some((e, tod)) = strong.or_else(|| self.weak_tod_at(i)) else { return };
        if strong.is_some() {
            out.push((e, TV::Inst(self.tod_alone(tod), tod.grain)));
        }
        let j = self.skip_sep(e);
        if let Some((e2, d)) = self.date_at(j) {
            out.push((e2, TV::Inst(self.on_date(d, tod, None), tod.grain)));
            if let Some((e3, pod)) = self.pod_word_at(e2) {
                out.push((e3, TV::Inst(self.on_date(d, apply_pod(tod, pod), Some(pod)), tod.grain)));
            }
        }
        // "at 7 in 3 years"
        if strong.is_some() {
            if let Some((e2, TV::Inst(n, g))) = self.relative_at(j) {
                if g >= Grain::Hour {
                    out.push((e2, TV::Inst(self.on_date(n.date(), tod, None), tod.grain)));
                }
            }
        }
        if let Some((e2, pod, d)) = self.pod_standalone_at(j) {
            out.push((e2, TV::Inst(self.on_pod_today(d, tod, pod), tod.grain)));
        }
    }

    /// The self-contained rules: periods, boundaries, relative times, holidays…
    fn rules_at(&self, i: usize, out: &mut Vec<(usize, TV)>) {
        let first =
            [Self::count_run_interval_at, Self::weekday_count_at, Self::date_interval_at, Self::weekend_at, Self::period_at, Self::month_in_at];
        for f in first {
            if let Some(r) = f(self, i) {
                out.push(r);
            }
        }
        // a relative time, and its time of day after it ("in 7 days at 5pm")
        if let Some((e, tv)) = self.relative_at(i) {
            if let Some(r) = self.relative_tod_after(e, &tv) {
                out.push(r);
            }
            out.push((e, tv));
        }
        let rules = [
            Self::counted_from_at,
            Self::lasting_at,
            Self::now_at,
            Self::boundary_at,
            Self::fortnight_at,
            Self::within_at,
            Self::season_at,
            Self::nth_of_period_at,
            Self::day_of_period_at,
            Self::quarter_inst_at,
            Self::upcoming_at,
            Self::month_named_at,
            Self::pod_of_date_at,
            Self::holiday_span_at,
            Self::closest_at,
            Self::month_year_at,
            Self::open_at,
        ];
        for f in rules {
            if let Some(r) = f(self, i) {
                out.push(r);
            }
        }
    }
}

impl Cx<'_> {
    /// A clock reading that needs a day or a part of the day after it: "8 heures", "eight", "9".
    fn weak_tod_at(&self, i: usize) -> Option<(usize, Tod)> {
        let (e, tod, _) = self.tod_core(i, true)?;
        Some((e, tod))
    }
}

/// Months in a month, quarter or year (1 otherwise).
fn months_in(u: Grain) -> i64 {
    match u {
        Grain::Quarter => 3,
        Grain::Year => 12,
        _ => 1,
    }
}

fn apply_pod(mut tod: Tod, pod: Pod) -> Tod {
    if pod.from >= 12 && tod.h < 12 {
        tod.h += 12;
    } else if pod.from < 12 && tod.h == 12 {
        tod.h = 0;
    }
    tod.amb = false;
    tod
}

fn truncate(n: NaiveDateTime, g: Grain) -> NaiveDateTime {
    let d = n.date();
    match g {
        Grain::Second => n.with_nanosecond(0).unwrap_or(n),
        Grain::Minute => at(d, n.hour(), n.minute()),
        Grain::Hour => at(d, n.hour(), 0),
        _ => at(d, 0, 0),
    }
}
