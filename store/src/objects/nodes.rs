//! Nodes: register, get, query by capability or signal (through index tables, not a scan),
//! list, deregister.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::kernel::schema::{self, ReadTables, NODES, NODES_BY_CAPABILITY, NODES_BY_SIGNAL};
use crate::objects::keys::check_reason;
use cairn_core::encoding::{sha256, Digest};
use cairn_core::ledger::Event;
use cairn_core::nodespec::NodeSpec;
use cairn_core::UnixTime;

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// What the node declared.
    pub spec: NodeSpec,
    /// The `node_registered` entry.
    pub seq: u64,
    /// When it was registered.
    pub registered_at: UnixTime,
}

/// A query of the nodes by what they declare ([`Registry::query_nodes`]): a signal, a
/// capability, or both (the nodes declaring both), one page at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeQuery<'a> {
    /// Nodes declaring this signal.
    pub signal: Option<&'a str>,
    /// Nodes declaring this capability.
    pub capability: Option<&'a str>,
    /// Only nodes whose id sorts after this one (a page's `next`).
    pub after: Option<&'a str>,
    /// At most this many nodes (at least one); unbounded by default.
    pub limit: usize,
}

impl<'a> NodeQuery<'a> {
    /// How many nodes a page may read for each it can hold: the bound on a page's work when
    /// both a signal and a capability are given and few of the signal's nodes qualify.
    pub const MAX_READ_PER_NODE: usize = 4;

    /// The nodes declaring `capability`.
    pub fn capability(capability: &'a str) -> NodeQuery<'a> {
        NodeQuery::of(None, Some(capability))
    }

    /// The nodes declaring `signal`.
    pub fn signal(signal: &'a str) -> NodeQuery<'a> {
        NodeQuery::of(Some(signal), None)
    }

    /// The nodes declaring `signal` and `capability`, whichever are given (a query with
    /// neither is refused as `malformed`).
    pub fn of(signal: Option<&'a str>, capability: Option<&'a str>) -> NodeQuery<'a> {
        NodeQuery {
            signal,
            capability,
            after: None,
            limit: usize::MAX,
        }
    }

    /// The same query, from after node `after` (a page's `next`; `None`: from the start).
    pub fn after(self, after: Option<&'a str>) -> NodeQuery<'a> {
        NodeQuery { after, ..self }
    }

    /// The same query, at most `limit` nodes a page.
    pub fn with_limit(self, limit: usize) -> NodeQuery<'a> {
        NodeQuery { limit, ..self }
    }
}

/// One page of a [`NodeQuery`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePage {
    /// The nodes, in id order.
    pub nodes: Vec<NodeInfo>,
    /// When the index holds more: the id to give as [`NodeQuery::after`] for the next page.
    pub next: Option<String>,
}

pub(crate) fn load_node(tx: &impl ReadTables, id: &str) -> StoreResult<Option<NodeInfo>> {
    tx.get_record(NODES, id.as_bytes(), "node record")
}

/// A node record as a verified read finds it: decoded, with the SHA-256 of its spec's stored
/// bytes.
pub(crate) struct StoredNode {
    pub(crate) info: NodeInfo,
    /// For an intact record, the spec digest its `node_registered` entry names.
    pub(crate) spec_digest: Digest,
}

/// Decodes a stored node record. A record's encoding (postcard) is its spec's encoding
/// followed by the varints of `seq` and `registered_at`, so the spec's bytes are the record's
/// less those, and hashing them gives the spec digest without encoding the spec again. A
/// record not in canonical form gives another digest, which the read reports as damage (the
/// writer only writes canonical records).
pub(crate) fn decode_node(bytes: &[u8]) -> StoreResult<StoredNode> {
    let info: NodeInfo = schema::decode(bytes, "node record")?;
    let varint_len = |v: u64| (u64::BITS - v.leading_zeros()).max(1).div_ceil(7) as usize;
    let tail = varint_len(info.seq) + varint_len(info.registered_at);
    let spec = bytes
        .len()
        .checked_sub(tail)
        .and_then(|n| bytes.get(..n))
        .unwrap_or_default();
    Ok(StoredNode {
        spec_digest: sha256(&[spec]),
        info,
    })
}

