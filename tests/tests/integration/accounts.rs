//! Accounts, sessions, rate limiting, members and projects in the domain layer, on a real database.

use crate::fixtures::count;
use api::ApiError;
use api::accounts::Email;
use api::ids::ProjectId;
use api::projects::ProjectForm;
use api::tenants::{Role, SignUpForm};
use domain::accounts::{self, Client, NewAccount, PasswordHasher};
use domain::{Db, DomainError, TenantCtx, invitations, members, projects};
use tests::TestDb;
use uuid::Uuid;

fn hasher() -> PasswordHasher {
    PasswordHasher::default()
}

/// Ada (whose context is `inviter`) invites `email`, and `invitee` (signed in with that address)
/// accepts: the only way into a team.
async fn invite_and_accept(
    app: &Db,
    inviter: &TenantCtx,
    email: &str,
    role: Role,
    invitee: &accounts::SignedIn,
) {
    let tx = app.enter(inviter).await.unwrap();
    let issued = invitations::create(app, &tx, &Email::parse(email).unwrap(), role, false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    invitations::accept(app, &issued.token, invitee)
        .await
        .unwrap();
}

fn client(address: &str) -> Client {
    Client {
        address: address.into(),
        user_agent: Some("tests".into()),
    }
}

fn sign_up_form(email: &str, tenant: &str) -> SignUpForm {
    SignUpForm {
        email: email.into(),
        password: "correct horse battery".into(),
        display_name: "Ada Lovelace".into(),
        tenant_name: tenant.into(),
    }
}

async fn sign_up(db: &Db, email: &str, tenant: &str) -> (accounts::SignedIn, String) {
    let account = NewAccount::parse(&sign_up_form(email, tenant)).unwrap();
    let (signed_in, session) = accounts::sign_up(db, &hasher(), account, &client("10.0.0.1"))
        .await
        .unwrap();
    (signed_in, session.token)
}

fn project_form(name: &str) -> ProjectForm {
    ProjectForm {
        name: name.into(),
        description: "".into(),
        github_repo: "acme/widgets".into(),
        github_branch: "".into(),
        github_path: "docs/".into(),
        sync_ignore: String::new(),
        sync_every_minutes: String::new(),
    }
}

#[tokio::test]
async fn sign_up_creates_user_tenant_owner_membership_and_a_session() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    let (signed_in, token) = sign_up(&app, "Ada@Example.com", "Analytical Engines").await;
    assert_eq!(
        accounts::verify_session(&app, &token).await.unwrap(),
        signed_in
    );
    let view = accounts::session_view(&app, &signed_in).await.unwrap();
    assert_eq!(view.email, "ada@example.com");
    assert_eq!(view.tenants.len(), 1);
    assert_eq!(view.tenants[0].name, "Analytical Engines");
    assert_eq!(view.tenants[0].role, Role::Owner);
    assert_eq!(view.active_tenant, Some(view.tenants[0].id));
    let owner = db.owner().await;
    let stored = count(
        &owner,
        "SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'",
        vec![],
    )
    .await;
    assert_eq!(stored, 1, "argon2id hash stored");
    let raw = count(
        &owner,
        "SELECT count(*) FROM sessions WHERE token_hash = $1",
        vec![token.clone().into()],
    )
    .await;
    assert_eq!(raw, 0, "the token itself is never stored");
}

#[tokio::test]
async fn the_same_email_cannot_sign_up_twice_in_any_case() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    sign_up(&app, "ada@example.com", "One").await;
    let again = NewAccount::parse(&sign_up_form("ADA@example.com", "Two")).unwrap();
    let error = accounts::sign_up(&app, &hasher(), again, &client("10.0.0.1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DomainError::Conflict(m) if m.contains("already exists")),
        "{error:?}"
    );
    assert_eq!(
        count(&db.owner().await, "SELECT count(*) FROM tenants", vec![]).await,
        1,
        "no half-made tenant"
    );
}

