//! Values: text, bytes, JSON, XML; overwrites; large values; missing keys; corrupt data.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{ok, pattern, snapshot};
use crate::testkit::Kit;
use crate::{Error, Format, assert_err};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Insight {
    symbol: String,
    direction: String,
    magnitude: f64,
    period_days: u32,
}

fn insight() -> Insight {
    Insight { symbol: "SPY".into(), direction: "Up".into(), magnitude: 0.025, period_days: 5 }
}

/// Strings, bytes, JSON and XML come back exactly as saved.
pub async fn round_trips_text_bytes_json_xml(kit: Kit) {
    let s = kit.store().await;
    for text in ["My string", "", "ünïcödé ✓ 📈", "line1\nline2\r\n\0nul"] {
        ok(s.save("text", text).await, "save text");
        assert_eq!(ok(s.read("text").await, "read text"), text);
    }
    for value in [Bytes::new(), Bytes::from((0..=255u8).collect::<Vec<u8>>()), pattern(1, 100_000)] {
        ok(s.save_bytes("bytes", value.clone()).await, "save bytes");
        assert_eq!(ok(s.read_bytes("bytes").await, "read bytes"), value);
    }
    let dict: BTreeMap<String, i32> = [("One".into(), 1), ("Two".into(), 2), ("Three".into(), 3)].into();
    ok(s.save_json("json/dict", &dict).await, "save json");
    assert_eq!(ok(s.read_json::<BTreeMap<String, i32>>("json/dict").await, "read json"), dict);
    ok(s.save_json("json/insights", &vec![insight(), insight()]).await, "save json list");
    assert_eq!(ok(s.read_json::<Vec<Insight>>("json/insights").await, "read json list"), vec![insight(), insight()]);
    // JSON is stored as JSON text: other readers (pandas, C#) can read it.
    let raw = ok(s.read("json/dict").await, "read json as text");
    assert_eq!(raw, r#"{"One":1,"Three":3,"Two":2}"#);
    ok(s.save_xml("xml/insight", &insight()).await, "save xml");
    assert_eq!(ok(s.read_xml::<Insight>("xml/insight").await, "read xml"), insight());
    let xml = ok(s.read("xml/insight").await, "read xml as text");
    assert!(xml.starts_with("<Insight>") && xml.contains("<symbol>SPY</symbol>"), "{xml}");
}

/// A save replaces the whole previous value, longer or shorter.
pub async fn overwrite_replaces(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("k", "a much longer first value").await, "save");
    ok(s.save("k", "short").await, "overwrite");
    assert_eq!(ok(s.read("k").await, "read"), "short");
    ok(s.save_bytes("k", pattern(7, 5000)).await, "overwrite longer");
    assert_eq!(ok(s.read_bytes("k").await, "read"), pattern(7, 5000));
    assert_eq!(ok(s.keys().await, "keys"), vec!["k"]);
}

/// Values of 16 MiB (above the cache's entry limit) round-trip intact.
pub async fn large_values(kit: Kit) {
    let s = kit.store().await;
    let big = pattern(42, 16 * 1024 * 1024 + 3);
    ok(s.save_bytes("big/model.bin", big.clone()).await, "save 16 MiB");
    assert!(ok(s.read_bytes("big/model.bin").await, "read 16 MiB") == big, "16 MiB value came back different");
    assert_eq!(ok(s.head("big/model.bin").await, "head").size, big.len() as u64);
}

/// Reading, deleting or describing an absent key is `NotFound`; `contains_key` is false.
pub async fn missing_keys(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("present", "x").await, "save");
    let before = snapshot(&s).await;
    assert!(!ok(s.contains_key("absent").await, "contains_key"));
    assert!(ok(s.contains_key("present").await, "contains_key"));
    assert_err!(s.read("absent").await, Error::NotFound { ref key } if key == "absent");
    assert_err!(s.read_bytes("absent").await, Error::NotFound { .. });
    assert_err!(s.read_json::<i32>("absent").await, Error::NotFound { .. });
    assert_err!(s.read_xml::<Insight>("absent").await, Error::NotFound { .. });
    assert_err!(s.head("absent").await, Error::NotFound { .. });
    assert_err!(s.delete("absent").await, Error::NotFound { ref key } if key == "absent");
    assert_eq!(snapshot(&s).await, before, "a failed read or delete changed the store");
    // A key that is only a folder of other keys is not an object either.
    ok(s.save("folder/inside", "x").await, "save");
    assert!(!ok(s.contains_key("folder").await, "contains_key folder"));
    assert_err!(s.read("folder").await, Error::NotFound { .. });
    assert_eq!(ok(s.keys().await, "keys"), vec!["folder/inside", "present"]);
    ok(s.delete("present").await, "delete");
    assert!(!ok(s.contains_key("present").await, "contains_key after delete"));
    assert_err!(s.delete("present").await, Error::NotFound { .. });
}

/// Bad UTF-8, JSON and XML are `Serialization` errors naming the key; the data is unchanged.
pub async fn corrupt_values_are_typed_errors(kit: Kit) {
    let s = kit.store().await;
    ok(s.save_bytes("bad-utf8", vec![0xff, 0xfe, b'a']).await, "save");
    ok(s.save("bad-json", "{\"lookback\": 20,").await, "save");
    ok(s.save("bad-xml", "<Insight><symbol>SPY</Insight>").await, "save");
    ok(s.save("wrong-shape", "{\"x\": 1}").await, "save");
    let before = snapshot(&s).await;
    assert_err!(s.read("bad-utf8").await,
        Error::Serialization { ref key, format: Format::Utf8, writing: false, .. } if key == "bad-utf8");
    assert_err!(s.read_json::<serde_json::Value>("bad-json").await,
        Error::Serialization { ref key, format: Format::Json, .. } if key == "bad-json");
    assert_err!(s.read_json::<Insight>("wrong-shape").await, Error::Serialization { format: Format::Json, .. });
    assert_err!(s.read_xml::<Insight>("bad-xml").await,
        Error::Serialization { ref key, format: Format::Xml, .. } if key == "bad-xml");
    assert_err!(s.read_xml::<Insight>("bad-utf8").await, Error::Serialization { format: Format::Xml, .. });
    let message = s.read_json::<Insight>("wrong-shape").await.map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("wrong-shape") && message.contains("JSON"), "{message}");
    assert_eq!(snapshot(&s).await, before, "a failed decode changed the store");
}

/// A value that cannot be encoded is refused before anything is written.
pub async fn unencodable_values_store_nothing(kit: Kit) {
    let s = kit.store().await;
    ok(s.save("k", "original").await, "save");
    let mut bad_json: HashMap<(i32, i32), i32> = HashMap::new();
    bad_json.insert((1, 2), 3);
    assert_err!(s.save_json("k", &bad_json).await, Error::Serialization { format: Format::Json, writing: true, .. });
    assert_err!(s.save_xml("k", &vec![1, 2, 3]).await, Error::Serialization { format: Format::Xml, writing: true, .. });
    assert_err!(s.save_json("new", &bad_json).await, Error::Serialization { .. });
    assert_eq!(ok(s.read("k").await, "read"), "original");
    assert!(!ok(s.contains_key("new").await, "contains_key"));
}
