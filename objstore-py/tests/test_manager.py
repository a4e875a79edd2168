"""Seed 002's manager and monitor, in the seed's shape: its six usage patterns, categories,
settings, expiry, quotas, metadata search, statistics, health, the report and /metrics."""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import urllib.request
from datetime import datetime

import pytest

import objstore
from objstore import ObjectStoreManager, Settings, StorageCategory, StorageMonitor

SETTINGS_JSON = {
    "quantconnect": {
        "object_store": {
            "enabled": True,
            "tier": "5GB",
            "max_storage_gb": 5,
            "max_files": 50000,
            "max_file_size_mb": 45,
            "compression_enabled": True,
            "auto_cleanup": {"enabled": True, "keep_days": 90, "archive_before_delete": True},
            "storage_allocation": {
                "trading_state": 0.5,
                "options_greeks": 1.5,
                "llm_cache": 0.3,
                "backtest_results": 0.5,
                "ml_models": 1.5,
                "monitoring_data": 0.3,
                "research_data": 0.4,
            },
            "usage_monitoring": {
                "enabled": True,
                "alert_threshold_pct": 80,
                "critical_threshold_pct": 90,
                "check_interval_hours": 6,
            },
        }
    }
}


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "config" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(SETTINGS_JSON))
    return path


class Bot:
    """The seed's algorithm, with its managers."""

    def __init__(self, store, settings_file):
        self.ObjectStore = store
        self.object_store_manager = ObjectStoreManager(store, Settings.from_file(str(settings_file)))
        self.storage_monitor = StorageMonitor(self.object_store_manager)
        self.Time = datetime(2025, 1, 15, 16, 0)
        self.logs = []

    def Debug(self, message):
        self.logs.append(message)


def test_the_six_usage_patterns(store, settings_file):
    self = Bot(store, settings_file)

    # 1. Trading state persistence
    state = {
        "timestamp": str(self.Time),
        "equity": 101250.5,
        "positions": {"SPY": {"quantity": 10}},
        "circuit_breaker": {"tripped": False},
    }
    self.object_store_manager.save(
        key=f"trading_state_{self.Time.date()}",
        data=state,
        category=StorageCategory.TRADING_STATE,
        expire_days=90,
    )
    assert self.object_store_manager.load("trading_state_2025-01-15") == state

    # 2. Options Greeks history
    key = f"greeks_SPY250117C00600000_{self.Time.date()}"
    data = {"symbol": "SPY250117C00600000", "delta": 0.52, "gamma": 0.02, "theta": -0.05, "vega": 0.11,
            "iv": 0.18, "price": 4.2, "timestamp": str(self.Time)}
    self.object_store_manager.save(key=key, data=data, category=StorageCategory.OPTIONS_GREEKS, expire_days=180)
    assert self.object_store_manager.get_metadata(key).category == StorageCategory.OPTIONS_GREEKS

    # 3. LLM sentiment cache
    def cache_sentiment(headline, sentiment):
        key = f"sentiment_{abs(hash(headline))}"
        cached = self.object_store_manager.load(key)
        if cached:
            return cached
        data = {"headline": headline, "sentiment": sentiment, "confidence": 0.9, "score": 0.7}
        self.object_store_manager.save(key=key, data=data, category=StorageCategory.LLM_CACHE, expire_days=30)
        return data

    first = cache_sentiment("Fed holds rates", "BULLISH")
    again = cache_sentiment("Fed holds rates", "BEARISH")  # served from the cache
    assert first == again and again["sentiment"] == "BULLISH"
    assert len(self.object_store_manager.list_keys(StorageCategory.LLM_CACHE)) == 1

    # 4. Backtest results archive
    results = {"params": {"lookback": 20}, "metrics": {"sharpe_ratio": 1.8, "max_drawdown": 0.12,
               "total_return": 0.31, "win_rate": 0.56}, "trades": [{"symbol": "SPY", "pnl": 12.5}]}
    self.object_store_manager.save(key="backtest_20250115_160000", data=results,
                                   category=StorageCategory.BACKTEST_RESULTS, expire_days=365,
                                   metadata={"strategy": "two_part_spread", "sharpe": 1.8, "version": "v2.3"})
    obj = self.object_store_manager.get_metadata("backtest_20250115_160000")
    if obj and obj.metadata.get("sharpe", 0) > 1.5:
        loaded = self.object_store_manager.load("backtest_20250115_160000")
    assert loaded == results

    # 5. ML models storage (research notebook -> live algorithm, through the plain store)
    model = {"coef": [0.25] * 2000}
    model_bytes = pickle.dumps(model)
    compressed = gzip.compress(model_bytes)
    encoded = base64.b64encode(compressed).decode("utf-8")
    self.ObjectStore.Save("sentiment_model_v2", encoded)
    if self.ObjectStore.ContainsKey("sentiment_model_v2"):
        encoded = self.ObjectStore.Read("sentiment_model_v2")
        loaded_model = pickle.loads(gzip.decompress(base64.b64decode(encoded.encode("utf-8"))))
    assert loaded_model == model
    # ... and as bytes through the manager, compressed on demand
    blob = pickle.dumps(model)
    saved = self.object_store_manager.save(key="must_compress", data=blob, category=StorageCategory.ML_MODELS,
                                           force_compress=True)
    assert saved.compressed and saved.stored_size < len(blob)
    assert self.object_store_manager.load("must_compress") == blob  # bytes come back as bytes

    # 6. Research <-> live transfer
    optimized = {"profit_thresholds": [1.0, 2.0, 4.0, 10.0], "cancel_after_seconds": 2.5,
                 "max_option_chains": 5, "delta_range": [0.25, 0.35]}
    self.ObjectStore.Save("optimized_params_v3", json.dumps(optimized))
    if self.ObjectStore.ContainsKey("optimized_params_v3"):
        params = json.loads(self.ObjectStore.Read("optimized_params_v3"))
    assert params == optimized

    # Monitoring, as the seed reads it
    stats = self.storage_monitor.get_statistics()
    self.Debug(f"Storage: {stats['current_usage_gb']:.2f}GB")
    self.Debug(f"Growth: {stats['growth_rate_gb_per_day']:.3f}GB/day")
    if stats["days_until_full"] and stats["days_until_full"] < 30:
        self.Debug(f"WARNING: Only {stats['days_until_full']} days until full")
    for key in ("current_usage_gb", "max_storage_gb", "usage_pct", "files", "max_files",
                "growth_rate_gb_per_day", "days_until_full", "by_category"):
        assert key in stats, key
    assert stats["max_storage_gb"] == 5 and stats["max_files"] == 50000
    # The tier's limits are the whole store's: the 5 managed objects and the 2 plain saves
    # (sentiment_model_v2, optimized_params_v3), which are their own "unmanaged" row.
    assert stats["files"] == 7
    assert stats["unmanaged"]["files"] == 2
    assert sum(s["files"] for s in stats["by_category"].values()) == 5
    for category, cat_stats in stats["by_category"].items():
        print(f"{category}: {cat_stats['size_mb']:.1f}MB ({cat_stats['files']} files)")
    used = {c for c, s in stats["by_category"].items() if s["files"] >= 1}
    assert used == {"trading_state", "options_greeks", "llm_cache", "backtest_results", "ml_models"}
    assert self.logs[0].startswith("Storage: 0.00GB")

    # Cleanup, the seed's _check_storage
    if not self.storage_monitor.is_healthy():
        pytest.fail("a nearly empty store is healthy")
    deleted = self.object_store_manager.cleanup_expired()
    assert deleted == 0
    suggestions = self.storage_monitor.suggest_cleanup()
    for action in suggestions["actions"]:
        self.Debug(f"Suggestion: {action['action']} ({action['reason']})")


