//! Checks a JSON value against a schema of the API's OpenAPI document: the subset of JSON Schema
//! the document uses (`$ref`, `type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `items`, `oneOf`, `anyOf`, `if`/`then`, numeric and length bounds).
//! Patterns are left to schemathesis (tests/fuzz.rs), which checks them with a regex engine.

use serde_json::Value;

/// Every way `value` breaks `schema`, each with its JSON path; empty when it conforms.
pub fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(doc, schema, value, "$", &mut out);
    out
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn check(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            out.push(format!("{at}: $ref {r} does not resolve"));
        } else {
            check(doc, target, v, at, out);
        }
        return;
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            out.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| t.as_str().is_some_and(|t| type_matches(t, v))) => {
            out.push(format!("{at}: {v} is none of the types {ts:?}"));
            return;
        }
        _ => {}
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        out.push(format!("{at}: {v} is not one of {values:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        out.push(format!("{at}: {v} is not {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            out.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            out.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if schema.get("minLength").and_then(Value::as_u64).is_some_and(|min| n < min) {
            out.push(format!("{at}: {s:?} is shorter than minLength"));
        }
        if schema.get("maxLength").and_then(Value::as_u64).is_some_and(|max| n > max) {
            out.push(format!("{at}: {s:?} is longer than maxLength"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if schema.get("minItems").and_then(Value::as_u64).is_some_and(|min| n < min)
            || schema.get("maxItems").and_then(Value::as_u64).is_some_and(|max| n > max)
        {
            out.push(format!("{at}: {n} items is outside minItems/maxItems"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(doc, item_schema, item, &format!("{at}[{i}]"), out);
            }
        }
    }
    if let Some(fields) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = name.as_str()
                && !fields.contains_key(name)
            {
                out.push(format!("{at}: required field {name} is missing"));
            }
        }
        for (name, field) in fields {
            match props.and_then(|p| p.get(name)) {
                Some(s) => check(doc, s, field, &format!("{at}.{name}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: field {name} is not in the schema (additionalProperties: false)"));
                }
                None => {}
            }
        }
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = branches.iter().filter(|b| conforms(doc, b, v)).count();
        if matching != 1 {
            out.push(format!("{at}: matches {matching} branches of oneOf, not exactly one"));
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
        && !branches.iter().any(|b| conforms(doc, b, v))
    {
        out.push(format!("{at}: matches no branch of anyOf"));
    }
    if let (Some(cond), Some(then)) = (schema.get("if"), schema.get("then"))
        && conforms(doc, cond, v)
    {
        check(doc, then, v, at, out);
    }
}

/// Whether `v` conforms to `schema`.
fn conforms(doc: &Value, schema: &Value, v: &Value) -> bool {
    let mut out = Vec::new();
    check(doc, schema, v, "", &mut out);
    out.is_empty()
}
