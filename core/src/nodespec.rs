//! Node specifications: what a node (a service, an adapter, a peer) declares when it
//! registers. Validation is strict and field-level: every field has a type, a size limit and a
//! character set; unknown fields are refused, and every error names the field it concerns
//! (`capabilities[3]`, `endpoints[0].url`, ...).
//!
//! A spec's identity in the ledger is its digest: SHA-256 of its postcard encoding (fields in
//! the order below, lists in the order given). The `node_registered` entry records that
//! digest, so a node record edited behind the registry's back no longer matches its entry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::encoding::{sha256, to_postcard, Digest};
use crate::error::{Error, ErrorCode, Result};

/// Largest spec document accepted, in bytes of JSON.
pub const MAX_SPEC_JSON_LEN: usize = 64 * 1024;
/// Longest node id.
pub const MAX_NODE_ID_LEN: usize = 128;
/// Longest display name.
pub const MAX_NODE_NAME_LEN: usize = 256;
/// Longest version string.
pub const MAX_VERSION_LEN: usize = 64;
/// Longest capability or signal name.
pub const MAX_TOKEN_LEN: usize = 128;
/// Most capabilities, and most signals, one node declares.
pub const MAX_LIST_LEN: usize = 64;
/// Most endpoints one node declares.
pub const MAX_ENDPOINTS: usize = 16;
/// Longest endpoint name.
pub const MAX_ENDPOINT_NAME_LEN: usize = 64;
/// Longest URL (endpoint or provenance source).
pub const MAX_URL_LEN: usize = 2048;

/// One network endpoint of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Name, unique within the node (e.g. `api`, `metrics`).
    pub name: String,
    /// URL with an explicit scheme (`https://…`, `grpc://…`, `unix:///…`).
    pub url: String,
}

/// Where a node's code comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Source location (repository URL, package name, image reference).
    pub source: String,
    /// SHA-256 of the built artifact, if known.
    pub sha256: Option<Digest>,
    /// Id of the signed manifest of that artifact in this registry, if any. Registration
    /// requires the manifest to exist, be unrevoked and, with `sha256`, to name that digest.
    pub manifest: Option<Digest>,
}

/// A node's declaration.
///
/// ```
/// use cairn_core::nodespec::NodeSpec;
/// let spec = NodeSpec::from_json(r#"{
///   "id": "memory-adapter-01", "name": "Memory adapter", "version": "1.2.0",
///   "capabilities": ["memory.store"], "signals": ["memory_stored"],
///   "endpoints": [{"name": "api", "url": "https://memory.example.test/v1"}],
///   "provenance": {"source": "https://git.example.test/memory-adapter"}
/// }"#)?;
/// assert_eq!(spec.id, "memory-adapter-01");
/// let err = NodeSpec::from_json(r#"{"id": "x", "extra": 1}"#).unwrap_err();
/// assert_eq!(err.field(), Some("extra"));
/// # Ok::<(), cairn_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Identifier: 1–128 bytes of `a-z 0-9 . _ -`, starting with a letter or digit.
    pub id: String,
    /// Display name: 1–256 bytes, no control characters.
    pub name: String,
    /// Version: 1–64 bytes of `A-Z a-z 0-9 . + -`, starting with a letter or digit.
    pub version: String,
    /// What the node can do (0–64 distinct names of `a-z 0-9 . _ : / -`).
    pub capabilities: Vec<String>,
    /// Signals the node emits or handles (same rules as capabilities).
    pub signals: Vec<String>,
    /// Where to reach it (0–16, distinct names).
    pub endpoints: Vec<Endpoint>,
    /// Where its code comes from.
    pub provenance: Provenance,
}

fn err(code: ErrorCode, field: &str, detail: impl Into<String>) -> Error {
    Error::new(code, detail).in_field(field)
}

fn check_len(field: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() {
        return Err(err(ErrorCode::Malformed, field, "must not be empty"));
    }
    if v.len() > max {
        return Err(err(
            ErrorCode::TooLarge,
            field,
            format!("{} bytes, the limit is {max}", v.len()),
        ));
    }
    Ok(())
}

