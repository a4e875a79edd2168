//! The six usage patterns of the seed document, as a trading bot runs them.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store_manager::{Category, SaveOptions, Settings};

use crate::common::{Env, noise, settings, trading_json};

/// 1. Trading state persistence: a daily snapshot kept 90 days.
pub async fn trading_state(env: Env) {
    let manager = env.manager(Settings::default());
    let mut saved = Vec::new();
    for day in 1..=5 {
        let key = format!("trading_state_2025-01-{day:02}");
        let state = json!({"timestamp": format!("2025-01-{day:02} 16:00:00"), "equity": 100_000 + day * 250,
                           "positions": {"SPY": day}, "circuit_breaker": {"tripped": false}});
        let object =
            manager.save(&key, &state, SaveOptions::new(Category::TradingState).expire_days(90)).await.unwrap();
        assert_eq!(object.category, Category::TradingState);
        assert_eq!(object.expires.unwrap().duration_since(object.created).unwrap().as_secs(), 90 * 86_400);
        saved.push((key, state));
        env.clock.advance_days(1);
    }
    for (key, state) in &saved {
        assert_eq!(manager.load::<Value>(key).await.unwrap().as_ref(), Some(state));
    }
    let keys: Vec<String> = saved.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(manager.list_keys(&Category::TradingState).await.unwrap(), keys, "oldest first");
    // The state is in the store, under its category folder, for any other tool to find.
    assert!(env.store.contains_key("trading_state/trading_state_2025-01-03").await.unwrap());

    // 90 days after the first save, the first snapshot expires; the others follow day by day.
    // The clock stands at day 5; the first snapshot (day 0) expires at day 90.
    env.clock.advance_days(85);
    assert_eq!(manager.load::<Value>(&keys[0]).await.unwrap(), None);
    assert_eq!(manager.list_keys(&Category::TradingState).await.unwrap(), keys[1..].to_vec());
    assert_eq!(manager.cleanup_expired().await.unwrap(), 1);
    assert!(!env.store.contains_key(&format!("trading_state/{}", keys[0])).await.unwrap());
    assert_eq!(manager.list_archived(&Category::TradingState).await.unwrap().len(), 1, "archived first (seed default)");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Greeks {
    symbol: String,
    delta: f64,
    gamma: f64,
    theta: f64,
    vega: f64,
    iv: f64,
    price: f64,
    timestamp: String,
}

/// Pattern 2, options Greeks history: many small snapshots a day, plus a daily surface large
/// enough to be compressed automatically.
pub async fn options_greeks(env: Env) {
    let manager = env.manager(Settings::default());
    let opts = || SaveOptions::new(Category::OptionsGreeks).expire_days(180);
    let mut expected = Vec::new();
    for i in 0..40 {
        let g = Greeks {
            symbol: format!("SPY 250117C00{}", 450 + i),
            delta: 0.5 - f64::from(i) / 100.0,
            gamma: 0.02,
            theta: -0.05,
            vega: 0.11,
            iv: 0.18 + f64::from(i) / 1000.0,
            price: 4.2,
            timestamp: "2025-01-15 15:59:00".into(),
        };
        let key = format!("greeks_{}_2025-01-15", g.symbol.replace(' ', "_"));
        let object = manager.save(&key, &g, opts()).await.unwrap();
        assert!(!object.compressed, "a small snapshot is below the 100 KiB threshold");
        expected.push((key, g));
    }
    for (key, g) in &expected {
        assert_eq!(manager.load::<Greeks>(key).await.unwrap().as_ref(), Some(g));
    }
    let surface = trading_json(600 * 1024);
    let object = manager.save("greeks_surface_2025-01-15", &surface, opts()).await.unwrap();
    assert!(object.compressed, "600 KiB of JSON is compressed automatically");
    assert!(object.stored_size * 3 < object.size, "{} -> {}", object.size, object.stored_size);
    assert_eq!(manager.load::<Value>("greeks_surface_2025-01-15").await.unwrap(), Some(surface));
    assert_eq!(manager.list_keys(&Category::OptionsGreeks).await.unwrap().len(), 41);
    let usage = manager.usage_by_category().await.unwrap();
    let greeks = &usage[&Category::OptionsGreeks];
    assert_eq!(greeks.files, 41);
    assert!(greeks.stored_bytes < greeks.original_bytes);
}

/// 3. LLM sentiment cache: look up first, analyse and cache on a miss; news goes stale in 30 days.
pub async fn llm_cache(env: Env) {
    let manager = env.manager(Settings::default());
    let headlines = ["Fed holds rates", "SPY hits record", "Oil falls 3%"];
    let mut analysed = 0;
    let mut cache_sentiment = async |manager: &store_manager::Manager, headline: &str| -> Value {
        let key = format!("sentiment_{:016x}", xxhash_rust::xxh3::xxh3_64(headline.as_bytes()));
        if let Some(cached) = manager.load::<Value>(&key).await.unwrap() {
            return cached;
        }
        analysed += 1;
        let data = json!({"headline": headline, "sentiment": "BULLISH", "confidence": 0.8, "score": 0.6});
        manager.save(&key, &data, SaveOptions::new(Category::LlmCache).expire_days(30)).await.unwrap();
        data
    };
    for h in headlines {
        cache_sentiment(&manager, h).await;
    }
    for h in headlines {
        assert_eq!(cache_sentiment(&manager, h).await["headline"], h);
    }
    env.clock.advance_days(31);
    for h in headlines {
        cache_sentiment(&manager, h).await;
    }
    assert_eq!(analysed, 6, "three misses, three hits, three misses after the entries went stale");
    assert_eq!(manager.list_keys(&Category::LlmCache).await.unwrap().len(), 3);
}

/// 4. Backtest results archive with searchable metadata.
pub async fn backtest_archive(env: Env) {
    let manager = env.manager(Settings::default());
    let runs = [
        ("backtest_20250115_093000", 1.8, 0.12),
        ("backtest_20250115_101500", 0.9, 0.25),
        ("backtest_20250116_080000", 2.1, 0.08),
    ];
    for (key, sharpe, drawdown) in runs {
        let results = json!({"params": {"lookback": 20}, "metrics": {"sharpe_ratio": sharpe, "max_drawdown": drawdown},
                             "trades": [{"symbol": "SPY", "pnl": 12.5}]});
        let opts = SaveOptions::new(Category::BacktestResults)
            .expire_days(365)
            .with_metadata("strategy", "two_part_spread")
            .with_metadata("sharpe", sharpe)
            .with_metadata("max_drawdown", drawdown)
            .with_metadata("version", "v2.3");
        manager.save(key, &results, opts).await.unwrap();
        env.clock.advance_days(1);
    }
    let meta = manager.get_metadata("backtest_20250115_093000").await.unwrap().unwrap();
    assert_eq!(meta.metadata["sharpe"], 1.8);
    assert_eq!(meta.metadata["strategy"], "two_part_spread");
    let good =
        manager.find(|o| o.metadata.get("sharpe").and_then(Value::as_f64).is_some_and(|s| s > 1.5)).await.unwrap();
    let keys: Vec<&str> = good.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["backtest_20250115_093000", "backtest_20250116_080000"]);
    for o in &good {
        let results: Value = manager.load(&o.key).await.unwrap().unwrap();
        assert!(results["metrics"]["sharpe_ratio"].as_f64().unwrap() > 1.5);
    }
    assert!(manager.get_metadata("backtest_missing").await.unwrap().is_none());
}

