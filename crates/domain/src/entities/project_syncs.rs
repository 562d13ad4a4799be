use super::run_status::RunStatus;
use sea_orm::entity::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SyncPhase {
    #[sea_orm(string_value = "prepare")]
    Prepare,
    #[sea_orm(string_value = "scan")]
    Scan,
    #[sea_orm(string_value = "import")]
    Import,
    #[sea_orm(string_value = "finalize")]
    Finalize,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_syncs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub project_id: Uuid,
    pub branch: String,
    pub head_sha: Option<String>,
    pub status: RunStatus,
    pub phase: Option<SyncPhase>,
    pub files_scanned: i32,
    pub files_added: i32,
    pub files_changed: i32,
    pub files_removed: i32,
    pub files_unchanged: i32,
    pub files_skipped: i32,
    pub github_requests: i32,
    pub error: Option<String>,
    #[sea_orm(unique)]
    pub previous_sync_id: Option<Uuid>,
    pub requested_by: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
    pub started_at: Option<DateTimeWithTimeZone>,
    pub heartbeat_at: Option<DateTimeWithTimeZone>,
    pub finished_at: Option<DateTimeWithTimeZone>,
    pub job_id: Option<Uuid>,
    pub trigger: String,
    pub scan_path: String,
    pub branch_etag: Option<String>,
    pub files_moved: i32,
    pub skipped: Json,
    pub progress: Json,
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
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::PreviousSyncId",
        to = "Column::Id",
        on_delete = "SetNull"
    )]
    PreviousSync,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Project.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
