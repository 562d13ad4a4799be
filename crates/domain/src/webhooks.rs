//! GitHub's push webhook. A push names its repository; every project linked to it with a webhook
//! secret is a candidate, and the push is for those whose secret verifies its signature
//! (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body, compared in constant time). A verified
//! push to a project's branch starts a sync of it (`SyncTrigger::Webhook`); pushes that arrive
//! while one is queued join it, and one arriving while a sync runs asks for one more after it.

use crate::secrets::{Sealed, SecretKeys};
use crate::tenant::TenantCtx;
use crate::{Db, DomainError, project_secrets, syncs};
use api::ids::{ProjectId, ProjectSyncId, TenantId};
use api::syncs::SyncTrigger;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// What a delivery said, as far as Cairn needs it.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    /// `X-GitHub-Event`: `push`, `ping`, ...
    pub event: &'a str,
    /// The repository's owner.
    pub owner: &'a str,
    /// The repository's name.
    pub repo: &'a str,
    /// The pushed ref (`refs/heads/main`), for pushes.
    pub git_ref: Option<&'a str>,
    /// The raw body, as signed.
    pub body: &'a [u8],
    /// `X-Hub-Signature-256`.
    pub signature: &'a str,
    /// `X-GitHub-Delivery`, for the record (replays are recognised by the body, which is signed).
    pub delivery_id: Option<&'a str>,
}

/// What became of a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Syncs started (or joined) by the push.
    pub syncs: Vec<ProjectSyncId>,
    /// Verified projects the delivery did not concern (another branch, not a push).
    pub ignored: usize,
    /// The same signed body was received in the last day already: nothing was done again.
    pub replayed: bool,
}

/// Counts a delivery from `address` against [`rate_limit::WEBHOOK_PER_ADDRESS`] before anything
/// of it is read or verified: `RateLimited` past it.
pub async fn admit(db: &Db, address: &str) -> Result<(), DomainError> {
    let key = crate::rate_limit::address_key(address);
    crate::rate_limit::take(db, &[(crate::rate_limit::WEBHOOK_PER_ADDRESS, &key)])
        .await
        .map(drop)
}

/// Bodies this large are verified on a blocking thread, away from the requests' executor.
const VERIFY_ASIDE_FROM: usize = 256 * 1024;

