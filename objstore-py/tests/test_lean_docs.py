"""LEAN's Object Store documentation examples (seeds 000 and 001), as pasted from it.

The algorithm's ``self.ObjectStore`` / the research book's ``qb.ObjectStore`` are an
``objstore.ObjectStore`` here; everything else is the documentation's code.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

import objstore


class Algorithm:
    """Just enough of QCAlgorithm for the documentation's snippets."""

    def __init__(self, store):
        self.ObjectStore = store
        self.ProjectId = 12345


def history_frame(rows: int = 360) -> pd.DataFrame:
    """A stand-in for ``self.History(self.Securities.Keys, 360, Resolution.Daily)``."""
    rng = np.random.default_rng(7)
    close = 470 + rng.standard_normal(rows).cumsum()
    return pd.DataFrame(
        {
            "Time": pd.date_range("2024-01-02", periods=rows, freq="D"),
            "SPY Open": close + 0.1,
            "SPY High": close + 1.0,
            "SPY Low": close - 1.0,
            "SPY Close": close,
        }
    )


def test_save_and_read_strings_bytes_and_json(store):
    self = Algorithm(store)
    string_sample = "My string"
    bytes_sample = str.encode("My String")
    dict_sample = {"One": 1, "Two": 2, "Three": 3}

    save_successful = self.ObjectStore.Save(f"{self.ProjectId}/string_key", string_sample)
    assert save_successful
    save_successful = self.ObjectStore.SaveBytes(f"{self.ProjectId}/bytes_key", bytes_sample)
    assert save_successful
    assert self.ObjectStore.SaveJson(f"{self.ProjectId}/json_key", dict_sample)

    # Zipped data, as the documentation's Compression.ZipBytes example.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data", bytes(string_sample, "utf-8"))
    zip_save_successful = self.ObjectStore.SaveBytes(f"{self.ProjectId}/bytesKey.zip", buf.getvalue())
    assert zip_save_successful

    if self.ObjectStore.ContainsKey(f"{self.ProjectId}/string_key"):
        string_data = self.ObjectStore.Read(f"{self.ProjectId}/string_key")
    assert string_data == "My string"
    byte_data = self.ObjectStore.ReadBytes(f"{self.ProjectId}/bytes_key")
    assert byte_data == b"My String"
    assert self.ObjectStore.ReadJson(f"{self.ProjectId}/json_key") == dict_sample
    with zipfile.ZipFile(io.BytesIO(self.ObjectStore.ReadBytes(f"{self.ProjectId}/bytesKey.zip"))) as z:
        assert z.read("data") == b"My string"

    # the snake_case spelling of the Python documentation
    string_value = store.read(f"{self.ProjectId}/string_key")
    bytes_value = store.read_bytes(f"{self.ProjectId}/bytes_key")
    assert (string_value, bytes_value) == ("My string", b"My String")


def test_get_all_stored_data_and_delete_it(store):
    self = Algorithm(store)
    for i in range(5):
        self.ObjectStore.Save(f"{self.ProjectId}/k{i}", f"v{i}")

    pairs = {}
    for kvp in self.ObjectStore:
        key = kvp.Key
        value = kvp.Value
        pairs[key] = value
    assert pairs == {f"12345/k{i}": f"v{i}".encode() for i in range(5)}

    keys = [key for key in self.ObjectStore.Keys]
    assert keys == sorted(pairs)

    # "To delete all of the content in the Object Store, iterate through all the stored data."
    for kvp in self.ObjectStore:
        self.ObjectStore.Delete(kvp.Key)
    assert self.ObjectStore.Keys == []

    # "If you try to delete an object with a key that doesn't exist ... the method raises an exception."
    with pytest.raises(KeyError):
        self.ObjectStore.Delete("12345/k0")


def test_get_file_path_adds_no_phantom_key(store):
    self = Algorithm(store)
    file_path = self.ObjectStore.GetFilePath("brand_new")
    assert isinstance(file_path, str)
    assert not self.ObjectStore.ContainsKey("brand_new")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "pickle", "json"])
