//! The `[daily]` section of `arkbridge.toml`: what `arkbridge audit daily` (the daily compliance
//! audit) looks at, and when the server's scheduler runs it.
//!
//! ```toml
//! [daily]
//! spaces = ["OPS"]              # default: every space a grant names
//! approval_max_age_days = 90    # an approval older than this is stale, even if still valid
//! lookback_hours = 24           # the leases whose rotation is checked
//! post_to = "123456"            # optional: the Confluence page the report replaces
//! run_at = "02:00"              # local time of the scheduled run in `serve`
//! time_zone = "Europe/Berlin"   # optional: the IANA zone of run_at; default: the system's
//! ```
//!
//! Every key is optional, so configs written before the section existed keep parsing. Bad values
//! are refused when the file is read, each with the key it concerns.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::policy::Grant;

/// The default age after which an approval is stale, in days (a quarterly review).
pub(crate) const DEFAULT_APPROVAL_MAX_AGE_DAYS: u32 = 90;
/// The default look-back of the lease check, in hours.
pub(crate) const DEFAULT_LOOKBACK_HOURS: u32 = 24;
/// The longest look-back accepted: 31 days.
pub(crate) const MAX_LOOKBACK_HOURS: u32 = 31 * 24;
/// The longest approval age accepted: ten years.
pub(crate) const MAX_APPROVAL_AGE_DAYS: u32 = 3650;

/// The `[daily]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DailyConfig {
    /// The spaces whose pages are scanned and whose runbooks are checked; empty means every
    /// space a grant names (see [`DailyConfig::spaces_for`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spaces: Vec<String>,
    /// An approval still matching its block but older than this many days is stale.
    pub approval_max_age_days: u32,
    /// How far back the lease check looks, in hours.
    pub lookback_hours: u32,
    /// The id of the Confluence page whose body the report replaces, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_to: Option<String>,
    /// The local time (`HH:MM`, 24-hour) at which the server's scheduler runs the audit.
    pub run_at: String,
    /// The IANA time zone `run_at` is in (`Europe/Berlin`, `UTC`); `None`: the system's (`TZ`,
    /// else `/etc/localtime`). Resolved from the system's zoneinfo when `serve` starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for DailyConfig {
    fn default() -> Self {
        DailyConfig {
            spaces: Vec::new(),
            approval_max_age_days: DEFAULT_APPROVAL_MAX_AGE_DAYS,
            lookback_hours: DEFAULT_LOOKBACK_HOURS,
            post_to: None,
            run_at: default_run_at(),
            time_zone: None,
        }
    }
}

impl DailyConfig {
    /// The spaces the audit covers: the configured ones, else every space a grant names, each
    /// once, in the order first named.
    pub fn spaces_for(&self, grants: &[Grant]) -> Vec<String> {
        let named: Vec<&String> = if self.spaces.is_empty() {
            grants.iter().flat_map(|g| g.spaces.iter()).collect()
        } else {
            self.spaces.iter().collect()
        };
        let mut out: Vec<String> = Vec::new();
        for space in named {
            if !out.contains(space) {
                out.push(space.clone());
            }
        }
        out
    }

    /// The scheduled time as `(hour, minute)`.
    pub fn run_at_hm(&self) -> (u8, u8) {
        parse_hm(&self.run_at).unwrap_or((2, 0))
    }
}

/// Parses `HH:MM` (24-hour, two digits each).
fn parse_hm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.chars().chain(m.chars())).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn default_run_at() -> String {
    "02:00".into()
}

