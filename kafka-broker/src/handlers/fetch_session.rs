//! Fetch sessions (KIP-227): a client's full fetch (epoch 0) creates a session holding its
//! partitions and offsets; later fetches send only changes (epoch 1, 2, ...) plus forgotten
//! partitions, and responses carry only partitions with news (records, a moved high watermark or
//! log start offset, or an error). Epoch -1 fetches are sessionless (and close a named session).
//! The cache holds `slots` sessions and evicts the least recently used one when full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use kafka_proto::{ErrorCode, Uuid};

/// One partition as the session (or a sessionless request) wants it.
#[derive(Clone, Debug)]
pub(crate) struct Want {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub current_leader_epoch: i32,
    /// What the client was last told (session only); -1 forces the partition into the next
    /// incremental response.
    pub last_hw: i64,
    pub last_log_start: i64,
}

struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    partitions: Vec<Want>,
    last_used: Instant,
}

/// How a fetch relates to sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No session: answer every partition, session id 0.
    Sessionless,
    /// A full fetch that created session `id` (or 0 if the cache has no room).
    Full { id: i32 },
    /// An incremental fetch in session `id`.
    Incremental { id: i32 },
}

pub(crate) struct FetchSessions {
    slots: usize,
    next_id: AtomicI32,
    sessions: Mutex<HashMap<i32, Session>>,
}

impl FetchSessions {
    pub fn new(slots: usize) -> FetchSessions {
        FetchSessions {
            slots,
            next_id: AtomicI32::new(1),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides the mode and the partitions to serve. `changes` are the request's partitions;
    /// `forgotten` are (topic, partition) pairs to drop from an incremental session.
    pub fn prepare(
        &self,
        session_id: i32,
        epoch: i32,
        changes: Vec<Want>,
        forgotten: &[(String, i32)],
    ) -> Result<(Mode, Vec<Want>), ErrorCode> {
        let mut map = self.lock();
        match (session_id, epoch) {
            (0, -1) => Ok((Mode::Sessionless, changes)),
            (id, -1) => {
                map.remove(&id);
                Ok((Mode::Sessionless, changes))
            }
            (id, 0) => {
                if id != 0 {
                    map.remove(&id);
                }
                if self.slots == 0 {
                    return Ok((Mode::Full { id: 0 }, changes));
                }
                if map.len() >= self.slots {
                    if let Some(oldest) =
                        map.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k)
                    {
                        map.remove(&oldest);
                    }
                }
                let mut id = self.next_id.fetch_add(1, Ordering::Relaxed);
                if id <= 0 {
                    self.next_id.store(2, Ordering::Relaxed);
                    id = 1;
                }
                map.insert(
                    id,
                    Session {
                        next_epoch: 0,
                        partitions: changes.clone(),
                        last_used: Instant::now(),
                    },
                );
                Ok((Mode::Full { id }, changes))
            }
            (0, _) => Err(ErrorCode::InvalidFetchSessionEpoch),
            (id, epoch) => {
                let s = map.get_mut(&id).ok_or(ErrorCode::FetchSessionIdNotFound)?;
                if s.next_epoch != epoch {
                    return Err(ErrorCode::InvalidFetchSessionEpoch);
                }
                s.partitions.retain(|w| {
                    !forgotten
                        .iter()
                        .any(|(t, p)| *t == w.topic && *p == w.partition)
                });
                for c in changes {
                    match s
                        .partitions
                        .iter_mut()
                        .find(|w| w.topic == c.topic && w.partition == c.partition)
                    {
                        Some(w) => {
                            w.fetch_offset = c.fetch_offset;
                            w.max_bytes = c.max_bytes;
                            w.current_leader_epoch = c.current_leader_epoch;
                            w.topic_id = c.topic_id;
                        }
                        None => s.partitions.push(c),
                    }
                }
                s.last_used = Instant::now();
                Ok((Mode::Incremental { id }, s.partitions.clone()))
            }
        }
    }

    /// After a response is built: advances the session epoch and records what the client was
    /// told. `told` has (topic, partition, high watermark, log start) for each partition included.
    pub fn finish(&self, mode: Mode, told: &[(String, i32, i64, i64)]) {
        let id = match mode {
            Mode::Full { id } | Mode::Incremental { id } if id != 0 => id,
            _ => return,
        };
        let mut map = self.lock();
        if let Some(s) = map.get_mut(&id) {
            s.next_epoch = if s.next_epoch == i32::MAX {
                1
            } else {
                s.next_epoch + 1
            };
            for (t, p, hw, ls) in told {
                if let Some(w) = s
                    .partitions
                    .iter_mut()
                    .find(|w| w.topic == *t && w.partition == *p)
                {
                    w.last_hw = *hw;
                    w.last_log_start = *ls;
                }
            }
        }
    }

    /// Number of cached sessions.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(t: &str, p: i32, off: i64) -> Want {
        Want {
            topic: t.into(),
            topic_id: Uuid::ZERO,
            partition: p,
            fetch_offset: off,
            max_bytes: 1024,
            current_leader_epoch: -1,
            last_hw: -1,
            last_log_start: -1,
        }
    }

    #[test]
    fn sessions_follow_kip_227() {
        let s = FetchSessions::new(2);
        let (mode, w) = s
            .prepare(0, 0, vec![want("a", 0, 0), want("a", 1, 0)], &[])
            .unwrap();
        let Mode::Full { id } = mode else {
            panic!("{mode:?}")
        };
        assert!(id > 0);
        assert_eq!(w.len(), 2);
        s.finish(mode, &[("a".into(), 0, 5, 0), ("a".into(), 1, 0, 0)]);
        // Wrong epoch, unknown id.
        assert_eq!(
            s.prepare(id, 2, vec![], &[]).unwrap_err(),
            ErrorCode::InvalidFetchSessionEpoch
        );
        assert_eq!(
            s.prepare(id + 100, 1, vec![], &[]).unwrap_err(),
            ErrorCode::FetchSessionIdNotFound
        );
        // Incremental: update one partition, forget the other, add a new one.
        let (mode, w) = s
            .prepare(
                id,
                1,
                vec![want("a", 0, 5), want("b", 0, 0)],
                &[("a".into(), 1)],
            )
            .unwrap();
        assert_eq!(mode, Mode::Incremental { id });
        let offsets: Vec<_> = w
            .iter()
            .map(|w| (w.topic.as_str(), w.partition, w.fetch_offset, w.last_hw))
            .collect();
        assert_eq!(offsets, vec![("a", 0, 5, 5), ("b", 0, 0, -1)]);
        s.finish(mode, &[]);
        assert!(s.prepare(id, 2, vec![], &[]).is_ok());
        // Closing with epoch -1.
        s.prepare(id, -1, vec![], &[]).unwrap();
        assert_eq!(s.len(), 0);
        // Eviction keeps the cache bounded.
        for _ in 0..5 {
            s.prepare(0, 0, vec![], &[]).unwrap();
        }
        assert_eq!(s.len(), 2);
    }
}