/// An identifier-like string: first byte alphanumeric, the rest from `extra` too.
fn check_token(field: &str, v: &str, max: usize, upper: bool, extra: &[u8]) -> Result<()> {
    check_len(field, v, max)?;
    let ok_first =
        |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase() || (upper && b.is_ascii_uppercase());
    let ok = |b: u8| ok_first(b) || extra.contains(&b);
    let bytes = v.as_bytes();
    if !bytes.first().is_some_and(|&b| ok_first(b)) || !bytes.iter().all(|&b| ok(b)) {
        let allowed = String::from_utf8_lossy(extra).into_owned();
        return Err(err(
            ErrorCode::Malformed,
            field,
            format!(
                "{v:?}: use {}digits and {allowed:?}, starting with a letter or digit",
                if upper {
                    "letters, "
                } else {
                    "lowercase letters, "
                }
            ),
        ));
    }
    Ok(())
}

fn check_text(field: &str, v: &str, max: usize) -> Result<()> {
    check_len(field, v, max)?;
    if v.chars().any(char::is_control) {
        return Err(err(
            ErrorCode::Malformed,
            field,
            "contains control characters",
        ));
    }
    Ok(())
}

fn check_url(field: &str, v: &str) -> Result<()> {
    check_len(field, v, MAX_URL_LEN)?;
    if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(err(
            ErrorCode::Malformed,
            field,
            "contains whitespace or control characters",
        ));
    }
    let Some((scheme, rest)) = v.split_once("://") else {
        return Err(err(
            ErrorCode::Malformed,
            field,
            "needs a scheme (`scheme://…`)",
        ));
    };
    let scheme_ok = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_lowercase)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !scheme_ok || rest.is_empty() {
        return Err(err(
            ErrorCode::Malformed,
            field,
            format!("{v:?} is not a URL"),
        ));
    }
    Ok(())
}

const NAME_EXTRA: &[u8] = b"._:/-";

