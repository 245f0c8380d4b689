//! Abuse controls for every endpoint: a per-IP rate limit with bursts, tighter per-endpoint
//! limits, and temporary bans for clients that keep going past their limit (seed 003's
//! `[rate_limit]`). Refusals are `429 rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;

use crate::config::RateLimit;
use crate::error::ServiceError;

/// The limiters of one service.
pub struct Limiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    endpoints: HashMap<&'static str, DefaultKeyedRateLimiter<IpAddr>>,
    strikes: Mutex<HashMap<IpAddr, (u32, Option<Instant>)>>,
    cfg: RateLimit,
    calls: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn quota(rps: u32, burst: u32) -> Quota {
    let rps = NonZeroU32::new(rps.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rps).allow_burst(burst)
}

/// Which endpoint limit a path falls under, if any.
fn endpoint_class(path: &str) -> Option<&'static str> {
    if path == "/api/v1/registry/register"
        || path == "/api/v1/registry/validate"
        || path == "/register"
    {
        Some("register")
    } else if path == "/resolve" {
        Some("resolve")
    } else if path.starts_with("/check_user/") {
        Some("check_user")
    } else if path == "/api/v1/registry/query" {
        Some("query")
    } else if path == "/checkpoint" || path.starts_with("/tile/") {
        Some("tiles")
    } else {
        None
    }
}

impl Limiter {
    /// Limiters for `cfg`.
    pub fn new(cfg: &RateLimit) -> Limiter {
        let mut endpoints = HashMap::new();
        let e = &cfg.endpoints;
        for (name, rps) in [
            ("register", e.register_rps),
            ("query", e.query_rps),
            ("tiles", e.tiles_rps),
            ("resolve", e.resolve_rps),
            ("check_user", e.check_user_rps),
        ] {
            if let Some(rps) = rps {
                endpoints.insert(name, RateLimiter::keyed(quota(rps, rps.max(1))));
            }
        }
        Limiter {
            per_ip: RateLimiter::keyed(quota(cfg.per_ip_rps, cfg.burst)),
            endpoints,
            strikes: Mutex::new(HashMap::new()),
            cfg: cfg.clone(),
            calls: AtomicU64::new(0),
        }
    }

    fn refuse(secs: u64, banned: bool) -> ServiceError {
        ServiceError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            if banned {
                format!("this address is banned for {secs} more seconds after repeatedly exceeding its rate limit")
            } else {
                format!("rate limit exceeded; retry in {secs} seconds")
            },
        )
        .with_details(json!({"retry_after_seconds": secs, "banned": banned}))
    }

    /// Admits or refuses one request from `ip` for `path`.
    pub fn check(&self, ip: IpAddr, path: &str) -> Result<(), ServiceError> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.per_ip.retain_recent();
            for l in self.endpoints.values() {
                l.retain_recent();
            }
            let now = Instant::now();
            self.strikes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, (_, until)| until.is_some_and(|u| u > now));
        }
        let now = Instant::now();
        {
            let strikes = self.strikes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, Some(until))) = strikes.get(&ip) {
                if *until > now {
                    return Err(Self::refuse((*until - now).as_secs().max(1), true));
                }
            }
        }
        let clock = DefaultClock::default();
        let mut verdict = self
            .per_ip
            .check_key(&ip)
            .map_err(|nu| nu.wait_time_from(clock.now()));
        if verdict.is_ok() {
            if let Some(l) = endpoint_class(path).and_then(|c| self.endpoints.get(c)) {
                verdict = l
                    .check_key(&ip)
                    .map_err(|nu| nu.wait_time_from(clock.now()));
            }
        }
        let mut strikes = self.strikes.lock().unwrap_or_else(|p| p.into_inner());
        match verdict {
            Ok(_) => {
                if let Some(s) = strikes.get_mut(&ip) {
                    if s.1.is_none_or(|u| u <= now) {
                        strikes.remove(&ip);
                    }
                }
                Ok(())
            }
            Err(wait) => {
                let s = strikes.entry(ip).or_insert((0, None));
                s.0 += 1;
                if self.cfg.ban_after > 0 && s.0 >= self.cfg.ban_after {
                    let ban = Duration::from_secs(self.cfg.ban_seconds);
                    *s = (0, Some(now + ban));
                    tracing::warn!(%ip, seconds = self.cfg.ban_seconds, "banned");
                    return Err(Self::refuse(self.cfg.ban_seconds.max(1), true));
                }
                Err(Self::refuse(wait.as_secs().max(1), false))
            }
        }
    }
}

/// Middleware: applies `limiter` to every request (`cairn serve` and the witness add it when
/// `rate_limit.enabled`).
pub async fn middleware(
    State(limiter): State<Arc<Limiter>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip {
        if let Err(e) = limiter.check(ip, req.uri().path()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// `router` with `[rate_limit]` applied to every request, when enabled.
pub fn apply(router: axum::Router, cfg: &RateLimit) -> axum::Router {
    if !cfg.enabled {
        return router;
    }
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(Limiter::new(cfg)),
        middleware,
    ))
}
