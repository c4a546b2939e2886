//! `--format`, shared by every command that prints: rows as `csv` (the default) or `json` (one object a
//! line, keyed by the CSV's columns), or one object as `text` (the default) or `json`; and the spellings
//! this release renamed, still taken — hidden, with a warning on stderr — until the next one.

use clap::{Args, ValueEnum};
use dualrun_chaindb::rows::RowFormat;

#[derive(Clone, Copy, ValueEnum)]
enum RowsFormat {
    /// CSV, the header first (also when there is no row).
    Csv,
    /// One JSON object per line, the CSV's columns as its keys.
    Json,
}

/// `--format` of a command that prints rows.
#[derive(Args)]
pub(crate) struct Rows {
    /// How the rows are printed.
    #[arg(long, value_enum, default_value = "csv")]
    format: RowsFormat,
}

impl Rows {
    pub(crate) fn get(&self) -> RowFormat {
        match self.format {
            RowsFormat::Csv => RowFormat::Csv,
            RowsFormat::Json => RowFormat::Json,
        }
    }
}

/// `--format` of `chain scan`, which took `--json` before.
#[derive(Args)]
pub(crate) struct RowsWasJson {
    #[command(flatten)]
    rows: Rows,
    /// Deprecated: use --format json.
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
}

impl RowsWasJson {
    /// The format; a warning when it was given as `--json`.
    pub(crate) fn get(&self) -> RowFormat {
        if self.json {
            deprecated("--json", "--format json");
            return RowFormat::Json;
        }
        self.rows.get()
    }
}

/// `--format` of the leader tools, which took a `--csv` that changed nothing.
#[derive(Args)]
pub(crate) struct RowsWasCsv {
    #[command(flatten)]
    rows: Rows,
    /// Deprecated: use --format csv (the default).
    #[arg(long, hide = true, conflicts_with = "format")]
    csv: bool,
}

impl RowsWasCsv {
    /// The format; a warning when `--csv` was given.
    pub(crate) fn get(&self) -> RowFormat {
        if self.csv {
            deprecated("--csv", "--format csv");
        }
        self.rows.get()
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ObjectFormat {
    /// Lines for people.
    Text,
    /// One JSON object.
    Json,
}

/// `--format` of a command that prints one object, which took `--json` before.
#[derive(Args)]
pub(crate) struct Object {
    /// How the result is printed.
    #[arg(long, value_enum, default_value = "text")]
    format: ObjectFormat,
    /// Deprecated: use --format json.
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
}

impl Object {
    /// Whether the object is printed as JSON; a warning when that was asked as `--json`.
    pub(crate) fn json(&self) -> bool {
        if self.json {
            deprecated("--json", "--format json");
        }
        self.json || self.format == ObjectFormat::Json
    }
}

/// A flag's value under its new name, or under the old one (hidden; clap refuses both) with a warning.
pub(crate) fn renamed<T>(new: Option<T>, old: Option<T>, old_flag: &str, new_flag: &str) -> Option<T> {
    if old.is_some() {
        deprecated(old_flag, new_flag);
        return old;
    }
    new
}

/// Says on stderr that `old` is deprecated in favour of `new`.
fn deprecated(old: &str, new: &str) {
    eprintln!("dualrun: warning: {old} is deprecated; use {new} (it will be removed in the next release)");
}
