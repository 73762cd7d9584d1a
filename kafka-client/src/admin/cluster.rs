//! The cluster: id, controller and brokers.

use kafka_proto::messages::describe_cluster_request::DescribeClusterRequest;
use kafka_proto::ApiKey;

use super::{ctx, Admin};
use crate::{BrokerInfo, Error, Purpose, Result};

/// The answer of [`Admin::describe_cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id (KIP-78), if the broker reports one.
    pub cluster_id: Option<String>,
    /// The controller's node id, if known.
    pub controller: Option<i32>,
    /// The brokers, sorted by node id.
    pub brokers: Vec<BrokerInfo>,
}

impl Admin {
    /// Describes the cluster with DescribeCluster (Kafka 2.8+), or a Metadata request on older
    /// brokers.
    ///
    /// # Errors
    /// The request's error (authorization, ...), or [`Error::Timeout`] when no broker answered
    /// within the deadline.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let deadline = self.deadline();
        let described = self
            .client
            .retry_until(deadline, ApiKey::DescribeCluster, |c| async move {
                let node = c.any_broker();
                let (v, resp) = match c
                    .send_to(
                        node,
                        Purpose::Admin,
                        &DescribeClusterRequest::default(),
                        None,
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(Error::UnsupportedVersion { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                if let Some(e) =
                    Error::from_code(resp.error_code, resp.error_message.as_deref(), || {
                        ctx(ApiKey::DescribeCluster, v, node)
                    })
                {
                    return Err(e);
                }
                let mut brokers: Vec<BrokerInfo> = resp
                    .brokers
                    .iter()
                    .filter_map(|b| {
                        Some(BrokerInfo {
                            id: b.broker_id,
                            host: b.host.to_string(),
                            port: u16::try_from(b.port).ok()?,
                            rack: b.rack.as_ref().map(|r| r.to_string()),
                        })
                    })
                    .collect();
                brokers.sort_by_key(|b| b.id);
                Ok(Some(ClusterDescription {
                    cluster_id: Some(resp.cluster_id.to_string()).filter(|s| !s.is_empty()),
                    controller: (resp.controller_id >= 0).then_some(resp.controller_id),
                    brokers,
                }))
            })
            .await?;
        if let Some(d) = described {
            return Ok(d);
        }
        let md = self.fetch_metadata(Some(&[]), deadline).await?;
        let mut brokers: Vec<BrokerInfo> = md.brokers.values().cloned().collect();
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterDescription {
            cluster_id: md.cluster_id.clone(),
            controller: (md.controller >= 0).then_some(md.controller),
            brokers,
        })
    }
}
