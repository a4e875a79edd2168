//! Storage categories: what kind of data an object is, and so which quota it counts against.
//!
//! Every category is a folder of the store: an object saved with key `k` in category
//! `llm_cache` lives at `llm_cache/k`. The seven categories of the seed document are built in;
//! [`Category::Custom`] names any other (lowercase letters, digits, `_` and `-`, starting with a
//! letter or digit, at most 64 bytes, not one of the built-in names).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest custom category name, in bytes.
pub const MAX_CATEGORY_NAME: usize = 64;

/// A storage category. Serialises as its name: `"trading_state"`, ..., or the custom name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Daily trading-state snapshots, circuit-breaker state (`trading_state`).
    TradingState,
    /// Options Greeks history, IV surfaces (`options_greeks`).
    OptionsGreeks,
    /// LLM analysis results, cached so the same news is not analysed twice (`llm_cache`).
    LlmCache,
    /// Backtest and optimisation results (`backtest_results`).
    BacktestResults,
    /// Trained models and feature sets (`ml_models`).
    MlModels,
    /// Resource metrics and alerts (`monitoring_data`).
    MonitoringData,
    /// Research results and datasets, including parameters handed to live trading (`research_data`).
    ResearchData,
    /// Any other category, by name. See the module documentation for what a name may hold.
    Custom(String),
}

/// Why a category name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid category name {name:?}: {reason}")]
pub struct InvalidCategory {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Category {
    /// The seven built-in categories, in declaration order.
    pub const BUILTIN: [Category; 7] = [
        Category::TradingState,
        Category::OptionsGreeks,
        Category::LlmCache,
        Category::BacktestResults,
        Category::MlModels,
        Category::MonitoringData,
        Category::ResearchData,
    ];

    /// The category's name: its folder in the store and its name in settings.json.
    pub fn name(&self) -> &str {
        match self {
            Category::TradingState => "trading_state",
            Category::OptionsGreeks => "options_greeks",
            Category::LlmCache => "llm_cache",
            Category::BacktestResults => "backtest_results",
            Category::MlModels => "ml_models",
            Category::MonitoringData => "monitoring_data",
            Category::ResearchData => "research_data",
            Category::Custom(name) => name,
        }
    }

    /// The category named `name`: a built-in one when the name is one of theirs, else a custom
    /// one (checked).
    pub fn parse(name: &str) -> Result<Category, InvalidCategory> {
        if let Some(builtin) = Category::BUILTIN.iter().find(|c| c.name() == name) {
            return Ok(builtin.clone());
        }
        check_custom_name(name)?;
        Ok(Category::Custom(name.to_string()))
    }

    /// Checks that the category can be stored: a built-in one, or a custom one with a valid name
    /// that is not a built-in name spelled as custom.
    pub fn validate(&self) -> Result<(), InvalidCategory> {
        match self {
            Category::Custom(name) => {
                if Category::BUILTIN.iter().any(|c| c.name() == name) {
                    return Err(InvalidCategory {
                        name: name.clone(),
                        reason: "this is a built-in category's name; use the built-in variant",
                    });
                }
                check_custom_name(name)
            }
            _ => Ok(()),
        }
    }

    /// True for the seven built-in categories.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, Category::Custom(_))
    }
}

fn check_custom_name(name: &str) -> Result<(), InvalidCategory> {
    let refuse = |reason| Err(InvalidCategory { name: name.to_string(), reason });
    let Some(first) = name.bytes().next() else {
        return refuse("it is empty");
    };
    if name.len() > MAX_CATEGORY_NAME {
        return refuse("it is longer than 64 bytes");
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return refuse("it must start with a lowercase letter or a digit");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        return refuse("only lowercase letters, digits, '_' and '-' are allowed");
    }
    Ok(())
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Category {
    type Err = InvalidCategory;

    fn from_str(s: &str) -> Result<Category, InvalidCategory> {
        Category::parse(s)
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Category, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Category::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_names_round_trip() {
        for c in Category::BUILTIN {
            assert_eq!(Category::parse(c.name()).unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), c);
        }
        assert_eq!(Category::LlmCache.to_string(), "llm_cache");
    }

    #[test]
    fn custom_names() {
        assert_eq!(Category::parse("fx-rates_2").unwrap(), Category::Custom("fx-rates_2".into()));
        for bad in ["", "Upper", "_hidden", "-x", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(Category::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Category::Custom("llm_cache".into()).validate().is_err());
        assert!(Category::Custom("a/../b".into()).validate().is_err());
        assert!(Category::Custom("ok".into()).validate().is_ok());
    }
}
