//! `report.md`: the document as CommonMark with GitHub tables. Plots are
//! linked by file name (they sit beside it). Text is escaped so a reason
//! code or a config value can never start a table, a link or emphasis.

use std::fmt::Write;

use crate::document::{Align, Block, Document, Span, Table};

/// The whole file. `write!` into a String cannot fail, hence the `let _`.
pub fn render(doc: &Document<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", escape(&doc.title));
    for block in &doc.blocks {
        match block {
            Block::Heading(level, s) => {
                let _ = writeln!(out, "{} {}\n", "#".repeat(usize::from((*level).clamp(1, 6))), escape(s));
            }
            Block::Paragraph(spans) => {
                let _ = writeln!(out, "{}\n", line(spans));
            }
            Block::Caution(spans) => {
                let _ = writeln!(out, "> **Caution:** {}\n", line(spans));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", line(item));
                }
                out.push('\n');
            }
            Block::Table(t) => {
                table(&mut out, t);
                out.push('\n');
            }
            Block::Preformatted(t) => {
                // A fence longer than any run of backticks inside.
                let longest = t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat(longest.max(2) + 1);
                let _ = writeln!(out, "{fence}text\n{t}\n{fence}\n");
            }
            Block::Image { file, alt, .. } => {
                let _ = writeln!(out, "![{}]({file})\n", escape(alt));
            }
        }
    }
    // One newline at the end of the file, not two.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn table(out: &mut String, t: &Table) {
    let header: Vec<String> = t.header.iter().map(|(h, _)| escape(h)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let rule: Vec<&str> = t
        .header
        .iter()
        .map(|(_, a)| match a {
            Align::Left => "---",
            Align::Right => "--:",
        })
        .collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(span).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

fn line(spans: &[Span]) -> String {
    spans.iter().map(span).collect()
}

fn span(s: &Span) -> String {
    match s {
        Span::Text(t) => escape(t),
        Span::Strong(t) if t.is_empty() => String::new(),
        Span::Strong(t) => format!("**{}**", escape(t)),
        Span::Code(t) => code(t),
    }
}

/// A code span that holds any text: the fence is one backtick longer than
/// the longest run inside, and `|` (which would end a table cell) is escaped.
fn code(t: &str) -> String {
    if t.is_empty() {
        return String::new();
    }
    let t = t.replace(['\n', '\r'], " ").replace('|', "\\|");
    let longest = t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if t.starts_with('`') || t.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{t}{pad}{fence}")
}

/// Escapes what markdown would read as inline markup (emphasis, code, HTML,
/// a table cell's end, a link); newlines become spaces (a block's text is
/// one line). A link needs `](` or `][` (this report defines no reference),
/// so only such a `]` is escaped and an interval reads "[20.8%, 93.9%]".
/// Block markers (`#`, `>`, `-` at a line's start) need no escape: every
/// block starts with this module's own words.
pub fn escape(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '<' | '|' => {
                out.push('\\');
                out.push(c);
            }
            ']' if matches!(chars.peek(), Some('(' | '[')) => out.push_str("\\]"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{code as c, strong, text};

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(escape("a|b *c* [d](e) <f> _g_ #h"), r"a\|b \*c\* [d\](e) \<f> \_g\_ #h");
        assert_eq!(escape("![i][r] [20.8%, 93.9%]"), r"![i\][r] [20.8%, 93.9%]");
        assert_eq!(escape("two\nlines"), "two lines");
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code("kill_switch"), "`kill_switch`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), r"`a\|b`");
    }

    #[test]
    fn a_document_renders_as_markdown() {
        let png = [0u8; 4];
        let mut doc = Document { title: "T".into(), blocks: Vec::new() };
        doc.heading(2, "Figures");
        doc.paragraph(vec![text("P&L "), strong("1.5"), text(" pUSD")]);
        doc.caution(vec![text("too few trades")]);
        let mut t = Table::new(&[("reason", Align::Left), ("count", Align::Right)]);
        t.row(vec![c("kill_switch"), text("2")]);
        t.row(vec![c("price_band")]);
        doc.table(t);
        doc.list(vec![vec![text("one")], vec![text("two")]]);
        doc.image("equity.png", "Equity", &png);
        let md = render(&doc);
        assert_eq!(
            md,
            "# T\n\n## Figures\n\nP&L **1.5** pUSD\n\n> **Caution:** too few trades\n\n\
             | reason | count |\n|---|--:|\n| `kill_switch` | 2 |\n| `price_band` |  |\n\n- one\n- two\n\n\
             ![Equity](equity.png)\n"
        );
    }
}
