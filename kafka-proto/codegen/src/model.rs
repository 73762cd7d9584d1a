//! The spec model: what the generator understands of a message spec. Keys it does not model are
//! rejected (a drift guard: a new spec key must be handled here before it can be generated).

use crate::json::Json;

/// A version range as the specs write it: `none`, `N`, `N+` (open) or `A-B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub min: i16,
    /// `None` for open-ended (`N+`).
    pub max: Option<i16>,
    pub none: bool,
}

impl Versions {
    pub const NONE: Versions = Versions {
        min: 0,
        max: Some(-1),
        none: true,
    };

    pub fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(Versions::NONE);
        }
        let num = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version {t:?}: {e}"))
        };
        if let Some(m) = s.strip_suffix('+') {
            return Ok(Versions {
                min: num(m)?,
                max: None,
                none: false,
            });
        }
        if let Some((a, b)) = s.split_once('-') {
            return Ok(Versions {
                min: num(a)?,
                max: Some(num(b)?),
                none: false,
            });
        }
        let n = num(s)?;
        Ok(Versions {
            min: n,
            max: Some(n),
            none: false,
        })
    }

    /// Closes an open range at `top`, giving an inclusive (min, max); min > max means empty.
    pub fn closed(&self, top: i16) -> (i16, i16) {
        if self.none {
            (0, -1)
        } else {
            (self.min, self.max.unwrap_or(top).min(top))
        }
    }

    /// Intersection, within `valid` (closed).
    pub fn within(&self, valid: (i16, i16)) -> (i16, i16) {
        let (a, b) = self.closed(valid.1);
        (a.max(valid.0), b.min(valid.1))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    pub fn parse(s: &str) -> Result<Ty, String> {
        Ok(match s {
            "bool" => Ty::Bool,
            "int8" => Ty::Int8,
            "int16" => Ty::Int16,
            "uint16" => Ty::Uint16,
            "int32" => Ty::Int32,
            "uint32" => Ty::Uint32,
            "int64" => Ty::Int64,
            "float64" => Ty::Float64,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            "uuid" => Ty::Uuid,
            _ => {
                if let Some(inner) = s.strip_prefix("[]") {
                    Ty::Array(Box::new(Ty::parse(inner)?))
                } else if s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && s.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    Ty::Struct(s.to_owned())
                } else {
                    return Err(format!("unknown type {s:?}"));
                }
            }
        })
    }

    pub fn struct_name(&self) -> Option<&str> {
        match self {
            Ty::Struct(n) => Some(n),
            Ty::Array(t) => t.struct_name(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Versions,
    pub tagged: Versions,
    pub tag: Option<u32>,
    pub default: Option<String>,
    pub ignorable: bool,
    pub map_key: bool,
    pub zero_copy: bool,
    pub entity_type: Option<String>,
    pub flexible: Option<Versions>,
    pub fields: Option<Vec<Field>>,
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Header,
    Data,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub file: String,
    pub api_key: Option<i16>,
    pub kind: Kind,
    pub name: String,
    pub valid: (i16, i16),
    pub flexible: Versions,
    pub deprecated: Versions,
    pub listeners: Vec<String>,
    pub latest_unstable: bool,
    pub fields: Vec<Field>,
    pub common: Vec<StructDef>,
}

fn obj<'a>(j: &'a Json, what: &str) -> Result<&'a [(String, Json)], String> {
    match j {
        Json::Object(o) => Ok(o),
        _ => Err(format!("{what}: expected an object")),
    }
}

fn check_keys(o: &[(String, Json)], allowed: &[&str], what: &str) -> Result<(), String> {
    for (k, _) in o {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "{what}: unknown key {k:?} (the generator does not model it)"
            ));
        }
    }
    Ok(())
}

fn get<'a>(o: &'a [(String, Json)], k: &str) -> Option<&'a Json> {
    o.iter().find(|(key, _)| key == k).map(|(_, v)| v)
}

fn string(o: &[(String, Json)], k: &str, what: &str) -> Result<Option<String>, String> {
    match get(o, k) {
        None => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{what}: {k} must be a string")),
    }
}

fn req_string(o: &[(String, Json)], k: &str, what: &str) -> Result<String, String> {
    string(o, k, what)?.ok_or_else(|| format!("{what}: missing {k}"))
}

fn vers(o: &[(String, Json)], k: &str, what: &str) -> Result<Option<Versions>, String> {
    string(o, k, what)?
        .map(|s| Versions::parse(&s).map_err(|e| format!("{what}: {k}: {e}")))
        .transpose()
}

fn boolean(o: &[(String, Json)], k: &str, what: &str) -> Result<bool, String> {
    match get(o, k) {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(Json::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(format!("{what}: {k} must be a boolean")),
    }
}

fn scalar_text(j: &Json, what: &str) -> Result<String, String> {
    match j {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("{what}: expected a scalar")),
    }
}

const FIELD_KEYS: &[&str] = &[
    "name",
    "type",
    "versions",
    "about",
    "fields",
    "default",
    "entityType",
    "ignorable",
    "nullableVersions",
    "mapKey",
    "taggedVersions",
    "tag",
    "zeroCopy",
    "flexibleVersions",
];

