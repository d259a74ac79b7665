//! Times counted from another time: "three days after Easter", "a year from Christmas", "15
//! minutes from 1pm", "3 jours après Noël"; a relative day then its time of day ("in 7 days at
//! 5pm"); a time and how long it lasts ("4pm for 30 mins", "from 18th Dec for 10 days", "for 30'
//! starting from 4pm").

use super::spans::shift;
use super::*;
use crate::entities::measures::Dur;

impl Cx<'_> {
    /// The longest instant reading at `j` (the first proposed among equally long ones).
    fn instant_at(&self, j: usize) -> Option<(usize, NaiveDateTime, Grain)> {
        let mut v = Vec::new();
        self.time_at(j, &mut v);
        v.into_iter()
            .rev()
            .filter_map(|(e, tv)| match tv {
                TV::Inst(n, g) => Some((e, n, g)),
                TV::Abs(d, g) => Some((e, d.naive_local(), g)),
                _ => None,
            })
            .max_by_key(|x| x.0)
    }

    /// `n` moved by `sign` times the duration (calendar months for months, quarters and years).
    fn add_dur(n: NaiveDateTime, d: Dur, sign: i64) -> Option<NaiveDateTime> {
        if !(d.value.is_finite() && d.value > 0.0 && d.value <= MAX_RELATIVE) {
            return None;
        }
        match d.unit {
            Grain::Month | Grain::Quarter | Grain::Year => {
                if d.value.fract() != 0.0 {
                    return None;
                }
                shift(n, Grain::Month, d.value as i64 * months_in(d.unit) * sign)
            }
            _ => n.checked_add_signed(Duration::try_seconds((d.seconds() * sign as f64).round() as i64)?),
        }
    }

    /// "<duration> after / from / before <time>", "<durée> après / avant <time>".
    pub(super) fn counted_from_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if !self.anchors {
            return None;
        }
        let (e, d) = duration_at(t, i, self.lang)?;
        let (after, before): (&[&str], &[&str]) = if self.fr() { (&["apres"], &["avant"]) } else { (&["after", "from", "past"], &["before"]) };
        let (k, sign) = match t.phrases(e, after) {
            Some(k) => (k, 1),
            None => (t.phrases(e, before)?, -1),
        };
        // "past" only before a clock time: "15 minutes past 15h"
        if t.is(k - 1, "past") && d.unit > Grain::Hour {
            return None;
        }
        let (e2, n, g) = self.instant_at(k)?;
        let x = Self::add_dur(n, d, sign)?;
        Some((e2, TV::Inst(x, g.min(d.unit))))
    }

    /// After a relative date read to the hour or coarser ("in 7 days", "in 4 years"): its time
    /// of day ("in 7 days at 5pm").
    pub(super) fn relative_tod_after(&self, e: usize, tv: &TV) -> Option<(usize, TV)> {
        let TV::Inst(n, g) = *tv else { return None };
        if g < Grain::Hour || g > Grain::Month || !self.t.any(e, &["at", "a", "@", "vers"]) {
            return None;
        }
        let (e2, tod) = self.tod_at(e)?;
        Some((e2, TV::Inst(self.on_date(n.date(), tod, None), tod.grain)))
    }

    /// English "[from] <time> for <duration>", "for <duration> from / starting [from] <time>":
    /// the interval from that time for that long.
    pub(super) fn lasting_at(&self, i: usize) -> Option<(usize, TV)> {
        let t = self.t;
        if self.fr() || !self.anchors || !t.any(i, &["for", "from"]) {
            return None;
        }
        let (e, n, g, d) = if t.is(i, "for") {
            let (e, d) = duration_at(t, i + 1, self.lang)?;
            let k = t.phrases(e, &["starting from", "starting at", "starting", "beginning", "from"])?;
            let (e2, n, g) = self.instant_at(k)?;
            // "(an alarm) for five minutes from now" is the relative time
            if self.relative_at(i + 1).is_some_and(|(re, _)| re >= e2) {
                return None;
            }
            (e2, n, g, d)
        } else {
            let (e, n, g) = self.instant_at(t.phrase(i, "from")?)?;
            let (e2, d) = self.lasting_tail(e)?;
            (e2, n, g, d)
        };
        let to = Self::add_dur(n, d, 1)?;
        Some((e, TV::Itv(n, to, g.min(d.unit))))
    }

    /// "for <duration>" after a time at `e`.
    fn lasting_tail(&self, e: usize) -> Option<(usize, Dur)> {
        if self.fr() {
            return None;
        }
        duration_at(self.t, self.t.phrase(e, "for")?, self.lang)
    }

    /// "<time> for <duration>" ("4pm for 30 mins", "18th Dec for 10 days"), after the readings
    /// at a token were collected.
    pub(super) fn lasting_after(&self, e: usize, tv: &TV) -> Option<(usize, TV)> {
        let (n, g) = match *tv {
            TV::Inst(n, g) => (n, g),
            TV::Abs(d, g) => (d.naive_local(), g),
            _ => return None,
        };
        let (e2, d) = self.lasting_tail(e)?;
        let to = Self::add_dur(n, d, 1)?;
        Some((e2, TV::Itv(n, to, g.min(d.unit))))
    }
}
