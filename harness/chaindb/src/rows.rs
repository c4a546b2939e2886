//! Rows as every command that prints rows prints them (`chain scan`, `chain checkpoints`, the leader
//! tools, `replay --plan`): CSV under its header — the header even when there is no row, so a script
//! reads an empty table, not nothing — or one JSON object a line, keyed by the same column names.

use std::io::Write;

use serde::Serialize;

/// `--format` of a command that prints rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowFormat {
    /// CSV, the header first.
    #[default]
    Csv,
    /// One JSON object a line, the CSV's columns as its keys; no header.
    Json,
}

/// Writes rows in a [`RowFormat`]. A row is any value that serializes as a flat struct whose field
/// names are the header's columns, in order.
pub struct RowWriter<W: Write> {
    out: Out<W>,
}

enum Out<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows to `out`; in CSV, `header` is written at once.
    pub fn new(format: RowFormat, header: &[&str], out: W) -> Result<RowWriter<W>, csv::Error> {
        let out = match format {
            RowFormat::Csv => {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
                w.write_record(header)?;
                Out::Csv(Box::new(w))
            }
            RowFormat::Json => Out::Json(out),
        };
        Ok(RowWriter { out })
    }

    /// Writes one row.
    pub fn write<T: Serialize>(&mut self, row: &T) -> Result<(), csv::Error> {
        match &mut self.out {
            Out::Csv(w) => w.serialize(row),
            Out::Json(w) => {
                let mut line = serde_json::to_vec(row).map_err(std::io::Error::from)?;
                line.push(b'\n');
                Ok(w.write_all(&line)?)
            }
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> Result<(), csv::Error> {
        match &mut self.out {
            Out::Csv(w) => w.flush()?,
            Out::Json(w) => w.flush()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        height: u64,
        reason: &'static str,
        rank: Option<usize>,
    }

    const HEADER: [&str; 3] = ["height", "reason", "rank"];

    fn written(format: RowFormat, rows: &[Row]) -> String {
        let mut out = Vec::new();
        let mut w = RowWriter::new(format, &HEADER, &mut out).unwrap();
        rows.iter().try_for_each(|r| w.write(r)).unwrap();
        w.flush().unwrap();
        drop(w);
        String::from_utf8(out).unwrap()
    }

    /// CSV: the header, even alone; an absent value is an empty field.
    #[test]
    fn csv_has_its_header_even_without_rows() {
        assert_eq!(written(RowFormat::Csv, &[]), "height,reason,rank\n");
        let rows = [Row { height: 5, reason: "", rank: Some(1) }, Row { height: 6, reason: "x.y", rank: None }];
        assert_eq!(written(RowFormat::Csv, &rows), "height,reason,rank\n5,,1\n6,x.y,\n");
    }

    /// JSON: a line per row, keyed by the header's columns in order; nothing without rows.
    #[test]
    fn json_is_an_object_a_line_with_the_columns() {
        assert_eq!(written(RowFormat::Json, &[]), "");
        let text = written(RowFormat::Json, &[Row { height: 5, reason: "x.y", rank: None }]);
        assert_eq!(text, "{\"height\":5,\"reason\":\"x.y\",\"rank\":null}\n");
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(row.keys().map(String::as_str).collect::<Vec<_>>(), HEADER);
    }
}
