//! Operations per second of `MemcachedStore` against the raw client doing the same commands,
//! at concurrency 1 and 32, on a memcached this bench starts itself.
//!
//! Run with `cargo bench -p session-memcached`. The two sides run in alternating short rounds
//! (order flipped every round) so that both see the same machine load. Each ops/s figure is the
//! best round, since background load only ever slows a round down; the ratio is the median of
//! the ratios of adjacent round pairs.

use std::future::Future;
use std::time::{Duration, Instant};

use memcache::exp::{AsyncMemcache, AsyncMetaClient, Meta};
use session_core::{SaveOutcome, Store, Version};
use session_memcached::MemcachedStore;
use test_memcached::MemcachedServer;

/// Length of one measuring round.
const ROUND: Duration = Duration::from_millis(300);
/// Rounds per side and comparison.
const ROUNDS: usize = 9;
const TTL: Duration = Duration::from_secs(600);
/// The raw client's expiry for `TTL`: what the store sends (rounded up, plus one second).
const RAW_EXPIRY: u32 = 601;
/// About the size of a small sealed session record.
const VALUE: [u8; 200] = [0x5a; 200];

fn main() {
    let Some(server) = MemcachedServer::start() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(&server));
}

async fn run(server: &MemcachedServer) {
    let store = MemcachedStore::from_spec(&server.spec()).expect("valid spec");
    // The raw client with the store's settings (defaults: 300 ms, 500 ms, 64 / 32 connections).
    let raw = AsyncMemcache::builder()
        .degrade(false)
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_millis(500))
        .max_connections(64)
        .max_idle(32)
        .connect_async([server.addr()])
        .await
        .expect("raw client");
    let raw = raw.meta();
    for task in 0..32 {
        store
            .save(&key(task), &VALUE, TTL, None)
            .await
            .expect("seed");
    }

    println!("| operation | concurrency | store ops/s | raw client ops/s | store / raw |");
    println!("|---|---:|---:|---:|---:|");
    for concurrency in [1, 32] {
        compare(
            "get (`load` / `mg k v c`)",
            concurrency,
            || load(&store, concurrency),
            || raw_get(raw, concurrency, false),
        )
        .await;
        compare(
            "get-and-touch (`load_and_touch` / `mg k v c T`)",
            concurrency,
            || load_and_touch(&store, concurrency),
            || raw_get(raw, concurrency, true),
        )
        .await;
        compare(
            "set (`save(None)` / `ms k T c`)",
            concurrency,
            || save(&store, concurrency),
            || raw_set(raw, concurrency),
        )
        .await;
    }
    println!();
    println!("| store save | concurrency | CAS save ops/s | plain save ops/s | CAS / plain |");
    println!("|---|---:|---:|---:|---:|");
    for concurrency in [1, 32] {
        compare(
            "`save(Some(version))` vs `save(None)`, no conflict",
            concurrency,
            || cas_save(&store, concurrency),
            || save(&store, concurrency),
        )
        .await;
    }
}

/// Measures `first` and `second` in alternating rounds and prints one table row.
async fn compare<A, AF, B, BF>(label: &str, concurrency: usize, first: A, second: B)
where
    A: Fn() -> AF,
    AF: Future<Output = f64>,
    B: Fn() -> BF,
    BF: Future<Output = f64>,
{
    let mut a = Vec::new();
    let mut b = Vec::new();
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            a.push(first().await);
            b.push(second().await);
        } else {
            b.push(second().await);
            a.push(first().await);
        }
    }
    let ratio = median(a.iter().zip(&b).map(|(a, b)| a / b).collect());
    let (a, b) = (best(&a), best(&b));
    println!("| {label} | {concurrency} | {a:.0} | {b:.0} | {ratio:.2} |");
}

fn best(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0.0, f64::max)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn key(task: usize) -> String {
    format!("bench:{task:02}:{}", "0".repeat(64))
}

/// Runs `concurrency` tasks, each looping over its own key until the round ends, and answers
/// the total operations per second. `task` gets the task number and the deadline and answers
/// how many operations it did.
async fn rate<F, Fut>(concurrency: usize, task: F) -> f64
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + ROUND;
    let tasks: Vec<_> = (0..concurrency)
        .map(|number| tokio::spawn(task(number, deadline)))
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("bench task panicked");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Runs `rate` with tasks that each repeat `$op` on their own key (`$key`)
/// with their own clone of `$client` (`$handle`) until the round ends.
macro_rules! repeat {
    ($concurrency:expr, $client:expr, |$handle:ident, $key:ident| $op:expr) => {
        rate($concurrency, |task, deadline| {
            let $handle = $client.clone();
            async move {
                let $key = key(task);
                let mut done = 0;
                while Instant::now() < deadline {
                    $op;
                    done += 1;
                }
                done
            }
        })
        .await
    };
}

async fn load(store: &MemcachedStore, concurrency: usize) -> f64 {
    repeat!(concurrency, store, |store, key| store
        .load(&key)
        .await
        .expect("load")
        .expect("hit"))
}

async fn load_and_touch(store: &MemcachedStore, concurrency: usize) -> f64 {
    repeat!(concurrency, store, |store, key| store
        .load_and_touch(&key, TTL)
        .await
        .expect("load_and_touch")
        .expect("hit"))
}

async fn save(store: &MemcachedStore, concurrency: usize) -> f64 {
    repeat!(concurrency, store, |store, key| store
        .save(&key, &VALUE, TTL, None)
        .await
        .expect("save"))
}

async fn cas_save(store: &MemcachedStore, concurrency: usize) -> f64 {
    rate(concurrency, |task, deadline| {
        let store = store.clone();
        async move {
            let key = key(task);
            let mut version: Version = store.load(&key).await.expect("load").expect("hit").version;
            let mut done = 0;
            while Instant::now() < deadline {
                match store.save(&key, &VALUE, TTL, Some(version)).await {
                    Ok(SaveOutcome::Saved(next)) => version = next,
                    other => panic!("CAS save of an uncontended key: {other:?}"),
                }
                done += 1;
            }
            done
        }
    })
    .await
}

async fn raw_get(client: &AsyncMetaClient, concurrency: usize, touch: bool) -> f64 {
    repeat!(concurrency, client, |client, key| {
        let get = client.get(&key).meta(Meta::NONE.cas());
        let get = if touch {
            get.touch_raw(RAW_EXPIRY)
        } else {
            get
        };
        assert!(get.send().await.expect("raw get").hit());
    })
}

async fn raw_set(client: &AsyncMetaClient, concurrency: usize) -> f64 {
    repeat!(concurrency, client, |client, key| {
        let set = client.set(&key, VALUE).ttl_raw(RAW_EXPIRY).return_cas();
        assert!(set.send().await.expect("raw set").applied());
    })
}
