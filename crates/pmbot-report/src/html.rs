//! `report.html`: the document as one self-contained page. The style sheet
//! is inline and every plot is a `data:` URI, so the page opens the same
//! offline, mailed, or archived, and loads nothing from anywhere.

use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::document::{Align, Block, Document, Span, Table};

const STYLE: &str = "\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1b1f23;background:#fff;margin:0}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:1.7em;border-bottom:2px solid #d0d7de;padding-bottom:.3em}
h2{font-size:1.3em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1.2em}
th,td{border:1px solid #d0d7de;padding:4px 10px;vertical-align:top}
th{background:#f6f8fa}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.caution{border-left:4px solid #d4a72c;background:#fff8c5;padding:8px 12px;margin:1em 0}
pre{background:#f6f8fa;padding:8px 12px;border-radius:4px;overflow-x:auto}
figure{margin:1em 0}
img{max-width:100%;height:auto;border:1px solid #d0d7de}
";

/// The whole page.
pub fn render(doc: &Document<'_>) -> String {
    let mut out = String::new();
    let title = escape(&doc.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n"
    );
    for block in &doc.blocks {
        match block {
            Block::Heading(level, s) => {
                let level = (*level).clamp(1, 6);
                let _ = writeln!(out, "<h{level}>{}</h{level}>", escape(s));
            }
            Block::Paragraph(spans) => {
                let _ = writeln!(out, "<p>{}</p>", line(spans));
            }
            Block::Caution(spans) => {
                let _ = writeln!(out, "<p class=\"caution\"><strong>Caution:</strong> {}</p>", line(spans));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", line(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(t) => table(&mut out, t),
            Block::Preformatted(t) => {
                let _ = writeln!(out, "<pre><code>{}</code></pre>", escape(t));
            }
            Block::Image { file, alt, png } => {
                let _ = writeln!(
                    out,
                    "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                    STANDARD.encode(png),
                    escape(alt),
                    escape(file)
                );
            }
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn table(out: &mut String, t: &Table) {
    let class = |a: Align| match a {
        Align::Left => "",
        Align::Right => " class=\"r\"",
    };
    out.push_str("<table>\n<thead><tr>");
    for (h, a) in &t.header {
        let _ = write!(out, "<th{}>{}</th>", class(*a), escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (cell, (_, a)) in row.iter().zip(&t.header) {
            let _ = write!(out, "<td{}>{}</td>", class(*a), span(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn line(spans: &[Span]) -> String {
    spans.iter().map(span).collect()
}

fn span(s: &Span) -> String {
    match s {
        Span::Text(t) => escape(t),
        Span::Strong(t) => format!("<strong>{}</strong>", escape(t)),
        Span::Code(t) => format!("<code>{}</code>", escape(t)),
    }
}

/// Text as HTML character data or a quoted attribute value.
fn escape(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{code, strong, text};

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<a href=\"x\">P&L's</a>"), "&lt;a href=&quot;x&quot;&gt;P&amp;L&#39;s&lt;/a&gt;");
    }

    #[test]
    fn a_document_renders_as_one_self_contained_page() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        let mut doc = Document { title: "Perf <report>".into(), blocks: Vec::new() };
        doc.heading(2, "Figures");
        doc.paragraph(vec![text("P&L "), strong("1.5"), code("<x>")]);
        doc.caution(vec![text("few")]);
        let mut t = Table::new(&[("reason", Align::Left), ("n", Align::Right)]);
        t.row(vec![code("kill_switch"), text("2")]);
        doc.table(t);
        doc.list(vec![vec![text("one")]]);
        doc.image("equity.png", "Equity \"curve\"", png);
        let html = render(&doc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>Perf &lt;report&gt;</title>"));
        assert!(html.contains("<p>P&amp;L <strong>1.5</strong><code>&lt;x&gt;</code></p>"));
        assert!(html.contains("<p class=\"caution\"><strong>Caution:</strong> few</p>"));
        assert!(html.contains("<tr><td><code>kill_switch</code></td><td class=\"r\">2</td></tr>"));
        assert!(html.contains("<li>one</li>"));
        let uri = format!("src=\"data:image/png;base64,{}\"", STANDARD.encode(png));
        assert!(html.contains(&uri), "{html}");
        assert!(html.contains("alt=\"Equity &quot;curve&quot;\""));
        assert!(!html.contains("http") && !html.contains("<link") && !html.contains("<script"));
    }
}
