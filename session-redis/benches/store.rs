//! Benches of `RedisStore` against the raw `redis` client sending the same commands to the same
//! server (a `redis-server` this bench starts itself), one call at a time (latency) and 32 at
//! once over the shared connection (throughput).
//!
//! Run with `cargo bench -p session-redis` (about three minutes). Two parts:
//!
//! 1. criterion groups, one per operation, each timing `store/cN` and `raw/cN` per call;
//! 2. a table of `store / raw` throughput ratios, from alternating short rounds (order flipped
//!    every round) so that both sides see the same machine load: each ratio is the median of the
//!    ratios of adjacent round pairs. On a busy machine criterion's separate runs of the two
//!    sides can differ by more than the store's overhead; the table is the comparison to read.
//!
//! The raw client has the store's connection settings (one multiplexed RESP3 connection,
//! `TCP_NODELAY`, the same timeouts), so the difference is the store's own work: the version tag,
//! the connection slot, the error sorting, the boxed trait future.
//!
//! | operation | store | raw client |
//! |---|---|---|
//! | `load` | `load` | `GET` |
//! | `load_and_touch` | `load_and_touch` | `GETEX key PX` |
//! | `save` | `save(None)` | `SET key value PX` |
//! | `compare_and_set` | `save(Some(version))` | the same script through `redis::Script` |

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::Criterion;
use redis::aio::MultiplexedConnection;
use redis::io::tcp::TcpSettings;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo, ProtocolVersion,
    RedisConnectionInfo, Script, Value,
};
use session_core::{SaveOutcome, Store, Version};
use session_redis::RedisStore;
use test_redis::RedisServer;

const TTL: Duration = Duration::from_secs(600);
const TTL_MS: u64 = 600_000;
/// About the size of a small sealed session record.
const VALUE: [u8; 200] = [0x5a; 200];
/// Tasks sharing the connection in the concurrent runs.
const CONCURRENCY: u64 = 32;
/// Length of one round of the ratio table.
const ROUND: Duration = Duration::from_millis(300);
/// Rounds per side and row of the ratio table.
const ROUNDS: usize = 9;

/// The store's compare-and-set script, for the raw client's side.
const SAVE_LUA: &str = include_str!("../src/save.lua");

#[derive(Debug, Clone, Copy)]
enum Op {
    Load,
    LoadAndTouch,
    Save,
    CompareAndSet,
}

const OPS: [(Op, &str); 4] = [
    (Op::Load, "load"),
    (Op::LoadAndTouch, "load_and_touch"),
    (Op::Save, "save"),
    (Op::CompareAndSet, "compare_and_set"),
];

/// What both sides share for the whole run.
struct Context {
    store: RedisStore,
    raw: MultiplexedConnection,
    script: Script,
    /// The store's current version of each task's record.
    versions: Vec<Mutex<Version>>,
    /// The raw side's current tag of each task's record, and its next tag (a counter is enough
    /// for it, and costs nothing).
    raw_current: Vec<AtomicU64>,
    raw_next: AtomicU64,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();

fn context() -> &'static Context {
    CONTEXT.get().expect("set up before any bench")
}

fn key(task: u64) -> String {
    format!("session:{task:043}")
}

/// The raw client's keys for writes, apart from the store's: a raw write would change a record's
/// tag behind the store's back.
fn raw_key(task: u64) -> String {
    format!("session:raw{task:040}")
}

/// A record as the store writes it: the value, then a 16-byte tag.
fn tagged(tag: u64) -> Vec<u8> {
    let mut record = VALUE.to_vec();
    record.extend_from_slice(&u128::from(tag).to_le_bytes());
    record
}

