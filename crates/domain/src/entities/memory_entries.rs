use sea_orm::entity::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum MemoryKind {
    #[sea_orm(string_value = "file")]
    File,
    #[sea_orm(string_value = "manual")]
    Manual,
    #[sea_orm(string_value = "insight")]
    Insight,
    #[sea_orm(string_value = "pattern")]
    Pattern,
    #[sea_orm(string_value = "workflow_report")]
    WorkflowReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum MemoryStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "superseded")]
    Superseded,
}

/// A memory entry. The generated full-text column `search_vector` is not mapped: it is only queried.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "memory_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub project_id: Uuid,
    pub kind: MemoryKind,
    pub title: String,
    pub content: String,
    pub source_path: Option<String>,
    /// Git blob SHA of the imported file, for diff-aware sync.
    pub blob_sha: Option<String>,
    pub status: MemoryStatus,
    pub sync_id: Option<Uuid>,
    pub superseded_by_sync_id: Option<Uuid>,
    #[sea_orm(column_type = "Vector(Some(1536))", nullable)]
    pub embedding: Option<PgVector>,
    pub embedding_model: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub language: Option<String>,
    pub byte_size: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id",
        on_delete = "Cascade"
    )]
    Project,
    #[sea_orm(has_many = "super::note_images::Entity")]
    Images,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl Related<super::note_images::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Images.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
