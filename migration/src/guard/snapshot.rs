//! A description of the live schema (tables, columns with their exact types, indexes), read from the
//! Postgres catalog. Two snapshots are compared to find what a migration changed, or what changed
//! behind Cairn's back since the last guarded migration.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bookkeeping tables that describe the schema rather than belong to it.
pub const BOOKKEEPING_TABLES: &[&str] = &["seaql_migrations", super::HISTORY_TABLE];

/// The public schema at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    /// Tables by name.
    pub tables: BTreeMap<String, TableSnapshot>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSnapshot {
    /// Columns by name.
    pub columns: BTreeMap<String, ColumnSnapshot>,
    /// Indexes by name.
    pub indexes: BTreeMap<String, IndexSnapshot>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSnapshot {
    /// The type as Postgres prints it, modifiers included: `vector(1536)`, `character varying(40)`.
    pub data_type: String,
    /// Whether the column is `NOT NULL`.
    pub not_null: bool,
}

/// One index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSnapshot {
    /// `CREATE INDEX ...` exactly as Postgres would recreate it.
    pub definition: String,
    /// The table columns the index covers (empty for pure expression indexes).
    pub columns: Vec<String>,
}

impl SchemaSnapshot {
    /// Reads the public schema through `db` (a connection or an open transaction).
    pub async fn read<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        let mut snapshot = SchemaSnapshot::default();
        let tables = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT c.relname::text AS table_name
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
            ))
            .await?;
        for row in tables {
            let name: String = row.try_get("", "table_name")?;
            if !BOOKKEEPING_TABLES.contains(&name.as_str()) {
                snapshot.tables.insert(name, TableSnapshot::default());
            }
        }

        let columns = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT c.relname::text AS table_name, a.attname::text AS column_name,
                        format_type(a.atttypid, a.atttypmod) AS data_type, a.attnotnull AS not_null
                   FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                    AND a.attnum > 0 AND NOT a.attisdropped",
            ))
            .await?;
        for row in columns {
            let table: String = row.try_get("", "table_name")?;
            if let Some(t) = snapshot.tables.get_mut(&table) {
                t.columns.insert(
                    row.try_get("", "column_name")?,
                    ColumnSnapshot {
                        data_type: row.try_get("", "data_type")?,
                        not_null: row.try_get("", "not_null")?,
                    },
                );
            }
        }

        let indexes = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT t.relname::text AS table_name, i.relname::text AS index_name,
                        pg_get_indexdef(i.oid) AS definition,
                        coalesce((SELECT string_agg(a.attname::text, ',' ORDER BY k.ord)
                                    FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
                                 '') AS columns
                   FROM pg_index ix
                   JOIN pg_class i ON i.oid = ix.indexrelid
                   JOIN pg_class t ON t.oid = ix.indrelid
                   JOIN pg_namespace n ON n.oid = t.relnamespace
                  WHERE n.nspname = 'public' AND NOT starts_with(i.relname::text, $1)",
                [RUNTIME_INDEX_PREFIX.into()],
            ))
            .await?;
        for row in indexes {
            let table: String = row.try_get("", "table_name")?;
            if let Some(t) = snapshot.tables.get_mut(&table) {
                let columns: String = row.try_get("", "columns")?;
                t.indexes.insert(
                    row.try_get("", "index_name")?,
                    IndexSnapshot {
                        definition: row.try_get("", "definition")?,
                        columns: columns
                            .split(',')
                            .filter(|c| !c.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    },
                );
            }
        }
        Ok(snapshot)
    }

    /// The protected columns of this schema: every column whose loss cannot be repaired by running a
    /// migration again, because its data is expensive to recompute. Today that is every embedding.
    pub fn protected_columns(&self) -> Vec<ProtectedColumn> {
        let mut protected = Vec::new();
        for (table_name, table) in &self.tables {
            for (column_name, column) in &table.columns {
                if is_protected_column(column_name) {
                    let indexes = table
                        .indexes
                        .iter()
                        .filter(|(_, index)| index.columns.iter().any(|c| c == column_name))
                        .map(|(name, index)| (name.clone(), index.definition.clone()))
                        .collect();
                    protected.push(ProtectedColumn {
                        table: table_name.clone(),
                        column: column_name.clone(),
                        data_type: column.data_type.clone(),
                        indexes,
                    });
                }
            }
        }
        protected
    }
}

/// Indexes the application makes and drops as it runs (one per embedding space), not migrations:
/// left out of snapshots, so drift is not claimed when a space is added or removed.
pub const RUNTIME_INDEX_PREFIX: &str = "chunk_vectors_space_";

/// Whether a column is protected by name: `embedding`, or anything ending in `_embedding`.
pub fn is_protected_column(name: &str) -> bool {
    name == "embedding" || name.ends_with("_embedding")
}

/// A protected column with what it must keep: its type and its indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedColumn {
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
    /// Column type, e.g. `vector(1536)`.
    pub data_type: String,
    /// Indexes on the column: name and definition.
    pub indexes: Vec<(String, String)>,
}

impl ProtectedColumn {
    /// What is missing or different about this column in `schema`, if anything.
    pub fn problems_in(&self, schema: &SchemaSnapshot) -> Vec<String> {
        let Some(table) = schema.tables.get(&self.table) else {
            return vec![format!("table {} is missing", self.table)];
        };
        let Some(column) = table.columns.get(&self.column) else {
            return vec![format!("column {}.{} is missing", self.table, self.column)];
        };
        let mut problems = Vec::new();
        if column.data_type != self.data_type {
            problems.push(format!(
                "column {}.{} is {} instead of {}",
                self.table, self.column, column.data_type, self.data_type
            ));
        }
        for (name, definition) in &self.indexes {
            match table.indexes.get(name) {
                None => problems.push(format!(
                    "index {name} on {}.{} is missing",
                    self.table, self.column
                )),
                Some(index) if &index.definition != definition => problems.push(format!(
                    "index {name} on {}.{} changed: {}",
                    self.table, self.column, index.definition
                )),
                Some(_) => {}
            }
        }
        problems
    }
}
