//! How server functions put their arguments, answers and errors on the wire: JSON, as `server_fn`'s
//! own `Json`, but read from text.
//!
//! The browser bundle reads island props with `serde_json::from_str`; reading answers with
//! `from_slice` would compile a second copy of every shared type's deserializer (they are generic
//! over the reader). One reader for both keeps the bundle smaller; the bytes on the wire are the
//! same.
//!
//! On the server, a request that cannot be read is answered as `ApiError::Invalid` naming the field
//! and saying what is wrong in words, never with the parser's text (positions, Rust type names).
//! The browser keeps the plain reader: the path tracking that takes is server-only.

use crate::ApiError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use server_fn::codec::Post;
use server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};

/// JSON, read from UTF-8 text.
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

#[cfg(target_arch = "wasm32")]
impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        use serde::de::Error as _;
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = Malformed;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        malformed::read(&bytes).map_err(Malformed)
    }
}

/// A body that could not be read, as the error it is answered with.
///
/// `server_fn` hands a decode error to [`ApiError`]'s `from_server_fn_error` as text, so the text
/// is this error's JSON, read back there by [`malformed_request`].
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub ApiError);

#[cfg(not(target_arch = "wasm32"))]
impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Writing an `ApiError` out does not fail; if it did, the empty text reads back as a
        // generic refusal.
        f.write_str(&serde_json::to_string(&self.0).unwrap_or_default())
    }
}

/// The error for a request `server_fn` could not decode, from the text it carries: the
/// [`Malformed`] error written there, or a generic refusal. Never the text itself, which may be a
/// parser's.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn malformed_request(text: &str) -> ApiError {
    match serde_json::from_str(text) {
        Ok(error @ ApiError::Invalid { .. }) => error,
        _ => not_a_request(),
    }
}

/// In the browser a decode failure is an answer it could not read; its text is the parser's.
#[cfg(target_arch = "wasm32")]
pub(crate) fn malformed_request(_text: &str) -> ApiError {
    not_a_request()
}

fn not_a_request() -> ApiError {
    ApiError::invalid("request", "is not a valid request")
}

/// Reading a request body with the path to whatever is wrong in it, and saying what is wrong.
#[cfg(not(target_arch = "wasm32"))]
mod malformed {
    use crate::ApiError;
    use serde::de::{DeserializeOwned, IgnoredAny};
    use serde_json::error::Category;
    use serde_path_to_error::Segment;

