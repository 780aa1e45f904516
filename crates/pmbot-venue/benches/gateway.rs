//! The order gateway's own latency: from `Gateway::place(intent)` being
//! called to the first byte of its `POST /order` arriving on a socket
//! ("intent → socket", target p99 <= 200 µs without the journal's fsync),
//! and the whole `place()` round trip against the simulator for context.
//!
//! Run: `cargo bench -p pmbot-venue --bench gateway` (`PMBOT_GATEWAY_BENCH_ORDERS`
//! sets the number of timed orders, default 2,000; for diagnosis,
//! `PMBOT_GATEWAY_BENCH_USER_CHANNEL=0` turns the user channel off and
//! `PMBOT_GATEWAY_BENCH_WORKERS=N` sets the gateway runtime's workers).
//!
//! Set-up, all in this process on loopback:
//! - the simulator (`pmbot-sim`, quiet synthetic market, its rate limits off)
//!   on a tokio runtime of its own (one worker);
//! - a TCP proxy in front of its REST port, on plain threads with blocking
//!   reads: it forwards every byte both ways and stamps `Instant::now()` when
//!   a read from the gateway's side starts with `POST /order `;
//! - the gateway on a default multi-thread runtime (as `pmbot` runs it), the
//!   timed loop inside a spawned task (as the engine calls it), its user
//!   channel and heartbeat on, its client rate limit above the bench's rate
//!   (the limiter is still consulted on every order).
//!
//! Each order is a GTC BUY of 5 shares at 0.01 (far below any market, so
//! nothing fills); every 250 orders the account's orders are cancelled
//! (untimed). Orders are placed one after another.
//!
//! The headline figure uses the in-memory journal (`MemoryOrderLog`) and a
//! balance check that always answers "fresh, enough" with no I/O, so it is
//! the gateway's own path: kill-switch stat, halt and heartbeat checks,
//! tracker look-ups, balance query, rate limiter, SDK build + sign
//! (libsecp256k1), body serialization, journal write, the `Sent` update, L2
//! HMAC headers and the hand-off to reqwest/hyper, plus one loopback hop and
//! the proxy thread's wake-up (measured alone and printed as the floor).
//! The steps are then timed alone (`part:` lines) to say where the time goes.
//! A second, shorter run uses the SQLite journal on local disk (fsync per
//! commit, file under `CARGO_TARGET_TMPDIR`, removed at the end) to show what
//! durability adds before the first byte.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use pmbot_core::events::{DecisionContext, OrderIntent, OrderType};
use pmbot_core::{ClientOrderId, OrderStatus, Price, Side, Size, TokenId};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::ratelimit::RateLimitConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_venue::SystemClock;
use pmbot_venue::gateway::{
    BalanceCheck, BalanceQuery, BalanceRefusal, Gateway, GatewayConfig, GatewayDeps, MemoryOrderLog, OrderLog,
    PrivateKey, RateConfig,
};
use secrecy::SecretString;

/// Anvil's development key #0 (public; never holds real funds).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const WARM_UP: usize = 100;
const CANCEL_EVERY: usize = 250;
const SQLITE_ORDERS: usize = 500;

