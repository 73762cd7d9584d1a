//! Generates `kafka-proto/src/messages/` from Apache Kafka's JSON message specs.
//!
//! ```text
//! cargo run -p kafka-proto-codegen -- [SPEC_DIR] [OUT_DIR]
//! ```
//!
//! SPEC_DIR defaults to `../shared/kafka-protocol/message` (beside the checkout), OUT_DIR to
//! `kafka-proto/src/messages`. Output is deterministic; CI regenerates into a temporary directory
//! and diffs it against the committed files.

mod emit;
mod json;
mod model;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use emit::{module_name, range_text, snake, BANNER};
use model::{Kind, Spec};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec_dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/kafka-protocol/message"));
    let out_dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("kafka-proto/src/messages"));
    match run(&spec_dir, &out_dir) {
        Ok(n) => {
            eprintln!("generated {n} files from {}", spec_dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(spec_dir: &Path, out_dir: &Path) -> Result<usize, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(spec_dir)
        .map_err(|e| format!("reading {}: {e}", spec_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no specs in {}", spec_dir.display()));
    }
    let mut specs = Vec::new();
    for p in &files {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(p).map_err(|e| format!("{name}: {e}"))?;
        let j = json::parse(&text).map_err(|e| format!("{name}: {e}"))?;
        specs.push(model::parse_spec(&name, &j)?);
    }
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    for s in &specs {
        let code = emit::emit_module(s).map_err(|e| format!("{}: {e}", s.file))?;
        outputs.insert(format!("{}.rs", module_name(s)), code);
    }
    let apis = pair_apis(&specs)?;
    outputs.insert("mod.rs".into(), emit_mod(&specs));
    outputs.insert("api_key.rs".into(), emit_api_key(&apis));
    outputs.insert("body.rs".into(), emit_body(&apis));
    outputs.insert("samples.rs".into(), emit_samples(&apis));

    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    // Remove stale generated files so renamed specs do not linger.
    if let Ok(rd) = std::fs::read_dir(out_dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".rs") && !outputs.contains_key(&n) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mut paths = Vec::new();
    for (n, code) in &outputs {
        let p = out_dir.join(n);
        std::fs::write(&p, code).map_err(|e| format!("{n}: {e}"))?;
        paths.push(p);
    }
    // Format like `cargo fmt` (default rustfmt settings; the repo has no rustfmt.toml).
    let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into());
    let status = std::process::Command::new(&rustfmt)
        .args(["--edition", "2021"])
        .args(&paths)
        .status()
        .map_err(|e| format!("running {rustfmt}: {e}"))?;
    if !status.success() {
        return Err(format!("{rustfmt} failed on the generated code"));
    }
    Ok(outputs.len())
}

struct Api<'a> {
    key: i16,
    name: String,
    req: &'a Spec,
    resp: &'a Spec,
}

fn pair_apis(specs: &[Spec]) -> Result<Vec<Api<'_>>, String> {
    let mut by_key: BTreeMap<i16, (Option<&Spec>, Option<&Spec>)> = BTreeMap::new();
    for s in specs {
        let Some(k) = s.api_key else { continue };
        let e = by_key.entry(k).or_default();
        match s.kind {
            Kind::Request if e.0.is_none() => e.0 = Some(s),
            Kind::Response if e.1.is_none() => e.1 = Some(s),
            _ => {
                return Err(format!(
                    "{}: duplicate {:?} for API key {k}",
                    s.file, s.kind
                ))
            }
        }
    }
    let mut out = Vec::new();
    for (key, (req, resp)) in by_key {
        let (Some(req), Some(resp)) = (req, resp) else {
            return Err(format!("API key {key} lacks a request or a response"));
        };
        if req.valid != resp.valid {
            return Err(format!(
                "API key {key}: request and response versions differ"
            ));
        }
        let name = req
            .name
            .strip_suffix("Request")
            .ok_or_else(|| format!("{}: request name must end in Request", req.file))?
            .to_owned();
        out.push(Api {
            key,
            name,
            req,
            resp,
        });
    }
    Ok(out)
}