    /// Reads `bytes` as JSON into `T`, or says which field is wrong and why.
    pub(super) fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
        let text = std::str::from_utf8(bytes).map_err(|_| not_json())?;
        let mut json = serde_json::Deserializer::from_str(text);
        let value =
            serde_path_to_error::deserialize(&mut json).map_err(|error| explain(text, &error))?;
        json.end().map_err(|_| not_json())?;
        Ok(value)
    }

    fn not_json() -> ApiError {
        ApiError::invalid("request", "is not valid JSON")
    }

    /// The field and the reason for `error`, met reading `text`.
    fn explain(text: &str, error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
        // Whether the body is JSON at all comes first: serde stops at the first problem it meets,
        // which may be a missing field of a body that is cut short.
        if serde_json::from_str::<IgnoredAny>(text).is_err() {
            return not_json();
        }
        // The innermost named field: `form.email` is `email`, `image_ids[2]` is `image_ids`. Keys
        // that are not field names (a client's own map keys) are not repeated back.
        let field = error
            .path()
            .iter()
            .rev()
            .find_map(|segment| match segment {
                Segment::Map { key } if is_field_name(key) => Some(key.as_str()),
                _ => None,
            })
            .unwrap_or("request");
        let inner = error.inner();
        match inner.classify() {
            Category::Data => explain_data(field, &message(inner)),
            // Well-formed JSON the parser refused where it stood: a number where a choice (an enum)
            // goes.
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::invalid(field, "has the wrong type")
            }
        }
    }

    /// serde's message for a value that is well-formed JSON but not what the field takes.
    fn explain_data(field: &str, message: &str) -> ApiError {
        if let Some(rest) = message.strip_prefix("missing field ") {
            let missing = quoted(rest).filter(|name| is_field_name(name));
            return ApiError::invalid(missing.unwrap_or(field), "is required");
        }
        if message.starts_with("unknown field ") {
            return ApiError::invalid(field, "is not a field this request takes");
        }
        if message.starts_with("duplicate field ") {
            return ApiError::invalid(field, "is given more than once");
        }
        let expected = message
            .rsplit_once(", expected ")
            .map(|(_, expected)| expected);
        let reason = if message.starts_with("unknown variant ") {
            expected
                .and_then(one_of)
                .unwrap_or_else(|| "is not one of the choices".into())
        } else if message.starts_with("invalid type: ") {
            expected.map_or("has the wrong type", wrong_type).into()
        } else if message.starts_with("invalid value: ") {
            expected.map_or("is not valid", wrong_value).into()
        } else if message.starts_with("UUID parsing failed") {
            "is not a valid id".into()
        } else if let Some((_, reason)) = message
            .split_once(": ")
            .filter(|(name, reason)| is_field_name(name) && !reason.contains('`'))
        {
            // Our types' own checks (`Email`, `Name`, …) refuse with an `ApiError`, whose text is
            // `field: reason`; the field named by the request's path is the one to report.
            reason.into()
        } else {
            "is not valid".into()
        };
        ApiError::invalid(field, reason)
    }

    /// serde_json's message without its ` at line L column C`.
    fn message(error: &serde_json::Error) -> String {
        let text = error.to_string();
        let position = format!(" at line {} column {}", error.line(), error.column());
        match text.strip_suffix(&position) {
            Some(message) => message.to_owned(),
            None => text,
        }
    }

    /// `must be one of owner, admin, member` from `` one of `owner`, `admin`, `member` ``.
    fn one_of(expected: &str) -> Option<String> {
        let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        match choices.as_slice() {
            [] => None,
            [only] => Some(format!("must be {only}")),
            _ => Some(format!("must be one of {}", choices.join(", "))),
        }
    }

    /// What to say when a value of the wrong JSON type was sent, from what serde expected.
    fn wrong_type(expected: &str) -> &'static str {
        match expected {
            "a string" | "a borrowed string" | "a character" => "must be text",
            "a boolean" => "must be true or false",
            "a sequence" => "must be a list",
            "a map" => "must be an object",
            _ if expected.contains("UUID") => "is not a valid id",
            _ if expected.starts_with("struct ") => "must be an object",
            _ if expected.starts_with("an array") || expected.starts_with("a tuple") => {
                "must be a list"
            }
            _ => match number(expected) {
                Some(Number::Whole) => "must be a whole number",
                Some(Number::Any) => "must be a number",
                None => "has the wrong type",
            },
        }
    }

    /// What to say when a value of the right JSON type is out of what the field takes.
    fn wrong_value(expected: &str) -> &'static str {
        if expected.contains("UUID") {
            "is not a valid id"
        } else if number(expected).is_some() {
            "is out of range"
        } else {
            "is not valid"
        }
    }

    enum Number {
        Whole,
        Any,
    }

    /// The kind of number serde's name for a numeric type (`u32`, `a nonzero i64`, `f64`) stands for.
    fn number(expected: &str) -> Option<Number> {
        let name = expected.strip_prefix("a nonzero ").unwrap_or(expected);
        let (kind, bits) = name.split_at_checked(1)?;
        if !(bits == "size" || (!bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()))) {
            return None;
        }
        match kind {
            "u" | "i" => Some(Number::Whole),
            "f" => Some(Number::Any),
            _ => None,
        }
    }

    /// The name between the first pair of backticks.
    fn quoted(text: &str) -> Option<&str> {
        text.split('`').nth(1)
    }

    /// Whether `name` reads as one of our fields' names (`email`, `image_ids`), not arbitrary text.
    fn is_field_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }
}

