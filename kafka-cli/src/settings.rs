//! Connection settings of a command: flags > environment > profile > defaults, turned into the
//! client's configurations. Profiles live in `profiles.toml` in the user's config directory
//! (`$KAFKA_CONFIG_DIR` overrides it, for tests and scripts).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use kafka_client::consumer::ConsumerConfig;
use kafka_client::{Admin, Client, ClientConfig, ProducerConfig};
use serde::{Deserialize, Serialize};

use crate::cli::Global;
use crate::exit::usage;

/// The broker list when nothing else gives one.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// One saved profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Bootstrap brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// Client properties (`-X`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// TLS on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_insecure: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The profiles file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProfileFile {
    /// The profile used when `--profile` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl ProfileFile {
    /// Where the file lives.
    pub fn path() -> anyhow::Result<PathBuf> {
        if let Some(dir) = std::env::var_os("KAFKA_CONFIG_DIR") {
            return Ok(PathBuf::from(dir).join("profiles.toml"));
        }
        let base = dirs::config_dir()
            .context("cannot find the user's config directory; set KAFKA_CONFIG_DIR")?;
        Ok(base.join("kafka-rs").join("profiles.toml"))
    }

    /// Reads the file (empty if it does not exist).
    pub fn load() -> anyhow::Result<ProfileFile> {
        let path = Self::path()?;
        match std::fs::read_to_string(&path) {
            Ok(s) => toml::from_str(&s).map_err(|e| {
                usage(format!(
                    "{} is not a valid profiles file: {e}",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file (creating its directory).
    pub fn save(&self) -> anyhow::Result<()> {
        let path = Self::path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = toml::to_string_pretty(self).context("encoding the profiles")?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// Parses `key=value`.
pub fn parse_property(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(usage(format!("-X expects key=value, got `{s}`"))),
    }
}

/// The effective settings of this invocation.
#[derive(Clone, Debug)]
pub struct Settings {
    pub brokers: String,
    pub properties: Vec<(String, String)>,
}

impl Settings {
    /// Resolves flags, environment (clap already merged `KAFKA_BROKERS` into the flag) and the
    /// profile.
    pub fn resolve(g: &Global) -> anyhow::Result<Settings> {
        let file = ProfileFile::load()?;
        let name = g.profile.clone().or(file.current.clone());
        let profile = match &name {
            Some(n) => match file.profiles.get(n) {
                Some(p) => p.clone(),
                None if g.profile.is_some() => {
                    return Err(usage(format!(
                        "no profile named `{n}` (see: kafka profile list)"
                    )))
                }
                None => Profile::default(),
            },
            None => Profile::default(),
        };
        let brokers = g
            .brokers
            .clone()
            .or(profile.brokers.clone())
            .unwrap_or_else(|| DEFAULT_BROKERS.to_owned());
        // Profile properties first, flags after (later wins).
        let mut properties: Vec<(String, String)> =
            profile.properties.clone().into_iter().collect();
        let tls =
            g.tls || profile.tls || g.tls_ca.is_some() || g.tls_cert.is_some() || g.tls_insecure;
        if tls {
            properties.push(("security.protocol".into(), "SSL".into()));
        }
        let ca = g.tls_ca.clone().or(profile.tls_ca.clone());
        if let Some(ca) = ca {
            properties.push(("ssl.ca.location".into(), ca.display().to_string()));
        }
        let cert = g.tls_cert.clone().or(profile.tls_cert.clone());
        let key = g.tls_key.clone().or(profile.tls_key.clone());
        match (cert, key) {
            (Some(c), Some(k)) => {
                properties.push(("ssl.certificate.location".into(), c.display().to_string()));
                properties.push(("ssl.key.location".into(), k.display().to_string()));
            }
            (None, None) => {}
            _ => return Err(usage("--tls-cert and --tls-key go together")),
        }
        if g.tls_insecure || profile.tls_insecure {
            properties.push(("enable.ssl.certificate.verification".into(), "false".into()));
        }
        for p in &g.properties {
            properties.push(parse_property(p)?);
        }
        Ok(Settings {
            brokers,
            properties,
        })
    }

    /// The client configuration (unknown properties are an error here only if no part of the
    /// client knows them: producer and consumer names are accepted and ignored).
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut c = ClientConfig::new(&self.brokers).client_id("kafka-cli");
        let mut probe_p = ProducerConfig::default();
        let mut probe_c = ConsumerConfig::default();
        for (k, v) in &self.properties {
            let known = c.set(k, v).map_err(|e| usage(e.to_string()))?
                || probe_p.set(k, v).map_err(|e| usage(e.to_string()))?
                || probe_c.set(k, v).map_err(|e| usage(e.to_string()))?;
            if !known {
                return Err(usage(format!("unknown property `{k}` (-X)")));
            }
        }
        Ok(c)
    }

    /// The producer configuration.
    pub fn producer_config(&self) -> anyhow::Result<ProducerConfig> {
        let mut p = ProducerConfig::default().client(self.client_config()?);
        for (k, v) in &self.properties {
            p.set(k, v).map_err(|e| usage(e.to_string()))?;
        }
        Ok(p)
    }

    /// The consumer configuration.
    pub fn consumer_config(&self) -> anyhow::Result<ConsumerConfig> {
        let mut c = ConsumerConfig::default().client(self.client_config()?);
        for (k, v) in &self.properties {
            c.set(k, v).map_err(|e| usage(e.to_string()))?;
        }
        Ok(c)
    }

    /// A connected client.
    pub async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::connect(self.client_config()?).await?)
    }

    /// A connected admin handle.
    pub async fn admin(&self) -> anyhow::Result<Admin> {
        Ok(Admin::new(self.client().await?))
    }
}
