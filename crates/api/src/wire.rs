//! How server functions put their arguments, answers and errors on the wire: JSON, as `server_fn`'s
//! own `Json`, but read from text.
//!
//! The browser bundle reads island props with `serde_json::from_str`; reading answers with
//! `from_slice` would compile a second copy of every shared type's deserializer (they are generic
//! over the reader). One reader for both keeps the bundle smaller; the bytes on the wire are the
//! same.

use serde::Serialize;
use serde::de::{DeserializeOwned, Error as _};
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

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A server function's request or answer: a `POST` with a JSON body.
pub type Json = Post<JsonText>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;

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
}