/// A server function's request or answer: a `POST` with a JSON body.
pub type Json = Post<JsonText>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Email, Name};
    use crate::ids::{MemoryEntryId, NoteImageId, ProjectId};
    use crate::memory::MemoryStatus;
    use crate::projects::ProjectForm;
    use crate::tenants::{Role, SignUpForm};
    use serde::Deserialize;
    use server_fn::error::{FromServerFnError, ServerFnErrorErr};

    #[test]
    fn round_trips_and_refuses_what_is_not_utf8_json() {
        let error = ApiError::invalid("name", "is required");
        let bytes = <JsonText as Encodes<ApiError>>::encode(&error).unwrap();
        assert_eq!(
            &bytes[..],
            br#"{"kind":"invalid","field":"name","reason":"is required"}"#
        );
        assert_eq!(
            <JsonText as Decodes<ApiError>>::decode(bytes).unwrap(),
            error
        );
        assert!(<JsonText as Decodes<ApiError>>::decode(Bytes::from_static(b"\xff{}")).is_err());
        assert!(<JsonText as Decodes<ApiError>>::decode(Bytes::from_static(b"{")).is_err());
    }

    /// Server functions' argument structs, as `#[server]` generates them.
    #[allow(dead_code, reason = "only ever read from JSON")]
    mod args {
        use super::*;

        #[derive(Deserialize)]
        pub struct AddMember {
            pub email: String,
            pub role: Role,
        }

        #[derive(Deserialize)]
        pub struct SetMemoryStatus {
            pub id: MemoryEntryId,
            pub status: MemoryStatus,
        }

        #[derive(Deserialize)]
        pub struct GetProject {
            pub id: ProjectId,
        }

        #[derive(Deserialize)]
        pub struct CreateProject {
            pub form: ProjectForm,
        }

        #[derive(Deserialize)]
        pub struct SignUp {
            pub form: SignUpForm,
        }

        #[derive(Deserialize)]
        pub struct ReorderImages {
            pub image_ids: Vec<NoteImageId>,
        }

        #[derive(Deserialize)]
        pub struct Invite {
            pub form: Invitee,
        }

        #[derive(Deserialize)]
        pub struct Invitee {
            pub email: Email,
            pub tenant_name: Name,
        }

        #[derive(Deserialize)]
        pub struct Settings {
            pub count: Option<u32>,
            pub ratio: Option<f64>,
            pub pinned: Option<bool>,
            pub tags: Option<Vec<String>>,
            pub form: Option<ProjectForm>,
        }
    }

    /// What a client is answered when it sends `body` for `T`: the decode error, carried through
    /// `server_fn`'s text as the server does.
    fn answer<T: DeserializeOwned>(body: &[u8]) -> ApiError {
        let Err(error) = <JsonText as Decodes<T>>::decode(Bytes::copy_from_slice(body)) else {
            panic!("accepted {}", String::from_utf8_lossy(body));
        };
        let answer =
            ApiError::from_server_fn_error(ServerFnErrorErr::Deserialization(error.to_string()));
        assert_eq!(answer, error.0, "the text carries the error whole");
        let ApiError::Invalid { reason, .. } = &answer else {
            panic!("{answer:?}");
        };
        for internal in ["line", "column", "`"] {
            assert!(!reason.contains(internal), "{reason:?}");
        }
        answer
    }

    fn invalid(field: &str, reason: &str) -> ApiError {
        ApiError::invalid(field, reason)
    }

    #[test]
    fn an_unknown_choice_lists_the_choices() {
        assert_eq!(
            answer::<args::AddMember>(br#"{"email":"a@b.io","role":"god"}"#),
            invalid("role", "must be one of owner, admin, member")
        );
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            answer::<args::SetMemoryStatus>(
                format!(r#"{{"id":"{id}","status":"god"}}"#).as_bytes()
            ),
            invalid("status", "must be one of active, superseded")
        );
        // A number where a choice goes is refused by the parser itself, still for that field.
        assert_eq!(
            answer::<args::AddMember>(br#"{"email":"a@b.io","role":5}"#),
            invalid("role", "has the wrong type")
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_says_what_the_field_takes() {
        for (body, field, reason) in [
            (r#"{"form":{"name":5}}"#, "name", "must be text"),
            (r#"{"count":"5"}"#, "count", "must be a whole number"),
            (r#"{"count":1.5}"#, "count", "must be a whole number"),
            (r#"{"count":-1}"#, "count", "is out of range"),
            (r#"{"ratio":true}"#, "ratio", "must be a number"),
            (r#"{"pinned":"yes"}"#, "pinned", "must be true or false"),
            (r#"{"tags":"a,b"}"#, "tags", "must be a list"),
            (r#"{"tags":[1]}"#, "tags", "must be text"),
            (r#"{"form":"x"}"#, "form", "must be an object"),
            // A form sent as a list: its items have no names, the form has.
            (r#"{"form":[5]}"#, "form", "must be text"),
            (r#""not even an object""#, "request", "must be an object"),
        ] {
            assert_eq!(
                answer::<args::Settings>(body.as_bytes()),
                invalid(field, reason),
                "{body}"
            );
        }
    }

    #[test]
    fn a_missing_field_is_named_even_when_nested() {
        assert_eq!(
            answer::<args::SignUp>(
                br#"{"form":{"email":"a@b.io","display_name":"Ada","tenant_name":"T"}}"#
            ),
            invalid("password", "is required")
        );
        assert_eq!(
            answer::<args::CreateProject>(b"{}"),
            invalid("form", "is required")
        );
    }

    #[test]
    fn a_nested_field_is_named_by_its_own_name() {
        assert_eq!(
            answer::<args::CreateProject>(br#"{"form":{"name":"X","description":["a"]}}"#),
            invalid("description", "must be text")
        );
        let id = uuid::Uuid::new_v4();
        let body = format!(r#"{{"image_ids":["{id}","{id}","nope"]}}"#);
        assert_eq!(
            answer::<args::ReorderImages>(body.as_bytes()),
            invalid("image_ids", "is not a valid id")
        );
    }

    #[test]
    fn an_id_that_is_not_a_uuid_is_not_a_valid_id() {
        for id in [r#""not-a-uuid""#, r#""""#, "5", "[1,2]"] {
            assert_eq!(
                answer::<args::GetProject>(format!(r#"{{"id":{id}}}"#).as_bytes()),
                invalid("id", "is not a valid id"),
                "{id}"
            );
        }
    }

    #[test]
    fn our_types_refusals_keep_their_reason_under_the_field_sent() {
        assert_eq!(
            answer::<args::Invite>(br#"{"form":{"email":"nope","tenant_name":"T"}}"#),
            invalid("email", "must look like name@example.com")
        );
        // `Name` says `name: ...`; the field the client sent is `tenant_name`.
        assert_eq!(
            answer::<args::Invite>(br#"{"form":{"email":"a@b.io","tenant_name":"  "}}"#),
            invalid("tenant_name", "is required")
        );
    }

    #[test]
    fn what_is_not_json_is_refused_as_a_whole() {
        let not_json = invalid("request", "is not valid JSON");
        for body in [
            &br#"{"form":"#[..],
            br#"{"form":{"name":"X""#,
            b"",
            b"hello",
            b"\xff{}",
            br#"{"id":"x"} trailing"#,
            br#"{"form":{"name":tru}}"#,
        ] {
            assert_eq!(
                answer::<args::CreateProject>(body),
                not_json,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn other_refusals_are_generic_and_never_echo_the_parser() {
        assert_eq!(
            malformed_request("invalid type: integer `5` at line 1 column 9"),
            invalid("request", "is not a valid request")
        );
        assert_eq!(
            malformed_request(r#"{"kind":"internal"}"#),
            invalid("request", "is not a valid request")
        );
        assert_eq!(
            ApiError::from_server_fn_error(ServerFnErrorErr::MissingArg("form".into())),
            invalid("request", "is not a valid request")
        );
        // Keys that are not field names are not repeated back.
        assert_eq!(
            answer::<args::SignUp>(br#"{"form":{"line 1 column 2`":1}}"#),
            invalid("email", "is required")
        );
    }
}