#[tokio::test]
async fn invalid_sign_up_forms_name_the_field() {
    let mut form = sign_up_form("ada@example.com", "Team");
    form.password = "short".into();
    assert!(
        matches!(NewAccount::parse(&form), Err(ApiError::Invalid { field, .. }) if field == "password")
    );
    let mut form = sign_up_form("not-an-email", "Team");
    assert!(
        matches!(NewAccount::parse(&form), Err(ApiError::Invalid { field, .. }) if field == "email")
    );
    form = sign_up_form("ada@example.com", "   ");
    assert!(
        matches!(NewAccount::parse(&form), Err(ApiError::Invalid { field, .. }) if field == "tenant_name")
    );
}

#[tokio::test]
async fn log_in_log_out_and_revocation() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    let (first, first_token) = sign_up(&app, "ada@example.com", "Team").await;
    let (second, second_token) = accounts::log_in(
        &app,
        &hasher(),
        " ADA@example.com",
        "correct horse battery",
        &client("10.0.0.2"),
    )
    .await
    .unwrap();
    assert_eq!(second.user_id, first.user_id);
    assert_eq!(
        second.active_tenant, first.active_tenant,
        "logs into the first tenant"
    );
    accounts::log_out(&app, &second_token.token).await.unwrap();
    assert!(matches!(
        accounts::verify_session(&app, &second_token.token).await,
        Err(DomainError::Unauthorized)
    ));
    assert!(
        accounts::verify_session(&app, &first_token).await.is_ok(),
        "other sessions live on"
    );
    assert_eq!(
        accounts::revoke_all_sessions(&app, first.user_id)
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        accounts::verify_session(&app, &first_token).await,
        Err(DomainError::Unauthorized)
    ));
    assert!(matches!(
        accounts::verify_session(&app, "made-up-token").await,
        Err(DomainError::Unauthorized)
    ));
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    let (_, token) = sign_up(&app, "ada@example.com", "Team").await;
    crate::fixtures::exec(
        &db.owner().await,
        "UPDATE sessions SET expires_at = now() - interval '1 second'",
        vec![],
    )
    .await;
    assert!(matches!(
        accounts::verify_session(&app, &token).await,
        Err(DomainError::Unauthorized)
    ));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_the_same_answer() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    sign_up(&app, "ada@example.com", "Team").await;
    let wrong = accounts::log_in(
        &app,
        &hasher(),
        "ada@example.com",
        "wrong password!",
        &client("10.0.0.3"),
    )
    .await;
    let unknown = accounts::log_in(
        &app,
        &hasher(),
        "bob@example.com",
        "correct horse battery",
        &client("10.0.0.3"),
    )
    .await;
    assert!(matches!(wrong, Err(DomainError::Unauthorized)));
    assert!(matches!(unknown, Err(DomainError::Unauthorized)));
}

#[tokio::test]
async fn failed_log_ins_are_rate_limited_per_account_and_per_address() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    sign_up(&app, "ada@example.com", "Team").await;
    for i in 0..accounts::MAX_FAILURES_PER_ACCOUNT {
        let address = format!("10.1.0.{i}");
        let result = accounts::log_in(
            &app,
            &hasher(),
            "ada@example.com",
            "wrong password!",
            &client(&address),
        )
        .await;
        assert!(
            matches!(result, Err(DomainError::Unauthorized)),
            "attempt {i}: {result:?}"
        );
    }
    // Now even the right password from a fresh address waits: the account is locked for a while.
    let locked = accounts::log_in(
        &app,
        &hasher(),
        "ada@example.com",
        "correct horse battery",
        &client("10.9.9.9"),
    )
    .await;
    match locked {
        Err(DomainError::RateLimited { retry_after_secs }) => {
            assert!((1..=accounts::RATE_WINDOW_MINUTES as u64 * 60).contains(&retry_after_secs))
        }
        other => panic!("expected rate limiting, got {other:?}"),
    }
    let message = ApiError::from(DomainError::RateLimited {
        retry_after_secs: 30,
    })
    .to_string();
    assert!(message.contains("retry in 30 s"), "{message}");

    // Per address: one address guessing at many accounts is stopped too.
    for i in 0..accounts::MAX_FAILURES_PER_ADDRESS {
        let email = format!("guess{i}@example.com");
        let _ = accounts::log_in(
            &app,
            &hasher(),
            &email,
            "wrong password!",
            &client("10.2.0.1"),
        )
        .await;
    }
    let blocked = accounts::log_in(
        &app,
        &hasher(),
        "someone@example.com",
        "whatever pw",
        &client("10.2.0.1"),
    )
    .await;
    assert!(
        matches!(blocked, Err(DomainError::RateLimited { .. })),
        "{blocked:?}"
    );
}

