//! Dates, times and intervals, resolved against the reference time in its IANA zone.

use super::measures::{duration_at, duration_unit, Unit};
use super::numbers::number_at;
use super::text::{Kind, Toks};
use super::Lang;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use serde_json::{json, Value};

/// Largest count in a relative date-time ("in N days/hours…", "N years ago"); more is not a date.
const MAX_RELATIVE: f64 = 100_000.0;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Grain {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Grain {
    fn name(self) -> &'static str {
        match self {
            Grain::Second => "second",
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Year => "year",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum TV {
    /// Wall-clock instant in the context zone.
    Inst(NaiveDateTime, Grain),
    /// Absolute instant (reference ± an exact duration).
    Abs(DateTime<Tz>, Grain),
    /// Wall-clock interval, `to` exclusive.
    Itv(NaiveDateTime, NaiveDateTime, Grain),
}

/// Wall-clock time → zoned time. Ambiguous (clocks going back): the earlier instant. Skipped
/// (clocks going forward): shifted forward by the length of the gap (02:30 → 03:30).
pub(crate) fn localize(tz: &Tz, n: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&n) {
        chrono::LocalResult::Single(d) => d,
        chrono::LocalResult::Ambiguous(a, _) => a,
        chrono::LocalResult::None => {
            let before = n - Duration::hours(3);
            let off = tz
                .offset_from_local_datetime(&before)
                .earliest()
                .map(|o| o.fix().local_minus_utc())
                .unwrap_or(0);
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

    // ------------------------------------------------------------ dates

    fn month_at(&self, j: usize) -> Option<u32> {
        let names = if self.fr() { &FR_MONTHS } else { &EN_MONTHS };
        let k = self.t.key(j);
        names.iter().position(|m| *m == k).map(|p| p as u32 + 1)
    }

    fn weekday_at(&self, j: usize) -> Option<u32> {
        let names = if self.fr() { &FR_DAYS } else { &EN_DAYS };
        let k = self.t.key(j);
        names.iter().position(|m| *m == k).map(|p| p as u32)
    }

    fn year_at(&self, j: usize) -> Option<i32> {
        let (v, n) = self.t.int(j)?;
        (n == 4 && (1900..=2199).contains(&v)).then_some(v as i32)
    }

    /// Day of month at `j`: "3", "1er", "3rd", "premier", "third", "trois".
    fn dayn_at(&self, j: usize) -> Option<(usize, u32)> {
        let m = number_at(self.t, j, self.lang, false)?;
        if m.value.fract() != 0.0 || !(1.0..=31.0).contains(&m.value) {
            return None;
        }
        if self.t.kind(j) == Some(Kind::Num) && !self.t.t[j].plain {
            return None;
        }
        Some((m.end, m.value as u32))
    }

    /// "3 mars [2027]", "3rd of march", "march 3rd[, 2027]" → (end, day, month, year).
    fn daymonth_at(&self, i: usize) -> Option<(usize, u32, u32, Option<i32>)> {
        let t = self.t;
        let year_after = |e: usize| -> (usize, Option<i32>) {
            let j = if !self.fr() && t.is(e, ",") { e + 1 } else { e };
            match self.year_at(j) {
                Some(y) => (j + 1, Some(y)),
                None => (e, None),
            }
        };
        if let Some((e, d)) = self.dayn_at(i) {
            let j = if !self.fr() && t.is(e, "of") { e + 1 } else { e };
            if let Some(m) = self.month_at(j) {
                let (e2, y) = year_after(j + 1);
                return Some((e2, d, m, y));
            }
        }
        if !self.fr() {
            if let Some(m) = self.month_at(i) {
                let j = if t.is(i + 1, "the") { i + 2 } else { i + 1 };
                if let Some((e, d)) = self.dayn_at(j) {
                    let (e2, y) = year_after(e);
                    return Some((e2, d, m, y));
                }
            }
        }
        None
    }

    /// Future-preferring: the date this year if not before today, else next year.
    fn resolve_dm(&self, d: u32, m: u32, y: Option<i32>) -> Option<NaiveDate> {
        if let Some(y) = y {
            return NaiveDate::from_ymd_opt(y, m, d);
        }
        let today = self.today();
        (0..=8).find_map(|k| NaiveDate::from_ymd_opt(today.year() + k, m, d).filter(|x| *x >= today))
    }

    fn numeric_date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let (a, na) = t.int(i)?;
        // ISO 2026-04-15
        if na == 4 && t.is(i + 1, "-") && t.adj(i + 1) && t.adj(i + 2) && t.is(i + 3, "-") && t.adj(i + 3) && t.adj(i + 4) {
            let (m, _) = t.int(i + 2)?;
            let (d, _) = t.int(i + 4)?;
            return Some((i + 5, NaiveDate::from_ymd_opt(a as i32, m as u32, d as u32)?));
        }
        if na > 2 || !(t.is(i + 1, "/") && t.adj(i + 1) && t.adj(i + 2)) {
            return None;
        }
        let (b, nb) = t.int(i + 2)?;
        if nb > 2 {
            return None;
        }
        let (mut d, mut m) = if self.fr() { (a, b) } else { (b, a) };
        if m > 12 && d <= 12 {
            std::mem::swap(&mut d, &mut m);
        }
        let prefixed = i > 0 && self.t.any(i - 1, &["le", "on", "the", "du", "au"]);
        let mut end = i + 3;
        let mut y = None;
        if t.is(i + 3, "/") && t.adj(i + 3) && t.adj(i + 4) {
            if let Some((yv, ny)) = t.int(i + 4) {
                if ny == 4 || ny == 2 {
                    y = Some(if ny == 2 { 2000 + yv as i32 } else { yv as i32 });
                    end = i + 5;
                }
            }
        }
        if y.is_none() && !prefixed && !(na == 2 && nb == 2) {
            return None; // "3/4" is more likely a fraction
        }
        Some((end, self.resolve_dm(d as u32, m as u32, y)?))
    }

    /// Weekday, optionally qualified: (end, date).
    fn weekday_date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let wd_today = today.weekday().num_days_from_monday();
        // mode: 0 = strictly after today, 1 = today or after, 2 = strictly before
        let (mut mode, mut j) = (0, i);
        if self.fr() {
            if t.any(i, &["ce", "le"]) {
                mode = if t.is(i, "ce") { 1 } else { 0 };
                j = i + 1;
            }
        } else if t.any(i, &["next", "this", "last", "on", "coming"]) {
            mode = match t.key(i) {
                "this" => 1,
                "last" => 2,
                _ => 0,
            };
            j = i + 1;
            if t.is(i, "on") && t.any(j, &["next", "this", "last"]) {
                mode = match t.key(j) {
                    "this" => 1,
                    "last" => 2,
                    _ => 0,
                };
                j += 1;
            }
        }
        let wd = self.weekday_at(j)?;
        let mut end = j + 1;
        if self.fr() {
            if t.any(end, &["prochain", "prochaine"]) {
                mode = 0;
                end += 1;
            } else if t.any(end, &["dernier", "derniere", "passe"]) {
                mode = 2;
                end += 1;
            }
        }
        // "samedi 14 mars", "monday, march 16": the explicit date wins
        let k = if t.is(end, ",") { end + 1 } else { end };
        if let Some((e2, d, m, y)) = self.daymonth_at(k) {
            return Some((e2, self.resolve_dm(d, m, y)?));
        }
        // "mardi 17": the next Tuesday the 17th (within a year)
        if let Some((e2, dn)) = self.dayn_at(k) {
            let next_ok = e2 >= t.len()
                || (t.kind(e2) == Some(Kind::Punct) && !t.any(e2, &[":", "/", "%", "€", "$", "°"]))
                || t.any(e2, &["a", "vers", "at", "around", "from", "de", "du", "entre", "between", "et", "and", "ou", "or", "ce", "this", "dans", "in"]);
            if self.month_at(e2).is_none() && next_ok {
                let found = (0..400).map(|n| today + Duration::days(n)).find(|d| {
                    d.day() == dn && d.weekday().num_days_from_monday() == wd
                });
                if let Some(d) = found {
                    return Some((e2, d));
                }
            }
        }
        let diff = (wd as i64 - wd_today as i64).rem_euclid(7);
        let date = match mode {
            0 => today + Duration::days(if diff == 0 { 7 } else { diff }),
            1 => today + Duration::days(diff),
            _ => today - Duration::days(if diff == 0 { 7 } else { 7 - diff }),
        };
        Some((end, date))
    }

    /// Any single date (day grain): (end, date).
    fn date_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        let rel: &[(&str, i64)] = if self.fr() {
            &[("apres demain", 2), ("avant hier", -2), ("aujourd hui", 0), ("demain", 1), ("hier", -1)]
        } else {
            &[
                ("the day after tomorrow", 2),
                ("day after tomorrow", 2),
                ("the day before yesterday", -2),
                ("day before yesterday", -2),
                ("today", 0),
                ("tomorrow", 1),
                ("yesterday", -1),
            ]
        };
        for (p, n) in rel {
            if let Some(e) = t.phrase(i, p) {
                return Some((e, today + Duration::days(*n)));
            }
        }
        if let Some(r) = self.weekday_date_at(i) {
            return Some(r);
        }
        // prefix: "le" (fr), "on" / "the" / "on the" (en)
        let mut starts = vec![i];
        if self.fr() && t.is(i, "le") {
            starts.push(i + 1);
        }
        if !self.fr() && t.any(i, &["on", "the"]) {
            starts.push(i + 1);
            if t.is(i, "on") && t.is(i + 1, "the") {
                starts.push(i + 2);
            }
        }
        if !self.fr() {
            if let Some(j) = t.phrase(i, "on the") {
                if let Some(m) = number_at(t, j, self.lang, false).filter(|m| m.ordinal && m.value <= 31.0) {
                    let next_ok = m.end >= t.len()
                        || t.kind(m.end) == Some(Kind::Punct)
                        || t.any(m.end, &["at", "in", "from", "around", "by", "and", "or", "then", "please"]);
                    if self.month_at(m.end).is_none() && next_ok {
                        let d = m.value as u32;
                        let date = (0..12).find_map(|k| {
                            let mm = today.month0() as i32 + k;
                            NaiveDate::from_ymd_opt(today.year() + mm / 12, (mm % 12) as u32 + 1, d).filter(|x| *x >= today)
                        })?;
                        return Some((m.end, date));
                    }
                }
            }
        }
        for &s in starts.iter().rev() {
            if let Some((e, d, m, y)) = self.daymonth_at(s) {
                // English "the 3rd" needs its month; a bare "on the" prefix alone is fine
                return Some((e, self.resolve_dm(d, m, y)?));
            }
            if let Some(r) = self.numeric_date_at(s) {
                return Some(r);
            }
        }
        None
    }

    // ------------------------------------------------------------ time of day

    fn meridiem_at(&self, j: usize) -> Option<(usize, bool)> {
        let t = self.t;
        match t.key(j) {
            "am" => return Some((j + 1, false)),
            "pm" => return Some((j + 1, true)),
            _ => {}
        }
        for (p, pm) in [("a . m", false), ("p . m", true)] {
            if let Some(e) = t.phrase(j, p) {
                let e = if t.is(e, ".") && t.adj(e) { e + 1 } else { e };
                return Some((e, pm));
            }
        }
        None
    }

    fn qualifier_at(&self, j: usize) -> Option<(usize, Pod)> {
        let ps: &[(&str, u32, u32)] = if self.fr() {
            &[("du matin", 4, 12), ("du mat", 4, 12), ("de l apres midi", 12, 19), ("de l aprem", 12, 19), ("du soir", 18, 24)]
        } else {
            &[("in the morning", 4, 12), ("in the afternoon", 12, 19), ("in the evening", 18, 24), ("at night", 18, 24)]
        };
        ps.iter().find_map(|(p, a, b)| self.t.phrase(j, p).map(|e| (e, Pod { from: *a, to: *b })))
    }

    /// Time of day without prefix: (end, tod, strong). Weak readings ("quinze heures", "15 h 30",
    /// bare "3") need a prefix ("à", "at") or an interval connector.
    fn tod_core(&self, j: usize, bare_ok: bool) -> Option<(usize, Tod, bool)> {
        let t = self.t;
        let k = t.key(j);
        let fr = self.fr();
        let hm = |h: u32, m: u32, g: Grain, amb: bool| Tod { h, m, grain: g, amb };
        if (fr && k == "midi") || (!fr && k == "noon") {
            if fr {
                if let Some(e) = t.phrases(j + 1, &["et demie", "et demi"]) {
                    return Some((e, hm(12, 30, Grain::Minute, false), true));
                }
            }
            return Some((j + 1, hm(12, 0, Grain::Hour, false), true));
        }
        if (fr && k == "minuit") || (!fr && k == "midnight") {
            if fr {
                if let Some(e) = t.phrases(j + 1, &["et demie", "et demi"]) {
                    return Some((e, hm(24, 30, Grain::Minute, false), true));
                }
            }
            return Some((j + 1, hm(24, 0, Grain::Hour, false), true));
        }
        // half past seven, (a) quarter past / to nine
        if !fr {
            let rel: &[(&str, i32)] = &[("half past", 30), ("quarter past", 15), ("a quarter past", 15), ("quarter to", -15), ("a quarter to", -15)];
            for (p, off) in rel {
                if let Some(e) = t.phrase(j, p) {
                    let hn = number_at(t, e, self.lang, false)?;
                    if hn.ordinal || hn.value.fract() != 0.0 || !(1.0..=12.0).contains(&hn.value) {
                        return None;
                    }
                    let h = hn.value as u32;
                    let (h, m) = if *off < 0 { (if h == 1 { 12 } else { h - 1 }, 45) } else { (h, *off as u32) };
                    if let Some((e2, pm)) = self.meridiem_at(hn.end) {
                        return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, m, Grain::Minute, false), true));
                    }
                    return Some((hn.end, hm(h, m, Grain::Minute, true), true));
                }
            }
        }
        // the hour: digits or spelled
        let num = number_at(t, j, self.lang, false)?;
        if num.ordinal || num.value.fract() != 0.0 || !(0.0..=24.0).contains(&num.value) {
            return None;
        }
        let digits = t.kind(j) == Some(Kind::Num);
        if digits && (!t.t[j].plain || t.t[j].key.len() > 2) {
            return None;
        }
        let h = num.value as u32;
        let e = num.end;
        // 15h, 15h30, 15 h 30
        if digits && t.is(e, "h") {
            let glued = t.adj(e);
            if let Some((m, n)) = t.int(e + 1) {
                if n == 2 && m < 60 && duration_unit(t, e + 2, self.lang).is_none() && glued == t.adj(e + 1) {
                    return Some((e + 2, hm(h, m as u32, Grain::Minute, false), glued));
                }
            }
            return Some((e + 1, hm(h, 0, Grain::Hour, false), glued));
        }
        // 17:45, 5:30 pm
        if digits && t.is(e, ":") && t.adj(e) && t.adj(e + 1) {
            let (m, n) = t.int(e + 1)?;
            if n != 2 || m >= 60 {
                return None;
            }
            if let Some((e2, pm)) = self.meridiem_at(e + 2) {
                if !(1..=12).contains(&h) {
                    return None;
                }
                return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, m as u32, Grain::Minute, false), true));
            }
            return Some((e + 2, hm(h, m as u32, Grain::Minute, !fr && (1..=12).contains(&h)), true));
        }
        // 3pm, seven pm
        if let Some((e2, pm)) = self.meridiem_at(e) {
            if !(1..=12).contains(&h) {
                return None;
            }
            return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, 0, Grain::Hour, false), true));
        }
        // three thirty [pm]
        if !fr && !digits && (1..=12).contains(&h) {
            if let Some(mm) = number_at(t, e, self.lang, false) {
                let ok = mm.spelled && !mm.ordinal && mm.value.fract() == 0.0 && (1.0..60.0).contains(&mm.value);
                if ok && duration_unit(t, mm.end, self.lang).is_none() && !t.any(mm.end, &["%", "percent", "dollars", "euros", "degrees"]) {
                    let m = mm.value as u32;
                    if let Some((e2, pm)) = self.meridiem_at(mm.end) {
                        return Some((e2, hm(h % 12 + if pm { 12 } else { 0 }, m, Grain::Minute, false), true));
                    }
                    if bare_ok {
                        return Some((mm.end, hm(h, m, Grain::Minute, true), false));
                    }
                }
            }
        }
        // seven o'clock
        if !fr {
            if let Some(e2) = t.phrase(e, "o clock") {
                if !(1..=12).contains(&h) {
                    return None;
                }
                return Some((e2, hm(h, 0, Grain::Hour, true), true));
            }
        }
        // quinze heures [trente | et demie | et quart | moins le quart | moins dix]
        if fr && t.any(e, &["heure", "heures"]) {
            let e1 = e + 1;
            if let Some(e2) = t.phrases(e1, &["et demie", "et demi"]) {
                return Some((e2, hm(h, 30, Grain::Minute, false), false));
            }
            if let Some(e2) = t.phrase(e1, "et quart") {
                return Some((e2, hm(h, 15, Grain::Minute, false), false));
            }
            if let Some(e2) = t.phrase(e1, "moins le quart") {
                if h == 0 {
                    return None;
                }
                return Some((e2, hm(h - 1, 45, Grain::Minute, false), false));
            }
            if t.is(e1, "moins") {
                if let Some(mm) = number_at(t, e1 + 1, self.lang, false) {
                    if !mm.ordinal && mm.value >= 1.0 && mm.value < 60.0 && mm.value.fract() == 0.0 && h > 0 {
                        return Some((mm.end, hm(h - 1, 60 - mm.value as u32, Grain::Minute, false), false));
                    }
                }
            }
            if let Some(mm) = number_at(t, e1, self.lang, false) {
                if !mm.ordinal && mm.value < 60.0 && mm.value.fract() == 0.0 && !t.any(mm.end, &["heure", "heures", "%"]) {
                    let mut end = mm.end;
                    if t.any(end, &["minute", "minutes"]) {
                        end += 1;
                    }
                    if duration_unit(t, end, self.lang).is_none() || end > mm.end {
                        return Some((end, hm(h, mm.value as u32, Grain::Minute, false), false));
                    }
                }
            }
            return Some((e1, hm(h, 0, Grain::Hour, false), false));
        }
        if bare_ok && h <= 23 {
            // bare hour after "at" / "between": not before a unit ("at 20 degrees")
            let nk = t.key(e);
            let unitish = duration_unit(t, e, self.lang).is_some()
                || matches!(nk, "%" | "°" | "degrees" | "degree" | "degres" | "degre" | "percent" | "euros" | "dollars" | "$" | "€")
                || t.is_num(e)
                || (t.is(e, ".") || t.is(e, ",") || t.is(e, "/")) && t.is_num(e + 1);
            if !unitish && !fr {
                return Some((e, hm(h, 0, Grain::Hour, (1..=12).contains(&h)), false));
            }
        }
        None
    }

    /// Time of day with its optional prefix and qualifier: (end, tod).
    fn tod_at(&self, i: usize) -> Option<(usize, Tod)> {
        let t = self.t;
        let prefixes: &[&str] = if self.fr() { &["a", "vers", "des"] } else { &["at", "around", "by"] };
        let pre = t.any(i, prefixes);
        let j = if pre { i + 1 } else { i };
        if !pre {
            // "pendant 2h", "ça dure 1h30", "for 15h": durations, not times of day
            let triggers = ["pendant", "durant", "dure", "duree", "for", "during", "lasts", "lasted", "takes", "took", "en", "in"];
            if i > 0 && t.any(i - 1, &triggers) {
                return None;
            }
        }
        let (mut e, mut tod, strong) = self.tod_core(j, pre && !self.fr())?;
        if let Some((e2, pod)) = self.qualifier_at(e) {
            tod = apply_pod(tod, pod);
            e = e2;
        } else if !(pre || strong) {
            return None;
        }
        Some((e, tod))
    }

    /// "de 9h à 17h", "entre 14h et 16h", "from 10am to 5pm", "between 2 and 4pm".
    fn tod_interval_at(&self, i: usize) -> Option<(usize, Tod, Tod)> {
        let t = self.t;
        let (open, closes): (&[&str], &[&str]) = if self.fr() {
            if t.is(i, "de") {
                (&["de"], &["a", "jusqu a"])
            } else {
                (&["entre"], &["et"])
            }
        } else if t.is(i, "between") {
            (&["between"], &["and"])
        } else {
            (&["from"], &["to", "until", "till", "-"])
        };
        if !t.any(i, open) {
            return None;
        }
        let (e1, mut a, _) = self.tod_core(i + 1, true).or_else(|| {
            // bare hour before the connector: "de 9 à 17h", "between 2 and 4pm"
            let (h, n) = t.int(i + 1)?;
            (n <= 2 && h <= 23).then_some((i + 2, Tod { h: h as u32, m: 0, grain: Grain::Hour, amb: h <= 12 }, false))
        })?;
        let j = t.phrases(e1, closes)?;
        let (mut e2, mut b, strong) = self.tod_core(j, false)?;
        if !strong && !self.fr() {
            return None;
        }
        if let Some((e3, pod)) = self.qualifier_at(e2) {
            b = apply_pod(b, pod);
            if a.amb {
                a = apply_pod(a, pod);
            }
            e2 = e3;
        }
        if a.amb && !b.amb && b.h >= 12 && a.h < 12 && a.h + 12 <= b.h {
            a.h += 12;
        }
        a.amb = false;
        Some((e2, a, b))
    }

    fn pod_word_at(&self, j: usize) -> Option<(usize, Pod)> {
        let t = self.t;
        let j = t.phrases(j, &["dans la", "dans l", "in the", "en"]).unwrap_or(j);
        let ps: &[(&str, u32, u32)] = if self.fr() {
            &[("matin", 4, 12), ("matinee", 4, 12), ("apres midi", 12, 19), ("aprem", 12, 19), ("soir", 18, 24), ("soiree", 18, 24)]
        } else {
            &[("morning", 4, 12), ("afternoon", 12, 19), ("evening", 18, 24), ("night", 18, 24)]
        };
        ps.iter().find_map(|(p, a, b)| t.phrase(j, p).map(|e| (e, Pod { from: *a, to: *b })))
    }

    /// "ce soir", "tonight", "this morning": (end, pod, date).
    fn pod_standalone_at(&self, i: usize) -> Option<(usize, Pod, NaiveDate)> {
        let t = self.t;
        let ps: &[(&str, u32, u32)] = if self.fr() {
            &[("ce matin", 4, 12), ("cet apres midi", 12, 19), ("cet aprem", 12, 19), ("ce soir", 18, 24), ("cette soiree", 18, 24)]
        } else {
            &[("tonight", 18, 24), ("tonite", 18, 24), ("this morning", 4, 12), ("this afternoon", 12, 19), ("this evening", 18, 24)]
        };
        ps.iter().find_map(|(p, a, b)| t.phrase(i, p).map(|e| (e, Pod { from: *a, to: *b }, self.today())))
    }

    // ------------------------------------------------------------ resolution

    /// A time of day on a given date. An ambiguous 12-hour reading ("tomorrow at 3") is read as
    /// 13:00–19:00 for 1–7 and as said for 8–12; a part of day ("ce soir à 8h") moves it to the pm.
    fn on_date(&self, d: NaiveDate, tod: Tod, pod: Option<Pod>) -> NaiveDateTime {
        let mut h = tod.h;
        if let Some(p) = pod {
            if p.from >= 12 && h < 12 {
                h += 12;
            }
        } else if tod.amb && (1..=7).contains(&h) {
            h += 12;
        }
        at(d, h, tod.m)
    }

    /// A time of day alone: the first occurrence not before the reference (today or tomorrow).
    fn tod_alone(&self, tod: Tod) -> NaiveDateTime {
        let hours: Vec<u32> = if tod.amb { if tod.h == 12 { vec![12, 24] } else { vec![tod.h, tod.h + 12] } } else { vec![tod.h] };
        let floor = truncate(self.now, tod.grain);
        for day in 0..2 {
            let d = self.today() + Duration::days(day);
            for &h in &hours {
                let x = at(d, h, tod.m);
                if x >= floor {
                    return x;
                }
            }
        }
        at(self.today() + Duration::days(1), hours[0], tod.m)
    }

    fn itv_on(&self, d: NaiveDate, a: Tod, b: Tod) -> TV {
        let from = at(d, a.h, a.m);
        let mut to = at(d, b.h, b.m);
        if to <= from {
            to += Duration::days(1);
        }
        TV::Itv(from, to, a.grain.min(b.grain))
    }

    fn relative_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (dur_start, sign) = if self.fr() {
            if t.is(i, "dans") {
                (i + 1, 1)
            } else if let Some(e) = t.phrase(i, "il y a") {
                (e, -1)
            } else {
                return None;
            }
        } else if t.is(i, "in") {
            (i + 1, 1)
        } else {
            (i, -1) // "<duration> ago"
        };
        let (mut e, d) = duration_at(t, dur_start, self.lang)?;
        if !self.fr() && sign == -1 {
            if !t.is(e, "ago") {
                return None;
            }
            e += 1;
        }
        // "in 777777777777 hours" is past any calendar: no date-time (checked arithmetic throughout,
        // found by fuzzing: chrono panics on out-of-range deltas).
        if !(d.value.is_finite() && d.value.abs() <= MAX_RELATIVE) {
            return None;
        }
        let tv = match d.unit {
            Unit::Second | Unit::Minute | Unit::Hour => {
                let secs = (d.seconds() * sign as f64).round() as i64;
                let g = if d.unit == Unit::Hour { Grain::Minute } else { Grain::Second };
                TV::Abs(self.abs.checked_add_signed(Duration::try_seconds(secs)?)?, g)
            }
            _ => {
                if d.value.fract() != 0.0 {
                    return None;
                }
                let n = d.value as i64 * sign;
                let today = self.today();
                let date = match d.unit {
                    Unit::Day => today.checked_add_signed(Duration::try_days(n)?)?,
                    Unit::Week => today.checked_add_signed(Duration::try_days(7 * n)?)?,
                    Unit::Month | Unit::Year => {
                        let months = if d.unit == Unit::Year { 12 * n } else { n };
                        let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
                        if months >= 0 {
                            today.checked_add_months(m)?
                        } else {
                            today.checked_sub_months(m)?
                        }
                    }
                    _ => unreachable!(),
                };
                TV::Inst(at(date, 0, 0), Grain::Day)
            }
        };
        Some((e, tv))
    }

    fn period_at(&self, i: usize) -> Option<(usize, TV)> {
        let ps: &[(&str, i64, Grain)] = if self.fr() {
            &[
                ("cette semaine", 0, Grain::Week),
                ("la semaine prochaine", 1, Grain::Week),
                ("la semaine derniere", -1, Grain::Week),
                ("la semaine passee", -1, Grain::Week),
                ("ce mois ci", 0, Grain::Month),
                ("ce mois", 0, Grain::Month),
                ("le mois prochain", 1, Grain::Month),
                ("le mois dernier", -1, Grain::Month),
                ("cette annee", 0, Grain::Year),
                ("l annee prochaine", 1, Grain::Year),
                ("l an prochain", 1, Grain::Year),
                ("l annee derniere", -1, Grain::Year),
                ("l an dernier", -1, Grain::Year),
            ]
        } else {
            &[
                ("this week", 0, Grain::Week),
                ("next week", 1, Grain::Week),
                ("last week", -1, Grain::Week),
                ("this month", 0, Grain::Month),
                ("next month", 1, Grain::Month),
                ("last month", -1, Grain::Month),
                ("this year", 0, Grain::Year),
                ("next year", 1, Grain::Year),
                ("last year", -1, Grain::Year),
            ]
        };
        let today = self.today();
        for (p, n, g) in ps {
            if let Some(e) = self.t.phrase(i, p) {
                let d = match g {
                    Grain::Week => {
                        today - Duration::days(today.weekday().num_days_from_monday() as i64) + Duration::days(7 * n)
                    }
                    Grain::Month => {
                        let m0 = today.year() as i64 * 12 + today.month0() as i64 + n;
                        NaiveDate::from_ymd_opt((m0.div_euclid(12)) as i32, (m0.rem_euclid(12) + 1) as u32, 1)?
                    }
                    _ => NaiveDate::from_ymd_opt(today.year() + *n as i32, 1, 1)?,
                };
                return Some((e, TV::Inst(at(d, 0, 0), *g)));
            }
        }
        None
    }

    fn weekend_at(&self, i: usize) -> Option<(usize, TV)> {
        let ps: &[(&str, i64)] = if self.fr() {
            &[
                ("le week end prochain", 1),
                ("le weekend prochain", 1),
                ("le prochain week end", 1),
                ("le prochain weekend", 1),
                ("ce week end", 0),
                ("ce weekend", 0),
                ("le week end", 0),
                ("le weekend", 0),
            ]
        } else {
            &[("next weekend", 1), ("next week end", 1), ("this weekend", 0), ("this week end", 0), ("the weekend", 0)]
        };
        let (e, n) = ps.iter().find_map(|(p, n)| self.t.phrase(i, p).map(|e| (e, *n)))?;
        let today = self.today();
        let wd = today.weekday().num_days_from_monday() as i64;
        let fri = if wd <= 4 { today + Duration::days(4 - wd) } else { today - Duration::days(wd - 4) } + Duration::days(7 * n);
        Some((e, TV::Itv(at(fri, 18, 0), at(fri + Duration::days(3), 0, 0), Grain::Hour)))
    }

    fn month_in_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let j = if self.fr() { t.phrases(i, &["au mois de", "au mois d", "en"]) } else { t.phrases(i, &["in"]) };
        let j = match j {
            Some(j) => j,
            // "mars 2027" needs its year
            None if self.month_at(i).is_some() && self.year_at(i + 1).is_some() => i,
            None => return None,
        };
        let m = self.month_at(j)?;
        let today = self.today();
        let (e, y) = match self.year_at(j + 1) {
            Some(y) => (j + 2, y),
            None => (j + 1, if m < today.month() { today.year() + 1 } else { today.year() }),
        };
        Some((e, TV::Inst(at(NaiveDate::from_ymd_opt(y, m, 1)?, 0, 0), Grain::Month)))
    }

    /// "du 3 au 5 mars", "du lundi au mercredi", "from march 13 to march 15", "from monday to wednesday".
    fn date_interval_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (j, closes): (usize, &[&str]) = if self.fr() {
            if t.is(i, "du") {
                (i + 1, &["au", "jusqu au"])
            } else if t.is(i, "de") && self.weekday_at(i + 1).is_some() {
                (i + 1, &["a", "jusqu a"])
            } else if t.is(i, "entre") {
                (if t.is(i + 1, "le") { i + 2 } else { i + 1 }, &["et le", "et"])
            } else {
                return None;
            }
        } else if t.is(i, "from") {
            (i + 1, &["to", "until", "till", "through", "-"])
        } else if t.is(i, "between") {
            (i + 1, &["and"])
        } else {
            return None;
        };
        // weekdays
        if let Some(w1) = self.weekday_at(j) {
            let k = t.phrases(j + 1, closes)?;
            let w2 = self.weekday_at(k)?;
            let (_, d1) = self.weekday_date_at(j)?;
            let diff = (w2 as i64 - w1 as i64).rem_euclid(7);
            let d2 = d1 + Duration::days(diff);
            return Some((k + 1, TV::Itv(at(d1, 0, 0), at(d2 + Duration::days(1), 0, 0), Grain::Day)));
        }
        // first date: full day-month, or a bare day number (month from the second date)
        let full1 = self.daymonth_at(j);
        let (e1, d1, m1, y1) = match full1 {
            Some(x) => (x.0, x.1, Some(x.2), x.3),
            None => {
                let (e, d) = self.dayn_at(j)?;
                (e, d, None, None)
            }
        };
        let k = t.phrases(e1, closes)?;
        let k = if self.fr() && t.is(k, "le") { k + 1 } else { k };
        let (e2, d2, m2, y2) = match self.daymonth_at(k) {
            Some(x) => x,
            None => {
                let m1 = m1?;
                let (e, d) = self.dayn_at(k)?;
                (e, d, m1, y1)
            }
        };
        let m1 = m1.unwrap_or(m2);
        let y = y1.or(y2);
        let start = self.resolve_dm(d1, m1, y)?;
        let mut end = NaiveDate::from_ymd_opt(start.year(), m2, d2)?;
        if end < start {
            end = NaiveDate::from_ymd_opt(start.year() + 1, m2, d2)?;
        }
        Some((e2, TV::Itv(at(start, 0, 0), at(end + Duration::days(1), 0, 0), Grain::Day)))
    }

    fn now_at(&self, i: usize) -> Option<(usize, TV)> {
        let ps: &[&str] = if self.fr() { &["maintenant", "tout de suite", "immediatement"] } else { &["right now", "now", "right away"] };
        let e = self.t.phrases(i, ps)?;
        Some((e, TV::Abs(self.abs, Grain::Second)))
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
        if let Some((e, d)) = self.date_at(i) {
            out.push((e, TV::Inst(at(d, 0, 0), Grain::Day)));
            let j = self.skip_sep(e);
            if let Some((e2, tod)) = self.tod_at(j) {
                out.push((e2, TV::Inst(self.on_date(d, tod, None), tod.grain)));
            }
            if let Some((e2, a, b)) = self.tod_interval_at(j) {
                out.push((e2, self.itv_on(d, a, b)));
            }
            if let Some((e2, pod)) = self.pod_word_at(j) {
                out.push((e2, TV::Itv(at(d, pod.from, 0), at(d, pod.to, 0), Grain::Hour)));
                let k = self.skip_sep(e2);
                if let Some((e3, tod)) = self.tod_at(k) {
                    out.push((e3, TV::Inst(self.on_date(d, tod, Some(pod)), tod.grain)));
                }
            }
        }
        if let Some((e, tod)) = self.tod_at(i) {
            out.push((e, TV::Inst(self.tod_alone(tod), tod.grain)));
            let j = self.skip_sep(e);
            if let Some((e2, d)) = self.date_at(j) {
                out.push((e2, TV::Inst(self.on_date(d, tod, None), tod.grain)));
            }
            if let Some((e2, pod, d)) = self.pod_standalone_at(j) {
                out.push((e2, TV::Inst(self.on_date(d, tod, Some(pod)), tod.grain)));
            }
        }
        if let Some((e, pod, d)) = self.pod_standalone_at(i) {
            out.push((e, TV::Itv(at(d, pod.from, 0), at(d, pod.to, 0), Grain::Hour)));
            if let Some((e2, tod)) = self.tod_at(self.skip_sep(e)) {
                out.push((e2, TV::Inst(self.on_date(d, tod, Some(pod)), tod.grain)));
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
        for f in [Self::date_interval_at, Self::weekend_at, Self::period_at, Self::month_in_at, Self::relative_at, Self::now_at] {
            if let Some(r) = f(self, i) {
                out.push(r);
            }
        }
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
