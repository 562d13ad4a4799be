//! Array parameters of raw statements, built so that no value can make the driver panic.
//!
//! sea-query binds a `Value::Array` by converting every element to the array's Rust type and
//! panics ("This Value::Array should consist of Value::String") on an element that is absent:
//! its arrays cannot carry a SQL `NULL`. A column whose values may be absent therefore travels as
//! a JSON array, where an absent value is `null`, and [`optional_texts_sql`] turns it back into a
//! `text[]` with `NULL`s in the statement. Every builder here takes exactly the Rust type it
//! binds, so an `Option` can only reach a statement through the one that keeps it an `Option`.

use sea_orm::Value;
use sea_orm::sea_query::ArrayType;
use uuid::Uuid;

/// A count stored as `integer` (never negative), as the API's `u32`.
pub(crate) fn unsigned(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// `uuid[]`.
pub(crate) fn uuids(values: &[Uuid]) -> Value {
    Value::Array(
        ArrayType::Uuid,
        Some(Box::new(values.iter().copied().map(Value::from).collect())),
    )
}

/// `text[]` of values that are all present.
pub(crate) fn texts(values: Vec<String>) -> Value {
    Value::from(values)
}

/// `bigint[]`.
pub(crate) fn bigints(values: Vec<i64>) -> Value {
    Value::from(values)
}

/// Values that may be absent, as a `jsonb` array (`null` where absent): read it in the statement
/// with [`optional_texts_sql`].
pub(crate) fn optional_texts(values: &[Option<String>]) -> Value {
    Value::from(serde_json::Value::Array(
        values
            .iter()
            .map(|value| {
                value
                    .clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String)
            })
            .collect(),
    ))
}

/// SQL that reads the `jsonb` parameter `$param` made by [`optional_texts`] as a `text[]` in the
/// same order, `NULL` where a value was absent.
pub(crate) fn optional_texts_sql(param: u8) -> String {
    format!(
        "ARRAY(SELECT v FROM jsonb_array_elements_text(${param}::jsonb) WITH ORDINALITY AS o(v, i) ORDER BY i)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_value_is_a_json_null_and_present_ones_keep_their_text() {
        let value = optional_texts(&[Some("rust".into()), None, Some(String::new())]);
        assert_eq!(
            value,
            Value::from(serde_json::json!(["rust", null, ""])),
            "an empty string stays an empty string, distinct from absent"
        );
        assert!(optional_texts_sql(8).contains("jsonb_array_elements_text($8::jsonb)"));
    }
}