fn parse_fields(j: &Json, what: &str) -> Result<Vec<Field>, String> {
    let Json::Array(items) = j else {
        return Err(format!("{what}: fields must be an array"));
    };
    items.iter().map(|f| parse_field(f, what)).collect()
}

fn parse_field(j: &Json, parent: &str) -> Result<Field, String> {
    let o = obj(j, parent)?;
    let name = req_string(o, "name", parent)?;
    let what = format!("{parent}.{name}");
    check_keys(o, FIELD_KEYS, &what)?;
    let ty = Ty::parse(&req_string(o, "type", &what)?).map_err(|e| format!("{what}: {e}"))?;
    let versions = vers(o, "versions", &what)?.ok_or_else(|| format!("{what}: no versions"))?;
    let tag = match get(o, "tag") {
        None => None,
        Some(t) => Some(
            scalar_text(t, &what)?
                .parse::<u32>()
                .map_err(|e| format!("{what}: bad tag: {e}"))?,
        ),
    };
    let tagged = vers(o, "taggedVersions", &what)?.unwrap_or(Versions::NONE);
    if tag.is_some() == tagged.none {
        return Err(format!("{what}: tag and taggedVersions must come together"));
    }
    let fields = get(o, "fields")
        .map(|f| parse_fields(f, &what))
        .transpose()?;
    if fields.is_some() && ty.struct_name().is_none() {
        return Err(format!("{what}: nested fields on a non-struct type"));
    }
    Ok(Field {
        ty,
        versions,
        nullable: vers(o, "nullableVersions", &what)?.unwrap_or(Versions::NONE),
        tagged,
        tag,
        default: get(o, "default")
            .map(|d| scalar_text(d, &what))
            .transpose()?,
        ignorable: boolean(o, "ignorable", &what)?,
        map_key: boolean(o, "mapKey", &what)?,
        zero_copy: boolean(o, "zeroCopy", &what)?,
        entity_type: string(o, "entityType", &what)?,
        flexible: vers(o, "flexibleVersions", &what)?,
        fields,
        name,
    })
}

const SPEC_KEYS: &[&str] = &[
    "apiKey",
    "type",
    "listeners",
    "name",
    "validVersions",
    "deprecatedVersions",
    "flexibleVersions",
    "latestVersionUnstable",
    "fields",
    "commonStructs",
];

pub fn parse_spec(file: &str, j: &Json) -> Result<Spec, String> {
    let o = obj(j, file)?;
    check_keys(o, SPEC_KEYS, file)?;
    let name = req_string(o, "name", file)?;
    let kind = match req_string(o, "type", file)?.as_str() {
        "request" => Kind::Request,
        "response" => Kind::Response,
        "header" => Kind::Header,
        "data" => Kind::Data,
        t => return Err(format!("{file}: unknown spec type {t:?}")),
    };
    let valid =
        vers(o, "validVersions", file)?.ok_or_else(|| format!("{file}: no validVersions"))?;
    let valid = match valid.max {
        Some(max) if !valid.none => (valid.min, max),
        _ => return Err(format!("{file}: validVersions must be closed")),
    };
    let api_key = match get(o, "apiKey") {
        None => None,
        Some(k) => Some(
            scalar_text(k, file)?
                .parse::<i16>()
                .map_err(|e| format!("{file}: apiKey: {e}"))?,
        ),
    };
    if matches!(kind, Kind::Request | Kind::Response) && api_key.is_none() {
        return Err(format!("{file}: a request/response needs an apiKey"));
    }
    let listeners = match get(o, "listeners") {
        None => Vec::new(),
        Some(Json::Array(a)) => a
            .iter()
            .map(|l| match l {
                Json::String(s) => Ok(s.clone()),
                _ => Err(format!("{file}: listeners must be strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{file}: listeners must be an array")),
    };
    let mut common = Vec::new();
    if let Some(cs) = get(o, "commonStructs") {
        let Json::Array(items) = cs else {
            return Err(format!("{file}: commonStructs must be an array"));
        };
        for c in items {
            let co = obj(c, file)?;
            let cname = req_string(co, "name", file)?;
            let what = format!("{file}:{cname}");
            check_keys(co, &["name", "versions", "fields"], &what)?;
            vers(co, "versions", &what)?;
            let fields = get(co, "fields").ok_or_else(|| format!("{what}: no fields"))?;
            common.push(StructDef {
                name: cname,
                fields: parse_fields(fields, &what)?,
            });
        }
    }
    let fields = get(o, "fields").ok_or_else(|| format!("{file}: no fields"))?;
    Ok(Spec {
        file: file.to_owned(),
        api_key,
        kind,
        fields: parse_fields(fields, &name)?,
        name,
        valid,
        flexible: vers(o, "flexibleVersions", file)?.unwrap_or(Versions::NONE),
        deprecated: vers(o, "deprecatedVersions", file)?.unwrap_or(Versions::NONE),
        listeners,
        latest_unstable: boolean(o, "latestVersionUnstable", file)?,
        common,
    })
}
