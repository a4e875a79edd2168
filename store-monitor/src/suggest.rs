//! Cleanup suggestions: concrete actions, each with its reason.
//!
//! Invariants: "delete_oldest" names only as many of the largest category's oldest objects as it
//! takes to get below the warning threshold (on bytes and on files), counting the expired
//! objects that "cleanup_expired" removes first; it is left out when the cleanup alone is enough.
//! "upgrade_tier" names a tier only when the limits that are filling up come from the tier: a
//! limit the settings set explicitly (`max_files: 10`) stays what it is whatever the tier, so the
//! advice is then to raise it.

use serde::Serialize;
use store_manager::{Category, Settings, Tier};

use crate::stats::{MB, Statistics, pct};

/// Keys named by one "delete the oldest" suggestion at most.
pub const MOST_KEYS_NAMED: usize = 100;

/// One suggested action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// What to do, as a short imperative ("cleanup_expired", "delete_oldest", ...).
    pub action: String,
    /// Why.
    pub reason: String,
    /// The category it concerns, if one.
    pub category: Option<Category>,
    /// Keys it concerns (the oldest first), if any.
    pub keys: Vec<String>,
    /// Bytes it would free or concerns, when known.
    pub bytes: Option<u64>,
}

/// The suggestions (the seed's `suggest_cleanup()`), most useful first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestions {
    /// The actions.
    pub actions: Vec<Action>,
}

/// The next larger tier, if there is one.
pub fn next_tier(tier: Tier) -> Option<Tier> {
    match tier {
        Tier::Free => Some(Tier::Gb2),
        Tier::Gb2 => Some(Tier::Gb5),
        Tier::Gb5 => Some(Tier::Gb10),
        Tier::Gb10 => None,
    }
}

/// Where the store's two limits come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSources {
    /// The tier of the settings.
    pub tier: Tier,
    /// `max_storage_gb` is the tier's (not set to another value in the settings).
    pub bytes_from_tier: bool,
    /// `max_files` is the tier's.
    pub files_from_tier: bool,
}

impl LimitSources {
    /// Compares the settings' limits with their tier's preset.
    pub fn of(settings: &Settings) -> LimitSources {
        let preset = settings.tier.preset();
        LimitSources {
            tier: settings.tier,
            bytes_from_tier: settings.max_storage_gb == preset.max_storage_gb,
            files_from_tier: settings.max_files == preset.max_files,
        }
    }
}

/// Builds the suggestions from statistics, the oldest keys of the fullest category and the tier,
/// naming every key given (sizes unknown) and taking both limits for the tier's. See [`plan`],
/// which the monitor uses.
pub fn build(s: &Statistics, fullest: Option<(Category, Vec<String>)>, tier: Tier, alert_pct: f64) -> Suggestions {
    let sources = LimitSources { tier, bytes_from_tier: true, files_from_tier: true };
    let fullest = fullest.map(|(category, keys)| (category, keys.into_iter().map(|k| (k, None)).collect()));
    suggestions(s, fullest, sources, alert_pct)
}

/// Builds the suggestions from statistics and the largest category's objects, oldest first, with
/// the bytes each takes. Expired objects and categories over their allocation are always named;
/// deleting live data and a larger tier (or higher limits) only once usage reaches the warning
/// threshold of `settings`.
pub fn plan(s: &Statistics, fullest: Option<(Category, Vec<(String, u64)>)>, settings: &Settings) -> Suggestions {
    let fullest =
        fullest.map(|(category, objects)| (category, objects.into_iter().map(|(k, b)| (k, Some(b))).collect()));
    suggestions(s, fullest, LimitSources::of(settings), settings.usage_monitoring.alert_threshold_pct)
}