impl DailyConfig {
    /// Checks every value, naming the key of the first bad one. (Run from
    /// `Config::validate`, so that the message is not lost in a TOML parse error.)
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if let Some(bad) = self
            .spaces
            .iter()
            .find(|s| s.trim().is_empty() || s.trim() != s.as_str())
        {
            return invalid(format!(
                "daily.spaces holds {bad:?}: space keys are non-empty, without spaces around"
            ));
        }
        if self.approval_max_age_days == 0 || self.approval_max_age_days > MAX_APPROVAL_AGE_DAYS {
            return invalid(format!(
                "daily.approval_max_age_days must be between 1 and {MAX_APPROVAL_AGE_DAYS}, not {}",
                self.approval_max_age_days
            ));
        }
        if self.lookback_hours == 0 || self.lookback_hours > MAX_LOOKBACK_HOURS {
            return invalid(format!(
                "daily.lookback_hours must be between 1 and {MAX_LOOKBACK_HOURS}, not {}",
                self.lookback_hours
            ));
        }
        if let Some(page) = &self.post_to
            && (page.is_empty() || !page.chars().all(|c| c.is_ascii_digit()))
        {
            return invalid(format!(
                "daily.post_to must be a Confluence page id (digits only), not {page:?}"
            ));
        }
        if parse_hm(&self.run_at).is_none() {
            return invalid(format!(
                "daily.run_at must be a local time as HH:MM (24-hour), not {:?}",
                self.run_at
            ));
        }
        if let Some(zone) = &self.time_zone
            && (zone.is_empty()
                || zone.starts_with('/')
                || zone.contains("..")
                || !zone
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c)))
        {
            return invalid(format!(
                "daily.time_zone must be an IANA time zone name such as \"Europe/Berlin\" or \"UTC\", not {zone:?}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Access, Grant};

    fn parse(text: &str) -> Result<DailyConfig, String> {
        let d = toml::from_str::<DailyConfig>(text).map_err(|e| e.to_string())?;
        d.validate().map_err(|e| e.to_string())?;
        Ok(d)
    }

    #[test]
    fn an_empty_section_takes_the_defaults() {
        let d = parse("").unwrap();
        assert_eq!(d, DailyConfig::default());
        assert_eq!(d.approval_max_age_days, 90);
        assert_eq!(d.lookback_hours, 24);
        assert_eq!(d.run_at_hm(), (2, 0));
        assert!(d.post_to.is_none());
    }

    #[test]
    fn spaces_default_to_the_grants_spaces_once_each() {
        let grants = vec![
            Grant::to_group("a", &["OPS", "DEV"], &[("S", Access::Read)]),
            Grant::to_group("b", &["OPS"], &[("S", Access::Read)]),
        ];
        assert_eq!(DailyConfig::default().spaces_for(&grants), ["OPS", "DEV"]);
        let d = parse("spaces = [\"SEC\", \"SEC\"]").unwrap();
        assert_eq!(d.spaces_for(&grants), ["SEC"]);
    }

    #[test]
    fn every_setting_parses() {
        let d = parse(
            "spaces = [\"OPS\"]\napproval_max_age_days = 30\nlookback_hours = 48\n\
             post_to = \"98765\"\nrun_at = \"23:59\"\n",
        )
        .unwrap();
        assert_eq!(d.approval_max_age_days, 30);
        assert_eq!(d.lookback_hours, 48);
        assert_eq!(d.post_to.as_deref(), Some("98765"));
        assert_eq!(d.run_at_hm(), (23, 59));
        let round: DailyConfig = toml::from_str(&toml::to_string(&d).unwrap()).unwrap();
        assert_eq!(round, d);
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        for (text, key) in [
            ("approval_max_age_days = 0", "approval_max_age_days"),
            ("lookback_hours = 0", "lookback_hours"),
            ("lookback_hours = 10000", "lookback_hours"),
            ("post_to = \"abc\"", "post_to"),
            ("post_to = \"\"", "post_to"),
            ("run_at = \"2:00\"", "run_at"),
            ("run_at = \"24:00\"", "run_at"),
            ("run_at = \"12:60\"", "run_at"),
            ("spaces = [\"\"]", "spaces"),
            ("colour = \"blue\"", "colour"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn a_bad_value_in_the_file_is_reported_with_its_key() {
        let base = "data_dir = \"d\"\n[identity]\nprovider = \"local-trusted\"\n\
                    [cyberark.ccp]\nurl = \"https://x\"\napp_id = \"a\"\n[cyberark.pvwa]\n\
                    url = \"https://x\"\nusername = \"u\"\npassword = \"cyberark://S/o\"\n\
                    [confluence]\nurl = \"https://x\"\nuser = \"u\"\ntoken = \"cyberark://S/t\"\n";
        let config = crate::config::Config::parse(base).unwrap();
        assert_eq!(config.daily, DailyConfig::default());
        let err = crate::config::Config::parse(&format!("{base}[daily]\nlookback_hours = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("daily.lookback_hours must be between 1"),
            "{err}"
        );
    }
}