/// [`signature_matches`], on a blocking thread for a large body.
async fn verify(secret: Vec<u8>, body: &[u8], signature: &str) -> bool {
    if body.len() < VERIFY_ASIDE_FROM {
        return signature_matches(&secret, body, signature);
    }
    let (body, signature) = (body.to_vec(), signature.to_owned());
    tokio::task::spawn_blocking(move || signature_matches(&secret, &body, &signature))
        .await
        .unwrap_or(false)
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The part of a delivery's payload Cairn reads: which repository, which ref.
#[derive(serde::Deserialize)]
struct Payload {
    repository: PayloadRepository,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

#[derive(serde::Deserialize)]
struct PayloadRepository {
    name: String,
    owner: PayloadOwner,
}

#[derive(serde::Deserialize)]
struct PayloadOwner {
    // Push payloads name the owner `name`; other events `login`.
    login: Option<String>,
    name: Option<String>,
}

/// What a payload says: (owner, repository, ref). `None` for a body that is not a GitHub webhook
/// payload in JSON. Only the three fields are kept; the rest is skipped without being stored.
pub fn read_payload(body: &[u8]) -> Option<(String, String, Option<String>)> {
    let payload: Payload = serde_json::from_slice(body).ok()?;
    let owner = payload
        .repository
        .owner
        .login
        .or(payload.repository.owner.name)
        .unwrap_or_default();
    Some((owner, payload.repository.name, payload.git_ref))
}

/// A delivery sent to one project's own address (`/api/v1/webhooks/github/{project}`).
#[derive(Debug, Clone)]
pub struct ProjectDelivery<'a> {
    /// `X-GitHub-Event`.
    pub event: &'a str,
    /// The raw body, as signed.
    pub body: &'a [u8],
    /// `X-Hub-Signature-256`.
    pub signature: &'a str,
    /// `X-GitHub-Delivery`.
    pub delivery_id: Option<&'a str>,
}

/// A project that takes deliveries at its own address: its secret, opened, and what it is linked
/// to. Found before the body of a delivery is read.
pub struct ProjectTarget {
    tenant: uuid::Uuid,
    project: ProjectId,
    secret: Vec<u8>,
    owner: Option<String>,
    repo: Option<String>,
    branch: Option<String>,
}

/// Whether `header` has the shape of a signature (`sha256=` and 64 hex digits): anything else is
/// refused before the body is read.
pub fn signature_well_formed(header: &str) -> bool {
    header
        .trim()
        .strip_prefix("sha256=")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The project at `project`'s address, with its webhook secret. `Unauthorized` when there is no
/// such project or it has no secret: the answer is the same as for a wrong signature.
pub async fn project_target(
    db: &Db,
    keys: &SecretKeys,
    project: ProjectId,
) -> Result<ProjectTarget, DomainError> {
    let tenant: Option<uuid::Uuid> = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT cairn_project_tenant($1) AS tenant_id",
            [project.into_uuid().into()],
        ))
        .await?
        .map(|row| row.try_get("", "tenant_id"))
        .transpose()?
        .flatten();
    let tenant = tenant.ok_or(DomainError::Unauthorized)?;
    let ctx = match TenantCtx::for_system(db, TenantId::from_uuid(tenant), "github.push").await {
        Ok(ctx) => ctx,
        Err(DomainError::NotFound) => return Err(DomainError::Unauthorized),
        Err(error) => return Err(error),
    };
    let row = db
        .transact(&ctx, async |tx| {
            let row = tx
                .txn()
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT p.github_owner, p.github_repo, p.github_branch, s.key_id, s.sealed
                       FROM projects p
                       JOIN project_secrets s ON s.project_id = p.id AND s.tenant_id = p.tenant_id
                                             AND s.kind = 'webhook_secret'
                      WHERE p.id = $1 AND p.tenant_id = $2",
                    [project.into_uuid().into(), tenant.into()],
                ))
                .await?;
            Ok(row)
        })
        .await?
        .ok_or(DomainError::Unauthorized)?;
    let sealed = Sealed {
        key_id: row.try_get("", "key_id")?,
        blob: row.try_get("", "sealed")?,
    };
    let context = project_secrets::context(
        tenant,
        project.into_uuid(),
        project_secrets::SecretKind::WebhookSecret,
    );
    let secret = keys.open(&sealed, &context).map_err(|error| {
        tracing::error!(%error, project = %project.into_uuid(), "a webhook secret does not open");
        DomainError::Unauthorized
    })?;
    Ok(ProjectTarget {
        tenant,
        project,
        secret,
        owner: row.try_get("", "github_owner")?,
        repo: row.try_get("", "github_repo")?,
        branch: row.try_get("", "github_branch")?,
    })
}

/// Receives a delivery at a project's own address. The project's secret verifies the raw body
/// before a byte of it is parsed (`Unauthorized` otherwise). A verified delivery that is not a
/// payload is `Invalid`; one about another repository than the project's is ignored.
pub async fn receive_for_project(
    db: &Db,
    target: ProjectTarget,
    delivery: ProjectDelivery<'_>,
) -> Result<Received, DomainError> {
    if !verify(target.secret, delivery.body, delivery.signature).await {
        return Err(DomainError::Unauthorized);
    }
    // Verified: now the body may be read.
    let (owner, repo, git_ref) =
        read_payload(delivery.body).ok_or_else(|| DomainError::Invalid {
            field: "body".into(),
            reason: "must be a GitHub webhook payload in JSON".into(),
        })?;
    let same_repository = target.owner.is_some_and(|o| o.eq_ignore_ascii_case(&owner))
        && target.repo.is_some_and(|r| r.eq_ignore_ascii_case(&repo));
    if !same_repository {
        tracing::info!(project = %target.project.into_uuid(), "a verified delivery about another repository: ignored");
        return Ok(Received {
            syncs: Vec::new(),
            ignored: 1,
            replayed: false,
        });
    }
    act(
        db,
        Acting {
            event: delivery.event,
            git_ref: git_ref.as_deref(),
            body: delivery.body,
            delivery_id: delivery.delivery_id,
        },
        vec![(
            TenantId::from_uuid(target.tenant),
            target.project,
            target.branch,
        )],
    )
    .await
}