/// 5. ML model bytes: trained in research, saved compressed, never expiring, loaded live.
pub async fn ml_model_bytes(env: Env) {
    let manager = env.manager(settings(json!({"max_file_size_mb": 4})));
    // A model-like blob: 5 MiB of weights with structure (compressible, not trivially).
    let model: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| ((i % 251) as u8) ^ ((i / 4096) as u8 & 0x0f)).collect();
    let object = manager
        .save_bytes("sentiment_model_v2", model.clone(), SaveOptions::new(Category::MlModels).force_compress())
        .await
        .unwrap();
    assert!(object.compressed && object.stored_size < 4 * 1024 * 1024, "compression keeps it under the 4 MB limit");
    assert_eq!(object.expires, None);
    env.clock.advance_days(3650);
    assert_eq!(manager.cleanup_expired().await.unwrap(), 0, "models do not expire");
    let live = env.other_manager(Settings::default()).await;
    assert_eq!(live.load_bytes("sentiment_model_v2").await.unwrap(), Some(Bytes::from(model)));
    // Random bytes do not compress: the same size is refused, naming the limit.
    let noise = noise(5 * 1024 * 1024, 1);
    let err = manager.save_bytes("noise_model", noise, SaveOptions::new(Category::MlModels).force_compress()).await;
    let message = err.unwrap_err().to_string();
    assert!(message.starts_with("Object too large: 5.0MB > 4MB"), "{message}");
}

/// Pattern 6, research to live: optimised parameters saved by research, read by the live
/// algorithm in another process; a new version is seen at once (no stale read).
pub async fn research_to_live(env: Env) {
    let research = env.manager(Settings::default());
    let live = env.other_manager(Settings::default()).await;
    assert_eq!(live.load::<Value>("optimized_params").await.unwrap(), None);
    let v3 = json!({"profit_thresholds": [1.0, 2.0, 4.0, 10.0], "cancel_after_seconds": 2.5,
                    "max_option_chains": 5, "delta_range": [0.25, 0.35]});
    research
        .save("optimized_params", &v3, SaveOptions::new(Category::ResearchData).with_metadata("version", "v3"))
        .await
        .unwrap();
    assert_eq!(live.load::<Value>("optimized_params").await.unwrap(), Some(v3));
    let v4 = json!({"profit_thresholds": [1.5, 3.0], "cancel_after_seconds": 2.0, "max_option_chains": 4,
                    "delta_range": [0.2, 0.3]});
    research
        .save("optimized_params", &v4, SaveOptions::new(Category::ResearchData).with_metadata("version", "v4"))
        .await
        .unwrap();
    assert_eq!(live.load::<Value>("optimized_params").await.unwrap(), Some(v4));
    assert_eq!(live.get_metadata("optimized_params").await.unwrap().unwrap().metadata["version"], "v4");
}
