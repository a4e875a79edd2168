//! The manager's behaviour suite: every case runs on every backend (memory, local disk,
//! SeaweedFS, moto). `manager_suite!(Env::local())` expands to one test per case.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod expiry;
pub mod integrity;
pub mod patterns;
pub mod quotas;

/// One `#[tokio::test]` per case, each with a fresh `Env` from `$env`.
#[macro_export]
macro_rules! manager_suite {
    ($env:expr) => {
        $crate::manager_suite!(@cases $env;
            patterns::trading_state, patterns::options_greeks, patterns::llm_cache, patterns::backtest_archive,
            patterns::ml_model_bytes, patterns::research_to_live,
            quotas::object_too_large, quotas::category_allocation, quotas::max_storage, quotas::max_files,
            quotas::overwrite_counts_new_size, quotas::moving_between_categories, quotas::concurrent_saves_never_overshoot,
            quotas::auto_cleanup_makes_room, quotas::rescans_before_refusing,
            expiry::expired_is_invisible_then_archived, expiry::cleanup_without_archive, expiry::resave_survives_cleanup,
            expiry::archive_retention,
            integrity::truncated_object, integrity::checksum_mismatch, integrity::foreign_object, integrity::listing_survives_damage,
            integrity::fresh_manager_rebuilds_index, integrity::other_handles_changes_are_seen, integrity::metadata_search,
            integrity::compression_rules, integrity::invalid_settings_and_disabled, integrity::keys_and_categories_checked,
            integrity::interrupted_move_newest_copy_wins,
        );
    };
    (@cases $env:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                suite::$module::$case($env.await).await;
            }
        )+
    };
}