/// One store call on task `task`'s record.
async fn ours(op: Op, task: u64) {
    let context = context();
    let store = &context.store;
    let key = key(task);
    match op {
        Op::Load => {
            black_box(store.load(&key).await.expect("load").expect("hit"));
        }
        Op::LoadAndTouch => {
            let loaded = store
                .load_and_touch(&key, TTL)
                .await
                .expect("load_and_touch");
            black_box(loaded.expect("hit"));
        }
        Op::Save | Op::CompareAndSet => {
            let slot = &context.versions[task as usize];
            let expected = matches!(op, Op::CompareAndSet).then(|| *slot.lock().expect("lock"));
            let saved = store.save(&key, &VALUE, TTL, expected).await;
            let Ok(SaveOutcome::Saved(version)) = saved else {
                panic!("an uncontended save must write: {saved:?}");
            };
            *slot.lock().expect("lock") = version;
        }
    }
}

/// The raw client's equivalent of [`ours`].
async fn raw(op: Op, task: u64) {
    let context = context();
    let mut raw = context.raw.clone();
    match op {
        Op::Load => {
            let got: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key(task))
                .query_async(&mut raw)
                .await
                .expect("GET");
            black_box(got.expect("hit"));
        }
        Op::LoadAndTouch => {
            let got: Option<Vec<u8>> = redis::cmd("GETEX")
                .arg(key(task))
                .arg("PX")
                .arg(TTL_MS)
                .query_async(&mut raw)
                .await
                .expect("GETEX");
            black_box(got.expect("hit"));
        }
        Op::Save => {
            let tag = context.raw_next.fetch_add(1, Ordering::Relaxed);
            let reply: Value = redis::cmd("SET")
                .arg(raw_key(task))
                .arg(tagged(tag))
                .arg("PX")
                .arg(TTL_MS)
                .query_async(&mut raw)
                .await
                .expect("SET");
            assert_eq!(reply, Value::Okay);
            context.raw_current[task as usize].store(tag, Ordering::Relaxed);
        }
        Op::CompareAndSet => {
            let current = &context.raw_current[task as usize];
            let expected = u128::from(current.load(Ordering::Relaxed)).to_le_bytes();
            let tag = context.raw_next.fetch_add(1, Ordering::Relaxed);
            let answer: i64 = context
                .script
                .key(raw_key(task))
                .arg(&expected[..])
                .arg(tagged(tag))
                .arg(TTL_MS)
                .invoke_async(&mut raw)
                .await
                .expect("EVALSHA");
            assert_eq!(answer, 2, "an uncontended compare-and-set writes");
            current.store(tag, Ordering::Relaxed);
        }
    }
}

/// The raw client with the store's connection settings.
async fn raw_connection(server: &RedisServer) -> MultiplexedConnection {
    let info = ConnectionAddr::Tcp("127.0.0.1".to_owned(), server.addr().port())
        .into_connection_info()
        .expect("connection info")
        .set_tcp_settings(TcpSettings::default().set_nodelay(true))
        .set_redis_settings(RedisConnectionInfo::default().set_protocol(ProtocolVersion::RESP3));
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(300)))
        .set_response_timeout(Some(Duration::from_millis(500)));
    Client::open(info)
        .expect("client")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("raw connection")
}

/// Connects both sides and writes every task's records.
async fn set_up(server: &RedisServer) -> Context {
    let store = RedisStore::from_spec(&server.spec()).expect("valid spec");
    let mut raw = raw_connection(server).await;
    let mut versions = Vec::new();
    let mut raw_current = Vec::new();
    for task in 0..CONCURRENCY {
        let saved = store.save(&key(task), &VALUE, TTL, None).await;
        let Ok(SaveOutcome::Saved(version)) = saved else {
            panic!("seed: {saved:?}");
        };
        versions.push(Mutex::new(version));
        let _: Value = redis::cmd("SET")
            .arg(raw_key(task))
            .arg(tagged(task))
            .query_async(&mut raw)
            .await
            .expect("seed");
        raw_current.push(AtomicU64::new(task));
    }
    Context {
        store,
        raw,
        script: Script::new(SAVE_LUA),
        versions,
        raw_current,
        raw_next: AtomicU64::new(CONCURRENCY),
    }
}