def test_report_log_lines_health_check_and_metrics(store, settings_file):
    manager = ObjectStoreManager(store, Settings.from_file(str(settings_file)))
    manager.save("spy_state", {"equity": 1}, category=StorageCategory.TRADING_STATE)
    monitor = StorageMonitor(manager)
    report = monitor.report()
    assert "OBJECT STORE STATISTICS" in report and "trading_state" in report
    assert monitor.log_lines().startswith("Object Store: 0.00/5.00GB")
    assert monitor.health() == "healthy"
    outcome = monitor.check()
    assert outcome["health"] == "healthy" and outcome["statistics"]["files"] == 1
    assert "objstore_storage_used_bytes" in monitor.metrics_text()
    with monitor.serve_metrics("127.0.0.1:0") as server:
        assert server.running
        body = urllib.request.urlopen(f"http://{server.address}/metrics", timeout=10).read().decode()
        assert "objstore_storage_used_bytes" in body
    assert not server.running or server.stop() is None
    periodic = monitor.start_periodic(3600)
    assert periodic.running and periodic.address is None
    periodic.stop()


def test_categories_builtin_and_custom(store):
    assert StorageCategory.TRADING_STATE.name == "trading_state"
    assert StorageCategory("trading_state") == StorageCategory.TRADING_STATE
    assert repr(StorageCategory.ML_MODELS) == "StorageCategory.ML_MODELS"
    assert len(StorageCategory.builtin()) == 7
    fx = StorageCategory("fx_rates")
    assert not fx.is_builtin and str(fx) == "fx_rates"
    assert {StorageCategory("fx_rates"): 1}[fx] == 1
    manager = ObjectStoreManager(store, Settings.tier("5GB"))
    manager.save("eurusd_2025-01-15", [1.03, 1.04], category=fx)
    manager.save("usdjpy", [155.2], category="fx_rates")  # a name works too
    assert manager.list_keys(fx) == ["eurusd_2025-01-15", "usdjpy"]
    assert store.contains_key("fx_rates/eurusd_2025-01-15")  # each category is a folder
    with pytest.raises(objstore.InvalidCategoryError):
        StorageCategory("Not A Name")
    with pytest.raises(ValueError):
        manager.save("k", 1, category="../escape")
    with pytest.raises(TypeError):
        manager.list_keys(42)


