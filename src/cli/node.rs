//! `cairn node ...`.

use std::path::Path;

use cairn_store::{NodeInfo, NodeSpec};
use serde_json::json;

use super::args::NodeCmd;
use super::error::{CliError, CliResult};
use super::util::{read_limited, read_stream_limited};
use super::view::{node_json, node_line};
use super::{Access, Ctx, Output};

/// Read a little past the store's 64 KiB spec limit, so an oversized document reaches the
/// store's own check (which names the limit) instead of being cut here.
// One byte over the store's limit, so an oversized spec reaches the store's field-level error.
const MAX_SPEC_READ: usize = cairn_store::MAX_SPEC_JSON_LEN + 1;

fn list(nodes: &[NodeInfo], empty: &str) -> Output {
    let text = if nodes.is_empty() {
        empty.to_owned()
    } else {
        nodes.iter().map(node_line).collect::<Vec<_>>().join("\n")
    };
    Output::new(
        text,
        json!({"nodes": nodes.iter().map(node_json).collect::<Vec<_>>()}),
    )
}

pub fn run(ctx: &Ctx, cmd: NodeCmd) -> CliResult<Output> {
    match cmd {
        NodeCmd::Register { file } => {
            let bytes = if file == "-" {
                read_stream_limited(std::io::stdin().lock(), MAX_SPEC_READ, "node spec")?
            } else {
                read_limited(Path::new(&file), MAX_SPEC_READ, "node spec")?
            };
            let text = String::from_utf8(bytes).map_err(|_| {
                CliError::core(
                    cairn_core::ErrorCode::Malformed,
                    "the node spec is not UTF-8",
                )
            })?;
            let spec = NodeSpec::from_json(&text)?;
            let reg = ctx.open(Access::Write)?;
            let (info, replaced) = reg.write(|tx| tx.register_or_replace_node(&spec))?;
            Ok(Output::new(
                format!(
                    "{} node {} at entry {}\n{}",
                    if replaced { "replaced" } else { "registered" },
                    info.spec.id,
                    info.seq,
                    node_line(&info)
                ),
                json!({"node": node_json(&info), "replaced": replaced}),
            ))
        }
        NodeCmd::Get { id } => {
            let reg = ctx.open(Access::Read)?;
            let info = reg.node(&id)?;
            let pretty = format!("{:#}", info.spec.to_json_value());
            Ok(Output::new(
                format!(
                    "{}\nregistered at entry {}\n{pretty}",
                    node_line(&info),
                    info.seq
                ),
                json!({"node": node_json(&info)}),
            ))
        }
        NodeCmd::Query { capability, signal } => {
            let reg = ctx.open(Access::Read)?;
            let query = cairn_store::NodeQuery::of(signal.as_deref(), capability.as_deref());
            Ok(list(&reg.query_nodes(&query)?.nodes, "no node matches"))
        }
        NodeCmd::List => {
            let reg = ctx.open(Access::Read)?;
            Ok(list(&reg.list_nodes()?, "no nodes"))
        }
        NodeCmd::Deregister { id, reason } => {
            let reg = ctx.open(Access::Write)?;
            let seq = reg.deregister_node(&id, &reason)?;
            Ok(Output::new(
                format!("deregistered node {id} at entry {seq}"),
                json!({"id": id, "seq": seq}),
            ))
        }
    }
}
