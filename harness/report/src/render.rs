//! Turning a [`Report`] into files: the self-contained HTML page (template, style and script inline, the
//! charts as inline SVG, the records as JSON the page's script pages through) and the Markdown summary.
//! Both come from `minijinja` templates; neither reads the clock, so the same report renders to the
//! same bytes.

use minijinja::{context, Environment};

use crate::model::{Report, DETAILED_RECORDS};

/// Rows of each run in the Markdown summary.
const MARKDOWN_RECORDS: usize = 10;

/// Why a template did not render (a bug, reported with its place in the template).
#[derive(Debug, thiserror::Error)]
#[error("rendering the report: {0:#}")]
pub struct RenderError(#[from] minijinja::Error);

/// Escapes a value for Markdown (a PR comment, rendered by a code host): `<`, `>` and `&` as HTML
/// entities (so no tag, comment or entity of a value reaches the page), Markdown's control characters
/// backslash-escaped (no emphasis, code span, link, image, heading, strikethrough, math or table cell
/// boundary comes from a value; `!` needs none: with `[` escaped it starts no image) and line breaks as spaces (a value stays in its line or cell).
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn environment() -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    // Every value written into the Markdown summary is escaped for Markdown; the HTML page's are
    // HTML-escaped (the default for `.html` templates).
    env.set_formatter(|out, state, value| {
        if !state.name().ends_with(".md") || value.is_safe() {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = if value.is_none() || value.is_undefined() { String::new() } else { value.to_string() };
        out.write_str(&markdown_escape(&text)).map_err(minijinja::Error::from)
    });
    env.add_template("report.html", include_str!("../templates/report.html"))?;
    env.add_template("report.md", include_str!("../templates/report.md"))?;
    env.add_template("fleet.html", include_str!("../templates/fleet.html"))?;
    env.add_template("fleet.md", include_str!("../templates/fleet.md"))?;
    Ok(env)
}

fn title(report: &Report) -> String {
    let names: Vec<&str> = report.runs.iter().map(|r| r.name.as_str()).collect();
    match names.len() {
        0 => "no runs".into(),
        1..=3 => names.join(", "),
        n => format!("{}, … ({n} runs)", names[..2].join(", ")),
    }
}

/// Column totals of the overview (every class, in order).
fn totals(report: &Report) -> Vec<u64> {
    let classes = report.runs.first().map_or(0, |r| r.counts.len());
    (0..classes).map(|i| report.runs.iter().map(|r| r.counts[i].count).sum()).collect()
}

/// The HTML page.
pub fn html(report: &Report) -> Result<String, RenderError> {
    let env = environment()?;
    let tool = format!("dualrun {}", env!("CARGO_PKG_VERSION"));
    Ok(env.get_template("report.html")?.render(context! {
        report, title => title(report), tool, totals => totals(report), detailed => DETAILED_RECORDS,
        css => include_str!("../templates/report.css"), js => include_str!("../templates/report.js"),
    })?)
}

/// The HTML page of a fleet run.
pub fn fleet_html(report: &crate::fleet::FleetReport) -> Result<String, RenderError> {
    let env = environment()?;
    let tool = format!("dualrun {}", env!("CARGO_PKG_VERSION"));
    Ok(env
        .get_template("fleet.html")?
        .render(context! { report, tool, css => include_str!("../templates/report.css") })?)
}

/// The Markdown summary of a fleet run: the headline, the nodes, the findings.
pub fn fleet_markdown(report: &crate::fleet::FleetReport) -> Result<String, RenderError> {
    Ok(environment()?.get_template("fleet.md")?.render(context! { report })?)
}

/// The first `n` rows of a run's table with their strings spelled out (`[height, class, block id, legacy
/// verdict, legacy reason, candidate verdict, candidate reason]`, as the Markdown template reads them).
fn first_rows(table: &serde_json::Value, n: usize) -> Vec<serde_json::Value> {
    let strings = table["strings"].as_array().map(Vec::as_slice).unwrap_or_default();
    let text = |v: &serde_json::Value| {
        v.as_u64().and_then(|i| strings.get(i as usize)).cloned().unwrap_or(serde_json::Value::Null)
    };
    let rows = table["rows"].as_array().map(Vec::as_slice).unwrap_or_default();
    rows.iter()
        .take(n)
        .map(|r| serde_json::json!([r[0], text(&r[1]), r[2], text(&r[3]), text(&r[4]), text(&r[5]), text(&r[6])]))
        .collect()
}

/// The Markdown summary: banner, counts, the first records, digests.
pub fn markdown(report: &Report) -> Result<String, RenderError> {
    let env = environment()?;
    let runs: Vec<_> = report
        .runs
        .iter()
        .map(|r| {
            let first: Vec<_> = first_rows(&r.table, MARKDOWN_RECORDS);
            context! { first, ..minijinja::Value::from_serialize(r) }
        })
        .collect();
    Ok(env.get_template("report.md")?.render(context! {
        report => context! { runs, ..minijinja::Value::from_serialize(report) },
        title => title(report),
    })?)
}

#[cfg(test)]
mod tests {
    use super::markdown_escape;

    #[test]
    fn markdown_escaping_leaves_no_tag_comment_link_or_cell_break() {
        assert_eq!(
            markdown_escape("x|y <!-- <img src=x> &amp; *b* _i_ `c` [l](u) ![i](u) # ~s~ $m$ \\ a\nb"),
            "x\\|y &lt;!-- &lt;img src=x&gt; &amp;amp; \\*b\\* \\_i\\_ \\`c\\` \\[l\\](u) !\\[i\\](u) \\# \\~s\\~ \\$m\\$ \\\\ a b"
        );
        assert_eq!(markdown_escape("leader.missing 0..=200"), "leader.missing 0..=200");
    }
}
