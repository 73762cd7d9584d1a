//! Fetch (key 1): reads stored batches as they are (no re-encoding), with long polling
//! (`max_wait_ms` until `min_bytes` are there), per-partition and per-response byte limits
//! (the first partition with data always returns at least one whole batch, KIP-74), fetch
//! sessions (KIP-227, see `fetch_session`), topic ids (v13+), and leader-epoch checks.
//! There are no transactions, so the last stable offset is the high watermark and no aborted
//! transactions are reported under read_committed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::{FetchRequest, FetchResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::fetch_session::{Mode, Want};
use super::{injected_for, leader_epoch_error, Ctx, Req};
use crate::storage::StorageError;

/// v0-v3 are the legacy message formats' versions, which Kafka 4 no longer serves.
pub(crate) const VERSIONS: VersionRange = VersionRange::new(4, 17);

/// Longest long poll accepted, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(60);

struct Got {
    want: Want,
    data: PartitionData,
}

/// Reads every wanted partition once; returns the results and the bytes of records found.
fn read_all(
    ctx: &Ctx,
    r: &Req<'_>,
    wants: &[Want],
    max_bytes: usize,
    read_committed: bool,
) -> (Vec<Got>, usize) {
    let mut out = Vec::with_capacity(wants.len());
    let mut total = 0usize;
    for w in wants {
        let mut data = PartitionData {
            partition_index: w.partition,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: if read_committed {
                Some(Vec::new())
            } else {
                None
            },
            preferred_read_replica: -1,
            records: Some(Bytes::new()),
            ..Default::default()
        };
        let fail = |mut data: PartitionData, code: ErrorCode| {
            data.error_code = code.code();
            data
        };
        let partition = if w.topic.is_empty() {
            None
        } else {
            ctx.cluster.partition(&w.topic, w.partition)
        };
        let data = if let Some(code) = injected_for(r, &w.topic, w.partition) {
            fail(data, code)
        } else if ctx.faults.leadership_paused(&w.topic, w.partition) {
            fail(data, ErrorCode::NotLeaderOrFollower)
        } else if let Some(p) = partition {
            // The epoch is checked under the log lock, where a truncation moves it: a fetch
            // sees the old epoch with the old log or the new epoch with the truncated one.
            let log = p.log();
            let ours = p.leader_epoch.load(Ordering::Relaxed);
            if let Some(code) = leader_epoch_error(w.current_leader_epoch, ours) {
                fail(data, code)
            } else {
                let limit = (w.max_bytes.max(0) as usize).min(max_bytes.saturating_sub(total));
                data.high_watermark = log.log_end_offset();
                data.last_stable_offset = data.high_watermark;
                data.log_start_offset = log.log_start_offset();
                match log.read(w.fetch_offset, limit, total == 0) {
                    Ok(res) => {
                        data.high_watermark = res.high_watermark;
                        data.last_stable_offset = res.high_watermark;
                        data.log_start_offset = res.log_start_offset;
                        total += res.records.len();
                        data.records = Some(res.records);
                        data
                    }
                    Err(StorageError::OffsetOutOfRange { .. }) => {
                        fail(data, ErrorCode::OffsetOutOfRange)
                    }
                    Err(e) => {
                        tracing::warn!(topic = %w.topic, partition = w.partition, error = %e, "fetch read");
                        fail(data, e.error_code())
                    }
                }
            }
        } else if w.topic.is_empty() {
            fail(data, ErrorCode::UnknownTopicId)
        } else {
            fail(data, ErrorCode::UnknownTopicOrPartition)
        };
        out.push(Got {
            want: w.clone(),
            data,
        });
    }
    (out, total)
}

pub(crate) async fn handle(ctx: &Ctx, r: &Req<'_>, req: FetchRequest) -> FetchResponse {
    let v = r.version;
    let by_id = v >= 13;
    // Resolve the request's partitions (names from ids on v13+).
    let mut changes = Vec::new();
    for t in &req.topics {
        let name = if by_id {
            ctx.cluster
                .topic_by_id(&t.topic_id)
                .map(|t| t.name.clone())
                .unwrap_or_default()
        } else {
            t.topic.to_string()
        };
        for p in &t.partitions {
            changes.push(Want {
                topic: name.clone(),
                topic_id: t.topic_id,
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: if v >= 9 { p.current_leader_epoch } else { -1 },
                last_hw: -1,
                last_log_start: -1,
            });
        }
    }
    let forgotten: Vec<(String, i32)> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|f| {
            let name = if by_id {
                ctx.cluster
                    .topic_by_id(&f.topic_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default()
            } else {
                f.topic.to_string()
            };
            f.partitions.iter().map(move |p| (name.clone(), *p))
        })
        .collect();
    let (session_id, epoch) = if v >= 7 {
        (req.session_id, req.session_epoch)
    } else {
        (0, -1)
    };
    let (mode, wants) = match ctx.sessions.prepare(session_id, epoch, changes, &forgotten) {
        Ok(x) => x,
        Err(code) => {
            return FetchResponse {
                error_code: code.code(),
                session_id: 0,
                ..Default::default()
            };
        }
    };
    let max_bytes = if v >= 3 && req.max_bytes > 0 {
        req.max_bytes as usize
    } else {
        usize::MAX
    };
    let read_committed = v >= 4 && req.isolation_level == 1;
    let min_bytes = req.min_bytes.max(0) as usize;
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::now() + wait;
    let mut appends = ctx.cluster.appends.subscribe();
    let got = loop {
        appends.borrow_and_update();
        let (got, total) = read_all(ctx, r, &wants, max_bytes, read_committed);
        let errors = got.iter().any(|g| g.data.error_code != 0);
        if total >= min_bytes.max(1)
            || errors
            || wait.is_zero()
            || wants.is_empty() && min_bytes == 0
        {
            break got;
        }
        if tokio::time::timeout_at(deadline, appends.changed())
            .await
            .is_err()
        {
            break read_all(ctx, r, &wants, max_bytes, read_committed).0;
        }
    };
    // Incremental responses carry only partitions with news.
    let incremental = matches!(mode, Mode::Incremental { .. });
    let mut told = Vec::new();
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for g in got {
        let news = g.data.error_code != 0
            || g.data.records.as_ref().is_some_and(|b| !b.is_empty())
            || g.data.high_watermark != g.want.last_hw
            || g.data.log_start_offset != g.want.last_log_start;
        if incremental && !news {
            continue;
        }
        told.push((
            g.want.topic.clone(),
            g.want.partition,
            g.data.high_watermark,
            g.data.log_start_offset,
        ));
        let same_topic = topics.last().is_some_and(|t| {
            if by_id {
                t.topic_id == g.want.topic_id
            } else {
                *t.topic == *g.want.topic
            }
        });
        if !same_topic {
            topics.push(FetchableTopicResponse {
                topic: if by_id {
                    KStr::from_static("")
                } else {
                    KStr::from(g.want.topic.as_str())
                },
                topic_id: if by_id {
                    g.want.topic_id
                } else {
                    Default::default()
                },
                partitions: Vec::new(),
                ..Default::default()
            });
        }
        if let Some(t) = topics.last_mut() {
            t.partitions.push(g.data);
        }
    }
    ctx.sessions.finish(mode, &told);
    let session_id = match mode {
        Mode::Full { id } | Mode::Incremental { id } => id,
        Mode::Sessionless => 0,
    };
    FetchResponse {
        error_code: 0,
        session_id,
        responses: topics,
        ..Default::default()
    }
}
