//! How the REST API reads what a client sends: a POST's or PUT's query string merged with its
//! body (GitLab merges them, and python-gitlab puts some fields in the query), and the lenient
//! field readers GitLab's clients need: the `gitlab` CLI sends every number and boolean as a
//! string, and python-gitlab documents scopes as `"a,b"`.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Up to this many bytes of input, a type error names its field.
const EXPLAINED_SIZE: usize = 16 * 1024;

fn bad(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("400 Bad request - {why}"))
}

/// The parameters of a request: the query string's, each overridden by the body's (a JSON
/// object, or a form). An empty body and query give `{}`, so a type whose fields are all
/// optional reads as its defaults, and a required field that is missing is named.
pub fn input<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T> {
    let mut params = pairs(req.query_string().as_bytes());
    if !body.iter().all(u8::is_ascii_whitespace) {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // python-gitlab sends multipart when a file rides along (an avatar): say what is taken
        // rather than a JSON syntax error at column 2.
        if content_type.starts_with("multipart/") {
            return Err(bad(
                "multipart bodies (file uploads such as avatars) are not taken here: send JSON or a form",
            ));
        }
        let form = content_type.starts_with("application/x-www-form-urlencoded");
        let from_body = if form {
            pairs(body)
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(bad("the body is not the JSON this takes: not an object")),
                Err(e) => return Err(bad(format!("the body is not the JSON this takes: {e}"))),
            }
        };
        params.extend(from_body);
    }
    let value = Value::Object(params);
    // Naming the field retries the parse once per field: only for bodies of a usual size.
    let small = body.len() + req.query_string().len() <= EXPLAINED_SIZE;
    T::deserialize(&value).map_err(|e| {
        let why = if small {
            explain::<T>(&value, e)
        } else {
            e.to_string()
        };
        bad(format!("the body is not the JSON this takes: {why}"))
    })
}