fn emit_mod(specs: &[Spec]) -> String {
    let mut out = String::from(BANNER);
    out.push_str(
        "\n//! Every message of Apache Kafka's specs (trunk of October 2024, 4.0.0-SNAPSHOT).\n//!\n//! One module per spec file, named after the message; its top-level type is re-exported here and\n//! implements [`crate::Message`]. Field docs give each field's spec name, versions, nullability,\n//! tag and default.\n\n",
    );
    out.push_str("// Generated code favours uniform shapes over the idioms these lints ask for.\n#![allow(\n    clippy::field_reassign_with_default,\n    clippy::nonminimal_bool,\n    clippy::derivable_impls,\n    clippy::deref_addrof,\n    clippy::needless_borrow,\n    clippy::manual_range_contains,\n    clippy::unnecessary_cast,\n    clippy::identity_op\n)]\n\n");
    out.push_str("mod api_key;\nmod body;\n#[cfg(any(test, feature = \"samples\"))]\npub mod samples;\n\npub use api_key::{ApiKey, API_VERSION_PAIRS};\npub use body::{RequestBody, ResponseBody};\npub use crate::message::{Message, Request};\n\n");
    for s in specs {
        let _ = writeln!(out, "pub mod {};", module_name(s));
    }
    out.push('\n');
    for s in specs {
        let _ = writeln!(out, "pub use {}::{};", module_name(s), s.name);
    }
    out
}

fn vr(r: (i16, i16)) -> String {
    if r.0 > r.1 {
        "VersionRange::NONE".into()
    } else {
        format!("VersionRange::new({}, {})", r.0, r.1)
    }
}

