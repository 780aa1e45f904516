//! The report as a list of blocks, written once and rendered twice (markdown
//! and HTML), so the two files can never say different things.

/// A run of inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Strong(String),
    /// A code, an identifier or a hash: shown verbatim.
    Code(String),
}

pub fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

pub fn strong(s: impl Into<String>) -> Span {
    Span::Strong(s.into())
}

pub fn code(s: impl Into<String>) -> Span {
    Span::Code(s.into())
}

/// How a table column lines up (numbers to the right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<(String, Align)>,
    /// Each row has one cell per header column.
    pub rows: Vec<Vec<Span>>,
}

impl Table {
    pub fn new(header: &[(&str, Align)]) -> Table {
        Table { header: header.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect(), rows: Vec::new() }
    }

    /// Adds a row; a short row is padded with empty cells, so every row has
    /// the header's width.
    pub fn row(&mut self, mut cells: Vec<Span>) {
        cells.resize(self.header.len(), text(""));
        self.rows.push(cells);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    /// Level 1 is the page title.
    Heading(u8, String),
    Paragraph(Vec<Span>),
    /// A warning the reader must not miss (too few trades, figures that do
    /// not count for the gate).
    Caution(Vec<Span>),
    List(Vec<Vec<Span>>),
    Table(Table),
    /// Text shown verbatim in a block of its own (a command line).
    Preformatted(String),
    /// A PNG plot: linked by file name in markdown, embedded in HTML.
    Image {
        file: &'static str,
        alt: String,
        png: &'a [u8],
    },
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document<'a> {
    pub title: String,
    pub blocks: Vec<Block<'a>>,
}

impl<'a> Document<'a> {
    pub fn heading(&mut self, level: u8, s: impl Into<String>) {
        self.blocks.push(Block::Heading(level, s.into()));
    }

    pub fn paragraph(&mut self, spans: Vec<Span>) {
        self.blocks.push(Block::Paragraph(spans));
    }

    pub fn caution(&mut self, spans: Vec<Span>) {
        self.blocks.push(Block::Caution(spans));
    }

    pub fn list(&mut self, items: Vec<Vec<Span>>) {
        self.blocks.push(Block::List(items));
    }

    pub fn table(&mut self, table: Table) {
        self.blocks.push(Block::Table(table));
    }

    pub fn preformatted(&mut self, s: impl Into<String>) {
        self.blocks.push(Block::Preformatted(s.into()));
    }

    pub fn image(&mut self, file: &'static str, alt: impl Into<String>, png: &'a [u8]) {
        self.blocks.push(Block::Image { file, alt: alt.into(), png });
    }
}
