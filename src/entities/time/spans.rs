//! Runs of whole periods counted from now: "the next 3 weeks", "last 2 days", "les 3 prochaines
//! semaines", "deux dernières minutes", "3 heures suivantes".

use super::*;
use crate::entities::numbers::quantity_at;

/// The start of the period of grain `g` that contains `n` (weeks start on Monday).
pub(super) fn period_start(n: NaiveDateTime, g: Grain) -> NaiveDateTime {
    let d = n.date();
    match g {
        Grain::Week => at(d - Duration::days(d.weekday().num_days_from_monday() as i64), 0, 0),
        Grain::Month => at(d.with_day(1).unwrap_or(d), 0, 0),
        Grain::Quarter => at(NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1).unwrap_or(d), 0, 0),
        Grain::Year => at(NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d), 0, 0),
        _ => truncate(n, g),
    }
}

/// `n` moved by `k` periods of grain `g` (checked: None past the calendar).
pub(super) fn shift(n: NaiveDateTime, g: Grain, k: i64) -> Option<NaiveDateTime> {
    let secs: i64 = match g {
        Grain::Second => 1,
        Grain::Minute => 60,
        Grain::Hour => 3600,
        Grain::Day => 86_400,
        Grain::Week => 7 * 86_400,
        Grain::Month | Grain::Quarter | Grain::Year => {
            let months = match g {
                Grain::Year => 12 * k,
                Grain::Quarter => 3 * k,
                _ => k,
            };
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            return if months >= 0 { n.checked_add_months(m) } else { n.checked_sub_months(m) };
        }
    };
    n.checked_add_signed(Duration::try_seconds(secs.checked_mul(k)?)?)
}

const EN_NEXT: [&str; 4] = ["next", "coming", "following", "subsequent"];
const EN_LAST: [&str; 3] = ["last", "past", "previous"];
const FR_NEXT: [&str; 6] = ["prochain", "prochains", "prochaine", "prochaines", "suivants", "suivantes"];
const FR_LAST: [&str; 8] = ["dernier", "derniers", "derniere", "dernieres", "passes", "passees", "precedents", "precedentes"];

impl Cx<'_> {
    /// (end, count, unit, forward) of "next 3 weeks" / "les 3 prochaines semaines" / "3 semaines
    /// suivantes".
    fn count_run_at(&self, i: usize) -> Option<(usize, f64, Grain, bool)> {
        let t = self.t;
        if self.fr() {
            let j = if t.any(i, &["les", "ces"]) { i + 1 } else { i };
            let q = quantity_at(t, j, self.lang, false)?;
            let dir = |k: usize| {
                if t.any(k, &FR_NEXT) {
                    Some(true)
                } else if t.any(k, &FR_LAST) {
                    Some(false)
                } else {
                    None
                }
            };
            if let Some(fwd) = dir(q.end) {
                let u = duration_unit(t, q.end + 1, self.lang)?;
                return Some((q.end + 2, q.value, u, fwd));
            }
            let u = duration_unit(t, q.end, self.lang)?;
            let fwd = dir(q.end + 1)?;
            return Some((q.end + 2, q.value, u, fwd));
        }
        let j = if t.is(i, "the") { i + 1 } else { i };
        let fwd = if t.any(j, &EN_NEXT) {
            true
        } else if t.any(j, &EN_LAST) {
            false
        } else {
            return None;
        };
        let q = quantity_at(t, j + 1, self.lang, false)?;
        let u = duration_unit(t, q.end, self.lang)?;
        Some((q.end + 1, q.value, u, fwd))
    }

    /// Whole periods from the next one on (forward) or up to the current one (back), grain the
    /// unit's: at 04:30:00, "next 3 minutes" is 04:31–04:34, "last 2 days" yesterday and the day
    /// before.
    pub(super) fn count_run_interval_at(&self, i: usize) -> Option<(usize, TV)> {
        let (e, n, g, fwd) = self.count_run_at(i)?;
        if n.fract() != 0.0 || !(1.0..=MAX_RELATIVE).contains(&n) {
            return None;
        }
        let base = period_start(self.now, g);
        let (from, to) = if fwd {
            let from = shift(base, g, 1)?;
            (from, shift(from, g, n as i64)?)
        } else {
            (shift(base, g, -(n as i64))?, base)
        };
        Some((e, TV::Itv(from, to, g)))
    }
}

impl Cx<'_> {
    /// "3 fridays from now" (the third Friday after today), "2 thursdays ago", "two sundays back".
    pub(super) fn weekday_count_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() {
            return None;
        }
        let q = quantity_at(t, i, self.lang, false)?;
        if q.value.fract() != 0.0 || !(1.0..=520.0).contains(&q.value) {
            return None;
        }
        let k = t.key(q.end);
        let wd = EN_DAYS.iter().position(|d| k.strip_suffix('s') == Some(*d))? as i64;
        let (e, fwd) = if let Some(e) = t.phrases(q.end + 1, &["from now", "from today", "hence"]) {
            (e, true)
        } else {
            (t.phrases(q.end + 1, &["ago", "back"])?, false)
        };
        let today = self.today();
        let diff = (wd - today.weekday().num_days_from_monday() as i64).rem_euclid(7);
        let n = q.value as i64;
        let date = if fwd {
            today + Duration::days(if diff == 0 { 7 } else { diff } + 7 * (n - 1))
        } else {
            today - Duration::days(if diff == 0 { 7 } else { 7 - diff } + 7 * (n - 1))
        };
        Some((e, TV::Inst(at(date, 0, 0), Grain::Day)))
    }
}
