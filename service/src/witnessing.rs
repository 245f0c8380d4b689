//! Asking the `[witnessing]` witnesses to cosign the registry's checkpoints.
//!
//! Every `interval_seconds` (and once at startup), a round: when the log has grown past the
//! newest checkpoint, the service signs one of the whole log (through the writer, like any
//! checkpoint it makes); then every configured witness that has not cosigned the newest
//! checkpoint yet is asked (C2SP tlog-witness `add-checkpoint`, [`crate::witness::client`]),
//! and the cosignatures that verify under its configured keys are stored with the checkpoint.
//! From there they travel in `GET /checkpoint`, in bundles, in refresh pieces and in tiles.
//!
//! A witness that is down, slow or refuses is logged and asked again next round; rounds run on
//! the blocking pool, one at a time, and never hold up the registry's writes (a witness is
//! asked outside any transaction). The witnesses of a round are asked at the same time
//! ([`ask_each`]), so one that is down costs the round its timeout once.

use std::sync::Arc;
use std::time::Duration;

use cairn_core::witness::CosignerKey;

use crate::error::ServiceResult;
use crate::witness::client::{ask_each, MAX_ASKED_AT_ONCE};
use crate::AppState;

/// One configured witness: its URL and the keys its cosignatures count under.
#[derive(Debug, Clone)]
pub struct WitnessTarget {
    /// Base URL.
    pub url: String,
    /// Its cosigner keys.
    pub keys: Vec<CosignerKey>,
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// The size of the checkpoint the round was about (0: an empty log, nothing asked).
    pub size: u64,
    /// Whether the round signed that checkpoint first.
    pub signed: bool,
    /// Each witness asked: its URL and the number of cosignatures stored, or why none.
    pub asked: Vec<(String, Result<usize, String>)>,
}

/// The witnesses of `[witnessing]`, keys parsed.
pub fn targets(config: &crate::config::Witnessing) -> ServiceResult<Vec<WitnessTarget>> {
    config
        .witnesses
        .iter()
        .map(|w| {
            Ok(WitnessTarget {
                url: w.url.clone(),
                keys: w.cosigner_keys()?,
            })
        })
        .collect()
}

/// One round over `targets` (see the module documentation). Blocking. Once `stop` is set,
/// no further group of witnesses is asked (those being asked answer or time out first), so a
/// shutdown waits for one group at most, not for every witness configured.
pub fn round(
    state: &AppState,
    targets: &[WitnessTarget],
    agent: &ureq::Agent,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> ServiceResult<Round> {
    let size = state.reg.tree_size()?;
    if size == 0 {
        return Ok(Round::default());
    }
    let newest = state.reg.latest_checkpoint().ok().map(|c| c.size);
    let signed = newest.is_none_or(|n| n < size);
    if signed {
        state.writer.checkpoint()?;
    }
    let cp = state.reg.latest_checkpoint()?;
    let have = state.reg.cosignatures(cp.size)?;
    let mut out = Round {
        size: cp.size,
        signed,
        asked: Vec::new(),
    };
    let due: Vec<(&str, &[CosignerKey])> = targets
        .iter()
        .filter(|t| !have.iter().any(|c| t.keys.contains(&c.key)))
        .map(|t| (t.url.as_str(), t.keys.as_slice()))
        .collect();
    let answers = due
        .chunks(MAX_ASKED_AT_ONCE)
        .take_while(|_| !*stop.borrow())
        .flat_map(|group| ask_each(agent, group, &state.reg, &cp));
    for answer in answers {
        let result = match answer.result {
            Ok(cosigs) => state
                .reg
                .add_cosignatures(cp.size, &cosigs)
                .map(|_| cosigs.len())
                .map_err(|e| format!("storing its cosignatures: {e}")),
            Err(e) => Err(e),
        };
        match &result {
            Ok(n) => {
                tracing::info!(witness = %answer.url, size = cp.size, cosignatures = n, "witness cosigned")
            }
            Err(e) => {
                tracing::warn!(witness = %answer.url, size = cp.size, error = %e, "witness did not cosign")
            }
        }
        out.asked.push((answer.url, result));
    }
    Ok(out)
}

/// The running rounds: [`Witnessing::stop`] ends them after the group of witnesses being
/// asked.
pub(crate) struct Witnessing {
    /// Set once: the loop ends, and a round in progress reads it between groups of witnesses.
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Witnessing {
    /// Ends the loop, and waits for a round in progress to end (it holds the registry): after
    /// the witnesses it is asking at the time, each within `timeout_seconds` a try.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the rounds on the current tokio runtime when witnesses are configured.
pub(crate) fn spawn(state: Arc<AppState>) -> ServiceResult<Option<Witnessing>> {
    let cfg = state.config.witnessing.clone();
    let targets = targets(&cfg)?;
    if targets.is_empty() {
        return Ok(None);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(cfg.timeout_seconds)))
        .build()
        .into();
    let targets = Arc::new(targets);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_seconds));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // A stop wins over a tick that is also due: no round begins after it.
                biased;
                _ = stopped.changed() => return,
                _ = tick.tick() => {}
            }
            let (state, targets, agent, stop) = (
                state.clone(),
                targets.clone(),
                agent.clone(),
                stopped.clone(),
            );
            let done =
                tokio::task::spawn_blocking(move || round(&state, &targets, &agent, &stop)).await;
            match done {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "witnessing round failed"),
                Err(e) => tracing::warn!(error = %e, "witnessing round panicked"),
            }
        }
    });
    Ok(Some(Witnessing { stop, task }))
}
