//! Whole-file views: every row as JSON (for reports), and a search of every
//! text value (for the secrets test). Both walk the tables SQLite lists, so
//! tables added by later migrations are covered without changes here.

use std::path::Path;

use rusqlite::types::ValueRef;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Journal;
use super::error::{JournalError, classify, corrupt};

/// Where a searched-for string was found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    pub table: String,
    pub column: String,
    pub rowid: i64,
    /// Which of the searched strings (its index), so the report need not
    /// repeat a secret.
    pub needle: usize,
}

impl Journal {
    /// Every row of every table as JSON:
    /// `{"schema_version": N, "tables": {"<table>": [{"<column>": value, ...}, ...]}}`,
    /// tables by name, rows in insertion order. Integers stay integers (exact
    /// micros and pips); columns named `*_json` are embedded as JSON values.
    pub fn export_json(&self) -> Result<Value, JournalError> {
        let path = self.path.as_path();
        let mut tables = Map::new();
        for table in self.table_names()? {
            let sql = format!("SELECT * FROM \"{table}\" ORDER BY rowid");
            let mut stmt = self.conn.prepare(&sql).map_err(|e| classify(path, e))?;
            let columns: Vec<String> = stmt.column_names().map(String::from).collect();
            let mut rows = stmt.query([]).map_err(|e| classify(path, e))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| classify(path, e))? {
                let mut obj = Map::new();
                for (i, name) in columns.iter().enumerate() {
                    let value = row.get_ref(i).map_err(|e| classify(path, e))?;
                    obj.insert(name.clone(), to_json(path, &table, name, value)?);
                }
                out.push(Value::Object(obj));
            }
            tables.insert(table, Value::Array(out));
        }
        let mut root = Map::new();
        root.insert("schema_version".into(), Value::from(self.schema_version()?));
        root.insert("tables".into(), Value::Object(tables));
        Ok(Value::Object(root))
    }

    /// Every place a text (or blob) value of any row of any table contains one
    /// of `needles`. Empty needles are skipped (they would match everything
    /// and cannot be a secret). An unreadable journal is an error, never an
    /// empty answer.
    pub fn scan_for(&self, needles: &[&str]) -> Result<Vec<Location>, JournalError> {
        let path = self.path.as_path();
        let mut found = Vec::new();
        for table in self.table_names()? {
            let sql = format!("SELECT rowid, * FROM \"{table}\" ORDER BY rowid");
            let mut stmt = self.conn.prepare(&sql).map_err(|e| classify(path, e))?;
            let columns: Vec<String> = stmt.column_names().skip(1).map(String::from).collect();
            let mut rows = stmt.query([]).map_err(|e| classify(path, e))?;
            while let Some(row) = rows.next().map_err(|e| classify(path, e))? {
                let rowid: i64 = row.get(0).map_err(|e| classify(path, e))?;
                for (i, column) in columns.iter().enumerate() {
                    let bytes = match row.get_ref(i + 1).map_err(|e| classify(path, e))? {
                        ValueRef::Text(b) | ValueRef::Blob(b) => b,
                        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => continue,
                    };
                    for (needle, n) in needles.iter().enumerate() {
                        if !n.is_empty() && contains(bytes, n.as_bytes()) {
                            found.push(Location { table: table.clone(), column: column.clone(), rowid, needle });
                        }
                    }
                }
            }
        }
        Ok(found)
    }

    /// The journal's tables (SQLite's own excluded), by name.
    fn table_names(&self) -> Result<Vec<String>, JournalError> {
        let path = self.path.as_path();
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .map_err(|e| classify(path, e))?;
        let names = stmt.query_map([], |r| r.get(0)).map_err(|e| classify(path, e))?;
        names.collect::<Result<_, _>>().map_err(|e| classify(path, e))
    }
}

fn to_json(path: &Path, table: &str, column: &str, value: ValueRef<'_>) -> Result<Value, JournalError> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        // STRICT tables hold no REAL column; shown as text so nothing is rounded.
        ValueRef::Real(f) => Value::String(f.to_string()),
        ValueRef::Text(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|e| corrupt(path, format!("{table}.{column}: {e}")))?;
            if column.ends_with("_json") {
                serde_json::from_str(text).map_err(|e| corrupt(path, format!("{table}.{column}: {e}")))?
            } else {
                Value::String(text.to_owned())
            }
        }
        ValueRef::Blob(bytes) => Value::String(hex::encode(bytes)),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
