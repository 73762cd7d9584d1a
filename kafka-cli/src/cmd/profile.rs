//! `kafka profile`: saved connection settings (brokers, `-X` properties, TLS) in
//! `profiles.toml` (see [`crate::settings::ProfileFile`]). A profile is created from the global
//! flags of the same command line (`kafka -b host:9092 --tls profile create prod`); the current
//! one applies when neither `--profile` nor the flags say otherwise (flag > env > profile >
//! default).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::Ctx;
use crate::exit::usage;
use crate::output::{self, Format};
use crate::settings::{parse_property, Profile, ProfileFile, Settings, DEFAULT_BROKERS};

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Save the global flags of this command line (-b, -X, --tls...) as a profile, e.g.
    /// `kafka -b host:9092 -X client.id=me profile create prod --use`.
    Create(CreateArgs),
    /// Make a profile the current one.
    Use {
        /// The profile.
        name: String,
    },
    /// List profiles; the current one is marked.
    List,
    /// Delete a profile.
    Delete {
        /// The profile.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The profile's name.
    pub name: String,
    /// Also make it the current profile.
    #[arg(long = "use")]
    pub use_it: bool,
    /// Replace a profile of that name.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(c: ProfileCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match c {
        ProfileCommand::Create(a) => create(a, ctx),
        ProfileCommand::Use { name } => use_profile(&name),
        ProfileCommand::List => list(ctx),
        ProfileCommand::Delete { name } => delete(&name),
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(usage(format!(
            "invalid profile name `{name}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

/// A path made absolute, so the profile works from any directory.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn missing(name: &str) -> anyhow::Error {
    usage(format!(
        "no profile named `{name}` (see: kafka profile list)"
    ))
}

fn create(a: CreateArgs, ctx: &Ctx) -> anyhow::Result<()> {
    check_name(&a.name)?;
    let g = &ctx.global;
    let mut properties = BTreeMap::new();
    for p in &g.properties {
        let (k, v) = parse_property(p)?;
        properties.insert(k, v);
    }
    let profile = Profile {
        brokers: g.brokers.clone(),
        properties,
        tls: g.tls,
        tls_ca: g.tls_ca.as_deref().map(absolute),
        tls_cert: g.tls_cert.as_deref().map(absolute),
        tls_key: g.tls_key.as_deref().map(absolute),
        tls_insecure: g.tls_insecure,
    };
    if profile == Profile::default() {
        return Err(usage(
            "nothing to save: give the profile's settings as global flags, e.g. kafka -b host:9092 profile create NAME",
        ));
    }
    for path in [&profile.tls_ca, &profile.tls_cert, &profile.tls_key]
        .into_iter()
        .flatten()
    {
        if !path.is_file() {
            return Err(usage(format!(
                "{} does not exist (TLS files are read when connecting)",
                path.display()
            )));
        }
    }
    // Unknown or invalid properties are rejected now rather than at every later use.
    Settings {
        brokers: profile
            .brokers
            .clone()
            .unwrap_or_else(|| DEFAULT_BROKERS.into()),
        properties: profile
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
    .client_config()?;
    let mut file = ProfileFile::load()?;
    if file.profiles.contains_key(&a.name) && !a.force {
        return Err(usage(format!(
            "profile `{}` already exists (add --force to replace it, or: kafka profile delete {})",
            a.name, a.name
        )));
    }
    file.profiles.insert(a.name.clone(), profile);
    if a.use_it {
        file.current = Some(a.name.clone());
    }
    file.save()?;
    let note = if a.use_it { " (now current)" } else { "" };
    eprintln!(
        "saved profile `{}`{note} in {}",
        a.name,
        ProfileFile::path()?.display()
    );
    Ok(())
}

fn use_profile(name: &str) -> anyhow::Result<()> {
    let mut file = ProfileFile::load()?;
    if !file.profiles.contains_key(name) {
        return Err(missing(name));
    }
    file.current = Some(name.to_owned());
    file.save()?;
    eprintln!("current profile: {name}");
    Ok(())
}

fn delete(name: &str) -> anyhow::Result<()> {
    let mut file = ProfileFile::load()?;
    if file.profiles.remove(name).is_none() {
        return Err(missing(name));
    }
    if file.current.as_deref() == Some(name) {
        file.current = None;
    }
    file.save()?;
    eprintln!("deleted profile `{name}`");
    Ok(())
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let file = ProfileFile::load()?;
    let current = file.current.as_deref();
    let rows: Vec<Value> = file
        .profiles
        .iter()
        .map(|(name, p)| {
            json!({
                "name": name,
                "current": current == Some(name.as_str()),
                "brokers": p.brokers,
                "properties": p.properties,
                "tls": p.tls || p.tls_ca.is_some() || p.tls_cert.is_some() || p.tls_insecure,
                "tls_ca": p.tls_ca.as_ref().map(|x| x.display().to_string()),
                "tls_cert": p.tls_cert.as_ref().map(|x| x.display().to_string()),
                "tls_key": p.tls_key.as_ref().map(|x| x.display().to_string()),
                "tls_insecure": p.tls_insecure,
            })
        })
        .collect();
    match ctx.format() {
        Format::Json => output::print_json(&Value::Array(rows)),
        Format::Table => {
            if rows.is_empty() {
                eprintln!("no profiles yet (try: kafka -b HOST:PORT profile create NAME --use)");
                return Ok(());
            }
            let mut t = output::table(&["", "NAME", "BROKERS", "PROPERTIES", "TLS"]);
            for (name, p) in &file.profiles {
                let props = p
                    .properties
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let tls = if p.tls_insecure {
                    "insecure"
                } else if p.tls_cert.is_some() {
                    "mtls"
                } else if p.tls || p.tls_ca.is_some() {
                    "on"
                } else {
                    "-"
                };
                t.add_row(vec![
                    if current == Some(name.as_str()) {
                        "*"
                    } else {
                        ""
                    }
                    .to_owned(),
                    name.clone(),
                    p.brokers.clone().unwrap_or_else(|| "-".into()),
                    if props.is_empty() { "-".into() } else { props },
                    tls.to_owned(),
                ]);
            }
            output::print_table(&t)
        }
    }
}
