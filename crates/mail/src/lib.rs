#![doc = include_str!("../README.md")]

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one message may take to hand to the SMTP server before the sender gives up.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a message did not leave.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The configuration cannot work (a malformed SMTP URL or sender address).
    #[error("mail configuration: {0}")]
    Config(String),
    /// The recipient's address cannot be written into a message.
    #[error("recipient address: {0}")]
    Recipient(String),
    /// The SMTP server refused or could not be reached.
    #[error("sending: {0}")]
    Send(String),
}

/// One message to send: plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// Sends mail over SMTP, or nothing when no server is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials: never print it.
        f.debug_struct("Mailer")
            .field("enabled", &self.is_enabled())
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// A mailer that sends nothing: links are handed over another way.
    pub fn disabled() -> Self {
        Self {
            transport: None,
            from: Mailbox::new(None, "cairn@localhost".parse().expect("a valid address")),
        }
    }

    /// A mailer for `smtp_url` (`smtp://host:port` plain, `?tls=required` for STARTTLS,
    /// `smtps://` for TLS; credentials in the URL), sending as `from` (`Name <address>`).
    pub fn smtp(smtp_url: &SecretString, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Config(format!("sender {from:?}: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url.expose_secret())
            // The URL may hold a password: say what is wrong without echoing it.
            .map_err(|e| MailError::Config(format!("mail.smtp_url is not a usable SMTP URL: {e}")))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Self {
            transport: Some(transport),
            from,
        })
    }

    /// Whether messages really leave.
    pub fn is_enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends `mail`. With no server configured this is an error: callers check
    /// [`Mailer::is_enabled`] first and hand the link over another way.
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let Some(transport) = &self.transport else {
            return Err(MailError::Config("no SMTP server is configured".into()));
        };
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Recipient(format!("{e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(|e| MailError::Recipient(e.to_string()))?;
        // lettre's timeout bounds each SMTP command; this bounds the whole conversation.
        match tokio::time::timeout(SEND_TIMEOUT * 2, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(MailError::Send(e.to_string())),
            Err(_) => Err(MailError::Send("timed out".into())),
        }
    }
}

/// The invitation to join a team.
pub fn invitation(to: &str, team: &str, inviter: &str, role: &str, link: &str) -> Mail {
    let inviter = if inviter.is_empty() {
        "Someone"
    } else {
        inviter
    };
    Mail {
        to: to.to_owned(),
        subject: format!("{inviter} invited you to {team} on Cairn"),
        text: format!(
            "{inviter} invited you to join the team \"{team}\" on Cairn as {role}.\n\n\
             Accept the invitation here (the link works once, for 7 days):\n\n{link}\n\n\
             You will need an account with this address ({to}); the link lets you create one.\n\
             If you did not expect this, ignore this message: nothing happens until the link is followed.\n"
        ),
    }
}

/// A password-reset link.
pub fn password_reset(to: &str, link: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Reset your Cairn password".into(),
        text: format!(
            "Somebody asked to reset the password of the Cairn account for {to}.\n\n\
             Choose a new password here (the link works once, for 1 hour):\n\n{link}\n\n\
             Resetting signs every browser out of the account.\n\
             If it was not you, ignore this message: your password stays as it is.\n"
        ),
    }
}

/// A link proving that the address belongs to the account.
pub fn email_verification(to: &str, link: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm your e-mail address for Cairn".into(),
        text: format!(
            "Confirm that {to} is your address on Cairn by following this link (it works once, for 24 hours):\n\n\
             {link}\n\n\
             If you did not sign up for Cairn, ignore this message.\n"
        ),
    }
}

/// The link that makes `to` an account's new address: it goes to the new address, which following
/// it proves.
pub fn email_change(to: &str, link: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm your new e-mail address for Cairn".into(),
        text: format!(
            "Someone signed in to Cairn asked to make {to} their account's address. If it was you, \
             follow this link (it works once, for 24 hours); until then the account keeps its \
             address:\n\n\
             {link}\n\n\
             If it was not you, ignore this message: nothing changes.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_disabled_mailer_says_so_and_prints_no_secret() {
        let mailer = Mailer::disabled();
        assert!(!mailer.is_enabled());
        let smtp = Mailer::smtp(
            &SecretString::from("smtp://user:hunter2@127.0.0.1:2525"),
            "Cairn <cairn@example.com>",
        )
        .expect("a valid URL");
        assert!(smtp.is_enabled());
        assert!(!format!("{smtp:?}").contains("hunter2"));
    }

    #[test]
    fn a_bad_url_is_a_config_error_without_the_password() {
        let error = Mailer::smtp(
            &SecretString::from("ftp://user:hunter2@host"),
            "cairn@example.com",
        )
        .expect_err("not SMTP");
        assert!(matches!(error, MailError::Config(_)));
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn messages_carry_their_link() {
        let mail = invitation(
            "bo@example.com",
            "Engines",
            "Ada",
            "member",
            "http://x/invite/t",
        );
        assert!(mail.text.contains("http://x/invite/t"));
        assert!(mail.subject.contains("Ada invited you to Engines"));
        assert!(
            password_reset("a@b.io", "http://x/r")
                .text
                .contains("http://x/r")
        );
        assert!(
            email_verification("a@b.io", "http://x/v")
                .text
                .contains("http://x/v")
        );
    }
}
