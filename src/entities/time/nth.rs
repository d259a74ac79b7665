//! Ordinals of periods and quarters: "first tuesday of october", "last day of october 2015",
//! "the 3rd week of june", "second last week of 2018", "le dernier week-end de septembre", "20th
//! of next month", "third quarter", "2018Q4", "upcoming two weeks", "next March".

use super::bounds::Period;
use super::spans::{period_start, shift};
use super::*;

#[derive(Clone, Copy, PartialEq)]
enum Item {
    Weekday(u32),
    Day,
    Week,
    Weekend,
}

impl Cx<'_> {
    /// "first", "3rd", "le premier", "last", "dernier", "second last", "3rd last": (end, n, from
    /// the end).
    fn nth_head(&self, i: usize) -> Option<(usize, u32, bool)> {
        let t = self.t;
        let j = t.phrases(i, if self.fr() { &["le", "la", "l"] } else { &["the"] }).unwrap_or(i);
        let last: &[&str] = if self.fr() { &["dernier", "derniere"] } else { &["last"] };
        if t.any(j, last) {
            return Some((j + 1, 1, true));
        }
        let m = number_at(t, j, self.lang, false).filter(|m| m.ordinal && m.value >= 1.0 && m.value <= 53.0)?;
        if !self.fr() && t.is(m.end, "last") {
            return Some((m.end + 1, m.value as u32, true));
        }
        Some((m.end, m.value as u32, false))
    }

    fn nth_item(&self, j: usize) -> Option<(usize, Item)> {
        let t = self.t;
        if let Some(wd) = self.weekday_at(j) {
            return Some((j + 1, Item::Weekday(wd)));
        }
        let words: &[(&str, Item)] = if self.fr() {
            &[("jour", Item::Day), ("journee", Item::Day), ("semaine", Item::Week), ("week end", Item::Weekend), ("weekend", Item::Weekend)]
        } else {
            &[("day", Item::Day), ("week end", Item::Weekend), ("weekend", Item::Weekend), ("wkend", Item::Weekend), ("week", Item::Week)]
        };
        words.iter().find_map(|(p, it)| Some((t.phrase(j, p)?, *it)))
    }

    /// The n-th item of a period, counted from its start or its end.
    fn nth_in(&self, p: Period, item: Item, n: u32, from_end: bool) -> Option<TV> {
        let (s, e) = (p.start, p.end()?);
        let days: Vec<NaiveDate> = (0..(e - s).num_days()).map(|k| s + Duration::days(k)).collect();
        let pick = |v: Vec<NaiveDate>| -> Option<NaiveDate> {
            let k = n as usize - 1;
            if from_end {
                v.len().checked_sub(k + 1).and_then(|x| v.get(x).copied())
            } else {
                v.get(k).copied()
            }
        };
        let wd = |d: &NaiveDate| d.weekday().num_days_from_monday();
        Some(match item {
            Item::Day => TV::Inst(at(pick(days)?, 0, 0), Grain::Day),
            Item::Weekday(w) => TV::Inst(at(pick(days.into_iter().filter(|d| wd(d) == w).collect())?, 0, 0), Grain::Day),
            // whole weeks inside the period
            Item::Week => {
                let mondays = days.into_iter().filter(|d| wd(d) == 0 && *d + Duration::days(6) < e).collect();
                TV::Inst(at(pick(mondays)?, 0, 0), Grain::Week)
            }
            // weekends by their Saturday
            Item::Weekend => {
                let sat = pick(days.into_iter().filter(|d| wd(d) == 5).collect())?;
                TV::Itv(at(sat - Duration::days(1), 18, 0), at(sat + Duration::days(2), 0, 0), Grain::Hour)
            }
        })
    }

    /// "first tuesday of october", "last Monday of March", "third day of october", "the first
    /// Monday of this month", "fifth last day of May", "first week of october 2014", "third last
    /// week of 2018", "last weekend of October", "le 3eme jour d'octobre", "le premier mercredi du
    /// mois prochain", "la dernière semaine de septembre 2014", "le deuxième week-end de septembre".
    pub(super) fn nth_of_period_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (j, n, from_end) = self.nth_head(i)?;
        let (k, item) = self.nth_item(j)?;
        let k = if self.fr() { t.phrases(k, &["de la", "de l", "du", "de", "d"])? } else { t.phrases(k, &["of", "in"])? };
        let (e, p) = self.period_ref_at(k)?;
        let ok = match item {
            Item::Week => p.grain > Grain::Week,
            _ => matches!(p.grain, Grain::Month | Grain::Quarter | Grain::Year),
        };
        if !ok {
            return None;
        }
        Some((e, self.nth_in(p, item, n, from_end)?))
    }

    /// "20 of next month", "20th of the current month", "the 15th of this month": a day of a
    /// month given relatively.
    pub(super) fn day_of_period_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() {
            return None;
        }
        let j = if t.is(i, "the") { i + 1 } else { i };
        let m = number_at(t, j, self.lang, false).filter(|m| m.value.fract() == 0.0 && (1.0..=31.0).contains(&m.value))?;
        let k = t.phrases(m.end, &["of"])?;
        let (e, start, _) = self.period_rel(k).filter(|p| p.2 == Grain::Month)?;
        let d = start.with_day(m.value as u32)?;
        Some((e, TV::Inst(at(d, 0, 0), Grain::Day)))
    }

    /// "third quarter", "the 4th qtr of 2018", "4th quarter 2018", "18q4", "2018Q4", "le
    /// troisième trimestre": (end, first day).
    pub(super) fn quarter_at(&self, i: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let today = self.today();
        // 2018Q4, 18q4
        if let Some((y, n)) = t.int(i) {
            if (n == 2 || n == 4) && t.is(i + 1, "q") && t.adj(i + 1) && t.adj(i + 2) {
                let (q, _) = t.int(i + 2).filter(|(q, n)| (1..=4).contains(q) && *n == 1)?;
                let y = if n == 2 { 2000 + y as i32 } else { y as i32 };
                return Some((i + 3, NaiveDate::from_ymd_opt(y, (q as u32 - 1) * 3 + 1, 1)?));
            }
        }
        let j = t.phrases(i, if self.fr() { &["le"] } else { &["the"] }).unwrap_or(i);
        let m = number_at(t, j, self.lang, false).filter(|m| m.ordinal && (1.0..=4.0).contains(&m.value))?;
        let e = t.phrases(m.end, if self.fr() { &["trimestre"] } else { &["quarter", "qtr"] })?;
        let (e, y) = match self.year_at(e).or_else(|| self.year_at(e + 1).filter(|_| t.any(e, &["of", "de"]))) {
            Some(y) if self.year_at(e).is_some() => (e + 1, y),
            Some(y) => (e + 2, y),
            None => (e, today.year()),
        };
        Some((e, NaiveDate::from_ymd_opt(y, (m.value as u32 - 1) * 3 + 1, 1)?))
    }

    pub(super) fn quarter_inst_at(&self, i: usize) -> Option<(usize, TV)> {
        let (e, d) = self.quarter_at(i)?;
        Some((e, TV::Inst(at(d, 0, 0), Grain::Quarter)))
    }

    /// "upcoming two weeks", "2 upcoming days": the period that many periods ahead.
    pub(super) fn upcoming_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() {
            return None;
        }
        let (n, k) = if t.is(i, "upcoming") {
            let q = number_at(t, i + 1, self.lang, false)?;
            (q, q.end)
        } else {
            let q = number_at(t, i, self.lang, false)?;
            (q, t.phrase(q.end, "upcoming")?)
        };
        if n.ordinal || n.value.fract() != 0.0 || !(1.0..=1000.0).contains(&n.value) {
            return None;
        }
        let g = match t.key(k) {
            "day" | "days" => Grain::Day,
            "week" | "weeks" => Grain::Week,
            "month" | "months" => Grain::Month,
            "quarter" | "quarters" | "qtr" | "qtrs" => Grain::Quarter,
            "year" | "years" => Grain::Year,
            _ => return None,
        };
        let d = shift(period_start(self.now, g), g, n.value as i64)?;
        Some((k + 1, TV::Inst(d, g)))
    }

    /// "next March" (the first March after this month), "during March", "le mois de mars",
    /// "in 2014", "en 2014".
    pub(super) fn month_named_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let today = self.today();
        if !self.fr() && t.is(i, "next") {
            let m = self.month_at(i + 1)?;
            let y = if m <= today.month() { today.year() + 1 } else { today.year() };
            return Some((i + 2, TV::Inst(at(NaiveDate::from_ymd_opt(y, m, 1)?, 0, 0), Grain::Month)));
        }
        let j = if self.fr() { t.phrases(i, &["le mois de", "le mois d", "pendant le mois de"]) } else { t.phrases(i, &["during"]) };
        if let Some(j) = j {
            let (e, d) = self.month_ref_at(j)?;
            return Some((e, TV::Inst(at(d, 0, 0), Grain::Month)));
        }
        let j = t.phrases(i, if self.fr() { &["en"] } else { &["in"] })?;
        // "in 2014 AD", "in 14 a.d.", "in 2014 B.C."
        if let Some((y, _)) = t.int(j) {
            let era = ["a . d .", "a . d", "ad", "b . c .", "b . c", "bc"].iter().find_map(|p| t.phrase(j + 1, p));
            if let Some(e) = era.filter(|_| !self.fr() && (1..=9999).contains(&y)) {
                let y = if t.is(j + 1, "b") || t.is(j + 1, "bc") { -y } else { y };
                return Some((e, TV::Inst(at(NaiveDate::from_ymd_opt(y as i32, 1, 1)?, 0, 0), Grain::Year)));
            }
        }
        let (y, 4) = t.int(j)? else { return None };
        let unit_after = duration_unit(t, j + 1, self.lang).is_some()
            || t.is_num(j + 1)
            || matches!(t.kind(j + 1), Some(Kind::Word)) && !t.any(j + 1, &["and", "or", "et", "ou", "to", "a", "then", "puis"]);
        if !(1000..=2199).contains(&y) || unit_after {
            return None;
        }
        Some((j + 1, TV::Inst(at(NaiveDate::from_ymd_opt(y as i32, 1, 1)?, 0, 0), Grain::Year)))
    }
}