#[tokio::test]
async fn members_of_one_tenant_share_its_projects_and_roles_limit_what_they_do() {
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    let (ada, _) = sign_up(&app, "ada@example.com", "Engines").await;
    let (bob, bob_token) = sign_up(&app, "bob@example.com", "Bob's").await;
    let ada_ctx = TenantCtx::for_session(&app, &ada).await.unwrap();

    invite_and_accept(&app, &ada_ctx, "BOB@example.com", Role::Member, &bob).await;
    // Inviting a member again is refused.
    let tx = app.enter(&ada_ctx).await.unwrap();
    assert!(matches!(
        invitations::create(
            &app,
            &tx,
            &Email::parse("bob@example.com").unwrap(),
            Role::Member,
            false
        )
        .await,
        Err(DomainError::Conflict(_))
    ));
    drop(tx);

    // Bob switches to Ada's tenant and sees the project Ada created: ownership is the tenant's.
    let project = app
        .transact(&ada_ctx, async |tx| {
            projects::create(tx, project_form("Widgets").parse().unwrap()).await
        })
        .await
        .unwrap();
    accounts::switch_tenant(&app, &bob, ada_ctx.tenant_id())
        .await
        .unwrap();
    let bob_session = accounts::verify_session(&app, &bob_token).await.unwrap();
    let bob_ctx = TenantCtx::for_session(&app, &bob_session).await.unwrap();
    assert_eq!(bob_ctx.role(), Role::Member);
    let seen = app
        .transact(&bob_ctx, async |tx| projects::list(tx).await)
        .await
        .unwrap();
    assert_eq!(
        seen.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![project.id]
    );
    let renamed = app
        .transact(&bob_ctx, async |tx| {
            projects::update(tx, project.id, project_form("Gadgets").parse().unwrap()).await
        })
        .await
        .unwrap();
    assert_eq!(renamed.name, "Gadgets");

    // A member may not delete projects or manage members.
    assert!(matches!(
        app.transact(&bob_ctx, async |tx| projects::delete(tx, project.id).await)
            .await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        app.transact(&bob_ctx, async |tx| members::remove(tx, ada.user_id).await)
            .await,
        Err(DomainError::Forbidden(_))
    ));
    // The last owner cannot be removed, not even by herself.
    assert!(matches!(
        app.transact(&ada_ctx, async |tx| members::remove(tx, ada.user_id).await)
            .await,
        Err(DomainError::Conflict(_))
    ));
    // An owner removes Bob; his context in that tenant is gone.
    app.transact(&ada_ctx, async |tx| members::remove(tx, bob.user_id).await)
        .await
        .unwrap();
    assert!(matches!(
        TenantCtx::for_session(&app, &bob_session).await,
        Err(DomainError::NotFound)
    ));
    // The project has no images: nothing to delete from storage after the commit.
    let orphans = app
        .transact(&ada_ctx, async |tx| projects::delete(tx, project.id).await)
        .await
        .unwrap();
    assert!(orphans.is_empty());
    assert!(
        app.transact(&ada_ctx, async |tx| projects::list(tx).await)
            .await
            .unwrap()
            .is_empty()
    );
    let audited = count(
        &db.owner().await,
        "SELECT count(*) FROM audit_log WHERE action LIKE 'project.%'",
        vec![],
    )
    .await;
    assert_eq!(audited, 3, "create, update, delete");
}

