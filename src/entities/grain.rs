//! The grains of time, from a second to a year: the unit of a duration ("3 hours") and the
//! precision of a date or period ("next week" has grain week). One type for both.

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Grain {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    /// Duckling's name of the grain (`"hour"`).
    pub fn name(self) -> &'static str {
        match self {
            Grain::Second => "second",
            Grain::Minute => "minute",
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    /// Its length in seconds, a month counted as 30 days and a year as 365 (as Duckling's
    /// `normalized` duration value).
    pub fn seconds(self) -> f64 {
        match self {
            Grain::Second => 1.0,
            Grain::Minute => 60.0,
            Grain::Hour => 3600.0,
            Grain::Day => 86400.0,
            Grain::Week => 604800.0,
            Grain::Month => 2592000.0,
            Grain::Quarter => 7776000.0,
            Grain::Year => 31536000.0,
        }
    }

    /// The grain a duration of this one goes down to when it has a half or a second part ("2 hours
    /// and a half" = 150 minutes, "1 h 30"): seconds, minutes and hours only.
    pub fn smaller(self) -> Option<Grain> {
        match self {
            Grain::Minute => Some(Grain::Second),
            Grain::Hour => Some(Grain::Minute),
            Grain::Day => Some(Grain::Hour),
            _ => None,
        }
    }
}
