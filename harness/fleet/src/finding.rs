//! A fleet run's findings (the types live with the fleet run directory's, in
//! `dualrun_rundir::fleet::finding`) and the reproduce hints the watch writes into them.

pub use dualrun_rundir::fleet::finding::{Episode, Finding, FindingRecord, Group, NodeTip, Orphan};

/// `curl` asking a node for its block header at `height` (or its info, when `None`).
pub fn rpc_hint(url: &str, height: Option<u64>) -> String {
    let body = match height {
        Some(h) => {
            format!(r#"{{"jsonrpc":"2.0","id":0,"method":"get_block_header_by_height","params":{{"height":{h}}}}}"#)
        }
        None => r#"{"jsonrpc":"2.0","id":0,"method":"get_info"}"#.to_owned(),
    };
    format!("curl -s {url}/json_rpc -d '{body}'")
}