def test_dataframe_example(url, tmp_path, fmt):
    """Seed 001's "Example for DataFrames": get_file_path, write with pandas, read back. On S3 the
    path is a staged copy that ``save(key)`` uploads; a second store (another node) reads it."""
    store = objstore.ObjectStore(url, staging_dir=str(tmp_path / "staging"))
    self = Algorithm(store)
    df = history_frame()

    file_path = self.ObjectStore.GetFilePath(f"df_to_{fmt}")
    if fmt == "csv":
        df.to_csv(file_path)
    elif fmt == "parquet":
        df.to_parquet(file_path)
    elif fmt == "pickle":
        df.to_pickle(file_path)
    else:
        df.to_json(file_path)
    assert self.ObjectStore.Save(f"df_to_{fmt}")  # LEAN's Save(key)

    elsewhere = objstore.ObjectStore(url, staging_dir=str(tmp_path / "elsewhere"))
    path = elsewhere.GetFilePath(f"df_to_{fmt}")
    if fmt == "csv":
        reread = pd.read_csv(path, index_col=0, parse_dates=["Time"])
    elif fmt == "parquet":
        reread = pd.read_parquet(path)
    elif fmt == "pickle":
        reread = pd.read_pickle(path)
    else:
        reread = pd.read_json(path)
        reread["Time"] = pd.to_datetime(reread["Time"], unit="ms")
    pd.testing.assert_frame_equal(reread, df, check_dtype=False, check_freq=False)
    assert elsewhere.head(f"df_to_{fmt}")["size"] > 1000


def test_model_files_with_joblib(url, tmp_path):
    """A model written with joblib.dump at get_file_path, saved, and loaded on another node."""
    import joblib
    store = objstore.ObjectStore(url, staging_dir=str(tmp_path / "staging"))
    model = {"weights": np.arange(1000, dtype=np.float64), "bias": 0.5}
    joblib.dump(model, store.get_file_path("models/sentiment.joblib"))
    assert store.save("models/sentiment.joblib")
    other = objstore.ObjectStore(url, staging_dir=str(tmp_path / "other"))
    loaded = joblib.load(other.get_file_path("models/sentiment.joblib"))
    assert np.array_equal(loaded["weights"], model["weights"]) and loaded["bias"] == 0.5


def test_sma_values_example(store):
    """Seed 001's "Example for Plotting": a backtest saves SMA values, research reads them."""

    class ObjectStoreChartingAlgorithm(Algorithm):
        def Initialize(self):
            self.content = ""

        def OnData(self, end_time, sma_value):
            self.content += f"{end_time},{sma_value}\n"

        def OnEndOfAlgorithm(self):
            self.ObjectStore.Save("sma_values_python", self.content)

    algo = ObjectStoreChartingAlgorithm(store)
    algo.Initialize()
    for i in range(30):
        algo.OnData(f"2024-01-{i + 1:02} 16:00:00", 470.0 + i / 10)
    algo.OnEndOfAlgorithm()

    class QuantBook:
        ObjectStore = store

    qb = QuantBook()
    content = qb.ObjectStore.Read("sma_values_python")
    data = {}
    for line in content.split("\n"):
        csv = line.split(",")
        if len(csv) > 1:
            data[csv[0]] = float(csv[1])
    series = pd.Series(data, index=data.keys())
    assert len(series) == 30 and series.iloc[-1] == pytest.approx(472.9)


def test_insights_as_json_text(store):
    """Seed 001: saving insights as a JSON array string, and ContainsKey before ReadJson."""
    self = Algorithm(store)
    self.insight_key = f"{self.ProjectId}/insights"
    content = ",".join(json.dumps({"Symbol": "SPY", "Direction": 1, "Magnitude": 0.025}) for _ in range(3))
    self.ObjectStore.Save(self.insight_key, f"[{content}]")
    if self.ObjectStore.ContainsKey(self.insight_key):
        insights = self.ObjectStore.ReadJson(self.insight_key)
    assert len(insights) == 3 and insights[0]["Symbol"] == "SPY"


def test_model_as_base64_text(store):
    """The documentation's advice for binary models: encode to base 64 and Save the text."""
    import base64

    model = {"coef": [0.1, 0.2, 0.3]}
    encoded = base64.b64encode(gzip.compress(pickle.dumps(model))).decode("utf-8")
    store.Save("sentiment_model_v2", encoded)
    if store.ContainsKey("sentiment_model_v2"):
        decoded = pickle.loads(gzip.decompress(base64.b64decode(store.Read("sentiment_model_v2").encode("utf-8"))))
    assert decoded == model
