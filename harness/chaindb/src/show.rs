//! `chain show`: one stored block as JSON — its height, the parsed block ([`BlockView`]), and what the
//! database stores beside the blob (its id and `block_info`) — or, for a blob that does not parse, the
//! blob and where parsing stopped.

use dualrun_format::{BlockView, Hash32, HashError, ParseError, ViewError};
use serde_json::{json, Map, Value};

use crate::RawBlock;

/// A stored block, shown.
#[derive(Debug, Clone)]
pub enum Shown {
    /// The blob parses: the height first, the block's view, the database's own record of it last.
    Block {
        /// What `chain show` prints.
        json: Value,
        /// The id computed from the blob.
        block_id: Hash32,
        /// The id the database stores.
        stored_id: Hash32,
    },
    /// The blob does not parse: the height, the stored id, the blob and where parsing stopped.
    Unparsed {
        /// What `chain show` prints.
        json: Value,
        /// Why the blob does not parse.
        error: ParseError,
    },
}

/// Why a stored block cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// The blob parses but may not have its id.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// A value that JSON cannot hold.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Shows `raw` (see the module docs).
pub fn show(raw: &RawBlock<'_>) -> Result<Shown, ShowError> {
    let view = match BlockView::of(raw.blob) {
        Ok(v) => v,
        Err(ViewError::Parse(error)) => {
            let json = json!({
                "height": raw.height,
                "stored_id": raw.info.hash,
                "blob_bytes": raw.blob.len(),
                "blob": hex::encode(raw.blob),
                "parse_error": { "offset": error.offset, "message": error.to_string() },
            });
            return Ok(Shown::Unparsed { json, error });
        }
        Err(ViewError::Hash(e)) => return Err(e.into()),
    };
    let block_id = view.block_id;
    let mut shown = Map::new();
    shown.insert("height".into(), raw.height.into());
    let Value::Object(fields) = serde_json::to_value(&view)? else { unreachable!("a struct") };
    shown.extend(fields);
    shown.insert("stored_id".into(), serde_json::to_value(raw.info.hash)?);
    shown.insert("block_info".into(), serde_json::to_value(&raw.info)?);
    Ok(Shown::Block { json: Value::Object(shown), block_id, stored_id: raw.info.hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InfoRecord;

    fn info(hash: Hash32) -> InfoRecord {
        InfoRecord {
            height: 0,
            timestamp: 0,
            coins: 1,
            weight: 2,
            cumulative_difficulty: 1,
            hash,
            cumulative_rct_outputs: 0,
            long_term_weight: None,
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    /// The height first, then the view's fields, then the stored id and `block_info`.
    #[test]
    fn a_block_is_shown_between_its_height_and_its_record() {
        let blob = dualrun_format::encode::genesis_blob(10_000);
        let id = dualrun_format::Block::parse(&blob).unwrap().hashes().unwrap().block_id;
        let raw = RawBlock { height: 0, blob: &blob, info: info(Hash32([5; 32])) };
        let Shown::Block { json, block_id, stored_id } = show(&raw).unwrap() else { panic!("parses") };
        assert_eq!((block_id, stored_id), (id, Hash32([5; 32])));
        let keys = keys(&json);
        assert_eq!(keys.first(), Some(&"height"));
        assert_eq!(keys[1], "block_id");
        assert_eq!(&keys[keys.len() - 2..], ["stored_id", "block_info"]);
        assert_eq!(json["block_info"]["hash"], "05".repeat(32));
    }

    /// A blob that does not parse is shown whole, with where parsing stopped.
    #[test]
    fn an_unparsable_blob_is_shown_with_its_error() {
        let raw = RawBlock { height: 3, blob: &[0x10], info: info(Hash32([6; 32])) };
        let Shown::Unparsed { json, error } = show(&raw).unwrap() else { panic!("does not parse") };
        assert_eq!(keys(&json), ["height", "stored_id", "blob_bytes", "blob", "parse_error"]);
        assert_eq!((json["height"].as_u64(), json["blob"].as_str()), (Some(3), Some("10")));
        assert_eq!(json["parse_error"]["offset"].as_u64(), Some(error.offset as u64));
        assert_eq!(json["parse_error"]["message"], error.to_string());
    }
}
