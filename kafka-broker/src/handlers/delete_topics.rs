//! DeleteTopics (key 20): by name (v0-5) or by name or id (v6+); data and committed offsets go.

use kafka_proto::messages::delete_topics_response::DeletableTopicResult;
use kafka_proto::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_proto::{ErrorCode, KStr, Uuid, VersionRange};

use super::{Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(1, 6);

pub(crate) async fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<KStr>, Uuid)> = if r.version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };
    let mut responses = Vec::new();
    for (name, id) in targets {
        let topic = match &name {
            Some(n) if !n.is_empty() => ctx.cluster.topic(n),
            _ => ctx.cluster.topic_by_id(&id).filter(|_| !id.is_zero()),
        };
        let mut res = DeletableTopicResult {
            name: name.clone(),
            topic_id: id,
            ..Default::default()
        };
        let code = match (&r.injected, topic) {
            (Some(i), _) => i.code,
            (None, None) if name.as_deref().is_some_and(|n| !n.is_empty()) => {
                ErrorCode::UnknownTopicOrPartition
            }
            (None, None) => ErrorCode::UnknownTopicId,
            (None, Some(t)) => {
                res.name = Some(KStr::from(t.name.as_str()));
                res.topic_id = t.id;
                let c = ctx.cluster.clone();
                let name = t.name.clone();
                let done = tokio::task::spawn_blocking(move || c.delete_topic(&name))
                    .await
                    .unwrap_or(Err(ErrorCode::UnknownServerError));
                match done {
                    Ok(()) => {
                        ctx.groups.topic_deleted(&t.name);
                        ErrorCode::None
                    }
                    Err(code) => code,
                }
            }
        };
        res.error_code = code.code();
        responses.push(res);
    }
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}
