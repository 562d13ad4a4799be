//! The JSON Schema subset a structured answer is checked against, locally, whatever the provider
//! promised: `type` (one or a list), `properties`, `required`, `additionalProperties: false`,
//! `items`, `enum`, `minItems` / `maxItems`, `minLength` / `maxLength`, `minimum` / `maximum`.
//! Other keywords are not checked (they are still sent to providers that enforce them). An answer
//! that does not validate is a failed attempt (`invalid_output`), never an answer.

use serde_json::Value;

/// Checks `value` against `schema`; the first violation, with where it is (`$.steps[2]`).
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn check(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        // `true` or an empty schema: anything.
        return Ok(());
    };
    if let Some(wanted) = schema.get("type") {
        let types: Vec<&str> = match wanted {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            return Err(format!(
                "{at} must be {}, not {}",
                types.join(" or "),
                kind(value)
            ));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!(
            "{at} must be one of {}",
            Value::Array(allowed.clone())
        ));
    }
    match value {
        Value::Object(fields) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !fields.contains_key(name) {
                        return Err(format!("{at}.{name} is missing"));
                    }
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, field) in fields {
                match properties.and_then(|p| p.get(name)) {
                    Some(field_schema) => check(field_schema, field, &format!("{at}.{name}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("{at}.{name} is not expected"));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                && count < min
            {
                return Err(format!("{at} must hold at least {min} items, not {count}"));
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && count > max
            {
                return Err(format!("{at} must hold at most {max} items, not {count}"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (n, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{at}[{n}]"))?;
                }
            }
        }
        Value::String(text) => {
            let chars = text.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && chars < min
            {
                return Err(format!("{at} must be at least {min} characters long"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && chars > max
            {
                return Err(format!("{at} must be at most {max} characters long"));
            }
        }
        Value::Number(number) => {
            let n = number.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                return Err(format!("{at} must be at least {min}"));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                return Err(format!("{at} must be at most {max}"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_type(value: &Value, wanted: &str) -> bool {
    match wanted {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Value {
        json!({
            "type": "object",
            "required": ["steps"],
            "additionalProperties": false,
            "properties": {
                "steps": {
                    "type": "array", "minItems": 1, "maxItems": 3,
                    "items": {"type": "object", "required": ["title", "size"],
                              "properties": {"title": {"type": "string", "minLength": 3},
                                             "size": {"enum": ["S", "M", "L"]},
                                             "hours": {"type": ["number", "null"], "minimum": 0}}}
                }
            }
        })
    }

    #[test]
    fn a_plan_validates_and_each_violation_says_where() {
        let ok = json!({"steps": [{"title": "Write the test", "size": "S", "hours": 1.5}]});
        assert_eq!(validate(&plan(), &ok), Ok(()));
        for (bad, said) in [
            (
                json!({"steps": "later"}),
                "$.steps must be array, not a string",
            ),
            (json!({}), "$.steps is missing"),
            (
                json!({"steps": []}),
                "$.steps must hold at least 1 items, not 0",
            ),
            (
                json!({"steps": [{"title": "Do", "size": "S"}]}),
                "$.steps[0].title must be at least 3 characters long",
            ),
            (
                json!({"steps": [{"title": "Do it", "size": "XL"}]}),
                "$.steps[0].size must be one of [\"S\",\"M\",\"L\"]",
            ),
            (
                json!({"steps": [{"title": "Do it", "size": "S", "hours": -1}]}),
                "$.steps[0].hours must be at least 0",
            ),
            (
                json!({"steps": [{"title": "Do it", "size": "S"}], "extra": 1}),
                "$.extra is not expected",
            ),
            (json!([1]), "$ must be object, not an array"),
        ] {
            assert_eq!(validate(&plan(), &bad), Err(said.to_owned()), "{bad}");
        }
        assert_eq!(
            validate(
                &plan(),
                &json!({"steps": [{"title": "Do it", "size": "S", "hours": null}]})
            ),
            Ok(())
        );
    }
}
