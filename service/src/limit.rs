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

/// A client's refusals in a row, and its ban.
#[derive(Debug, Clone, Copy)]
struct Strikes {
    /// Refusals since its last admitted request (or its last ban).
    count: u32,
    /// The end of its ban, if it was banned.
    banned_until: Option<Instant>,
    /// When it was last refused.
    last_refused: Instant,
}

/// How long a client's refusals in a row are kept after the last one. Every limit admits at
/// least one request a second, so a client refused longer ago than a second is admitted at
/// its next request, which clears its count anyway: forgetting it then changes nothing, while
/// forgetting it sooner would let a client that keeps just past its limit escape its ban.
const STREAK_KEPT: Duration = Duration::from_secs(2);

/// The limiters of one service.
pub struct Limiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    endpoints: HashMap<&'static str, DefaultKeyedRateLimiter<IpAddr>>,
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
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

/// What a client's limits and ban are kept under: its IPv4 address (an IPv4-mapped IPv6
/// address is its IPv4 one), or the /64 of its IPv6 address: one host commonly holds a whole
/// /64, and could otherwise step past its limit and its ban by changing address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

/// `Retry-After` for a wait: whole seconds, rounded up (a client that waits exactly that long
/// is admitted), at least 1.
fn seconds_up(wait: Duration) -> u64 {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    ms.div_ceil(1000).max(1)
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

    /// Forgets what no longer limits anyone at `now`: the limiters' idle keys, ended bans,
    /// and refusals in a row older than [`STREAK_KEPT`].
    fn prune(&self, now: Instant) {
        self.per_ip.retain_recent();
        for l in self.endpoints.values() {
            l.retain_recent();
        }
        self.strikes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| {
                s.banned_until.is_some_and(|u| u > now)
                    || now.saturating_duration_since(s.last_refused) < STREAK_KEPT
            });
    }

    /// Admits or refuses one request from `ip` for `path` (counted against [`client_key`]).
    pub fn check(&self, ip: IpAddr, path: &str) -> Result<(), ServiceError> {
        let ip = client_key(ip);
        let now = Instant::now();
        if self.calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.prune(now);
        }
        {
            let strikes = self.strikes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(until) = strikes.get(&ip).and_then(|s| s.banned_until) {
                if until > now {
                    return Err(Self::refuse(seconds_up(until - now), true));
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
                if let Some(s) = strikes.get(&ip) {
                    if s.banned_until.is_none_or(|u| u <= now) {
                        strikes.remove(&ip);
                    }
                }
                Ok(())
            }
            Err(wait) => {
                let s = strikes.entry(ip).or_insert(Strikes {
                    count: 0,
                    banned_until: None,
                    last_refused: now,
                });
                s.count += 1;
                s.last_refused = now;
                if self.cfg.ban_after > 0 && s.count >= self.cfg.ban_after {
                    let ban = Duration::from_secs(self.cfg.ban_seconds);
                    s.count = 0;
                    s.banned_until = Some(now + ban);
                    tracing::warn!(%ip, seconds = self.cfg.ban_seconds, "banned");
                    return Err(Self::refuse(self.cfg.ban_seconds.max(1), true));
                }
                Err(Self::refuse(seconds_up(wait), false))
            }
        }
    }
}

