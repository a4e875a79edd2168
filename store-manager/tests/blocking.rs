//! The blocking manager from plain threads on local disk: the seed's loop, without async.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend_local as _;
use serde_json::{Value, json};
use store_manager::blocking::Manager;
use store_manager::clock::ManualClock;
use store_manager::{Category, SaveOptions, Settings};

#[test]
fn a_backtest_loop_saves_loads_lists_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_core::blocking::open(&format!("file://{}", dir.path().display())).unwrap();
    let clock = ManualClock::new(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_736_899_200));
    let manager = Manager::with_clock(store, Settings::default(), clock.clone());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let manager = manager.clone();
            std::thread::spawn(move || {
                for day in 0..10 {
                    let key = format!("state_{t}_{day:02}");
                    let state = json!({"thread": t, "day": day, "equity": 100_000 + day});
                    manager.save(&key, &state, SaveOptions::new(Category::TradingState).expire_days(30)).unwrap();
                    assert_eq!(manager.load::<Value>(&key).unwrap(), Some(state));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(manager.list_keys(&Category::TradingState).unwrap().len(), 40);
    assert_eq!(manager.usage_by_category().unwrap()[&Category::TradingState].files, 40);
    clock.advance_days(30);
    assert_eq!(manager.load::<Value>("state_0_00").unwrap(), None);
    assert_eq!(manager.cleanup_expired().unwrap(), 40);
    assert_eq!(manager.list_archived(&Category::TradingState).unwrap().len(), 40);
    assert!(manager.problems().unwrap().is_empty());
}

#[test]
fn load_encoded_says_how_each_value_was_saved() {
    use store_manager::format::Encoding;
    let store = store_core::blocking::open("memory://").unwrap();
    let manager = Manager::new(store, Settings::default());
    manager.save("as_json", &json!({"a": 1}), SaveOptions::new(Category::ResearchData)).unwrap();
    manager.save_bytes("as_bytes", b"{\"a\": 1}".to_vec(), SaveOptions::new(Category::MlModels)).unwrap();
    let load = |key: &str| store_core::blocking::block_on(manager.as_async().load_encoded(key)).unwrap().unwrap();
    let (object, encoding, bytes) = load("as_json").unwrap();
    assert_eq!((object.category, encoding, &bytes[..]), (Category::ResearchData, Encoding::Json, &b"{\"a\":1}"[..]));
    let (object, encoding, bytes) = load("as_bytes").unwrap();
    assert_eq!((object.category, encoding, &bytes[..]), (Category::MlModels, Encoding::Bytes, &b"{\"a\": 1}"[..]));
    assert!(load("absent").is_none());
}
