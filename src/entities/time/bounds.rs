//! Named periods and their boundaries: "end of the month", "beginning of next week", "EOY",
//! "early March", "fin mars", "en début de semaine", "mi-décembre", "la première quinzaine
//! d'avril"; deadlines "by the end of next month", "by 2pm", "within 2 weeks", "d'ici 2
//! semaines"; seasons.

use super::spans::{period_start, shift};
use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Begin,
    Mid,
    End,
}

/// A named period: its first day, grain, and whether it was the generic "the month" / "du mois"
/// (which French rolls forward once over).
#[derive(Clone, Copy)]
pub(super) struct Period {
    pub start: NaiveDate,
    pub grain: Grain,
    pub generic: bool,
    /// Named by its month ("début avril", "fin du mois de mars").
    pub named_month: bool,
}

impl Period {
    pub fn end(&self) -> Option<NaiveDate> {
        Some(shift(at(self.start, 0, 0), self.grain, 1)?.date())
    }
}

/// Season starts (month, day): spring, summer, fall, winter.
const SEASONS: [(u32, u32); 4] = [(3, 20), (6, 21), (9, 23), (12, 21)];

impl Cx<'_> {
    /// A month name, after French "mois de" / "mois d'", with an optional year: the month this
    /// year unless it is over (then next year).
    pub(super) fn month_ref_at(&self, j: usize) -> Option<(usize, NaiveDate)> {
        let t = self.t;
        let j = if self.fr() { t.phrases(j, &["le mois de", "le mois d", "mois de", "mois d"]).unwrap_or(j) } else { j };
        let m = self.month_at(j)?;
        let today = self.today();
        let (e, y) = match self.year_at(j + 1) {
            Some(y) => (j + 2, y),
            None => (j + 1, if m < today.month() { today.year() + 1 } else { today.year() }),
        };
        Some((e, NaiveDate::from_ymd_opt(y, m, 1)?))
    }

    /// Any named period at `j`: "this week", "next month", "la semaine prochaine", "October
    /// 2014", "mars", "2018", "the 3rd quarter", or the generic "the month" / "mois" / "year".
    pub(super) fn period_ref_at(&self, j: usize) -> Option<(usize, Period)> {
        let t = self.t;
        let p = |start, grain| Period { start, grain, generic: false, named_month: false };
        if let Some((e, d, g)) = self.period_rel(j) {
            return Some((e, p(d, g)));
        }
        if let Some((e, d)) = self.quarter_at(j) {
            return Some((e, p(d, Grain::Quarter)));
        }
        if let Some((e, d)) = self.month_ref_at(j) {
            return Some((e, Period { named_month: true, ..p(d, Grain::Month) }));
        }
        if let Some((y, 4)) = t.int(j) {
            if (1900..=2199).contains(&y) {
                return Some((j + 1, p(NaiveDate::from_ymd_opt(y as i32, 1, 1)?, Grain::Year)));
            }
        }
        // generic: "the month", "month", "mois", "semaine prochaine", "l'année"
        let k = if self.fr() { t.phrases(j, &["l"]).unwrap_or(j) } else { t.phrases(j, &["the"]).unwrap_or(j) };
        let g = match t.key(k) {
            "week" | "semaine" => Grain::Week,
            "month" | "mois" => Grain::Month,
            "year" | "annee" | "an" => Grain::Year,
            "quarter" | "trimestre" => Grain::Quarter,
            _ => return None,
        };
        let (e, n) = if self.fr() && t.any(k + 1, &["prochain", "prochaine", "suivant", "suivante"]) {
            (k + 2, 1)
        } else if self.fr() && t.any(k + 1, &["dernier", "derniere", "passe", "passee", "precedent", "precedente"]) {
            (k + 2, -1)
        } else {
            (k + 1, 0)
        };
        let start = shift(period_start(self.now, g), g, n)?.date();
        Some((e, Period { generic: n == 0, ..p(start, g) }))
    }

    /// The boundary word and where its period starts: "beginning of", "at the end of", "early",
    /// "mid", "late", "EOM", "en début de", "à la fin du", "fin", "mi-".
    fn boundary_head(&self, i: usize) -> Option<(usize, Part, Option<Grain>)> {
        let t = self.t;
        if self.fr() {
            let j = t.phrases(i, &["a la", "au", "en"]).unwrap_or(i);
            let part = match t.key(j) {
                "debut" | "commencement" => Part::Begin,
                "milieu" | "mi" => Part::Mid,
                "fin" => Part::End,
                _ => return None,
            };
            let k = if t.is(j + 1, "-") { j + 2 } else { t.phrases(j + 1, &["de la", "de l", "du", "de", "d"]).unwrap_or(j + 1) };
            return Some((k, part, None));
        }
        let j = t.phrases(i, &["at the", "the", "at"]).unwrap_or(i);
        let acronym = match t.key(j) {
            "eom" => Some((Part::End, Grain::Month)),
            "bom" => Some((Part::Begin, Grain::Month)),
            "eoy" => Some((Part::End, Grain::Year)),
            "boy" => Some((Part::Begin, Grain::Year)),
            _ => None,
        };
        if let Some((part, g)) = acronym {
            return Some((j + 1, part, Some(g)));
        }
        let (part, needs_of) = match t.key(j) {
            "beginning" | "start" => (Part::Begin, true),
            "middle" => (Part::Mid, true),
            "end" => (Part::End, true),
            "early" => (Part::Begin, false),
            "mid" => (Part::Mid, false),
            "late" => (Part::End, false),
            _ => return None,
        };
        let k = if needs_of {
            t.phrases(j + 1, &["of", "in"])?
        } else if t.is(j + 1, "-") {
            j + 2
        } else {
            j + 1
        };
        Some((k, part, None))
    }

    /// The days of a boundary of a period, as Duckling: week Mon–Wed / Wed–Thu / Fri–Sun (French
    /// Mon–Tue, Wed–Thu, Thu–Sun); month days 1–10 (French 1–5 for a named month), 11–20 (French
    /// 10–19), 21–end; year Jan–Mar / Sep–Dec (French Jan–Feb, Nov–Dec), grain month.
    fn boundary_of(&self, p: Period, part: Part) -> Option<TV> {
        let fr = self.fr();
        let s = p.start;
        let days = |a: i64, b: i64| Some(TV::Itv(at(s + Duration::days(a), 0, 0), at(s + Duration::days(b), 0, 0), Grain::Day));
        match p.grain {
            Grain::Week => match (part, fr) {
                (Part::Begin, false) => days(0, 3),
                (Part::Begin, true) => days(0, 2),
                (Part::Mid, _) => days(2, 4),
                (Part::End, false) => days(4, 7),
                (Part::End, true) => days(3, 7),
            },
            Grain::Month => {
                let end = (p.end()? - s).num_days();
                match part {
                    Part::Begin if fr && p.named_month => days(0, 5),
                    Part::Begin => days(0, 10),
                    Part::Mid if fr => days(9, 19),
                    Part::Mid => days(10, 20),
                    Part::End => days(20, end),
                }
            }
            Grain::Year => {
                let months = |a: u32, b: u32| {
                    let from = at(s.checked_add_months(Months::new(a))?, 0, 0);
                    Some(TV::Itv(from, at(s.checked_add_months(Months::new(b))?, 0, 0), Grain::Month))
                };
                match (part, fr) {
                    (Part::Begin, false) => months(0, 3),
                    (Part::Begin, true) => months(0, 2),
                    (Part::End, false) => months(8, 12),
                    (Part::End, true) => months(10, 12),
                    (Part::Mid, _) => None,
                }
            }
            _ => None,
        }
    }

    /// "(at the) end of the month", "beginning of next week", "EOY", "early March", "late
    /// October", "fin mars", "en début de semaine", "au début du mois" (French rolls a generic
    /// month or week that is over to the next one), "mi-décembre".
    pub(super) fn boundary_at(&self, i: usize) -> Option<(usize, TV)> {
        let (k, part, acronym) = self.boundary_head(i)?;
        let (e, mut p) = match acronym {
            Some(g) => (k, Period { start: period_start(self.now, g).date(), grain: g, generic: true, named_month: false }),
            None => self.period_ref_at(k)?,
        };
        let mut tv = self.boundary_of(p, part)?;
        if let TV::Itv(_, to, _) = tv {
            if self.fr() && p.generic && to.date() <= self.today() {
                p.start = shift(at(p.start, 0, 0), p.grain, 1)?.date();
                tv = self.boundary_of(p, part)?;
            }
        }
        Some((e, tv))
    }

    /// "la première / deuxième quinzaine d'avril": days 1–14, 15–end.
    pub(super) fn fortnight_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if !self.fr() {
            return None;
        }
        let j = if t.is(i, "la") { i + 1 } else { i };
        let m = number_at(t, j, self.lang, false).filter(|m| m.ordinal && (m.value == 1.0 || m.value == 2.0))?;
        let k = t.phrase(m.end, "quinzaine")?;
        let k = t.phrases(k, &["du", "de", "d"])?;
        let (e, p) = self.period_ref_at(k).filter(|(_, p)| p.grain == Grain::Month)?;
        let (a, b) = if m.value == 1.0 { (p.start, p.start + Duration::days(14)) } else { (p.start + Duration::days(14), p.end()?) };
        Some((e, TV::Itv(at(a, 0, 0), at(b, 0, 0), Grain::Day)))
    }

    /// Deadlines, from now (grain second): "by the end of next month", "by EOM", "by EOD", "by
    /// 2:00pm".
    pub(super) fn by_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() || !t.is(i, "by") {
            return None;
        }
        let j = if t.is(i + 1, "the") { i + 2 } else { i + 1 };
        let (e, to) = if let Some(e) = t.phrases(j, &["eod", "end of the day", "end of day"]) {
            (e, at(self.today() + Duration::days(1), 0, 0))
        } else if let Some((k, Part::End, acronym)) = self.boundary_head(j) {
            let (e, p) = match acronym {
                Some(g) => (k, Period { start: period_start(self.now, g).date(), grain: g, generic: true, named_month: false }),
                None => self.period_ref_at(k)?,
            };
            (e, at(p.end()?, 0, 0))
        } else {
            let (e, tod) = self.tod_at(j)?;
            (e, self.tod_alone(tod))
        };
        Some((e, TV::Itv(self.now, to, Grain::Second)))
    }

    /// "within 2 weeks", "d'ici 2 semaines", "dans les 15 jours": from now to the end of that
    /// duration, truncated as Duckling ("in 15 days" to the hour, "in 2 weeks" to the day).
    pub(super) fn within_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let j = if self.fr() { t.phrases(i, &["d ici", "dans les"])? } else { t.phrases(i, &["within"])? };
        let (e, d) = duration_at(t, j, self.lang)?;
        if !(d.value.is_finite() && d.value > 0.0 && d.value <= MAX_RELATIVE) {
            return None;
        }
        let g = match d.unit {
            Grain::Second | Grain::Minute => Grain::Second,
            Grain::Hour => Grain::Minute,
            Grain::Day => Grain::Hour,
            Grain::Week | Grain::Month | Grain::Quarter => Grain::Day,
            Grain::Year => Grain::Month,
        };
        let end = match d.unit {
            Grain::Month | Grain::Quarter | Grain::Year if d.value.fract() == 0.0 => {
                let n = d.value as i64 * months_in(d.unit);
                shift(self.now, Grain::Month, n)?
            }
            _ => self.now.checked_add_signed(Duration::try_seconds(d.seconds().round() as i64)?)?,
        };
        Some((e, TV::Itv(self.now, period_start(end, g), Grain::Second)))
    }

    /// "this summer", "cet hiver", "next season", "last seasons": seasons as Duckling (spring
    /// from Mar 20, summer Jun 21, fall Sep 23, winter Dec 21). A named season runs to the day
    /// after the next one starts; "this season" to the day before.
    pub(super) fn season_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        let (j, n) = if self.fr() {
            match t.key(i) {
                "cet" | "ce" => (i + 1, 0),
                _ => return None,
            }
        } else {
            let i = if t.is(i, "the") { i + 1 } else { i };
            match t.key(i) {
                "this" | "current" => (i + 1, 0),
                "next" | "coming" | "upcoming" => (i + 1, 1),
                "last" | "past" | "previous" => (i + 1, -1),
                _ => return None,
            }
        };
        let named: Option<usize> = match t.key(j) {
            "spring" | "printemps" => Some(0),
            "summer" | "ete" => Some(1),
            "fall" | "autumn" | "automne" => Some(2),
            "winter" | "hiver" => Some(3),
            "season" | "seasons" => None,
            _ => return None,
        };
        if self.fr() && named.is_none() {
            return None;
        }
        // season starts around today, oldest first
        let y = self.today().year();
        let starts: Vec<(usize, NaiveDate)> = (y - 2..=y + 2)
            .flat_map(|yy| SEASONS.iter().enumerate().filter_map(move |(k, (m, d))| Some((k, NaiveDate::from_ymd_opt(yy, *m, *d)?))))
            .collect();
        let cur = starts.iter().rposition(|(_, d)| *d <= self.today())?;
        let idx = match named {
            None => (cur as i64 + n) as usize,
            Some(s) => {
                // this: the one in progress or the next; next / last: one cycle from it
                let this = (cur..starts.len()).find(|&k| starts[k].0 == s)?;
                (this as i64 + 4 * n) as usize
            }
        };
        let (start, next) = (starts.get(idx)?.1, starts.get(idx + 1)?.1);
        let end = if named.is_some() { next + Duration::days(1) } else { next - Duration::days(1) };
        Some((j + 1, TV::Itv(at(start, 0, 0), at(end, 0, 0), Grain::Day)))
    }
}
