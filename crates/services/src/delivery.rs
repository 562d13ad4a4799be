//! Links that leave by e-mail: invitations, password resets, address verification. The domain
//! makes the tokens; this puts them into links under the public URL and hands them to the mailer.

use crate::AppContext;
use api::ApiError;
use api::tenants::InvitationSent;
use domain::TenantTxn;
use domain::accounts::SignedIn;
use domain::accounts::recovery::{self, LinkToSend};
use domain::invitations::IssuedInvitation;

fn mail_unavailable() -> ApiError {
    ApiError::Unavailable {
        service: "e-mail".into(),
        retry_after_secs: None,
    }
}

/// `Unavailable` when this Cairn sends no e-mail.
pub fn require_mail(app: &AppContext) -> Result<(), ApiError> {
    if app.mailer.is_enabled() {
        Ok(())
    } else {
        Err(mail_unavailable())
    }
}

/// Delivers an invitation made (or made again) in `tx`, then commits it: the link is mailed, or,
/// without e-mail, given to the inviter to hand over. Delivered before the commit, so an invitation
/// whose e-mail did not leave (`Unavailable`) is not kept.
pub async fn invitation(
    app: &AppContext,
    tx: TenantTxn,
    issued: IssuedInvitation,
) -> Result<InvitationSent, ApiError> {
    let url = app.link(&format!("/invite/{}", issued.token));
    let link = if app.mailer.is_enabled() {
        let mail = mail::invitation(
            &issued.invitation.email,
            &issued.team_name,
            &issued.inviter_name,
            &issued.invitation.role.label().to_lowercase(),
            &url,
        );
        app.mailer.send(mail).await.map_err(|error| {
            tracing::warn!(%error, "sending an invitation");
            mail_unavailable()
        })?;
        None
    } else {
        Some(url)
    };
    tx.commit().await?;
    Ok(InvitationSent {
        invitation: issued.invitation,
        link,
    })
}

/// Mails a verification link; a refusing mail server is `Unavailable`.
pub async fn verification(app: &AppContext, link: LinkToSend) -> Result<(), ApiError> {
    address_link(app, link, mail::email_verification).await
}

/// Mails the link that makes a new address the account's, to that address.
pub async fn email_change(app: &AppContext, link: LinkToSend) -> Result<(), ApiError> {
    address_link(app, link, mail::email_change).await
}

/// Mails a link that proves an address (both kinds open the verification page), written by
/// `message` (to, link).
async fn address_link(
    app: &AppContext,
    link: LinkToSend,
    message: fn(&str, &str) -> mail::Mail,
) -> Result<(), ApiError> {
    let url = app.link(&format!("/verify-email/{}", link.token));
    app.mailer
        .send(message(&link.email, &url))
        .await
        .map_err(|error| {
            tracing::warn!(%error, "sending a link to prove an address");
            mail_unavailable()
        })
}

/// After a sign-up, mails the new account a verification link in the background (the sign-up does
/// not wait for the mail server, nor fail with it).
pub fn send_verification_soon(app: &AppContext, signed_in: &SignedIn) {
    if !app.mailer.is_enabled() {
        return;
    }
    let app = app.clone();
    let signed_in = signed_in.clone();
    tokio::spawn(async move {
        match recovery::request_verification(&app.db, &signed_in).await {
            Ok(Some(link)) => {
                let _ = verification(&app, link).await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "making a verification link"),
        }
    });
}

/// Mails a reset link in the background, so the answer takes as long whether or not an account
/// uses the address (and says nothing about the mail server's mood).
pub fn password_reset_soon(app: &AppContext, link: LinkToSend) {
    let app = app.clone();
    tokio::spawn(async move {
        let url = app.link(&format!("/reset-password/{}", link.token));
        if let Err(error) = app
            .mailer
            .send(mail::password_reset(&link.email, &url))
            .await
        {
            tracing::warn!(%error, "sending a password-reset link");
        }
    });
}
