//! Cleanup suggestions: concrete actions, each with its reason.

use serde::Serialize;
use store_manager::{Category, Tier};

use crate::stats::{MB, Statistics};

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

/// Builds the suggestions from statistics, the oldest keys of the fullest category and the tier.
/// Expired objects and categories over their allocation are always named; deleting live data and
/// a larger tier only once usage reaches the warning threshold (`alert_pct`).
pub fn build(s: &Statistics, fullest: Option<(Category, Vec<String>)>, tier: Tier, alert_pct: f64) -> Suggestions {
    let mut actions = Vec::new();
    let ratio = s.usage_ratio() * 100.0;
    let filling_up = ratio >= alert_pct;
    if s.expired_files > 0 {
        actions.push(Action {
            action: "cleanup_expired".into(),
            reason: format!("{} objects have expired and still take room", s.expired_files),
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
    if let Some((category, keys)) = fullest
        && filling_up
        && !keys.is_empty()
    {
        let size = s.by_category.get(&category).map_or(0, |c| c.size_bytes);
        actions.push(Action {
            action: "delete_oldest".into(),
            reason: format!(
                "{category} is the largest category ({:.1}MB); its oldest objects are the first candidates",
                size as f64 / MB
            ),
            category: Some(category),
            keys,
            bytes: None,
        });
    }
    if filling_up && s.unmanaged.files > 0 {
        actions.push(Action {
            action: "review_unmanaged".into(),
            reason: format!(
                "{} objects outside the categories (plain saves, other programs' files) take {:.1}MB; cleanups \
                 never remove them: delete what is no longer needed",
                s.unmanaged.files,
                s.unmanaged.size_bytes as f64 / MB
            ),
            category: None,
            keys: Vec::new(),
            bytes: Some(s.unmanaged.size_bytes),
        });
    }
    if filling_up && let Some(next) = next_tier(tier) {
        actions.push(Action {
            action: "upgrade_tier".into(),
            reason: format!("usage is at {ratio:.1}% of the {tier} tier; the {next} tier has more room"),
            category: None,
            keys: Vec::new(),
            bytes: None,
        });
    }
    Suggestions { actions }
}
