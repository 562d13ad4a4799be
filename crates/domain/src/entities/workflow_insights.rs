use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_insights")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub project_id: Uuid,
    pub workflow_id: Option<Uuid>,
    pub title: String,
    pub content: String,
    /// Protected: migrations may never drop or retype it without an explicit, backed-up decision.
    #[sea_orm(column_type = "Vector(Some(1536))", nullable)]
    pub embedding: Option<PgVector>,
    pub embedding_model: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    /// The workflow run and step that produced it (migration 22).
    pub run_id: Option<Uuid>,
    pub step_key: Option<String>,
    pub kind: Option<String>,
    pub severity: Option<String>,
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
}

impl ActiveModelBehavior for ActiveModel {}
