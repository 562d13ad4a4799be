use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: String,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_branch: Option<String>,
    /// Scan path inside the repository; `''` is the root.
    pub github_path: String,
    pub sync_ignore: String,
    /// Minutes between scheduled checks of the branch; `None`: no schedule.
    pub sync_every_minutes: Option<i32>,
    pub sync_checked_at: Option<DateTimeWithTimeZone>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::TenantId",
        to = "super::tenants::Column::Id",
        on_delete = "Cascade"
    )]
    Tenant,
    #[sea_orm(has_many = "super::project_notes::Entity")]
    Notes,
    #[sea_orm(has_many = "super::memory_entries::Entity")]
    MemoryEntries,
    #[sea_orm(has_many = "super::project_syncs::Entity")]
    Syncs,
}

impl Related<super::project_notes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notes.def()
    }
}

impl Related<super::memory_entries::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MemoryEntries.def()
    }
}

impl Related<super::project_syncs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Syncs.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}