/// Runs calls as `concurrency` tasks, each repeating `call` on its own record `per_task` times,
/// and answers the time taken.
async fn run<F, Fut>(concurrency: u64, per_task: u64, call: F) -> Duration
where
    F: Fn(u64) -> Fut + Copy + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let local = tokio::task::LocalSet::new();
    let started = Instant::now();
    local
        .run_until(async {
            let tasks: Vec<_> = (0..concurrency)
                .map(|task| {
                    tokio::task::spawn_local(async move {
                        for _ in 0..per_task {
                            call(task).await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("bench task");
            }
        })
        .await;
    started.elapsed()
}

/// Calls per second of `call` at `concurrency` for one round.
async fn rate<F, Fut>(concurrency: u64, call: F) -> f64
where
    F: Fn(u64) -> Fut + Copy + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let local = tokio::task::LocalSet::new();
    let started = Instant::now();
    let deadline = started + ROUND;
    let done = local
        .run_until(async {
            let tasks: Vec<_> = (0..concurrency)
                .map(|task| {
                    tokio::task::spawn_local(async move {
                        let mut done = 0u64;
                        while Instant::now() < deadline {
                            call(task).await;
                            done += 1;
                        }
                        done
                    })
                })
                .collect();
            let mut total = 0;
            for task in tasks {
                total += task.await.expect("bench task");
            }
            total
        })
        .await;
    done as f64 / started.elapsed().as_secs_f64()
}

fn criterion_groups(criterion: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    for (op, name) in OPS {
        let mut group = criterion.benchmark_group(name);
        group.bench_function("store/c1", |b| b.to_async(runtime).iter(|| ours(op, 0)));
        group.bench_function("raw/c1", |b| b.to_async(runtime).iter(|| raw(op, 0)));
        group.bench_function(format!("store/c{CONCURRENCY}"), |b| {
            b.to_async(runtime)
                .iter_custom(|iters| per_call(iters, move |task| ours(op, task)))
        });
        group.bench_function(format!("raw/c{CONCURRENCY}"), |b| {
            b.to_async(runtime)
                .iter_custom(|iters| per_call(iters, move |task| raw(op, task)))
        });
        group.finish();
    }
}

/// `iters` calls spread over `CONCURRENCY` tasks, timed as criterion wants: the time for
/// `iters` calls.
async fn per_call<F, Fut>(iters: u64, call: F) -> Duration
where
    F: Fn(u64) -> Fut + Copy + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let per_task = iters.div_ceil(CONCURRENCY).max(1);
    let elapsed = run(CONCURRENCY, per_task, call).await;
    elapsed.mul_f64(iters as f64 / (per_task * CONCURRENCY) as f64)
}

/// The ratio table: alternating rounds of both sides, per operation and concurrency.
async fn ratios() {
    println!();
    println!("| operation | concurrency | store calls/s | raw calls/s | store / raw |");
    println!("|---|---:|---:|---:|---:|");
    for (op, name) in OPS {
        for concurrency in [1, CONCURRENCY] {
            let (mut store, mut raw_rates) = (Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                if round % 2 == 0 {
                    store.push(rate(concurrency, move |task| ours(op, task)).await);
                    raw_rates.push(rate(concurrency, move |task| raw(op, task)).await);
                } else {
                    raw_rates.push(rate(concurrency, move |task| raw(op, task)).await);
                    store.push(rate(concurrency, move |task| ours(op, task)).await);
                }
            }
            let mut pairs: Vec<f64> = store.iter().zip(&raw_rates).map(|(s, r)| s / r).collect();
            pairs.sort_by(f64::total_cmp);
            let ratio = pairs[pairs.len() / 2];
            let best = |rates: &[f64]| rates.iter().copied().fold(0.0, f64::max);
            println!(
                "| `{name}` | {concurrency} | {:.0} | {:.0} | {ratio:.2} |",
                best(&store),
                best(&raw_rates)
            );
        }
    }
}

fn main() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let context = runtime.block_on(set_up(&server));
    if CONTEXT.set(context).is_err() {
        unreachable!("set up once");
    }
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    criterion_groups(&mut criterion, &runtime);
    criterion.final_summary();
    // `cargo test --benches` runs this binary in test mode: the groups ran once each, and the
    // table is for measuring runs only.
    if std::env::args().any(|arg| arg == "--bench") {
        runtime.block_on(ratios());
    }
}