def test_settings_sources(settings_file, tmp_path):
    s = Settings.from_file(str(settings_file))
    assert s.max_storage_gb == 5 and s.max_files == 50000 and s.tier_name == "5GB"
    assert dict(s.storage_allocation)["llm_cache"] == 0.3
    d = Settings.from_dict({"tier": "10GB"})
    assert d.max_storage_gb == 10
    assert Settings.tier("free").max_files == 1000
    assert Settings().tier_name == "5GB"
    assert s.to_dict()["max_files"] == 50000
    with pytest.raises(objstore.ConfigError):
        Settings.tier("3GB")
    bad = tmp_path / "bad.json"
    bad.write_text('{"tier": "5GB", "max_files": -1, "storage_allocation": {"llm_cache": "lots"}}')
    with pytest.raises(objstore.ConfigError) as e:
        Settings.from_file(str(bad))
    assert "max_files" in str(e.value) and "llm_cache" in str(e.value)  # every problem listed
    # The manager takes each form directly.
    store = objstore.ObjectStore("memory://")
    for form in (s, {"tier": "2GB"}, "10GB", str(settings_file), settings_file, None):
        assert ObjectStoreManager(store, form).settings.max_files > 0


def test_expiry_archive_and_cleanup(store):
    manager = ObjectStoreManager(store, Settings.tier("5GB"))
    manager.save("stale", {"v": 1}, category=StorageCategory.LLM_CACHE, expire_days=0)
    manager.save("fresh", {"v": 2}, category=StorageCategory.LLM_CACHE, expire_days=30)
    assert manager.load("stale") is None  # expired at once
    assert manager.get_metadata("stale") is None
    assert manager.list_keys(StorageCategory.LLM_CACHE) == ["fresh"]
    meta = manager.get_metadata("fresh")
    assert meta.expires is not None and meta.expires > meta.created
    assert manager.cleanup_expired() == 1
    archived = manager.list_archived(StorageCategory.LLM_CACHE)
    assert [a["object"].key for a in archived] == ["stale"]
    assert json.loads(manager.load_archived_bytes(StorageCategory.LLM_CACHE, "stale")) == {"v": 1}
    report = manager.cleanup()
    assert report["expired"] == 0 and "superseded" in report


def test_quotas_and_size_limits(store):
    manager = ObjectStoreManager(store, {"tier": "5GB", "max_files": 2, "max_file_size_mb": 1})
    manager.save("a", 1)
    manager.save("b", 2)
    with pytest.raises(objstore.QuotaExceededError, match="File limit reached"):
        manager.save("c", 3)
    with pytest.raises(objstore.LimitExceededError):
        manager.save("c", 3)
    manager.delete("a")
    manager.save("c", 3)
    import os

    with pytest.raises(objstore.ObjectTooLargeError, match="Object too large"):
        manager.save("big", os.urandom(2 * 1024 * 1024))
    with pytest.raises(objstore.NotFoundError):
        manager.delete("never-saved")


def test_find_and_usage_by_category(store):
    manager = ObjectStoreManager(store, {"tier": "5GB", "storage_allocation": {"backtest_results": 0.5}})
    manager.save("bt_1", {"r": 1}, category=StorageCategory.BACKTEST_RESULTS, metadata={"sharpe": 1.8})
    manager.save("bt_2", {"r": 2}, category=StorageCategory.BACKTEST_RESULTS, metadata={"sharpe": 0.9})
    manager.save("g", {"d": 0.5}, category=StorageCategory.OPTIONS_GREEKS)
    good = manager.find(lambda o: o.metadata.get("sharpe", 0) > 1.5)
    assert [o.key for o in good] == ["bt_1"]
    assert isinstance(good[0].created, datetime) and good[0].checksum.startswith("xxh3-64:")
    assert good[0].to_dict()["key"] == "bt_1"
    usage = manager.usage_by_category()
    assert usage["backtest_results"]["files"] == 2 and usage["options_greeks"]["files"] == 1
    assert usage["backtest_results"]["allocation_bytes"] > 0
    with pytest.raises(ZeroDivisionError):  # the predicate's own error comes through
        manager.find(lambda o: 1 / 0)
    # Saving a key in another category moves it.
    manager.save("g", {"d": 0.6}, category=StorageCategory.RESEARCH_DATA)
    assert manager.list_keys(StorageCategory.OPTIONS_GREEKS) == []
    assert manager.load("g") == {"d": 0.6}


def test_manager_async(store):
    import asyncio

    manager = ObjectStoreManager(store)

    async def main():
        saved = await manager.save_async("k", {"x": 1}, category=StorageCategory.TRADING_STATE)
        assert saved.key == "k"
        return await manager.load_async("k")

    assert asyncio.run(main()) == {"x": 1}
