//! Load benchmark of AgentOS over loopback HTTP, with a bare axum handler as the ceiling.
//!
//! ```sh
//! cargo run --release --example agentos_load -- [requests=100000] [concurrency=64] [--db]
//!     [--only=agentos|bare] [--count-allocs] [--session=ID] [--windows=N] [--url=http://HOST:PORT/PATH]
//!     [--postgres] [--replicas=1|2] [--hop]
//! ```
//!
//! One process serves two things on `127.0.0.1:0`:
//! * AgentOS with seed 001's hook layout on the offline model: `log_request` (background
//!   pre-hook), `log_analytics` (inline async post-hook), `send_notification` (background async
//!   post-hook), without their prints and sleeps; each hook only counts its calls;
//! * a bare axum handler that reads the same form body and answers a small JSON (the ceiling:
//!   the same HTTP stack with nothing behind it).
//!
//! A load generator written here (tokio `TcpStream`, HTTP/1.1 keep-alive, `concurrency`
//! connections, responses read by Content-Length) sends both the seed's request as a
//! urlencoded form, `message=Hello%2C+how+are+you%3F&stream=false`, `requests` times each after a
//! warm-up, in alternating rounds so that a change in the machine's load touches both alike. It
//! checks every status is 200 and every body says `"status":"COMPLETED"`, and gives up after
//! 120 s. It prints requests/s, p50 and p99 latency, errors and CPU time per request for each
//! target and the ratio, then shuts AgentOS down gracefully (`serve_with` and a oneshot) and
//! counts the background hooks: expected 2 per answered run, none may be lost.
//!
//! No database by default, so a request costs the HTTP layer, the run and its hooks alone (agno's
//! ~310 requests/s on this 2-core machine was measured per request with the seed's three hooks);
//! `--db` stores every run in SQLite in a temporary directory, as the seeds do. `--only` loads one
//! target (for profiling); `--count-allocs` also counts heap allocations per request.
//!
//! `--session=ID` posts every run to that one session (`session_id=ID` in the form) instead of a
//! new session per run. `--windows=N` loads AgentOS alone for N windows of 5 s after the warm-up
//! and prints the rate of each, and the last window's rate against the first's: with
//! `--db --session=one`, whether a run's cost grows with its session. With `--url` the windows
//! load that server instead (a seed example, say: `--url=http://127.0.0.1:7777/agents/background-task-agent/runs`).
//!
//! `--postgres` stores every run in PostgreSQL instead (`DATABASE_URL`, or a throwaway server
//! started from the machine's PostgreSQL binaries), with durable background hooks: each run is
//! committed with a job of its two background hooks, and the hook worker runs them. After the
//! load it waits until every job is done and prints how many hooks were drained per second.
//! `--replicas=2` (with `--postgres`) starts a second replica (this program again) on the same
//! database and loads both, half the connections each (AgentOS only).
//!
//! `--hop` measures the hand-off alone: every run goes to a thread of its own the way `--db` sends
//! it to SQLite's writer (serialised on the caller, queued on a channel, taken with whatever else
//! is queued, answered through a oneshot, its data freed back on the caller), and the thread
//! answers at once, storing nothing. The gap between `--hop` and no db is what handing each run
//! to a storage thread costs, whatever that thread then does.
//!
//! The process exits with status 1 when a request failed or a hook was lost.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agno::db::SqliteDb;
use agno::models::OfflineModel;
use agno::os::AgentOS;
use agno::prelude::*;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

#[cfg(feature = "postgres")]
#[allow(dead_code)]
#[path = "../agno-core/src/db/postgres/test_server.rs"]
mod pg_server;

/// `--postgres`: PostgreSQL for the load (the `postgres` feature), or why there is none.
mod postgres {
    use std::sync::Arc;

    use agno::db::Db;

    /// `DATABASE_URL`, or a throwaway server started from the machine's PostgreSQL binaries.
    pub fn database_url() -> Result<String, String> {
        #[cfg(feature = "postgres")]
        return super::pg_server::database_url();
        #[cfg(not(feature = "postgres"))]
        Err("--postgres needs the `postgres` feature: cargo run --release --features postgres --example agentos_load"
            .into())
    }

    /// agno's tables in `schema` at `url`, connected and migrated.
    pub async fn open(url: &str, schema: &str) -> Result<Arc<dyn Db>, Box<dyn std::error::Error>> {
        #[cfg(feature = "postgres")]
        {
            let db = agno::db::PostgresDb::with_schema(url, schema)?;
            db.connect().await?;
            Ok(Arc::new(db))
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = (url, schema);
            Err(database_url().unwrap_err().into())
        }
    }
}