/// Of `oldest` (key and bytes, when known), the first ones whose removal takes usage below
/// `alert_pct` on bytes and files, after the expired objects are gone; and whether that is enough.
fn enough_of(s: &Statistics, oldest: &[(String, Option<u64>)], alert_pct: f64) -> (Vec<String>, bool) {
    let mut bytes = s.current_usage_bytes.saturating_sub(s.expired_bytes);
    let mut files = s.files.saturating_sub(s.expired_files);
    let below =
        |bytes: u64, files: u64| pct(bytes, s.max_storage_bytes) < alert_pct && pct(files, s.max_files) < alert_pct;
    let mut keys = Vec::new();
    for (key, size) in oldest {
        if below(bytes, files) || keys.len() == MOST_KEYS_NAMED {
            break;
        }
        keys.push(key.clone());
        bytes = bytes.saturating_sub(size.unwrap_or(0));
        files = files.saturating_sub(1);
    }
    (keys, below(bytes, files))
}

/// A category and its objects, oldest first, with the bytes each takes when known.
type Oldest = (Category, Vec<(String, Option<u64>)>);

fn suggestions(s: &Statistics, fullest: Option<Oldest>, sources: LimitSources, alert_pct: f64) -> Suggestions {
    let tier = sources.tier;
    let mut actions = Vec::new();
    let ratio = s.usage_ratio() * 100.0;
    let filling_up = ratio >= alert_pct;
    if s.expired_files > 0 {
        actions.push(Action {
            action: "cleanup_expired".into(),
            reason: if s.expired_files == 1 {
                "1 object has expired and still takes room".to_string()
            } else {
                format!("{} objects have expired and still take room", s.expired_files)
            },
            category: None,
            keys: Vec::new(),
            bytes: Some(s.expired_bytes),
        });
    }
    for (category, c) in &s.by_category {
        if let Some(quota) = c.quota_bytes
            && c.size_bytes > quota
        {
            actions.push(Action {
                action: "reduce_category".into(),
                reason: format!(
                    "{category} uses {:.1}MB, over its {:.1}MB allocation",
                    c.size_bytes as f64 / MB,
                    quota as f64 / MB
                ),
                category: Some(category.clone()),
                keys: Vec::new(),
                bytes: Some(c.size_bytes - quota),
            });
        }
    }
    if let Some((category, oldest)) = fullest
        && filling_up
    {
        let (keys, enough) = enough_of(s, &oldest, alert_pct);
        if !keys.is_empty() {
            let size = s.by_category.get(&category).map_or(0, |c| c.size_bytes);
            let named: u64 = oldest.iter().take(keys.len()).filter_map(|(_, b)| *b).sum();
            let known = oldest.iter().take(keys.len()).all(|(_, b)| b.is_some());
            let count = if keys.len() == 1 {
                "its oldest object".to_string()
            } else {
                format!("its {} oldest objects", keys.len())
            };
            let outcome = match (known, enough) {
                (false, _) => "the first candidates".to_string(),
                (true, true) => format!("deleting {count} brings usage below {alert_pct}%"),
                (true, false) => format!("deleting {count} is not enough on its own to get below {alert_pct}%"),
            };
            actions.push(Action {
                action: "delete_oldest".into(),
                reason: format!(
                    "{category} is the largest category ({:.1}MB); {}",
                    size as f64 / MB,
                    if known { outcome } else { format!("its oldest objects are {outcome}") }
                ),
                category: Some(category),
                keys,
                bytes: known.then_some(named),
            });
        }
    }
    if filling_up && s.unmanaged.files > 0 {
        let files = s.unmanaged.files;
        actions.push(Action {
            action: "review_unmanaged".into(),
            reason: format!(
                "{files} {} outside the categories (plain saves, other programs' files) {} {:.1}MB; cleanups never \
                 remove them: delete what is no longer needed",
                if files == 1 { "object" } else { "objects" },
                if files == 1 { "takes" } else { "take" },
                s.unmanaged.size_bytes as f64 / MB
            ),
            category: None,
            keys: Vec::new(),
            bytes: Some(s.unmanaged.size_bytes),
        });
    }
    if filling_up {
        let bytes_hot = s.usage_pct >= alert_pct;
        let files_hot = s.files_pct >= alert_pct;
        let set_here: Vec<&str> = [
            (bytes_hot && !sources.bytes_from_tier, "max_storage_gb"),
            (files_hot && !sources.files_from_tier, "max_files"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        let reason = match next_tier(tier) {
            Some(next) if set_here.is_empty() => {
                Some(format!("usage is at {ratio:.1}% of the {tier} tier; the {next} tier has more room"))
            }
            _ if !set_here.is_empty() => Some(format!(
                "usage is at {ratio:.1}% of the limits set in the settings; raise {} there",
                set_here.join(" and ")
            )),
            _ => None,
        };
        if let Some(reason) = reason {
            actions.push(Action {
                action: "upgrade_tier".into(),
                reason,
                category: None,
                keys: Vec::new(),
                bytes: None,
            });
        }
    }
    Suggestions { actions }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn stats(bytes: u64, max_bytes: u64, files: u64, max_files: u64) -> Statistics {
        let mut by_category = std::collections::BTreeMap::new();
        by_category.insert(
            Category::ResearchData,
            crate::stats::CategoryStats { size_bytes: bytes, files, ..Default::default() },
        );
        Statistics {
            current_usage_bytes: bytes,
            current_usage_gb: 0.0,
            max_storage_bytes: max_bytes,
            usage_pct: pct(bytes, max_bytes),
            files,
            max_files,
            files_pct: pct(files, max_files),
            growth_rate_gb_per_day: 0.0,
            days_until_full: None,
            by_category,
            archive: Default::default(),
            unmanaged: Default::default(),
            internal: Default::default(),
            view: None,
            expired_files: 0,
            expired_bytes: 0,
        }
    }

    fn objects(sizes: &[u64]) -> Option<(Category, Vec<(String, u64)>)> {
        Some((Category::ResearchData, sizes.iter().enumerate().map(|(i, b)| (format!("k{i}"), *b)).collect()))
    }

    fn settings(json: &str) -> Settings {
        Settings::from_json(json).unwrap()
    }

    #[test]
    fn only_enough_of_the_oldest_are_named() {
        let s = settings(r#"{"max_storage_gb": 1, "max_files": 1000}"#);
        let gb = 1 << 30;
        // 85 % of the bytes in four objects: the oldest (10 %) is enough.
        let plan = plan(&stats(gb * 85 / 100, gb, 4, 1000), objects(&[gb / 10, gb / 4, gb / 4, gb / 4]), &s);
        let oldest = plan.actions.iter().find(|a| a.action == "delete_oldest").unwrap();
        assert_eq!(oldest.keys, ["k0"]);
        assert_eq!(oldest.bytes, Some(gb / 10));
        // Small ones first: as many as it takes.
        let plan = plan_for(&s, gb * 84 / 100, &[gb / 100, gb / 100, gb / 100, gb / 100, gb / 100, gb]);
        assert_eq!(plan, ["k0", "k1", "k2", "k3", "k4"]);
    }

    fn plan_for(s: &Settings, bytes: u64, sizes: &[u64]) -> Vec<String> {
        let p = plan(&stats(bytes, 1 << 30, sizes.len() as u64, 1000), objects(sizes), s);
        p.actions.into_iter().find(|a| a.action == "delete_oldest").map(|a| a.keys).unwrap_or_default()
    }

    #[test]
    fn a_tier_is_named_only_for_limits_that_come_from_it() {
        let upgrade = |json: &str, s: Statistics| {
            plan(&s, None, &settings(json)).actions.into_iter().find(|a| a.action == "upgrade_tier").map(|a| a.reason)
        };
        let free = 50 << 20;
        let reason = upgrade(r#"{"tier": "free"}"#, stats(free * 9 / 10, free, 1, 1000)).unwrap();
        assert!(reason.contains("the 2GB tier has more room"), "{reason}");
        let reason = upgrade(r#"{"tier": "free", "max_files": 10}"#, stats(1, free, 9, 10)).unwrap();
        assert!(reason.contains("raise max_files") && !reason.contains("tier"), "{reason}");
        let reason =
            upgrade(r#"{"max_storage_gb": 0.01, "max_file_size_mb": 1}"#, stats(10 << 20, 10 << 20, 1, 50_000))
                .unwrap();
        assert!(reason.contains("raise max_storage_gb"), "{reason}");
        assert_eq!(upgrade(r#"{"tier": "10GB"}"#, stats(10 << 30, 10 << 30, 1, 100_000)), None, "no larger tier");
    }
}