fn emit_api_key(apis: &[Api<'_>]) -> String {
    let mut out = String::from(BANNER);
    out.push_str("\n//! The index of APIs.\n\nuse std::fmt;\n\nuse crate::VersionRange;\n\n");
    out.push_str("/// A Kafka API, by its key. Version ranges are those of the specs this codec was generated from.\n#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\n#[repr(i16)]\npub enum ApiKey {\n");
    for a in apis {
        let _ = writeln!(
            out,
            "    /// `{}` (key {}): versions {}.\n    {} = {},",
            a.name,
            a.key,
            range_text(a.req.valid),
            a.name,
            a.key
        );
    }
    out.push_str("}\n\n");
    let pairs: i64 = apis
        .iter()
        .map(|a| i64::from(a.req.valid.1 - a.req.valid.0 + 1))
        .sum();
    let _ = writeln!(
        out,
        "/// The number of (API, version) pairs across all APIs (each has a request and a response).\npub const API_VERSION_PAIRS: usize = {pairs};\n"
    );
    out.push_str("impl ApiKey {\n    /// Every API, in key order.\n    pub const ALL: &'static [ApiKey] = &[\n");
    for a in apis {
        let _ = writeln!(out, "        ApiKey::{},", a.name);
    }
    out.push_str("    ];\n\n");
    let arms = |f: &dyn Fn(&Api<'_>) -> String| -> String {
        let mut s = String::new();
        for a in apis {
            let _ = writeln!(s, "            ApiKey::{} => {},", a.name, f(a));
        }
        s
    };
    out.push_str("    /// The API with this key, if the codec knows it.\n    pub const fn from_i16(key: i16) -> Option<ApiKey> {\n        match key {\n");
    for a in apis {
        let _ = writeln!(out, "            {} => Some(ApiKey::{}),", a.key, a.name);
    }
    out.push_str("            _ => None,\n        }\n    }\n\n");
    out.push_str("    /// The numeric key.\n    pub const fn key(self) -> i16 {\n        self as i16\n    }\n\n");
    let _ = write!(out, "    /// The API's name as Kafka spells it (`Metadata`).\n    pub const fn name(self) -> &'static str {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| format!("{:?}", a.name)));
    let _ = write!(out, "    /// Every version the specs define, including an unstable latest one.\n    pub const fn valid_versions(self) -> VersionRange {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| vr(a.req.valid)));
    let _ = write!(out, "    /// The versions a broker may advertise: the valid ones without a `latestVersionUnstable` version.\n    pub const fn stable_versions(self) -> VersionRange {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| vr(if a.req.latest_unstable { (a.req.valid.0, a.req.valid.1 - 1) } else { a.req.valid })));
    let _ = write!(out, "    /// Whether the latest valid version is marked unstable in the specs.\n    pub const fn latest_version_unstable(self) -> bool {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| a.req.latest_unstable.to_string()));
    let _ = write!(out, "    /// Versions whose request uses the flexible encoding (compact strings, tagged fields).\n    pub const fn flexible_versions(self) -> VersionRange {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| vr(a.req.flexible.within(a.req.valid))));
    let _ = write!(out, "    /// Versions whose response uses the flexible encoding.\n    pub const fn response_flexible_versions(self) -> VersionRange {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| vr(a.resp.flexible.within(a.resp.valid))));
    let _ = write!(out, "    /// Versions the specs mark deprecated.\n    pub const fn deprecated_versions(self) -> VersionRange {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| vr(a.req.deprecated.within(a.req.valid))));
    let _ = write!(out, "    /// Which listeners serve the API (`broker`, `controller`, `zkBroker`).\n    pub const fn listeners(self) -> &'static [&'static str] {{\n        match self {{\n{}        }}\n    }}\n\n", arms(&|a| format!("&{:?}", a.req.listeners)));
    out.push_str(
        "    /// The request header version for a request at `version`: 2 for flexible versions, 1 otherwise,\n    /// and 0 for ControlledShutdown v0.\n    pub const fn request_header_version(self, version: i16) -> i16 {\n        if self.flexible_versions().contains(version) {\n            2\n        } else if matches!(self, ApiKey::ControlledShutdown) && version == 0 {\n            0\n        } else {\n            1\n        }\n    }\n\n",
    );
    out.push_str(
        "    /// The response header version for a response at `version`: 1 for flexible versions, else 0.\n    /// ApiVersions responses always use header 0 so that a client can read the error of a version\n    /// it guessed too high (KIP-511).\n    pub const fn response_header_version(self, version: i16) -> i16 {\n        if matches!(self, ApiKey::ApiVersions) {\n            0\n        } else if self.response_flexible_versions().contains(version) {\n            1\n        } else {\n            0\n        }\n    }\n}\n\n",
    );
    out.push_str("impl TryFrom<i16> for ApiKey {\n    type Error = i16;\n\n    /// The API with this key, or the key back.\n    fn try_from(key: i16) -> Result<ApiKey, i16> {\n        ApiKey::from_i16(key).ok_or(key)\n    }\n}\n\nimpl fmt::Display for ApiKey {\n    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {\n        f.write_str(self.name())\n    }\n}\n\n");
    for a in apis {
        let _ = writeln!(
            out,
            "impl crate::Request for super::{} {{\n    const KEY: ApiKey = ApiKey::{};\n    type Response = super::{};\n}}\n",
            a.req.name, a.name, a.resp.name
        );
    }
    out
}

fn emit_body(apis: &[Api<'_>]) -> String {
    let mut out = String::from(BANNER);
    out.push_str("\n//! Requests and responses by API key: what a broker decodes from a request header's key and\n//! version, and a client from the key and version it sent.\n\nuse super::*;\nuse crate::decode::{DecodeError, Decoder};\nuse crate::encode::{EncodeError, Sink};\nuse crate::Message;\n\n");
    for (kind, suffix) in [("Request", "req"), ("Response", "resp")] {
        let spec = |a: &Api<'_>| {
            if suffix == "req" {
                a.req.name.clone()
            } else {
                a.resp.name.clone()
            }
        };
        let _ = writeln!(out, "/// Any {}, tagged by API.\n#[derive(Clone, Debug, PartialEq)]\n#[non_exhaustive]\n#[allow(clippy::large_enum_variant)]\npub enum {kind}Body {{", kind.to_lowercase());
        for a in apis {
            let _ = writeln!(
                out,
                "    /// [`{}`].\n    {}({}),",
                spec(a),
                a.name,
                spec(a)
            );
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {kind}Body {{");
        out.push_str(
            "    /// The API.\n    pub fn api_key(&self) -> ApiKey {\n        match self {\n",
        );
        for a in apis {
            let _ = writeln!(
                out,
                "            Self::{}(_) => ApiKey::{},",
                a.name, a.name
            );
        }
        out.push_str("        }\n    }\n\n");
        let _ = writeln!(out, "    /// Decodes the {} body of API `key` at `version`.\n    ///\n    /// # Errors\n    /// A [`DecodeError`] for malformed input or a version the API does not define.\n    pub fn decode(d: &mut Decoder<'_>, key: ApiKey, version: i16) -> Result<Self, DecodeError> {{\n        Ok(match key {{", kind.to_lowercase());
        for a in apis {
            let _ = writeln!(
                out,
                "            ApiKey::{} => Self::{}({}::decode(d, version)?),",
                a.name,
                a.name,
                spec(a)
            );
        }
        out.push_str("        })\n    }\n\n");
        out.push_str("    /// Encodes the body at `version`.\n    ///\n    /// # Errors\n    /// An [`EncodeError`] for a version the API does not define or a value it cannot carry.\n    pub fn encode<S: Sink + ?Sized>(&self, s: &mut S, version: i16) -> Result<(), EncodeError> {\n        match self {\n");
        for a in apis {
            let _ = writeln!(
                out,
                "            Self::{}(m) => m.encode(s, version),",
                a.name
            );
        }
        out.push_str("        }\n    }\n\n    /// Bytes [`Self::encode`] writes at `version`.\n    pub fn encoded_size(&self, version: i16) -> usize {\n        match self {\n");
        for a in apis {
            let _ = writeln!(
                out,
                "            Self::{}(m) => m.encoded_size(version),",
                a.name
            );
        }
        out.push_str("        }\n    }\n}\n\n");
        for a in apis {
            let _ = writeln!(out, "impl From<{}> for {kind}Body {{\n    fn from(m: {}) -> Self {{\n        Self::{}(m)\n    }}\n}}\n", spec(a), spec(a), a.name);
        }
    }
    out
}

fn emit_samples(apis: &[Api<'_>]) -> String {
    let mut out = String::from(BANNER);
    out.push_str("\n//! Deterministic sample values of every request and response at every version (tests, fuzz\n//! seeds, benches). Built with the `samples` feature.\n\nuse super::*;\n\n");
    for (kind, is_req) in [("request", true), ("response", false)] {
        let body = if is_req {
            "RequestBody"
        } else {
            "ResponseBody"
        };
        let _ = writeln!(out, "/// A sample {kind} of API `key` at `version` (see each message's `sample`).\npub fn {kind}(key: ApiKey, version: i16, variant: u8) -> {body} {{\n    match key {{");
        for a in apis {
            let n = if is_req { &a.req.name } else { &a.resp.name };
            let _ = writeln!(
                out,
                "        ApiKey::{} => {body}::{}({n}::sample(version, variant)),",
                a.name, a.name
            );
        }
        out.push_str("    }\n}\n\n");
        let _ = writeln!(out, "/// The default-valued {kind} of API `key`.\npub fn default_{kind}(key: ApiKey) -> {body} {{\n    match key {{");
        for a in apis {
            let n = if is_req { &a.req.name } else { &a.resp.name };
            let _ = writeln!(
                out,
                "        ApiKey::{} => {body}::{}({n}::default()),",
                a.name, a.name
            );
        }
        out.push_str("    }\n}\n\n");
    }
    let _ = snake("");
    out
}