const AGENT_ID: &str = "background-task-agent";
/// The seed's form, urlencoded (a `session_id` field follows with `--session`).
const FORM: &str = "message=Hello%2C+how+are+you%3F&stream=false";
/// The length of one window of `--windows`.
const WINDOW: Duration = Duration::from_secs(5);
/// How long the whole load (warm-up and rounds, both targets) may take before it is abandoned.
const TIME_LIMIT: Duration = Duration::from_secs(120);

static BACKGROUND_PRE: AtomicU64 = AtomicU64::new(0);
static INLINE_POST: AtomicU64 = AtomicU64::new(0);
static BACKGROUND_POST: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations while `--count-allocs` asks for it.
struct CountingAllocator;

static COUNT_ALLOCATIONS: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

impl CountingAllocator {
    fn count() {
        if COUNT_ALLOCATIONS.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: the caller's guarantees are System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Seed 001's background pre-hook, minus its prints.
#[hook(run_in_background = true)]
fn log_request(run_input: &RunInput, agent: &Agent) {
    std::hint::black_box((run_input, agent));
    BACKGROUND_PRE.fetch_add(1, Ordering::Relaxed);
}

/// Seed 001's inline async post-hook, minus its prints.
#[hook]
async fn log_analytics(run_output: &RunOutput, agent: &Agent, session: &Session) {
    std::hint::black_box((run_output, agent, session));
    INLINE_POST.fetch_add(1, Ordering::Relaxed);
}

/// Seed 001's background async post-hook, minus its prints and its 3 s sleep.
#[hook(run_in_background = true)]
async fn send_notification(run_output: &RunOutput, agent: &Agent) {
    std::hint::black_box((run_output, agent));
    BACKGROUND_POST.fetch_add(1, Ordering::Relaxed);
}

/// The ceiling: axum, a form body in, a small JSON out.
async fn bare(body: String) -> ([(&'static str, &'static str); 1], String) {
    let message = body.split('&').find_map(|pair| pair.strip_prefix("message=")).map(form_decode).unwrap_or_default();
    let json = serde_json::json!({ "status": "COMPLETED", "content": format!("You said: \"{message}\"") });
    ([("content-type", "application/json")], json.to_string())
}

/// Decodes one urlencoded form value (`+` is a space, `%XX` a byte).
fn form_decode(raw: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'+', ..) => out.push(b' '),
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            (byte, ..) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An empty router of the same type as `_app` (axum's `Router`, reached through AgentOS, whose
/// `serve_with` then serves it).
fn empty_like<T: Default>(_app: &T) -> T {
    T::default()
}

/// A listener on `127.0.0.1:0` with a backlog of 1024: `TcpListener::bind`'s 128 overflows when
/// more connections than that open at once, and the dropped SYNs stall their clients for 1 s.
fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(1024)
}

/// Which targets to load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Only {
    Both,
    AgentOS,
    Bare,
}

struct Options {
    requests: u64,
    concurrency: usize,
    db: bool,
    only: Only,
    count_allocations: bool,
    session: Option<String>,
    windows: u32,
    url: Option<(SocketAddr, String)>,
    postgres: bool,
    replicas: u32,
    hop: bool,
}

const USAGE: &str = "usage: agentos_load [requests=100000] [concurrency=64] [--db] [--only=agentos|bare] \
                     [--count-allocs] [--session=ID] [--windows=N] [--url=http://HOST:PORT/PATH] [--postgres] \
                     [--replicas=1|2] [--hop]";

fn options() -> Result<Options, String> {
    let mut positional = Vec::new();
    let (mut db, mut only, mut count_allocations) = (false, Only::Both, false);
    let (mut session, mut windows, mut url) = (None, 0, None);
    let (mut postgres, mut replicas, mut hop) = (false, 1, false);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--db" => db = true,
            "--hop" => hop = true,
            "--postgres" => postgres = true,
            "--replicas=1" => replicas = 1,
            "--replicas=2" => replicas = 2,
            flag if flag.starts_with("--session=") => {
                let id = &flag["--session=".len()..];
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Err(format!("`{flag}`: a session id of letters, digits, `-` and `_`\n{USAGE}"));
                }
                session = Some(id.to_owned());
            }
            flag if flag.starts_with("--url=") => {
                let bad = || format!("`{flag}`: expected http://HOST:PORT/PATH\n{USAGE}");
                let rest = flag["--url=".len()..].strip_prefix("http://").ok_or_else(bad)?;
                let (host, path) = rest.split_at(rest.find('/').ok_or_else(bad)?);
                let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
                    .map_err(|e| format!("`{flag}`: {e}"))?
                    .next()
                    .ok_or_else(bad)?;
                url = Some((addr, path.to_owned()));
            }
            flag if flag.starts_with("--windows=") => {
                windows = flag["--windows=".len()..].parse().map_err(|e| format!("`{flag}`: {e}\n{USAGE}"))?;
            }
            "--count-allocs" => count_allocations = true,
            "--only=agentos" => only = Only::AgentOS,
            "--only=bare" => only = Only::Bare,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`\n{USAGE}")),
            _ => positional.push(arg),
        }
    }
    if positional.len() > 2 {
        return Err(format!("unexpected arguments: {:?}\n{USAGE}", &positional[2..]));
    }
    let number = |i: usize, default: u64| -> Result<u64, String> {
        positional
            .get(i)
            .map_or(Ok(default), |s| s.replace('_', "").parse().map_err(|e| format!("`{s}`: {e}\n{USAGE}")))
    };
    let requests = number(0, 100_000)?.max(1);
    let concurrency = usize::try_from(number(1, 64)?.max(1)).map_err(|e| e.to_string())?;
    if url.is_some() && windows == 0 {
        return Err(format!("--url loads a server in windows: give --windows=N too\n{USAGE}"));
    }
    if replicas > 1 && !postgres {
        return Err(format!("--replicas=2 shares one PostgreSQL: give --postgres too\n{USAGE}"));
    }
    if [db, postgres, hop].iter().filter(|&&on| on).count() > 1 {
        return Err(format!("one of --db (SQLite), --postgres and --hop\n{USAGE}"));
    }
    Ok(Options { requests, concurrency, db, only, count_allocations, session, windows, url, postgres, replicas, hop })
}

/// User + system CPU time of this process (all threads), from `/proc/self/stat` (Linux only).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name: state is field 3, utime 14, stime 15 (in clock ticks of
    // USER_HZ, which is 100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// What loading one target saw.
#[derive(Default)]
struct Load {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    timed_out: bool,
    latencies_us: Vec<u32>,
    elapsed: Duration,
    cpu: Option<Duration>,
    allocations: u64,
}

impl Load {
    fn merge(&mut self, other: Load) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.timed_out |= other.timed_out;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
        self.elapsed += other.elapsed;
        self.allocations += other.allocations;
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which `p` of the requests answered (nearest rank), in µs.
    fn percentile(&self, p: f64) -> u32 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// Process CPU time (server and load generator) per answered request, in µs.
    fn cpu_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.ok > 0).then(|| cpu.as_secs_f64() * 1e6 / self.ok as f64)
    }
}

/// One target of the load generator.
struct Target {
    addr: SocketAddr,
    /// The whole request, sent as is on every exchange.
    request: Arc<[u8]>,
    /// A string every 200 body must contain.
    check: Option<&'static [u8]>,
}

impl Target {
    fn new(addr: SocketAddr, path: &str, form: &str, check: Option<&'static [u8]>) -> Self {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{form}",
            form.len()
        );
        Self { addr, request: Arc::from(request.into_bytes()), check }
    }

    /// Sends `requests` requests over `concurrency` keep-alive connections, abandoning them at
    /// `deadline`; with `stop`, no request starts after it (those under way finish).
    async fn load(
        &self,
        requests: u64,
        concurrency: usize,
        deadline: tokio::time::Instant,
        stop: Option<tokio::time::Instant>,
    ) -> Load {
        let claimed = Arc::new(AtomicU64::new(0));
        let cpu_before = process_cpu();
        let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = Instant::now();
        let connections: Vec<_> = (0..concurrency.min(usize::try_from(requests).unwrap_or(usize::MAX)))
            .map(|_| {
                let (request, claimed) = (Arc::clone(&self.request), Arc::clone(&claimed));
                let until = Until { deadline, stop };
                tokio::spawn(connection(self.addr, request, claimed, requests, until, self.check))
            })
            .collect();
        let mut total = Load::default();
        for connection in connections {
            match connection.await {
                Ok(load) => total.merge(load),
                Err(e) => total.error(format!("connection task failed: {e}")),
            }
        }
        total.elapsed = started.elapsed();
        total.cpu = process_cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
        total.allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
        total
    }
}

/// When a connection stops: abandoning at `deadline`, not starting requests after `stop`.
#[derive(Clone, Copy)]
struct Until {
    deadline: tokio::time::Instant,
    stop: Option<tokio::time::Instant>,
}

/// One keep-alive connection, sending requests until `requests` have been claimed in all.
async fn connection(
    addr: SocketAddr,
    request: Arc<[u8]>,
    claimed: Arc<AtomicU64>,
    requests: u64,
    until: Until,
    check: Option<&'static [u8]>,
) -> Load {
    let Until { deadline, stop } = until;
    let mut load = Load { latencies_us: Vec::with_capacity(4096), ..Load::default() };
    let mut stream: Option<TcpStream> = None;
    let mut buffer = Vec::with_capacity(16 * 1024);
    while claimed.fetch_add(1, Ordering::Relaxed) < requests {
        if stop.is_some_and(|stop| tokio::time::Instant::now() >= stop) {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            load.timed_out = true;
            break;
        }
        let sent = Instant::now();
        let exchange = async {
            if stream.is_none() {
                let fresh = TcpStream::connect(addr).await?;
                fresh.set_nodelay(true)?;
                stream = Some(fresh);
            }
            let socket = stream.as_ref().expect("connected above");
            exchange(socket, &request, &mut buffer).await
        };
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(Ok(Response { status: 200, body })) => {
                if check.is_some_and(|needle| !contains(&buffer[body..], needle)) {
                    load.error(format!("unexpected body: {}", String::from_utf8_lossy(&buffer[body..])));
                } else {
                    load.ok += 1;
                    load.latencies_us.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
            }
            Ok(Ok(Response { status, body })) => {
                load.error(format!("status {status}: {}", String::from_utf8_lossy(&buffer[body..])));
            }
            Ok(Err(e)) => {
                load.error(format!("I/O: {e}"));
                stream = None;
            }
            Err(_) => {
                load.error("no response before the time limit".into());
                load.timed_out = true;
                break;
            }
        }
    }
    load
}

/// A response's status and where its body starts in the buffer (it runs to the end).
struct Response {
    status: u16,
    body: usize,
}

/// Writes one request and reads one response (by its Content-Length) into `buffer`.
async fn exchange(stream: &TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> std::io::Result<Response> {
    use std::io::{Error, ErrorKind};

    let mut written = 0;
    while written < request.len() {
        stream.writable().await?;
        match stream.try_write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }

    buffer.clear();
    let mut head: Option<(u16, usize, usize)> = None; // status, body start, body length
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if head.is_none()
            && let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let (status, length) = parse_head(&buffer[..end]).ok_or_else(|| {
                let text = String::from_utf8_lossy(&buffer[..end]);
                Error::new(ErrorKind::InvalidData, format!("response head without status or Content-Length: {text}"))
            })?;
            head = Some((status, end + 4, length));
        }
        if let Some((status, body, length)) = head
            && buffer.len() >= body + length
        {
            if buffer.len() > body + length {
                return Err(Error::new(ErrorKind::InvalidData, "bytes after the response body"));
            }
            return Ok(Response { status, body });
        }
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed by the server")),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// The status and Content-Length of a response head (without its final blank line).
fn parse_head(head: &[u8]) -> Option<(u16, usize)> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let length = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })?;
    Some((status, length))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return true };
    haystack.iter().enumerate().any(|(i, b)| *b == first && haystack[i..].starts_with(needle))
}

fn print_row(name: &str, load: &Load) {
    let cpu = load.cpu_per_request().map_or_else(|| "-".to_owned(), |us| format!("{us:.1}"));
    println!(
        "{name:<10} {:>11.0} {:>8} {:>8} {:>7} {:>13}   ({} answered in {:.2} s)",
        load.per_second(),
        load.percentile(0.50),
        load.percentile(0.99),
        load.errors,
        cpu,
        load.ok,
        load.elapsed.as_secs_f64()
    );
    if let Some(error) = &load.first_error {
        println!("           first error: {error}");
    }
    if load.timed_out {
        println!("           abandoned at the {TIME_LIMIT:?} limit");
    }
    if COUNT_ALLOCATIONS.load(Ordering::Relaxed) && load.ok > 0 {
        println!("           allocations per request (whole process): {:.1}", load.allocations as f64 / load.ok as f64);
    }
}

/// `--hop`: a store that hands every save to a thread of its own and stores nothing there.
mod hop {
    use std::sync::mpsc::{self, Sender};

    use agno::db::{
        Db, DbError, DbFuture, EvalRun, EvalRunQuery, InMemoryDb, RunQuery, SavedJson, SessionPage, SessionQuery,
    };
    use agno::prelude::{RunOutput, Session};
    use tokio::sync::oneshot;

    /// A save's serialised rows, and where to send them back once "written".
    type Save = ((String, Vec<String>), oneshot::Sender<(String, Vec<String>)>);

    /// Reads answer from an empty in-memory store; saves take the round trip to the thread.
    pub struct HopDb {
        reads: InMemoryDb,
        saves: Sender<Save>,
    }

    impl HopDb {
        /// Starts the thread: it takes every queued save at once and answers each, like a writer
        /// whose transactions cost nothing.
        pub fn start() -> std::io::Result<Self> {
            let (saves, queue) = mpsc::channel::<Save>();
            std::thread::Builder::new().name("hop-writer".into()).spawn(move || {
                let mut batch = Vec::new();
                while let Ok(first) = queue.recv() {
                    batch.push(first);
                    batch.extend(queue.try_iter());
                    for (rows, reply) in batch.drain(..) {
                        let _ = reply.send(rows);
                    }
                }
            })?;
            Ok(Self { reads: InMemoryDb::new(), saves })
        }
    }

    impl HopDb {
        /// Serialises the rows here, on the caller's thread, as SqliteDb does (the text the caller
        /// serialised already is copied, not serialised again), and takes the round trip.
        fn hop<'a>(
            &'a self,
            session: &'a Session,
            runs: &'a [&'a RunOutput],
            json: Option<&'a SavedJson<'a>>,
        ) -> DbFuture<'a, ()> {
            let last = runs.len().saturating_sub(1);
            let rows = serde_json::to_string(session).and_then(|mut s| {
                if let Some(json) = json {
                    s.extend(json.session_data.into_iter().chain(json.runner_data));
                }
                let runs = runs
                    .iter()
                    .enumerate()
                    .map(|(i, run)| match json {
                        Some(json) if i == last => Ok(json.last_run.to_owned()),
                        _ => serde_json::to_string(run),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((s, runs))
            });
            let (reply, answer) = oneshot::channel();
            let sent = rows.map_err(DbError::from).map(|rows| self.saves.send((rows, reply)).is_ok());
            Box::pin(async move {
                if !sent? {
                    return Err(DbError::Closed("the hop thread is gone".into()));
                }
                let rows = answer.await.map_err(|_| DbError::Closed("the hop thread stopped".into()))?;
                drop(rows);
                Ok(())
            })
        }
    }

    impl Db for HopDb {
        fn id(&self) -> &str {
            "hop"
        }
        fn get_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, Option<Session>> {
            self.reads.get_session(session_id)
        }
        fn list_sessions<'a>(&'a self, query: &'a SessionQuery) -> DbFuture<'a, SessionPage> {
            self.reads.list_sessions(query)
        }
        fn delete_session<'a>(&'a self, session_id: &'a str) -> DbFuture<'a, bool> {
            self.reads.delete_session(session_id)
        }
        fn get_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<RunOutput>> {
            self.reads.get_run(run_id)
        }
        fn get_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, Vec<RunOutput>> {
            self.reads.get_runs(session_id, query)
        }
        fn count_runs<'a>(&'a self, session_id: &'a str, query: &'a RunQuery) -> DbFuture<'a, usize> {
            self.reads.count_runs(session_id, query)
        }
        fn save_runs<'a>(&'a self, session: &'a Session, runs: &'a [&'a RunOutput]) -> DbFuture<'a, ()> {
            self.hop(session, runs, None)
        }
        fn save_runs_with_json<'a>(
            &'a self,
            session: &'a Session,
            runs: &'a [&'a RunOutput],
            json: &'a SavedJson<'a>,
        ) -> DbFuture<'a, ()> {
            self.hop(session, runs, Some(json))
        }
        fn save_eval_run<'a>(&'a self, eval_run: &'a EvalRun) -> DbFuture<'a, ()> {
            self.reads.save_eval_run(eval_run)
        }
        fn get_eval_run<'a>(&'a self, run_id: &'a str) -> DbFuture<'a, Option<EvalRun>> {
            self.reads.get_eval_run(run_id)
        }
        fn get_eval_runs<'a>(&'a self, query: &'a EvalRunQuery) -> DbFuture<'a, Vec<EvalRun>> {
            self.reads.get_eval_runs(query)
        }
    }
}

/// Set in a second replica started by `--replicas=2`: `<database url>|<schema>`.
const REPLICA_ENV: &str = "AGENTOS_LOAD_REPLICA";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(target) = std::env::var(REPLICA_ENV) {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return runtime.block_on(replica(target));
    }
    let options = match options() {
        Ok(options) => options,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // Quiet unless RUST_LOG asks: AgentOS logs every request at info.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let workers = runtime.metrics().num_workers();
    let failed = runtime.block_on(run(options, workers))?;
    std::process::exit(i32::from(failed));
}

/// The seed-001 agent the load goes to.
fn seed_agent() -> Result<Agent, agno::Error> {
    Agent::builder()
        .id(AGENT_ID)
        .name("BackgroundTaskAgent")
        .model(OfflineModel::new())
        .instructions("You are a helpful assistant")
        .pre_hooks(hooks![log_request])
        .post_hooks(hooks![log_analytics, send_notification])
        .markdown(true)
        .build()
}

/// A second replica (`--replicas=2`): AgentOS with the same agent on the same PostgreSQL schema,
/// on `127.0.0.1:0`, until its stdin closes.
async fn replica(target: String) -> Result<(), Box<dyn std::error::Error>> {
    let (url, schema) = target.rsplit_once('|').ok_or("AGENTOS_LOAD_REPLICA: expected url|schema")?;
    let db = postgres::open(url, schema).await?;
    let agent_os = AgentOS::builder().agents([seed_agent()?]).db(db).build()?;
    let listener = listen()?;
    println!("listening on {}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = stop.send(());
    });
    let app = agent_os.get_app();
    agent_os.serve_with(listener, app, async { stopped.await.unwrap_or(()) }).await?;
    Ok(())
}

/// `psql -tAc sql` against `url`: the first value.
fn psql_value(url: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([url, "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs the benchmark; whether something failed (errors, lost hooks).
async fn run(options: Options, workers: usize) -> Result<bool, Box<dyn std::error::Error>> {
    let Options { requests, concurrency, db, only, count_allocations, session, windows, url, postgres, replicas, hop } =
        options;
    let form = match &session {
        Some(id) => format!("{FORM}&session_id={id}"),
        None => FORM.to_owned(),
    };
    let only = if windows > 0 || replicas > 1 { Only::AgentOS } else { only };
    COUNT_ALLOCATIONS.store(count_allocations, Ordering::Relaxed);
    let warmup = (requests / 10).clamp(1, 2_000);
    let rounds = requests.min(5);

    // AgentOS with seed 001's hooks, shut down through a oneshot.
    let mut builder = AgentOS::builder().agents([seed_agent()?]);
    let db_dir = if db { Some(tempfile::tempdir()?) } else { None };
    if let Some(dir) = &db_dir {
        builder = builder.db(SqliteDb::new(dir.path().join("agent.db"))?);
    }
    if hop {
        builder = builder.db(hop::HopDb::start()?);
    }
    // `--postgres`: a schema of its own on DATABASE_URL or a throwaway server.
    let pg = if postgres {
        let url = postgres::database_url()?;
        let schema = format!("agentos_load_{}", std::process::id());
        builder = builder.db(postgres::open(&url, &schema).await?);
        Some((url, schema))
    } else {
        None
    };
    // `--replicas=2`: the second replica, a process of its own; killed if this one ends first.
    let mut second = None;
    if let (Some((url, schema)), true) = (&pg, replicas > 1) {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .env(REPLICA_ENV, format!("{url}|{schema}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("the replica's stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr: SocketAddr = line.trim().strip_prefix("listening on ").ok_or("the replica did not start")?.parse()?;
        second = Some((child, addr));
    }
    let agent_os = Arc::new(builder.build()?);
    let listener = listen()?;
    let os_addr = listener.local_addr()?;
    let (stop_os, os_stopped) = oneshot::channel::<()>();
    let app = agent_os.get_app();
    let os_server = tokio::spawn({
        let agent_os = Arc::clone(&agent_os);
        async move { agent_os.serve_with(listener, app, async { os_stopped.await.unwrap_or(()) }).await }
    });

    // The bare handler on its own port, served the same way (an AgentOS only lends `serve_with`).
    let bare_listener = listen()?;
    let bare_addr = bare_listener.local_addr()?;
    let (stop_bare, bare_stopped) = oneshot::channel::<()>();
    let bare_app = empty_like(&agent_os.get_app()).fallback(bare);
    let host = AgentOS::builder().agents([Agent::builder().id("bare-host").build()?]).build()?;
    let bare_server = tokio::spawn(async move {
        host.serve_with(bare_listener, bare_app, async { bare_stopped.await.unwrap_or(()) }).await
    });

    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "agentos_load: {requests} requests per target (+{warmup} warm-up) in {rounds} alternating rounds, \
         {concurrency} keep-alive connections, {workers} runtime workers, one process; load average {}",
        loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "AgentOS: `POST /agents/{AGENT_ID}/runs`, offline model, seed 001's hooks (background pre, inline async post, \
         background async post; no prints, no sleeps); db: {}",
        match (&pg, db, hop) {
            (Some(_), ..) => format!("PostgresDb with durable background hooks (--postgres), {replicas} replica(s)"),
            (None, true, _) => "SqliteDb in a temp dir (--db)".to_owned(),
            (None, false, true) => "the hand-off alone: a thread that answers every save at once (--hop)".to_owned(),
            (None, false, false) => "none (--db stores every run in SQLite, as the seeds do)".to_owned(),
        }
    );
    println!("bare:    `POST /bare`, an axum handler reading the same form and answering a small JSON");
    println!("request: Content-Type: application/x-www-form-urlencoded, body `{form}`\n");

    let completed: Option<&'static [u8]> = Some(b"\"status\":\"COMPLETED\"");
    let os_target = match &url {
        Some((addr, path)) => {
            println!("--url: the windows load {path} on {addr} (the warm-up too)");
            Target::new(*addr, path, &form, completed)
        }
        None => Target::new(os_addr, &format!("/agents/{AGENT_ID}/runs"), &form, completed),
    };
    let bare_target = Target::new(bare_addr, "/bare", &form, completed);
    let deadline = tokio::time::Instant::now() + TIME_LIMIT;
    let (mut os_load, mut bare_load, mut warm) = (Load::default(), Load::default(), Load::default());
    let mut answered_by_os = 0;
    if only != Only::AgentOS {
        warm.merge(bare_target.load(warmup, concurrency, deadline, None).await);
    }
    if only != Only::Bare {
        let os_warm = os_target.load(warmup, concurrency, deadline, None).await;
        answered_by_os += os_warm.ok;
        warm.merge(os_warm);
    }
    // `--windows`: AgentOS alone, window after window, as many requests as fit in each.
    let mut window_rates = Vec::new();
    for window in 0..windows {
        let stop = tokio::time::Instant::now() + WINDOW;
        let load = os_target.load(u64::MAX, concurrency, stop + TIME_LIMIT, Some(stop)).await;
        println!(
            "window {:>2}: {:>9.0} requests/s, p99 {:>7} µs, {} errors, {} runs stored before it",
            window + 1,
            load.per_second(),
            load.percentile(0.99),
            load.errors,
            answered_by_os + os_load.ok
        );
        window_rates.push(load.per_second());
        os_load.merge(load);
    }
    if let (Some(first), Some(last)) = (window_rates.first(), window_rates.last()) {
        println!("last window / first window: {:.2}\n", last / first.max(1e-9));
    }
    // Alternating rounds (bare first, then AgentOS first), so a change in the machine's load
    // touches both targets alike.
    for round in 0..if windows > 0 { 0 } else { rounds } {
        let share = requests / rounds + u64::from(round < requests % rounds);
        let order = if round % 2 == 0 { [Only::Bare, Only::AgentOS] } else { [Only::AgentOS, Only::Bare] };
        for target in order {
            if only == Only::Both || only == target {
                match target {
                    Only::AgentOS => match &second {
                        // Two replicas: half the connections and requests each, at once.
                        Some((_, addr)) => {
                            let other = Target::new(*addr, &format!("/agents/{AGENT_ID}/runs"), &form, completed);
                            let half = (concurrency / 2).max(1);
                            let started = Instant::now();
                            let (mut a, b) = tokio::join!(
                                os_target.load(share / 2, half, deadline, None),
                                other.load(share - share / 2, half, deadline, None)
                            );
                            let elapsed = started.elapsed();
                            a.merge(b);
                            a.elapsed = elapsed;
                            os_load.merge(a);
                        }
                        None => os_load.merge(os_target.load(share, concurrency, deadline, None).await),
                    },
                    _ => bare_load.merge(bare_target.load(share, concurrency, deadline, None).await),
                }
            }
        }
    }
    answered_by_os += os_load.ok;

    println!(
        "{:<10} {:>11} {:>8} {:>8} {:>7} {:>13}",
        "target", "requests/s", "p50 µs", "p99 µs", "errors", "CPU µs/req*"
    );
    if only != Only::AgentOS {
        print_row("bare axum", &bare_load);
    }
    if only != Only::Bare {
        print_row("AgentOS", &os_load);
    }
    println!("* process CPU time (servers and load generator) per answered request");
    if only == Only::Both {
        let ratio = os_load.per_second() / bare_load.per_second();
        println!("\nAgentOS / bare: {ratio:.2} ({:.0}% of the bare handler's requests/s)", ratio * 100.0);
    }
    if warm.errors > 0 {
        println!("warm-up errors: {} (first: {})", warm.errors, warm.first_error.as_deref().unwrap_or("-"));
    }

    // Durable hooks: wait until every job is done (counted in the database, which both replicas
    // share), and say how fast they drained.
    let mut durable_lost = 0i128;
    if let Some((url, schema)) = &pg {
        let queue = format!("agno_background_hooks:{schema}");
        let sql = format!(
            "SELECT COUNT(*) FILTER (WHERE status = 'Done'), COUNT(*) FROM apalis.jobs WHERE job_type = '{queue}'"
        );
        let waited = Instant::now();
        let (done, total) = loop {
            let row = psql_value(url, &sql)?;
            let (done, total) = row.split_once('|').ok_or("psql: an unexpected answer")?;
            let (done, total): (u64, u64) = (done.parse()?, total.parse()?);
            if done >= total || waited.elapsed() > TIME_LIMIT {
                break (done, total);
            }
            // psql is a process each time: not too often, not to load the machine being measured.
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let first = psql_value(
            url,
            &format!(
                "SELECT EXTRACT(EPOCH FROM MIN(done_at))::float8, EXTRACT(EPOCH FROM MAX(done_at))::float8 FROM apalis.jobs WHERE job_type = '{queue}'"
            ),
        )?;
        let span = first
            .split_once('|')
            .and_then(|(a, b)| Some(b.parse::<f64>().ok()? - a.parse::<f64>().ok()?))
            .unwrap_or(f64::NAN);
        let completed_hooks: u64 = psql_value(
            url,
            &format!("SELECT COUNT(*) FROM \"{schema}\".agno_hook_outcomes WHERE outcome->>'status' = 'completed'"),
        )?
        .parse()?;
        println!(
            "\ndurable hooks: {done} of {total} jobs done ({completed_hooks} hooks completed) in {span:.2} s from the first \
             job done to the last: {:.0} hooks/s drained",
            completed_hooks as f64 / span.max(1e-9)
        );
        durable_lost = i128::from(2 * total) - i128::from(completed_hooks);
        if replicas > 1 {
            // Answers of the second replica are not in this process's counters.
            answered_by_os = os_load.ok + warm.ok;
        }
    }

    // Graceful shutdown: in-flight requests end, then the background hooks are waited for.
    let shutdown_started = Instant::now();
    let _ = stop_os.send(());
    let report = os_server.await??;
    let shutdown = shutdown_started.elapsed();
    let _ = stop_bare.send(());
    bare_server.await??;

    let (pre, post) = (BACKGROUND_PRE.load(Ordering::Relaxed), BACKGROUND_POST.load(Ordering::Relaxed));
    let expected = 2 * answered_by_os;
    let counted = pre + post;
    let lost = i128::from(expected) - i128::from(counted);
    let inline = INLINE_POST.load(Ordering::Relaxed);
    println!(
        "\nshutdown: {:.1} ms; background tasks unfinished: {}",
        shutdown.as_secs_f64() * 1000.0,
        report.unfinished.len()
    );
    if pg.is_some() && replicas > 1 {
        println!(
            "background hooks run in this process: {counted} (log_request {pre}, send_notification {post}); \
             the other replica ran the rest (the database's count is below)"
        );
    } else {
        println!(
            "background hooks: expected {expected} (2 x {answered_by_os} runs answered, warm-up included), \
             counted {counted} (log_request {pre}, send_notification {post}), lost {lost}"
        );
    }
    println!("inline hooks: log_analytics {inline} (expected {answered_by_os})");

    if let Some((mut child, _)) = second {
        drop(child.stdin.take());
        child.wait()?;
    }
    let (lost, inline_expected) = if pg.is_some() && replicas > 1 {
        // Two processes: the database's count is the one that covers both.
        (durable_lost, inline)
    } else {
        (lost + durable_lost.min(0), answered_by_os)
    };
    if pg.is_some() {
        println!("durable hooks lost (jobs x 2 - hooks completed): {durable_lost}");
    }
    let failed = bare_load.errors + os_load.errors + warm.errors > 0 || lost != 0 || inline != inline_expected;
    if failed {
        println!("\nFAILED: failed requests, lost hooks or a miscount (see above)");
    }
    drop(db_dir);
    Ok(failed)
}