fn main() {
    let orders: usize =
        std::env::var("PMBOT_GATEWAY_BENCH_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000).max(100);
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gateway-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");

    let floor = loopback_floor(2_000);
    report("loopback floor: write() to a blocked reader's read() returning", &mut floor.clone());

    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sim")
        .enable_all()
        .build()
        .expect("sim runtime");
    let sim = sim_rt.block_on(start_sim());
    let proxy = Proxy::start(sim.addr);
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = std::env::var("PMBOT_GATEWAY_BENCH_WORKERS").ok().and_then(|v| v.parse().ok()) {
        b.worker_threads(w);
    }
    let rt = b.enable_all().build().expect("gateway runtime");

    let memory = rt.block_on(run("memory journal", &sim, &proxy, &dir, Box::new(MemoryOrderLog::new()), orders));
    memory.print();

    let journal_path = dir.join("journal.sqlite");
    let journal = pmbot_engine::journal::Journal::open(&journal_path).expect("journal");
    let sqlite = rt.block_on(run("SQLite journal", &sim, &proxy, &dir, Box::new(journal), SQLITE_ORDERS));
    sqlite.print();

    rt.block_on(breakdown(&sim, &proxy, &dir));

    drop(rt);
    sim_rt.block_on(sim.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

async fn start_sim() -> SimHandle {
    let mut s = SyntheticConfig { markets: 1, market_duration_ms: 3_600_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    let cfg = SimConfig {
        source: SourceConfig::Synthetic(Box::new(s)),
        rate_limits: RateLimitConfig::disabled(),
        ..SimConfig::default()
    };
    pmbot_sim::start(cfg).await.expect("simulator starts")
}

/// A balance check that always finds the wallet fresh and sufficient, with
/// no I/O: the on-chain reader's own cost is measured by the `balance` bench.
struct AlwaysEnough;

impl BalanceCheck for AlwaysEnough {
    fn check<'a>(&'a self, _: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>> {
        Box::pin(async { Ok(()) })
    }

    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

struct Run {
    name: &'static str,
    /// (orders tracked before it, intent → first byte, place() round trip)
    samples: Vec<(usize, Duration, Duration)>,
}

impl Run {
    fn print(&self) {
        let mut socket: Vec<Duration> = self.samples.iter().map(|s| s.1).collect();
        let mut round: Vec<Duration> = self.samples.iter().map(|s| s.2).collect();
        report(&format!("{}: intent -> first byte on the socket", self.name), &mut socket);
        report(&format!("{}: place() round trip", self.name), &mut round);
        // How the path grows with the orders the gateway tracks.
        let block = (self.samples.len() / 4).max(1);
        for chunk in self.samples.chunks(block) {
            let mut s: Vec<Duration> = chunk.iter().map(|s| s.1).collect();
            report(
                &format!(
                    "{}:   intent -> socket, {} to {} orders tracked",
                    self.name,
                    chunk[0].0,
                    chunk[chunk.len() - 1].0
                ),
                &mut s,
            );
        }
    }
}

async fn run(
    name: &'static str,
    sim: &SimHandle,
    proxy: &Proxy,
    dir: &Path,
    log: Box<dyn OrderLog>,
    orders: usize,
) -> Run {
    let cfg = GatewayConfig {
        clob_url: proxy.url(),
        ws_url: sim.ws_url(),
        order_rate: RateConfig { per_second: 100_000, burst: 100_000 },
        cancel_rate: RateConfig { per_second: 100_000, burst: 100_000 },
        kill_switch: dir.join(".kill_switch"),
        ..GatewayConfig::default()
    };
    let mut cfg = cfg;
    if std::env::var("PMBOT_GATEWAY_BENCH_USER_CHANNEL").is_ok_and(|v| v == "0") {
        cfg.user_channel.enabled = false;
    }
    let deps = GatewayDeps { log, balance: Arc::new(AlwaysEnough), clock: Arc::new(SystemClock) };
    let key = PrivateKey::given(SecretString::from(KEY.to_owned()));
    let started = Gateway::start_with_key(cfg, key, deps).await.expect("gateway starts");
    let gw = started.gateway;
    let token = first_token(sim);
    gw.prepare_market(&token).await.expect("market");
    let posts = proxy.posts.clone();
    let task = tokio::spawn(async move {
        let mut samples = Vec::with_capacity(orders);
        for n in 0..WARM_UP + orders {
            if n > 0 && n % CANCEL_EVERY == 0 {
                gw.cancel_all().await.expect("cancel all");
            }
            let intent = bid(&format!("{name}-{n}").replace(' ', "-"), &token);
            let seen = posts.lock().expect("posts").len();
            let t0 = Instant::now();
            let placed = gw.place(intent).await;
            let round_trip = t0.elapsed();
            let placed = placed.expect("placed");
            assert_eq!(placed.status, OrderStatus::Acknowledged, "the bid rests");
            let first_byte = posts.lock().expect("posts").get(seen).copied().expect("the proxy saw the post");
            if n >= WARM_UP {
                samples.push((n, first_byte.saturating_duration_since(t0), round_trip));
            }
        }
        gw.cancel_all().await.expect("cancel all");
        gw.shutdown();
        samples
    });
    Run { name, samples: task.await.expect("bench task") }
}

/// The steps of the path timed alone with the same libraries, to say where
/// the time goes (each after a warm-up, 2,000 samples).
async fn breakdown(sim: &SimHandle, proxy: &Proxy, dir: &Path) {
    use pmbot_venue::gateway::order::build_and_sign;
    use pmbot_venue::gateway::transport::l2_signature;
    use pmbot_venue::gateway::{OrderLog as _, PreparedOrder};
    use secrecy::ExposeSecret as _;

    const N: usize = 2_000;
    let signer = PrivateKey::given(SecretString::from(KEY.to_owned())).signer(137).expect("signer");
    let mut sdk = polymarket_client_sdk_v2::clob::Client::new(&sim.rest_url(), Default::default())
        .expect("sdk")
        .authentication_builder(&signer)
        .authenticate()
        .await
        .expect("authenticated");
    let _ = sdk.stop_heartbeats().await;
    let token = first_token(sim);
    let mut build = Vec::with_capacity(N);
    let mut bodies = Vec::with_capacity(N);
    for n in 0..N + 100 {
        let intent = bid(&format!("parts-{n}"), &token);
        let t = Instant::now();
        let amounts = intent.validate(pmbot_core::TickSize::Hundredth).expect("exact amounts");
        let signed = build_and_sign(&sdk, &signer, &intent, &amounts, 137, false).await.expect("signed");
        if n >= 100 {
            build.push(t.elapsed());
            bodies.push((intent, signed));
        }
    }
    report("  part: SDK build + sign + hash + body JSON (build_and_sign)", &mut build);

    let secret = sdk.credentials().secret().expose_secret().to_owned();
    let mut hmac = Vec::with_capacity(N);
    for (_, signed) in &bodies {
        let t = Instant::now();
        let sig = l2_signature(&secret, 1_700_000_000, "POST", "/order", &signed.body);
        hmac.push(t.elapsed());
        assert!(sig.is_some());
    }
    report("  part: L2 HMAC of the body (l2_signature)", &mut hmac);

    let mut log = MemoryOrderLog::new();
    let mut journal = Vec::with_capacity(N);
    for (intent, signed) in &bodies {
        let prepared = PreparedOrder {
            client_order_id: intent.client_order_id.clone(),
            order_hash: signed.hash,
            salt: signed.salt,
            intent: intent.clone(),
            market: pmbot_core::Hash32([1; 32]),
            body: signed.body.clone(),
            created: pmbot_core::TimestampMs(0),
        };
        let t = Instant::now();
        log.before_send(&prepared).expect("journaled");
        journal.push(t.elapsed());
    }
    report("  part: MemoryOrderLog::before_send", &mut journal);

    let kill = dir.join(".kill_switch");
    let mut stat = Vec::with_capacity(N);
    for _ in 0..N {
        let t = Instant::now();
        let present = kill.try_exists().unwrap_or(true);
        stat.push(t.elapsed());
        assert!(!present);
    }
    report("  part: kill-switch stat (Path::try_exists)", &mut stat);

    // reqwest's hand-off alone: a POST of the same size to the proxy, from
    // `send()` to the first byte arriving (the simulator refuses it unsigned).
    let http = reqwest::Client::builder().user_agent("pmbot").build().expect("client");
    let url = format!("{}order", proxy.url());
    let mut handoff = Vec::with_capacity(N);
    for (n, (_, signed)) in bodies.iter().enumerate() {
        let seen = proxy.posts.lock().expect("posts").len();
        let t = Instant::now();
        let resp = http
            .post(&url)
            .header("POLY_SIGNATURE", "x")
            .header("Content-Type", "application/json")
            .body(signed.body.clone())
            .send()
            .await
            .expect("sent");
        let _ = resp.bytes().await;
        let first = proxy.posts.lock().expect("posts").get(seen).copied().expect("the proxy saw it");
        if n >= 100 {
            handoff.push(first.saturating_duration_since(t));
        }
    }
    report("  part: reqwest send() to first byte at the proxy (incl. loopback floor)", &mut handoff);
}

fn first_token(sim: &SimHandle) -> TokenId {
    let markets = sim.state.lock().exchange.markets();
    markets.into_iter().find(|m| m.accepting_orders).expect("a market").spec.tokens[0].token_id.clone()
}

fn bid(cid: &str, token: &TokenId) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(cid).expect("client id"),
        token: token.clone(),
        side: Side::Buy,
        limit_price: Price::parse("0.01").expect("price"),
        size: Size::from_shares(5),
        order_type: OrderType::Gtc,
        post_only: false,
        expires_at: None,
        decision: DecisionContext::default(),
    }
}

/// What one loopback hop plus a blocked thread's wake-up costs here: the
/// part of "intent → socket" that is the measuring, not the gateway.
fn loopback_floor(samples: usize) -> Vec<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut arrivals = Vec::with_capacity(samples);
        let mut b = [0u8; 1];
        for _ in 0..samples {
            s.read_exact(&mut b).expect("read");
            arrivals.push(Instant::now());
            s.write_all(&b).expect("ack");
        }
        arrivals
    });
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut sent = Vec::with_capacity(samples);
    let mut b = [0u8; 1];
    for _ in 0..samples {
        // Let the reader block first, as the proxy does between orders.
        std::thread::sleep(Duration::from_micros(200));
        sent.push(Instant::now());
        s.write_all(&[7]).expect("write");
        s.read_exact(&mut b).expect("ack");
    }
    let arrivals = reader.join().expect("reader");
    sent.iter().zip(&arrivals).map(|(s, a)| a.saturating_duration_since(*s)).collect()
}

/// A forwarding proxy on plain threads, stamping the arrival of each
/// `POST /order ` request's first byte.
struct Proxy {
    port: u16,
    posts: Arc<Mutex<Vec<Instant>>>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let posts = Arc::new(Mutex::new(Vec::with_capacity(4_096)));
        let stamps = posts.clone();
        std::thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || {
                // Ends with the process.
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(upstream) else { continue };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { continue };
                    let stamps = stamps.clone();
                    std::thread::spawn(move || forward(client, server, Some(stamps)));
                    std::thread::spawn(move || forward(s2, c2, None));
                }
            })
            .expect("proxy thread");
        Proxy { port, posts }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

fn forward(mut from: TcpStream, mut to: TcpStream, stamps: Option<Arc<Mutex<Vec<Instant>>>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = Instant::now();
        // Requests on one connection are sequential: a new one starts a read.
        if let Some(stamps) = &stamps
            && buf[..n].starts_with(b"POST /order ")
        {
            stamps.lock().expect("stamps").push(at);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let pick = |q: f64| pmbot_core::quantile::quantile(samples, q).expect("samples");
    println!(
        "{name}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        samples[samples.len() - 1]
    );
}