fn check_list(field: &str, items: &[String]) -> Result<()> {
    if items.len() > MAX_LIST_LEN {
        return Err(err(
            ErrorCode::TooLarge,
            field,
            format!("{} items, the limit is {MAX_LIST_LEN}", items.len()),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        check_token(&f, item, MAX_TOKEN_LEN, false, NAME_EXTRA)?;
        if items[..i].contains(item) {
            return Err(err(
                ErrorCode::Malformed,
                &f,
                format!("{item:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

impl NodeSpec {
    /// Checks every field (see the field docs). Errors name the field.
    pub fn validate(&self) -> Result<()> {
        check_token("id", &self.id, MAX_NODE_ID_LEN, false, b"._-")?;
        check_text("name", &self.name, MAX_NODE_NAME_LEN)?;
        check_token("version", &self.version, MAX_VERSION_LEN, true, b".+-")?;
        check_list("capabilities", &self.capabilities)?;
        check_list("signals", &self.signals)?;
        if self.endpoints.len() > MAX_ENDPOINTS {
            return Err(err(
                ErrorCode::TooLarge,
                "endpoints",
                format!(
                    "{} endpoints, the limit is {MAX_ENDPOINTS}",
                    self.endpoints.len()
                ),
            ));
        }
        for (i, ep) in self.endpoints.iter().enumerate() {
            let f = format!("endpoints[{i}].name");
            check_token(&f, &ep.name, MAX_ENDPOINT_NAME_LEN, false, b"._-")?;
            if self.endpoints[..i].iter().any(|e| e.name == ep.name) {
                return Err(err(
                    ErrorCode::Malformed,
                    &f,
                    format!("{:?} is listed twice", ep.name),
                ));
            }
            check_url(&format!("endpoints[{i}].url"), &ep.url)?;
        }
        check_text("provenance.source", &self.provenance.source, MAX_URL_LEN)
    }

    /// Parses and validates a spec document (JSON). Unknown fields, wrong types, oversized
    /// values and documents over [`MAX_SPEC_JSON_LEN`] are refused with a field-level error.
    pub fn from_json(text: &str) -> Result<NodeSpec> {
        if text.len() > MAX_SPEC_JSON_LEN {
            return Err(Error::new(
                ErrorCode::TooLarge,
                format!(
                    "node spec is {} bytes, the limit is {MAX_SPEC_JSON_LEN}",
                    text.len()
                ),
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::new(ErrorCode::Malformed, format!("node spec JSON: {e}")))?;
        let obj = Fields::new(
            &value,
            "",
            &[
                "id",
                "name",
                "version",
                "capabilities",
                "signals",
                "endpoints",
                "provenance",
            ],
        )?;
        let endpoints = obj
            .opt_array("endpoints")?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let e = Fields::new(v, &format!("endpoints[{i}]"), &["name", "url"])?;
                Ok(Endpoint {
                    name: e.string("name")?,
                    url: e.string("url")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let prov_value = obj.required("provenance")?;
        let p = Fields::new(prov_value, "provenance", &["source", "sha256", "manifest"])?;
        let provenance = Provenance {
            source: p.string("source")?,
            sha256: p.opt_digest("sha256")?,
            manifest: p.opt_digest("manifest")?,
        };
        let spec = NodeSpec {
            id: obj.string("id")?,
            name: obj.string("name")?,
            version: obj.string("version")?,
            capabilities: obj.string_list("capabilities")?,
            signals: obj.string_list("signals")?,
            endpoints,
            provenance,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as JSON (the form [`NodeSpec::from_json`] reads; digests in lowercase hex).
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// [`NodeSpec::to_json`] as a JSON value, for documents that embed the spec.
    ///
    /// ```
    /// use cairn_core::nodespec::NodeSpec;
    /// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1",
    ///     "capabilities": ["memory.store"], "signals": [],
    ///     "provenance": {"source": "https://example.test/n1"}}"#)?;
    /// assert_eq!(spec.to_json_value()["capabilities"][0], "memory.store");
    /// assert_eq!(spec.to_json_value().to_string(), spec.to_json());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn to_json_value(&self) -> Value {
        let hex = |d: &Option<Digest>| d.map(|d| Value::String(crate::encoding::hex_encode(&d)));
        let mut prov = Map::new();
        prov.insert("source".into(), self.provenance.source.clone().into());
        if let Some(v) = hex(&self.provenance.sha256) {
            prov.insert("sha256".into(), v);
        }
        if let Some(v) = hex(&self.provenance.manifest) {
            prov.insert("manifest".into(), v);
        }
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "capabilities": self.capabilities,
            "signals": self.signals,
            "endpoints": self.endpoints.iter().map(|e| serde_json::json!({"name": e.name, "url": e.url})).collect::<Vec<_>>(),
            "provenance": prov,
        })
    }

    /// The canonical bytes: postcard of the spec.
    pub fn to_bytes(&self) -> Vec<u8> {
        to_postcard(self)
    }

    /// The spec digest the ledger records: SHA-256 of [`NodeSpec::to_bytes`].
    pub fn digest(&self) -> Digest {
        sha256(&[&self.to_bytes()])
    }
}

/// The members of one JSON object, checked against the names it may have.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, path: &str, allowed: &[&str]) -> Result<Fields<'a>> {
        let name = if path.is_empty() { "(document)" } else { path };
        let map = value
            .as_object()
            .ok_or_else(|| err(ErrorCode::Malformed, name, "must be a JSON object"))?;
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(err(
                ErrorCode::Malformed,
                &Self::join(path, unknown),
                "unknown field",
            ));
        }
        Ok(Fields {
            path: path.to_owned(),
            map,
        })
    }

    fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    }

    fn field(&self, key: &str) -> String {
        Self::join(&self.path, key)
    }

    fn required(&self, key: &str) -> Result<&'a Value> {
        self.map
            .get(key)
            .ok_or_else(|| err(ErrorCode::Malformed, &self.field(key), "is required"))
    }

    fn string(&self, key: &str) -> Result<String> {
        let v = self.required(key)?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| err(ErrorCode::Malformed, &self.field(key), "must be a string"))
    }

    fn opt_array(&self, key: &str) -> Result<&'a [Value]> {
        match self.map.get(key) {
            None => Ok(&[]),
            Some(v) => v
                .as_array()
                .map(Vec::as_slice)
                .ok_or_else(|| err(ErrorCode::Malformed, &self.field(key), "must be an array")),
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>> {
        let items = self.opt_array(key)?;
        if items.len() > MAX_LIST_LEN {
            return Err(err(
                ErrorCode::TooLarge,
                &self.field(key),
                format!("{} items, the limit is {MAX_LIST_LEN}", items.len()),
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    err(
                        ErrorCode::Malformed,
                        &format!("{}[{i}]", self.field(key)),
                        "must be a string",
                    )
                })
            })
            .collect()
    }

    fn opt_digest(&self, key: &str) -> Result<Option<Digest>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s))
                if s.len() == 64 && !s.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                crate::encoding::hex_decode_array::<32>(s)
                    .map(Some)
                    .map_err(|e| err(ErrorCode::Malformed, &self.field(key), e.detail()))
            }
            Some(_) => Err(err(
                ErrorCode::Malformed,
                &self.field(key),
                "must be 64 lowercase hex digits (a SHA-256 digest)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> serde_json::Value {
        serde_json::json!({
            "id": "node-1", "name": "Node one", "version": "1.0.0-rc.1+b5",
            "capabilities": ["memory.store", "x:y/z"], "signals": ["memory_stored"],
            "endpoints": [{"name": "api", "url": "https://n.example.test/v1"}],
            "provenance": {"source": "https://git.example.test/n", "sha256": "ab".repeat(32)}
        })
    }

    fn field_of(v: serde_json::Value) -> (String, String) {
        let e = NodeSpec::from_json(&v.to_string()).unwrap_err();
        (
            e.field().unwrap_or("").to_owned(),
            e.code().as_str().to_owned(),
        )
    }

    #[test]
    fn good_spec_round_trips() {
        let spec = NodeSpec::from_json(&good().to_string()).unwrap();
        assert_eq!(NodeSpec::from_json(&spec.to_json()).unwrap(), spec);
        assert_eq!(spec.digest(), sha256(&[&spec.to_bytes()]));
    }

    #[test]
    fn errors_name_the_field() {
        type Mutate = fn(&mut serde_json::Value);
        let cases: Vec<(Mutate, &str, &str)> = vec![
            (|v| v["bogus"] = 1.into(), "bogus", "malformed"),
            (
                |v| v["provenance"]["x"] = 1.into(),
                "provenance.x",
                "malformed",
            ),
            (
                |v| v["endpoints"][0]["port"] = 1.into(),
                "endpoints[0].port",
                "malformed",
            ),
            (|v| v["id"] = "Upper".into(), "id", "malformed"),
            (|v| v["id"] = "a".repeat(129).into(), "id", "too_large"),
            (|v| v["id"] = "".into(), "id", "malformed"),
            (|v| v["name"] = "a\u{7}b".into(), "name", "malformed"),
            (|v| v["version"] = 3.into(), "version", "malformed"),
            (
                |v| v["capabilities"][1] = "memory.store".into(),
                "capabilities[1]",
                "malformed",
            ),
            (
                |v| v["capabilities"] = serde_json::json!(vec!["a"; 65]),
                "capabilities",
                "too_large",
            ),
            (
                |v| v["signals"][0] = "has space".into(),
                "signals[0]",
                "malformed",
            ),
            (
                |v| v["endpoints"][0]["url"] = "no-scheme".into(),
                "endpoints[0].url",
                "malformed",
            ),
            (
                |v| v["endpoints"][0]["url"] = format!("https://{}", "a".repeat(2048)).into(),
                "endpoints[0].url",
                "too_large",
            ),
            (
                |v| v["provenance"]["sha256"] = "AB".repeat(32).into(),
                "provenance.sha256",
                "malformed",
            ),
            (
                |v| {
                    v.as_object_mut().unwrap().remove("provenance");
                },
                "provenance",
                "malformed",
            ),
            (
                |v| v["provenance"]["source"] = "".into(),
                "provenance.source",
                "malformed",
            ),
        ];
        for (mutate, field, code) in cases {
            let mut v = good();
            mutate(&mut v);
            assert_eq!(field_of(v), (field.to_owned(), code.to_owned()));
        }
    }

    #[test]
    fn oversized_document_is_refused_before_parsing() {
        let big = format!("{{\"id\": \"{}\"}}", "a".repeat(MAX_SPEC_JSON_LEN));
        let e = NodeSpec::from_json(&big).unwrap_err();
        assert_eq!(e.code().as_str(), "too_large");
        assert!(NodeSpec::from_json("[1]").is_err());
        assert!(NodeSpec::from_json("{").is_err());
    }
}
