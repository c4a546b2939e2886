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
    // Quoted as every reproduce line is: a URL given on the command line may hold any character.
    dualrun_rundir::shell_line(&["curl", "-s", &format!("{url}/json_rpc"), "-d", &body])
}

#[cfg(test)]
mod tests {
    use super::rpc_hint;

    #[test]
    fn hints_are_shell_lines_whatever_the_url() {
        assert_eq!(
            rpc_hint("http://127.0.0.1:18081", Some(7)),
            r#"curl -s http://127.0.0.1:18081/json_rpc -d '{"jsonrpc":"2.0","id":0,"method":"get_block_header_by_height","params":{"height":7}}'"#
        );
        let hostile = rpc_hint("http://x/$(rm -rf ~)';", None);
        assert!(hostile.starts_with(r#"curl -s 'http://x/$(rm -rf ~)'"'"';/json_rpc' -d"#), "{hostile}");
    }
}
