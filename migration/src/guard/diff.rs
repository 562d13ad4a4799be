//! What changed between two schema snapshots, and which changes lose data.

use super::snapshot::{SchemaSnapshot, is_protected_column};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One difference between an earlier and a later snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SchemaChange {
    /// A table appeared.
    TableAdded {
        /// Table name.
        table: String,
    },
    /// A table disappeared, with all its rows.
    TableDropped {
        /// Table name.
        table: String,
    },
    /// A column appeared.
    ColumnAdded {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// A column disappeared, with its data.
    ColumnDropped {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The type it had.
        data_type: String,
        /// Whether it was `NOT NULL`.
        not_null: bool,
    },
    /// A column's type changed: values were converted, possibly narrowed or lost.
    ColumnTypeChanged {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The type it had.
        from: String,
        /// The type it has now.
        to: String,
    },
    /// An index appeared.
    IndexAdded {
        /// Table name.
        table: String,
        /// Index name.
        index: String,
    },
    /// An index disappeared.
    IndexDropped {
        /// Table name.
        table: String,
        /// Index name.
        index: String,
        /// The definition it had.
        definition: String,
    },
    /// An index has the same name but another definition.
    IndexChanged {
        /// Table name.
        table: String,
        /// Index name.
        index: String,
        /// The definition it had.
        from: String,
        /// The definition it has now.
        to: String,
    },
}

impl SchemaChange {
    /// Whether the change can lose data or a protected structure: anything dropped, retyped or
    /// redefined. Additions never are.
    pub fn is_destructive(&self) -> bool {
        !matches!(
            self,
            Self::TableAdded { .. } | Self::ColumnAdded { .. } | Self::IndexAdded { .. }
        )
    }

    /// The table the change is on.
    pub fn table(&self) -> &str {
        match self {
            Self::TableAdded { table }
            | Self::TableDropped { table }
            | Self::ColumnAdded { table, .. }
            | Self::ColumnDropped { table, .. }
            | Self::ColumnTypeChanged { table, .. }
            | Self::IndexAdded { table, .. }
            | Self::IndexDropped { table, .. }
            | Self::IndexChanged { table, .. } => table,
        }
    }

    /// Whether the change touches a protected (embedding) column.
    pub fn touches_protected_column(&self) -> bool {
        match self {
            Self::ColumnDropped { column, .. } | Self::ColumnTypeChanged { column, .. } => {
                is_protected_column(column)
            }
            _ => false,
        }
    }

    /// SQL that takes a schema in the *later* state back to the *earlier* one, where SQL can. Used
    /// for drift: the earlier state is the recorded schema, the later one what was found.
    pub fn repair_sql(&self) -> String {
        match self {
            Self::TableAdded { table } => format!(
                "-- table {table} was not created by a Cairn migration: \
                 move its data elsewhere and drop it, or write a migration that owns it"
            ),
            Self::TableDropped { table } => format!(
                "-- table {table} is missing with all its rows: restore it from a backup \
                 (pg_restore --table={table}), then run `cairn db check` again"
            ),
            Self::ColumnAdded { table, column, .. } => format!(
                "-- column {table}.{column} was not created by a Cairn migration: \
                 ALTER TABLE {table} DROP COLUMN {column}; once its data is safe elsewhere"
            ),
            Self::ColumnDropped {
                table,
                column,
                data_type,
                not_null,
            } => {
                let mut sql = format!("ALTER TABLE {table} ADD COLUMN {column} {data_type};");
                if *not_null {
                    sql.push_str(&format!(
                        "\n-- after restoring its values: ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;"
                    ));
                }
                if is_protected_column(column) {
                    sql.push_str(&format!(
                        "\n-- the values of {table}.{column} are gone: restore them from a backup, \
                         or recompute them (embeddings are re-embedded by a backfill)"
                    ));
                }
                sql
            }
            Self::ColumnTypeChanged {
                table,
                column,
                from,
                ..
            } => format!(
                "ALTER TABLE {table} ALTER COLUMN {column} TYPE {from} USING {column}::{from};"
            ),
            Self::IndexAdded { index, .. } => format!(
                "-- index {index} was not created by a Cairn migration: DROP INDEX {index}; \
                 or write a migration that owns it"
            ),
            Self::IndexDropped { definition, .. } => format!("{definition};"),
            Self::IndexChanged { index, from, .. } => format!("DROP INDEX {index};\n{from};"),
        }
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TableAdded { table } => write!(f, "table {table} added"),
            Self::TableDropped { table } => write!(f, "table {table} dropped"),
            Self::ColumnAdded {
                table,
                column,
                data_type,
            } => {
                write!(f, "column {table}.{column} ({data_type}) added")
            }
            Self::ColumnDropped {
                table,
                column,
                data_type,
                ..
            } => {
                write!(f, "column {table}.{column} ({data_type}) dropped")
            }
            Self::ColumnTypeChanged {
                table,
                column,
                from,
                to,
            } => {
                write!(
                    f,
                    "column {table}.{column} changed type from {from} to {to}"
                )
            }
            Self::IndexAdded { table, index } => write!(f, "index {index} on {table} added"),
            Self::IndexDropped { table, index, .. } => {
                write!(f, "index {index} on {table} dropped")
            }
            Self::IndexChanged {
                table, index, to, ..
            } => {
                write!(f, "index {index} on {table} redefined as {to}")
            }
        }
    }
}

