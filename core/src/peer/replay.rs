//! Replay protection and pending requests, per peer, as a pure state machine.
//!
//! [`PeerExchangeState`] is what a registry keeps about one peer between messages: the
//! highest nonce the peer has used with us, the highest nonce we used with it, and our
//! requests still waiting for its answer. [`ExchangeConfig`] holds the limits and the
//! transitions; every transition checks first and changes the state only on success, so a
//! refused message leaves no trace. A registry stores the state durably (so a restart does
//! not reopen a replay window); the transitions are the same everywhere.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::{check_timestamp, KeyRequest, KeyResponse};
use crate::error::{Error, ErrorCode, Result};
use crate::UnixTime;

/// Limits of the exchange. The defaults are seed 004's: ±5 minutes of clock skew, pending
/// requests expire after 30 seconds; at most 4 pending requests per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeConfig {
    /// How far a message's timestamp may be from `now`, either way (seconds).
    pub max_skew: u64,
    /// How long a request waits for its response (seconds); older ones are expired.
    pub pending_ttl: u64,
    /// Most requests outstanding to one peer.
    pub max_pending: usize,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            max_skew: 300,
            pending_ttl: 30,
            max_pending: 4,
        }
    }
}

/// One of our requests waiting for the peer's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The request's nonce (the response echoes it).
    pub nonce: u64,
    /// When we sent it.
    pub sent_at: UnixTime,
}

/// What we know about the exchange with one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerExchangeState {
    /// Highest nonce the peer used in a message we accepted.
    pub last_received: Option<u64>,
    /// Highest nonce we used in a message to the peer.
    pub last_sent: Option<u64>,
    /// Our requests waiting for an answer, oldest first.
    pub pending: Vec<PendingRequest>,
}

impl PeerExchangeState {
    /// The nonce to use for our next message to the peer: above every nonce used before and
    /// at least `now · 2^20`, so a registry that lost its state (a fresh file) still starts
    /// above what the peer remembers, as long as its clock moves forward.
    pub fn next_nonce(&self, now: UnixTime) -> u64 {
        let floor = now.saturating_mul(1 << 20);
        self.last_sent
            .map_or(floor, |n| n.saturating_add(1).max(floor))
    }
}

impl ExchangeConfig {
    fn is_expired(&self, p: &PendingRequest, now: UnixTime) -> bool {
        now > p.sent_at.saturating_add(self.pending_ttl)
    }

    /// Drops expired pending requests; returns how many.
    ///
    /// ```
    /// use cairn_core::peer::{ExchangeConfig, PeerExchangeState};
    /// let cfg = ExchangeConfig::default();
    /// let mut s = PeerExchangeState::default();
    /// cfg.open_request(&mut s, 7, 1_000)?;
    /// assert_eq!(cfg.cleanup(&mut s, 1_030), 0); // 30 s: still pending
    /// assert_eq!(cfg.cleanup(&mut s, 1_031), 1);
    /// assert!(s.pending.is_empty());
    /// # Ok::<(), cairn_core::Error>(())
    /// ```
    pub fn cleanup(&self, state: &mut PeerExchangeState, now: UnixTime) -> usize {
        let before = state.pending.len();
        state.pending.retain(|p| !self.is_expired(p, now));
        before - state.pending.len()
    }

    /// Records a request we send with `nonce` at `now`. Expired requests are dropped first;
    /// then `replayed` if `nonce` is not above every nonce we used with this peer,
    /// `too_large` if [`ExchangeConfig::max_pending`] requests are already outstanding.
    pub fn open_request(
        &self,
        state: &mut PeerExchangeState,
        nonce: u64,
        now: UnixTime,
    ) -> Result<()> {
        if state.last_sent.is_some_and(|n| nonce <= n) {
            return Err(Error::new(
                ErrorCode::Replayed,
                alloc::format!("nonce {nonce} is not above the last one used with this peer"),
            ));
        }
        let live = state
            .pending
            .iter()
            .filter(|p| !self.is_expired(p, now))
            .count();
        if live >= self.max_pending {
            return Err(Error::new(
                ErrorCode::TooLarge,
                alloc::format!(
                    "{live} requests to this peer are pending, the limit is {}",
                    self.max_pending
                ),
            ));
        }
        self.cleanup(state, now);
        state.pending.push(PendingRequest {
            nonce,
            sent_at: now,
        });
        state.last_sent = Some(nonce);
        Ok(())
    }

    /// Records a message we send that answers a request (a response), with `nonce`:
    /// `replayed` if `nonce` is not above every nonce we used with this peer.
    pub fn record_sent(&self, state: &mut PeerExchangeState, nonce: u64) -> Result<()> {
        if state.last_sent.is_some_and(|n| nonce <= n) {
            return Err(Error::new(
                ErrorCode::Replayed,
                alloc::format!("nonce {nonce} is not above the last one used with this peer"),
            ));
        }
        state.last_sent = Some(nonce);
        Ok(())
    }

    fn check_received_nonce(&self, state: &PeerExchangeState, nonce: u64) -> Result<()> {
        if let Some(last) = state.last_received {
            if nonce <= last {
                return Err(Error::new(
                    ErrorCode::Replayed,
                    alloc::format!(
                        "nonce {nonce} is not above {last}, the last one this peer used"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Accepts a (verified) request from the peer: its timestamp within
    /// [`ExchangeConfig::max_skew`] of `now` (`expired`, `not_yet_valid`) and its nonce above
    /// every nonce the peer used before (`replayed`). On success the nonce is remembered.
    pub fn accept_request(
        &self,
        state: &mut PeerExchangeState,
        request: &KeyRequest,
        now: UnixTime,
    ) -> Result<()> {
        check_timestamp(request.timestamp, now, self.max_skew)?;
        self.check_received_nonce(state, request.nonce)?;
        state.last_received = Some(request.nonce);
        Ok(())
    }

    /// Accepts a (verified) response from the peer: its timestamp within
    /// [`ExchangeConfig::max_skew`] of `now`, an outstanding request with the echoed nonce
    /// (`replayed` when none is outstanding: already answered, never sent, or cleaned up;
    /// `expired` when it is older than [`ExchangeConfig::pending_ttl`]), and its own nonce
    /// above every nonce the peer used before (`replayed`). On success the request is no
    /// longer pending and the nonce is remembered.
    pub fn accept_response(
        &self,
        state: &mut PeerExchangeState,
        response: &KeyResponse,
        now: UnixTime,
    ) -> Result<()> {
        check_timestamp(response.timestamp, now, self.max_skew)?;
        let at = state
            .pending
            .iter()
            .position(|p| p.nonce == response.request_nonce)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Replayed,
                    alloc::format!(
                        "the response answers request {}, which is not outstanding",
                        response.request_nonce
                    ),
                )
            })?;
        if self.is_expired(&state.pending[at], now) {
            return Err(Error::new(
                ErrorCode::Expired,
                alloc::format!(
                    "request {} expired {} s after it was sent",
                    response.request_nonce,
                    self.pending_ttl
                ),
            ));
        }
        self.check_received_nonce(state, response.nonce)?;
        state.pending.remove(at);
        state.last_received = Some(response.nonce);
        Ok(())
    }
}