fn load_stored_node(tx: &impl ReadTables, id: &[u8]) -> StoreResult<Option<StoredNode>> {
    tx.get_bytes(NODES, id)?
        .map(|b| decode_node(&b))
        .transpose()
}

impl Txn<'_> {
    /// Brings the capability and signal indexes from `old`'s lists to `new`'s: removes the
    /// pairs only `old` declares, inserts the pairs only `new` declares, and leaves the rest
    /// alone (a re-registration usually keeps its lists, and then touches no index). Either
    /// side may be absent (a first registration, a deregistration).
    fn reindex_node(
        &self,
        id: &str,
        old: Option<&NodeSpec>,
        new: Option<&NodeSpec>,
    ) -> StoreResult<()> {
        type Lists = fn(&NodeSpec) -> &Vec<String>;
        let indexes: [(_, Lists); 2] = [
            (NODES_BY_CAPABILITY, |s| &s.capabilities),
            (NODES_BY_SIGNAL, |s| &s.signals),
        ];
        let empty = Vec::new();
        for (def, list) in indexes {
            let before = old.map_or(&empty, list);
            let after = new.map_or(&empty, list);
            let gone = before.iter().filter(|v| !after.contains(v));
            let added = after.iter().filter(|v| !before.contains(v));
            if gone.clone().next().is_none() && added.clone().next().is_none() {
                continue;
            }
            let mut index = self.tx.open_multimap_table(def)?;
            for v in gone {
                index.remove(v.as_bytes(), id.as_bytes())?;
            }
            for v in added {
                index.insert(v.as_bytes(), id.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Registers a node after validating its spec ([`NodeSpec::validate`]); registering an
    /// id again replaces its spec. A spec naming a manifest in its provenance must name one
    /// this registry holds, unrevoked, for the same artifact digest.
    pub fn register_node(&mut self, spec: &NodeSpec) -> StoreResult<NodeInfo> {
        self.register_or_replace_node(spec).map(|(info, _)| info)
    }

    /// [`Txn::register_node`], saying whether the id was registered before (`true`: its spec
    /// was replaced). The answer is this transaction's, so two writers registering the same
    /// new id are told apart: the first commit registers it, the second replaces it.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, NodeSpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1",
    ///     "capabilities": [], "signals": [], "provenance": {"source": "https://example.test/n1"}}"#)?;
    /// let (_, replaced) = reg.write(|tx| tx.register_or_replace_node(&spec))?;
    /// assert!(!replaced);
    /// let (_, replaced) = reg.write(|tx| tx.register_or_replace_node(&spec))?;
    /// assert!(replaced);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_or_replace_node(&mut self, spec: &NodeSpec) -> StoreResult<(NodeInfo, bool)> {
        spec.validate()?;
        if let Some(m) = &spec.provenance.manifest {
            self.check_provenance_manifest(m, spec.provenance.sha256.as_ref())?;
        }
        let old = load_node(&self.tx, &spec.id)?;
        let seq = self.append(
            Event::NodeRegistered {
                node_id: spec.id.clone(),
                spec_digest: spec.digest(),
            },
            &[],
        )?;
        let info = NodeInfo {
            spec: spec.clone(),
            seq,
            registered_at: self.now(),
        };
        self.tx
            .open_table(NODES)?
            .insert(spec.id.as_bytes(), schema::encode(&info).as_slice())?;
        self.reindex_node(&spec.id, old.as_ref().map(|o| &o.spec), Some(spec))?;
        Ok((info, old.is_some()))
    }

    /// Removes a node (`not_found` if it is not registered).
    pub fn deregister_node(&mut self, id: &str, reason: &str) -> StoreResult<u64> {
        check_reason(reason)?;
        let old = load_node(&self.tx, id)?
            .ok_or_else(|| StoreError::not_found(format!("no node {id:?}")))?;
        let seq = self.append(
            Event::NodeDeregistered {
                node_id: id.to_owned(),
                reason: reason.to_owned(),
            },
            &[],
        )?;
        self.reindex_node(id, Some(&old.spec), None)?;
        self.tx.open_table(NODES)?.remove(id.as_bytes())?;
        Ok(seq)
    }
}

impl Registry {
    /// Registers a node (one transaction). See [`Txn::register_node`].
    ///
    /// ```
    /// use cairn_store::{CreateOptions, NodeSpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// let spec = NodeSpec::from_json(r#"{"id": "n1", "name": "N", "version": "1",
    ///     "capabilities": ["memory.store"], "signals": ["memory_stored"],
    ///     "provenance": {"source": "https://example.test/n1"}}"#)?;
    /// reg.register_node(&spec)?;
    /// let found = reg.nodes_by_signal("memory_stored")?;
    /// assert_eq!(found[0].spec.id, "n1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_node(&self, spec: &NodeSpec) -> StoreResult<NodeInfo> {
        self.write(|tx| tx.register_node(spec))
    }

    /// Deregisters a node (one transaction). See [`Txn::deregister_node`].
    pub fn deregister_node(&self, id: &str, reason: &str) -> StoreResult<u64> {
        self.write(|tx| tx.deregister_node(id, reason))
    }

    /// One node.
    pub fn node(&self, id: &str) -> StoreResult<NodeInfo> {
        self.read(|rtx| {
            let node = load_stored_node(&rtx, id.as_bytes())?
                .ok_or_else(|| StoreError::not_found(format!("no node {id:?}")))?;
            crate::objects::verified::Proof::new(self, &rtx)?.node(&node)?;
            Ok(node.info)
        })
    }

    /// One node as stored, without comparing it with the ledger (for measurements).
    #[doc(hidden)]
    pub fn node_unverified(&self, id: &str) -> StoreResult<NodeInfo> {
        self.read(|rtx| load_node(&rtx, id))?
            .ok_or_else(|| StoreError::not_found(format!("no node {id:?}")))
    }

    /// Every node, in id order.
    pub fn list_nodes(&self) -> StoreResult<Vec<NodeInfo>> {
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let t = rtx.open_table(NODES)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let node = decode_node(row?.1.value())?;
                proof.node(&node)?;
                out.push(node.info);
            }
            Ok(out)
        })
    }

    /// The nodes declaring `capability`, in id order (an index lookup, not a scan).
    pub fn nodes_by_capability(&self, capability: &str) -> StoreResult<Vec<NodeInfo>> {
        Ok(self.query_nodes(&NodeQuery::capability(capability))?.nodes)
    }

    /// The nodes declaring `signal`, in id order (an index lookup, not a scan).
    pub fn nodes_by_signal(&self, signal: &str) -> StoreResult<Vec<NodeInfo>> {
        Ok(self.query_nodes(&NodeQuery::signal(signal))?.nodes)
    }

    /// One page of the nodes that declare the query's signal and capability (one of them, or
    /// both), in id order, from an index (the signal's when both are given), not a scan.
    ///
    /// Each node read is verified against its ledger entry, and the index against the nodes:
    /// an id named twice, out of order, or for a node that does not declare the key is
    /// `corrupt` (a damaged index could otherwise answer with a wrong or short list of valid
    /// nodes). A page holds at most `limit` nodes and reads at most [`NodeQuery::MAX_READ_PER_NODE`]
    /// times as many (both given, most of the signal's nodes may lack the capability); `next`
    /// says where the following page starts when the index holds more. The ids before `after`
    /// are stepped over without reading their nodes (redb holds a key's ids in one sorted list
    /// it cannot seek into), so that step grows with the page's position.
    ///
    /// ```
    /// use cairn_store::{CreateOptions, NodeQuery, NodeSpec, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let reg = Registry::create(dir.path().join("r.redb"), CreateOptions::new("example.test/log", Protection::Insecure))?;
    /// for id in ["a", "b", "c"] {
    ///     reg.register_node(&NodeSpec::from_json(&format!(r#"{{"id": "{id}", "name": "N", "version": "1",
    ///         "capabilities": ["memory.store"], "provenance": {{"source": "https://example.test/{id}"}}}}"#))?)?;
    /// }
    /// let first = reg.query_nodes(&NodeQuery::capability("memory.store").with_limit(2))?;
    /// assert_eq!(first.nodes.len(), 2);
    /// let rest = reg.query_nodes(&NodeQuery::capability("memory.store").after(first.next.as_deref()))?;
    /// assert_eq!(rest.nodes[0].spec.id, "c");
    /// assert_eq!(rest.next, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_nodes(&self, q: &NodeQuery<'_>) -> StoreResult<NodePage> {
        let (def, key, declared, also): (_, _, fn(&NodeInfo) -> &Vec<String>, _) =
            match (q.signal, q.capability) {
                (Some(s), c) => (NODES_BY_SIGNAL, s, |n| &n.spec.signals, c),
                (None, Some(c)) => (NODES_BY_CAPABILITY, c, |n| &n.spec.capabilities, None),
                (None, None) => {
                    return Err(StoreError::core(
                        cairn_core::ErrorCode::Malformed,
                        "a node query needs a signal, a capability, or both",
                    ))
                }
            };
        let limit = q.limit.max(1);
        let max_read = limit.saturating_mul(NodeQuery::MAX_READ_PER_NODE);
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let index = rtx.open_multimap_table(def)?;
            let mut page = NodePage::default();
            // The last id read: the index's order is checked against it, and a page cut short
            // by `max_read` goes on after it.
            let mut last: Option<Vec<u8>> = None;
            // The index id before this one, read or stepped over: each must sort after it (a
            // damaged index could otherwise name a node twice, or hide one behind `after`).
            let mut prev: Option<Vec<u8>> = None;
            let mut read = 0usize;
            for id in index.get(key.as_bytes())? {
                let id = id?;
                let id = id.value();
                if prev.as_deref().is_some_and(|p| p >= id) {
                    return Err(StoreError::corrupt(format!(
                        "the index of {key:?} is damaged: it names node {:?} out of order (run `cairn check`)",
                        String::from_utf8_lossy(id)
                    )));
                }
                prev = Some(id.to_vec());
                if q.after.is_some_and(|a| id <= a.as_bytes()) {
                    continue;
                }
                if page.nodes.len() == limit || read == max_read {
                    // Another id follows: the next page starts after the last one read.
                    page.next = last.map(|l| String::from_utf8_lossy(&l).into_owned());
                    break;
                }
                let stored = load_stored_node(&rtx, id)?.ok_or_else(|| {
                    StoreError::corrupt(format!(
                        "the index names node {:?}, which has no record",
                        String::from_utf8_lossy(id)
                    ))
                })?;
                proof.node(&stored)?;
                let node = stored.info;
                if node.spec.id.as_bytes() != id || !declared(&node).iter().any(|d| d == key) {
                    return Err(StoreError::corrupt(format!(
                        "the index of {key:?} is damaged: it names node {:?} wrongly (run `cairn check`)",
                        node.spec.id
                    )));
                }
                read += 1;
                last = Some(id.to_vec());
                if also.is_none_or(|c| node.spec.capabilities.iter().any(|x| x == c)) {
                    page.nodes.push(node);
                }
            }
            Ok(page)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The digest of the spec's stored bytes is the spec digest for every record the writer
    // writes, whatever the widths of the two varints after the spec; a non-canonical tail is
    // another digest (reported as damage by the read).
    #[test]
    fn the_stored_spec_bytes_hash_to_the_spec_digest() {
        let spec = NodeSpec::from_json(
            r#"{"id":"n1","name":"N","version":"1","capabilities":["c"],"provenance":{"source":"s"}}"#,
        )
        .unwrap();
        let widths = [0u64, 1, 127, 128, 16_383, 16_384, 1_700_000_000, u64::MAX];
        for seq in widths {
            for registered_at in widths {
                let info = NodeInfo {
                    spec: spec.clone(),
                    seq,
                    registered_at,
                };
                let stored = decode_node(&schema::encode(&info)).unwrap();
                assert_eq!(stored.info, info);
                assert_eq!(stored.spec_digest, spec.digest(), "{seq} {registered_at}");
            }
        }
        // seq 1 written as a two-byte varint (0x81 0x00): decodes the same, hashes otherwise.
        let mut bytes = spec.to_bytes();
        bytes.extend_from_slice(&[0x81, 0x00, 0x05]);
        let stored = decode_node(&bytes).unwrap();
        assert_eq!(stored.info.seq, 1);
        assert_ne!(stored.spec_digest, spec.digest());
    }
}