/// `a=1&b[]=x&b[]=y` as `{"a": "1", "b": ["x", "y"]}`: GitLab's (Rails') spelling of lists.
fn pairs(encoded: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in url::form_urlencoded::parse(encoded) {
        match key.strip_suffix("[]") {
            Some(list) => match map
                .entry(list.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(Value::String(value.into_owned())),
                other => *other = Value::Array(vec![Value::String(value.into_owned())]),
            },
            None => {
                map.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    map
}

/// What was wrong, naming the field: serde's messages name a missing field but not one of the
/// wrong type, so the field is the one whose absence (or removal) makes the rest acceptable.
/// Only the first few dozen fields are tried.
fn explain<T: DeserializeOwned>(value: &Value, error: serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") {
        return message.replace('`', "");
    }
    let Value::Object(map) = value else {
        return message;
    };
    for key in map.keys().take(64) {
        let mut without = map.clone();
        without.remove(key);
        let retried = T::deserialize(&Value::Object(without));
        let culprit = match &retried {
            Ok(_) => true,
            Err(e) => e.to_string() == format!("missing field `{key}`"),
        };
        if culprit {
            return format!("{key} is invalid: {message}");
        }
    }
    message
}

/// The values of a list parameter of a GET (`skip_groups[]=1&skip_groups[]=2`, or one
/// `skip_groups=1,2`), each a number.
pub fn query_ids(req: &HttpRequest, name: &str) -> Result<Vec<i64>> {
    let listed = format!("{name}[]");
    let mut ids = Vec::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if key == listed || key == name {
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let id = part
                    .parse()
                    .map_err(|_| bad(format!("{name}: \"{part}\" is not a number")))?;
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Any scalar or list a client may send for one field, before it is read as what the field
/// holds.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

impl Raw {
    fn as_text(&self) -> String {
        match self {
            Raw::Null => String::new(),
            Raw::Bool(b) => b.to_string(),
            Raw::Int(n) => n.to_string(),
            Raw::Text(t) => t.clone(),
            Raw::List(items) => items.join(","),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, a boolean, a string or a list")
    }
    fn visit_unit<E>(self) -> std::result::Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Raw, E> {
        i64::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Raw, E> {
        Err(E::custom(format!("{v} is not a whole number")))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Raw, E> {
        Ok(Raw::Text(v.to_owned()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Raw>()? {
            if matches!(item, Raw::List(_)) {
                return Err(de::Error::custom("a list inside a list"));
            }
            items.push(item.as_text());
        }
        Ok(Raw::List(items))
    }
}

fn number<E: de::Error>(raw: Raw) -> std::result::Result<Option<i64>, E> {
    match raw {
        Raw::Null => Ok(None),
        Raw::Int(n) => Ok(Some(n)),
        Raw::Text(t) if t.trim().is_empty() => Ok(None),
        Raw::Text(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| E::custom(format!("\"{t}\" is not a whole number"))),
        other => Err(E::custom(format!(
            "\"{}\" is not a whole number",
            other.as_text()
        ))),
    }
}

fn boolean<E: de::Error>(raw: Raw) -> std::result::Result<Option<bool>, E> {
    match raw {
        Raw::Null => Ok(None),
        Raw::Bool(b) => Ok(Some(b)),
        Raw::Int(0) => Ok(Some(false)),
        Raw::Int(1) => Ok(Some(true)),
        // python-gitlab sends Python's `True`; Rails reads `1`/`0` and `yes`/`no` too.
        Raw::Text(t) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "t" => Ok(Some(true)),
            "false" | "0" | "no" | "f" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(E::custom(format!("\"{t}\" is not true or false"))),
        },
        other => Err(E::custom(format!(
            "\"{}\" is not true or false",
            other.as_text()
        ))),
    }
}

/// A required whole number, as a JSON number or a string of digits (`"30"`).
pub fn int<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    number(Raw::deserialize(d)?)?.ok_or_else(|| de::Error::custom("a number is needed"))
}

/// An optional whole number (`null` or `""`: none).
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    number(Raw::deserialize(d)?)
}

/// A boolean: `true`/`false` in any case, `1`/`0`, `yes`/`no`; missing or empty is false.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(boolean(Raw::deserialize(d)?)?.unwrap_or(false))
}

/// An optional boolean, read as `flag` reads one.
pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    boolean(Raw::deserialize(d)?)
}

/// A list of names: a JSON list, or one comma-separated string (`"api,read_api"`).
pub fn list<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(match Raw::deserialize(d)? {
        Raw::Null => Vec::new(),
        Raw::List(items) => items,
        scalar => scalar
            .as_text()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// A group's or namespace's id or full path, as a JSON number or text (`null` or `""`: none).
pub fn opt_reference<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Raw::deserialize(d)? {
        Raw::Null => None,
        Raw::Int(n) => Some(n.to_string()),
        Raw::Text(t) if t.trim().is_empty() => None,
        Raw::Text(t) => Some(t.trim().to_owned()),
        other => {
            return Err(de::Error::custom(format!(
                "\"{}\" is not an id or a path",
                other.as_text()
            )));
        }
    })
}

/// Optional text where an empty string means "not given" (python-gitlab's documented way of
/// leaving a deploy token's `username` and `expires_at` to the server).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Raw::deserialize(d)? {
        Raw::Null => None,
        Raw::Text(t) if t.trim().is_empty() => None,
        Raw::Text(t) => Some(t),
        other => {
            return Err(de::Error::custom(format!(
                "\"{}\" is not text",
                other.as_text()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "int")]
        level: i64,
        #[serde(default, deserialize_with = "opt_int")]
        parent: Option<i64>,
        #[serde(default, deserialize_with = "flag")]
        admin: bool,
        #[serde(default, deserialize_with = "list")]
        scopes: Vec<String>,
    }

    fn read(json: &str) -> std::result::Result<Body, String> {
        let value: Value = serde_json::from_str(json).unwrap();
        Body::deserialize(&value).map_err(|e| explain::<Body>(&value, e))
    }

    #[test]
    fn numbers_booleans_and_lists_come_as_the_cli_and_python_gitlab_send_them() {
        let typed = read(r#"{"level": 30, "parent": 2, "admin": true, "scopes": ["api"]}"#);
        let strings = read(r#"{"level": "30", "parent": "2", "admin": "True", "scopes": "api"}"#);
        assert_eq!(typed, strings);
        let body = read(r#"{"level": 30, "parent": "", "scopes": "api, read_api"}"#).unwrap();
        assert_eq!((body.parent, body.admin), (None, false));
        assert_eq!(body.scopes, ["api", "read_api"]);
    }

    #[test]
    fn bad_fields_are_named() {
        let wrong = read(r#"{"level": "thirty", "parent": 1}"#).unwrap_err();
        assert!(wrong.starts_with("level is invalid"), "{wrong}");
        assert!(wrong.contains("\"thirty\""), "{wrong}");
        let flag = read(r#"{"level": 1, "admin": "maybe"}"#).unwrap_err();
        assert!(flag.starts_with("admin is invalid"), "{flag}");
        assert_eq!(read(r#"{"parent": 1}"#).unwrap_err(), "missing field level");
        assert!(read(r#"{"level": 1.5}"#).unwrap_err().starts_with("level"));
    }

    #[test]
    fn query_lists_use_rails_brackets() {
        let map = pairs(b"name=x&ids[]=1&ids[]=2&name=y");
        assert_eq!(
            Value::Object(map),
            serde_json::json!({"name": "y", "ids": ["1", "2"]})
        );
    }
}