/// The address a request came from (absent for a request not made over a connection).
fn peer_ip(req: &axum::extract::Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware: applies `limiter` to every request (`cairn serve` and the witness add it when
/// `rate_limit.enabled`).
pub async fn middleware(
    State(limiter): State<Arc<Limiter>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = peer_ip(&req);
    if let Some(ip) = ip {
        if let Err(e) = limiter.check(ip, req.uri().path()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Requests in flight per client (an IPv4 address, an IPv6 /64): at most `cap` at once. The
/// rate limit bounds how many requests a client starts a second, not how long each holds its
/// place: without this, one client within its rate could send slow bodies until it held every
/// one of `max_concurrent_requests`, and everyone else waited.
#[derive(Debug)]
pub struct InFlight {
    cap: usize,
    /// Clients with requests in flight and how many (an entry goes with its last request).
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in [`InFlight`], given back when dropped (answered, timed out, or its
/// connection gone).
struct Place {
    of: Arc<InFlight>,
    client: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.of.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

impl InFlight {
    /// At most `cap` requests in flight per client.
    pub fn new(cap: usize) -> InFlight {
        InFlight {
            cap,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// A place for a request of `ip`'s client, or `rate_limited` (429) when it has `cap`.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Result<Place, ServiceError> {
        let client = client_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(client).or_insert(0);
        if *n >= self.cap {
            return Err(ServiceError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "{} requests from this address are already in flight; retry when one is answered",
                    self.cap
                ),
            )
            .with_details(json!({"retry_after_seconds": 1, "banned": false, "in_flight_limit": self.cap})));
        }
        *n += 1;
        Ok(Place {
            of: self.clone(),
            client,
        })
    }
}

async fn in_flight_middleware(
    State(in_flight): State<Arc<InFlight>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = peer_ip(&req);
    let _place = match ip.map(|ip| in_flight.take(ip)) {
        Some(Err(e)) => return e.into_response(),
        Some(Ok(place)) => Some(place),
        None => None,
    };
    next.run(req).await
}

/// The limits every request of `cairn serve` and the witness passes, around `inner` (the
/// routes with their timeout and the global `max_concurrent_requests`), outermost first: the
/// rate limit of `[rate_limit]` (when enabled; it counts every request), then the per-client
/// cap on requests in flight ([`InFlight`], `limits.max_requests_per_client`), so that neither
/// a refused request nor one over its client's share takes one of the global places.
pub fn guard(
    inner: axum::Router,
    max_requests_per_client: usize,
    rate: &RateLimit,
) -> axum::Router {
    let capped = inner.layer(axum::middleware::from_fn_with_state(
        Arc::new(InFlight::new(max_requests_per_client)),
        in_flight_middleware,
    ));
    apply(capped, rate)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_kept_by_ipv4_address_or_ipv6_64() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::1"), "::");
    }

    /// An address that steps through its /64 stays limited and banned.
    #[test]
    fn a_64_shares_one_limit_and_one_ban() {
        let l = Limiter::new(&RateLimit {
            per_ip_rps: 1,
            burst: 2,
            ban_after: 2,
            ban_seconds: 30,
            ..RateLimit::default()
        });
        let ip = |n: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, n));
        assert!(l.check(ip(1), "/health").is_ok());
        assert!(l.check(ip(2), "/health").is_ok());
        assert!(l.check(ip(3), "/health").is_err());
        let banned = l.check(ip(4), "/health").unwrap_err();
        assert_eq!(banned.details["banned"], true);
        assert_eq!(banned.details["retry_after_seconds"], 30);
        // Rounded up: a ban of 30 s begun a moment ago still says 30, not 29.
        let again = l.check(ip(5), "/health").unwrap_err();
        assert_eq!(again.details["retry_after_seconds"], 30);
        let other = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert!(
            l.check(other, "/health").is_ok(),
            "another /64 is another client"
        );
    }

    /// The pruning every 4,096 requests keeps a client's recent refusals in a row (it used to
    /// forget every count short of a ban, so a client just past its limit was never banned
    /// on a busy service), and forgets them once they are older than [`STREAK_KEPT`].
    #[test]
    fn pruning_keeps_recent_refusals_in_a_row() {
        let l = Limiter::new(&RateLimit {
            per_ip_rps: 1,
            burst: 1,
            ban_after: 2,
            ban_seconds: 30,
            ..RateLimit::default()
        });
        let abuser = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let count = |l: &Limiter| {
            l.strikes
                .lock()
                .unwrap()
                .get(&abuser)
                .map(|s| (s.count, s.banned_until.is_some()))
        };
        assert!(l.check(abuser, "/health").is_ok());
        assert!(l.check(abuser, "/health").is_err());
        assert_eq!(count(&l), Some((1, false)));
        // 4,096 other clients, one request each: any 4,096 requests in a row hold one that
        // prunes.
        for n in 0..4096u32 {
            let other = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            assert!(l.check(other, "/health").is_ok());
        }
        assert_eq!(count(&l), Some((1, false)), "kept through the pruning");
        // The second refusal in a row bans.
        let banned = l.check(abuser, "/health").unwrap_err();
        assert_eq!(banned.details["banned"], true);
        // A ban is kept while it lasts; a count older than STREAK_KEPT is forgotten.
        let later = Instant::now() + STREAK_KEPT + Duration::from_millis(1);
        l.prune(later);
        assert_eq!(count(&l), Some((0, true)));
        let other = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
        assert!(l.check(other, "/health").is_ok());
        assert!(l.check(other, "/health").is_err());
        l.prune(later);
        assert!(!l.strikes.lock().unwrap().contains_key(&other));
        l.prune(Instant::now() + Duration::from_secs(31));
        assert_eq!(count(&l), None, "an ended ban is forgotten");
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(seconds_up(Duration::from_millis(1000)), 1);
        assert_eq!(seconds_up(Duration::from_millis(29_990)), 30);
        assert_eq!(seconds_up(Duration::ZERO), 1);
    }
}