/// Receives a delivery at the shared address (`/api/v1/webhooks/github`, for hooks made before
/// each project had its own): the projects are found by the repository the payload names, so
/// the payload is read first (only three fields kept). `Unauthorized` when no project's secret
/// verifies it, whether the repository is unknown, has no secret, or the signature is wrong: the
/// answer tells nothing.
pub async fn receive(
    db: &Db,
    keys: &SecretKeys,
    delivery: Delivery<'_>,
) -> Result<Received, DomainError> {
    let rows = db
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tenant_id, project_id, branch, key_id, sealed FROM cairn_webhook_targets($1, $2)",
            [delivery.owner.into(), delivery.repo.into()],
        ))
        .await?;
    let mut verified = Vec::new();
    for row in rows {
        let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
        let project: uuid::Uuid = row.try_get("", "project_id")?;
        let sealed = Sealed {
            key_id: row.try_get("", "key_id")?,
            blob: row.try_get("", "sealed")?,
        };
        let context =
            project_secrets::context(tenant, project, project_secrets::SecretKind::WebhookSecret);
        let secret = match keys.open(&sealed, &context) {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(%error, %project, "a webhook secret does not open");
                continue;
            }
        };
        if verify(secret, delivery.body, delivery.signature).await {
            let branch: Option<String> = row.try_get("", "branch")?;
            verified.push((
                TenantId::from_uuid(tenant),
                ProjectId::from_uuid(project),
                branch,
            ));
        }
    }
    if verified.is_empty() {
        return Err(DomainError::Unauthorized);
    }
    act(
        db,
        Acting {
            event: delivery.event,
            git_ref: delivery.git_ref,
            body: delivery.body,
            delivery_id: delivery.delivery_id,
        },
        verified,
    )
    .await
}

/// A verified delivery, as far as acting on it goes.
struct Acting<'a> {
    event: &'a str,
    git_ref: Option<&'a str>,
    body: &'a [u8],
    delivery_id: Option<&'a str>,
}

/// Acts on a delivery the `verified` projects' secrets verified: a replay does nothing again; a
/// push to a project's branch starts (or joins) its sync; anything else is ignored.
async fn act(
    db: &Db,
    delivery: Acting<'_>,
    verified: Vec<(TenantId, ProjectId, Option<String>)>,
) -> Result<Received, DomainError> {
    // A verified body seen in the last day is a replay (GitHub's own redelivery of one that
    // arrived is one too): answered, and nothing done again.
    let body_hash = {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(delivery.body))
    };
    let first_time = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH pruned AS (DELETE FROM webhook_deliveries WHERE received_at < now() - interval '1 day')
             INSERT INTO webhook_deliveries (body_sha256, delivery_id) VALUES ($1, $2)
             ON CONFLICT (body_sha256) DO NOTHING
             RETURNING body_sha256",
            [body_hash.clone().into(), delivery.delivery_id.map(str::to_owned).into()],
        ))
        .await?
        .is_some();
    if !first_time {
        tracing::info!(delivery = ?delivery.delivery_id, "a webhook delivery replayed: ignored");
        return Ok(Received {
            syncs: Vec::new(),
            ignored: verified.len(),
            replayed: true,
        });
    }
    let mut received = Received {
        syncs: Vec::new(),
        ignored: 0,
        replayed: false,
    };
    let started = async {
        for (tenant, project, branch) in verified {
            let for_branch = branch.map(|b| format!("refs/heads/{b}"));
            if delivery.event != "push" || delivery.git_ref != for_branch.as_deref() {
                received.ignored += 1;
                continue;
            }
            let ctx = TenantCtx::for_system(db, tenant, "github.push").await?;
            let sync = db
                .transact(&ctx, async |tx| {
                    syncs::start_with(tx, project, SyncTrigger::Webhook, None, None).await
                })
                .await?;
            received.syncs.push(sync.id);
        }
        Ok::<_, DomainError>(())
    }
    .await;
    if let Err(error) = started {
        // Not done, so not a replay when GitHub redelivers it (starting a sync twice joins the
        // one already started).
        let forget = db
            .connection()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM webhook_deliveries WHERE body_sha256 = $1",
                [body_hash.into()],
            ))
            .await;
        if let Err(forget) = forget {
            tracing::error!(error = %forget, "a failed webhook delivery could not be forgotten");
        }
        return Err(error);
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_against_githubs_own_example() {
        // The example in GitHub's documentation of webhook signatures.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            header
        ));
        assert!(!signature_matches(
            b"another secret",
            b"Hello, World!",
            header
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            header
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            ""
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            "sha1=757107ea"
        ));
        assert!(!signature_matches(b"x", b"y", "sha256=zz"));
    }
}
