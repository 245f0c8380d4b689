//! Nodes: register, get, query by capability or signal (through index tables, not a scan),
//! list, deregister.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::error::{StoreCode, StoreError, StoreResult};
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

    /// An index lookup, verified: each node's record against its entry, each must declare
    /// `key` (`declared`), and no id twice (a damaged index could otherwise answer with a
    /// wrong or short list of valid nodes).
    fn nodes_by_index(
        &self,
        def: redb::MultimapTableDefinition<&[u8], &[u8]>,
        key: &str,
        declared: fn(&NodeInfo) -> &Vec<String>,
    ) -> StoreResult<Vec<NodeInfo>> {
        self.read(|rtx| {
            let proof = crate::objects::verified::Proof::new(self, &rtx)?;
            let index = rtx.open_multimap_table(def)?;
            let mut out = Vec::new();
            for id in index.get(key.as_bytes())? {
                let id = id?;
                let stored = load_stored_node(&rtx, id.value())?.ok_or_else(|| {
                        StoreError::new(
                            StoreCode::Corrupt,
                            format!(
                                "the index names node {:?}, which has no record",
                                String::from_utf8_lossy(id.value())
                            ),
                        )
                    })?;
                proof.node(&stored)?;
                let node = stored.info;
                let repeated = out.last().is_some_and(|n: &NodeInfo| n.spec.id >= node.spec.id);
                if repeated || !declared(&node).iter().any(|d| d == key) {
                    return Err(StoreError::corrupt(format!(
                        "the index of {key:?} is damaged: it names node {:?} wrongly (run `cairn check`)",
                        node.spec.id
                    )));
                }
                out.push(node);
            }
            Ok(out)
        })
    }

    /// The nodes declaring `capability`, in id order (an index lookup, not a scan).
    pub fn nodes_by_capability(&self, capability: &str) -> StoreResult<Vec<NodeInfo>> {
        self.nodes_by_index(NODES_BY_CAPABILITY, capability, |n| &n.spec.capabilities)
    }

    /// The nodes declaring `signal`, in id order (an index lookup, not a scan).
    pub fn nodes_by_signal(&self, signal: &str) -> StoreResult<Vec<NodeInfo>> {
        self.nodes_by_index(NODES_BY_SIGNAL, signal, |n| &n.spec.signals)
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
