//! Open intervals: "after 2 pm", "since 2014", "until 2:00pm", "before 11 am", "ASAP", "à partir
//! du 8 mars", "avant 16h", "jeudi après 9h30", "après 16h le 1er novembre", "le 20 à partir de
//! 10h".

use super::*;

/// What an open interval is anchored on: a time of day (placed on a date later) or a value.
pub(super) enum Anchor {
    Tod(Tod),
    At(NaiveDateTime, Grain),
}

impl Cx<'_> {
    /// The opening words: (end, after).
    fn open_head(&self, i: usize) -> Option<(usize, bool)> {
        let t = self.t;
        let (after, before): (&[&str], &[&str]) = if self.fr() {
            (&["a partir de", "a partir du", "plus tard que", "apres", "depuis"], &["n importe quand avant", "avant", "plus tot que"])
        } else {
            (
                &["anytime after", "any time after", "later than", "after", "since", "from"],
                &["sometimes before", "sometime before", "anytime before", "earlier than", "before", "until", "till", "through"],
            )
        };
        if let Some(e) = t.phrases(i, after) {
            return Some((e, true));
        }
        Some((t.phrases(i, before)?, false))
    }

    /// "after 2 pm", "à partir du 8 mars", "avant 16h": (end, after, anchor).
    pub(super) fn open_anchor_at(&self, i: usize) -> Option<(usize, bool, Anchor)> {
        let t = self.t;
        let (j, after) = self.open_head(i)?;
        if t.is(j, "-") {
            return None; // "après-demain"
        }
        if let Some((e, tod)) = self.tod_at(j).or_else(|| self.weak_clock_at(j)) {
            return Some((e, after, Anchor::Tod(tod)));
        }
        if let Some((e, d)) = self.date_at(j) {
            return Some((e, after, Anchor::At(at(d, 0, 0), Grain::Day)));
        }
        // "à partir du 8": the next 8th
        if self.fr() && t.is(j - 1, "du") {
            let (e, dn) = self.dayn_at(j)?;
            let d = (0..400).map(|k| self.today() + Duration::days(k)).find(|d| d.day() == dn)?;
            return Some((e, after, Anchor::At(at(d, 0, 0), Grain::Day)));
        }
        if let Some((y, 4)) = t.int(j) {
            if (1900..=2199).contains(&y) && !t.is_word(j + 1) {
                return Some((j + 1, after, Anchor::At(at(NaiveDate::from_ymd_opt(y as i32, 1, 1)?, 0, 0), Grain::Year)));
            }
        }
        // "after 5 days"
        let (e, d) = duration_at(t, j, self.lang)?;
        if d.unit != Grain::Day || d.value.fract() != 0.0 || d.value > MAX_RELATIVE {
            return None;
        }
        let x = self.now.checked_add_signed(Duration::try_days(d.value as i64)?)?;
        Some((e, after, Anchor::At(truncate(x, Grain::Hour), Grain::Hour)))
    }

    /// A bare clock reading that says it is one: "2 pm", "16h", "midi" (not a bare "2").
    fn weak_clock_at(&self, j: usize) -> Option<(usize, Tod)> {
        let (e, tod, strong) = self.tod_core(j, false)?;
        strong.then_some((e, tod))
    }

    /// An open interval alone, or a time of day then its date ("après 16h le 1er novembre"),
    /// or "ASAP".
    pub(super) fn open_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if !self.fr() {
            if let Some(e) = t.phrases(i, &["asap", "as soon as possible"]) {
                return Some((e, TV::Open(self.now, Grain::Second, true)));
            }
        }
        let (e, after, anchor) = self.open_anchor_at(i)?;
        // "later than 9:30 but before 11:00 [on Thursday]", "après 14h mais avant 16h": both bounds
        if let (true, Anchor::Tod(a)) = (after, &anchor) {
            let k = t.phrases(e, if self.fr() { &["mais avant", "et avant"] } else { &["but before", "and before", "but earlier than"] });
            if let Some((e2, b)) = k.and_then(|k| self.tod_at(k).or_else(|| self.weak_clock_at(k))) {
                let g = a.grain.min(b.grain);
                let j = self.skip_sep(e2);
                let j = if t.any(j, &["on", "le"]) && self.date_at(j).is_none() { j + 1 } else { j };
                return Some(match self.date_at(j) {
                    Some((e3, d)) => (e3, TV::Itv(self.on_date(d, *a, None), self.on_date(d, b, None), g)),
                    None => {
                        let from = self.tod_alone(*a);
                        (e2, TV::Itv(from, self.on_date(from.date(), b, None), g))
                    }
                });
            }
        }
        Some(match anchor {
            Anchor::Tod(tod) => match self.date_at(self.skip_sep(e)) {
                Some((e2, d)) => (e2, TV::Open(self.on_date(d, tod, None), tod.grain, after)),
                None => (e, TV::Open(self.tod_alone(tod), tod.grain, after)),
            },
            Anchor::At(n, g) => (e, TV::Open(n, g, after)),
        })
    }
}