#[tokio::test]
async fn project_names_are_unique_per_tenant_ignoring_case_and_ids_of_other_tenants_are_not_found()
{
    let db = TestDb::migrated().await;
    let app = Db::new(db.app().await);
    let (ada, _) = sign_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = sign_up(&app, "bob@example.com", "Bob's").await;
    let ada_ctx = TenantCtx::for_session(&app, &ada).await.unwrap();
    let bob_ctx = TenantCtx::for_session(&app, &bob).await.unwrap();
    let project = app
        .transact(&ada_ctx, async |tx| {
            projects::create(tx, project_form("Widgets").parse().unwrap()).await
        })
        .await
        .unwrap();
    let duplicate = app
        .transact(&ada_ctx, async |tx| {
            projects::create(tx, project_form("WIDGETS").parse().unwrap()).await
        })
        .await;
    assert!(
        matches!(&duplicate, Err(DomainError::Conflict(m)) if m.contains("name")),
        "{duplicate:?}"
    );
    // Another tenant may use the same name.
    app.transact(&bob_ctx, async |tx| {
        projects::create(tx, project_form("Widgets").parse().unwrap()).await
    })
    .await
    .unwrap();
    // Bob cannot read, rename or delete Ada's project by id; it is exactly as missing as a random id.
    for id in [project.id, ProjectId::from_uuid(Uuid::new_v4())] {
        assert!(matches!(
            app.transact(&bob_ctx, async |tx| projects::get(tx, id).await)
                .await,
            Err(DomainError::NotFound)
        ));
        let rename = app
            .transact(&bob_ctx, async |tx| {
                projects::update(tx, id, project_form("Mine").parse().unwrap()).await
            })
            .await;
        assert!(matches!(rename, Err(DomainError::NotFound)));
        assert!(matches!(
            app.transact(&bob_ctx, async |tx| projects::delete(tx, id).await)
                .await,
            Err(DomainError::NotFound)
        ));
    }
    let still = app
        .transact(&ada_ctx, async |tx| projects::get(tx, project.id).await)
        .await
        .unwrap();
    assert_eq!(still, project, "untouched");
    let link = still.github.unwrap();
    assert_eq!(
        (
            link.repo.to_string().as_str(),
            link.branch.as_str(),
            link.path.display().as_str()
        ),
        ("acme/widgets", "main", "/docs")
    );
}

#[tokio::test]
async fn a_session_transaction_verifies_the_session_and_scopes_itself_to_its_tenant() {
    let db = TestDb::migrated().await;
    // One connection, so every step below reuses the connection the session transaction ran on.
    let pool = server::database::connect(&db.app_url(), 1).await.unwrap();
    let app = Db::new(pool.clone());
    let (ada, ada_token) = sign_up(&app, "ada@example.com", "Ada's").await;
    let (_, bob_token) = sign_up(&app, "bob@example.com", "Bob's").await;
    let ada_ctx = TenantCtx::for_session(&app, &ada).await.unwrap();
    app.transact(&ada_ctx, async |tx| {
        projects::create(tx, project_form("Widgets").parse().unwrap()).await
    })
    .await
    .unwrap();

    let tx = app.enter_session(&ada_token).await.unwrap();
    assert_eq!(tx.ctx().tenant_id(), ada_ctx.tenant_id());
    assert_eq!(tx.ctx().user_id(), Some(ada.user_id));
    assert_eq!(tx.ctx().role(), Role::Owner);
    // Row-level security is already set: the project is visible without any further statement.
    assert_eq!(
        count(tx.raw(), "SELECT count(*) FROM projects", vec![]).await,
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM projects", vec![]).await,
        0,
        "the tenant setting outlived its transaction"
    );

    // Bob's session sees Bob's tenant, which has no project.
    let tx = app.enter_session(&bob_token).await.unwrap();
    assert_eq!(
        count(tx.raw(), "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    tx.commit().await.unwrap();

    assert!(matches!(
        app.enter_session("not-a-session").await,
        Err(DomainError::Unauthorized)
    ));
    accounts::log_out(&app, &ada_token).await.unwrap();
    assert!(matches!(
        app.enter_session(&ada_token).await,
        Err(DomainError::Unauthorized)
    ));
    // Refused sessions leave nothing set on the connection either.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
}