/// Every difference from `before` to `after`, in a stable order.
pub fn diff(before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<SchemaChange> {
    let mut changes = Vec::new();
    for (name, old) in &before.tables {
        let Some(new) = after.tables.get(name) else {
            changes.push(SchemaChange::TableDropped {
                table: name.clone(),
            });
            continue;
        };
        for (column, old_col) in &old.columns {
            match new.columns.get(column) {
                None => changes.push(SchemaChange::ColumnDropped {
                    table: name.clone(),
                    column: column.clone(),
                    data_type: old_col.data_type.clone(),
                    not_null: old_col.not_null,
                }),
                Some(new_col) if new_col.data_type != old_col.data_type => {
                    changes.push(SchemaChange::ColumnTypeChanged {
                        table: name.clone(),
                        column: column.clone(),
                        from: old_col.data_type.clone(),
                        to: new_col.data_type.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for (column, new_col) in &new.columns {
            if !old.columns.contains_key(column) {
                changes.push(SchemaChange::ColumnAdded {
                    table: name.clone(),
                    column: column.clone(),
                    data_type: new_col.data_type.clone(),
                });
            }
        }
        for (index, old_idx) in &old.indexes {
            match new.indexes.get(index) {
                None => changes.push(SchemaChange::IndexDropped {
                    table: name.clone(),
                    index: index.clone(),
                    definition: old_idx.definition.clone(),
                }),
                Some(new_idx) if new_idx.definition != old_idx.definition => {
                    changes.push(SchemaChange::IndexChanged {
                        table: name.clone(),
                        index: index.clone(),
                        from: old_idx.definition.clone(),
                        to: new_idx.definition.clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for index in new.indexes.keys() {
            if !old.indexes.contains_key(index) {
                changes.push(SchemaChange::IndexAdded {
                    table: name.clone(),
                    index: index.clone(),
                });
            }
        }
    }
    for name in after.tables.keys() {
        if !before.tables.contains_key(name) {
            changes.push(SchemaChange::TableAdded {
                table: name.clone(),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::snapshot::{ColumnSnapshot, IndexSnapshot, TableSnapshot};

    fn schema(embedding_type: Option<&str>, with_index: bool) -> SchemaSnapshot {
        let mut table = TableSnapshot::default();
        table.columns.insert(
            "id".into(),
            ColumnSnapshot {
                data_type: "uuid".into(),
                not_null: true,
            },
        );
        if let Some(t) = embedding_type {
            table.columns.insert(
                "embedding".into(),
                ColumnSnapshot {
                    data_type: t.into(),
                    not_null: false,
                },
            );
        }
        if with_index {
            table.indexes.insert(
                "insights_embedding_idx".into(),
                IndexSnapshot {
                    definition: "CREATE INDEX insights_embedding_idx ON public.insights USING hnsw (embedding vector_cosine_ops)".into(),
                    columns: vec!["embedding".into()],
                },
            );
        }
        let mut s = SchemaSnapshot::default();
        s.tables.insert("insights".into(), table);
        s
    }

    #[test]
    fn identical_schemas_have_no_changes() {
        let s = schema(Some("vector(1536)"), true);
        assert!(diff(&s, &s).is_empty());
    }

    #[test]
    fn dropping_the_embedding_is_destructive_and_repairable() {
        let before = schema(Some("vector(1536)"), true);
        let after = schema(None, false);
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes.iter().all(SchemaChange::is_destructive));
        assert!(changes[0].touches_protected_column());
        assert!(
            changes[0]
                .repair_sql()
                .starts_with("ALTER TABLE insights ADD COLUMN embedding vector(1536);")
        );
        assert_eq!(
            changes[1].repair_sql(),
            "CREATE INDEX insights_embedding_idx ON public.insights USING hnsw (embedding vector_cosine_ops);"
        );
    }

    #[test]
    fn retyping_is_destructive_and_adding_is_not() {
        let changes = diff(
            &schema(Some("vector(1536)"), false),
            &schema(Some("vector(768)"), false),
        );
        assert_eq!(
            changes,
            vec![SchemaChange::ColumnTypeChanged {
                table: "insights".into(),
                column: "embedding".into(),
                from: "vector(1536)".into(),
                to: "vector(768)".into(),
            }]
        );
        assert!(changes[0].is_destructive());
        let added = diff(&schema(None, false), &schema(Some("vector(1536)"), true));
        assert_eq!(added.len(), 2);
        assert!(added.iter().all(|c| !c.is_destructive()));
    }
}
