//! Explicit time zones after a clock time: "4pm CET", "Thursday 8:00 GMT", "9:30 - 11:00 CST",
//! "9 am (BST)", "à seize heures CET": the wall-clock time in that zone, moved into the
//! context's zone (grain minute, as Duckling).

use super::*;

/// Abbreviation → offset from UTC in minutes (standard and daylight names both fixed).
const ZONES: &[(&str, i32)] = &[
    ("utc", 0),
    ("gmt", 0),
    ("wet", 0),
    ("bst", 60),
    ("cet", 60),
    ("cest", 120),
    ("eet", 120),
    ("eest", 180),
    ("msk", 180),
    ("ist", 330),
    ("sgt", 480),
    ("jst", 540),
    ("aest", 600),
    ("aedt", 660),
    ("nzst", 720),
    ("est", -300),
    ("edt", -240),
    ("cst", -360),
    ("cdt", -300),
    ("mst", -420),
    ("mdt", -360),
    ("pst", -480),
    ("pdt", -420),
    ("akst", -540),
    ("hst", -600),
];

impl Cx<'_> {
    /// A zone name at `j`, optionally in brackets: (end, offset in minutes). In French only in
    /// capitals ("est" is a verb).
    pub(super) fn zone_at(&self, j: usize) -> Option<(usize, i32)> {
        let t = self.t;
        let (k, close) = if t.is(j, "(") { (j + 1, true) } else { (j, false) };
        let off = ZONES.iter().find(|z| t.is(k, z.0))?.1;
        let word = &t.t[k];
        if self.fr() && !word.upper {
            return None;
        }
        if close {
            return t.is(k + 1, ")").then_some((k + 2, off));
        }
        Some((k + 1, off))
    }

    fn out_of_zone(&self, n: NaiveDateTime, off: i32) -> NaiveDateTime {
        let utc = n - Duration::minutes(off as i64);
        self.abs.timezone().from_utc_datetime(&utc).naive_local()
    }

    /// The zoned version of a clock reading ending at `e`, if a zone follows it.
    pub(super) fn zoned(&self, e: usize, tv: &TV) -> Option<(usize, TV)> {
        let (e2, off) = self.zone_at(e)?;
        Some(match *tv {
            TV::Inst(n, g) if g <= Grain::Hour => (e2, TV::Inst(self.out_of_zone(n, off), g.min(Grain::Minute))),
            TV::Itv(a, b, g) if g <= Grain::Hour => (e2, TV::Itv(self.out_of_zone(a, off), self.out_of_zone(b, off), g.min(Grain::Minute))),
            _ => return None,
        })
    }
}
