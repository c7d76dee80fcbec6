//! A milvus-lite server (Milvus's gRPC API in Python, from PyPI) for the
//! tests that need a vector database: installed once into the test home,
//! started once per test process on a free loopback port, shared by its tests
//! (each with collections of its own) and killed when the process ends.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

use super::cluster::test_home;

/// The server, and pymilvus: the server imports its generated gRPC code
/// without declaring the dependency.
const PACKAGES: [&str; 2] = ["milvus-lite==3.2.2", "pymilvus==3.0.2"];

/// How long the server may take to listen.
const STARTUP: Duration = Duration::from_secs(60);

/// Output lines kept for error messages.
const KEEP_LINES: usize = 50;

/// Sets the parent-death signal, then runs milvus-lite. In Python because
/// `pre_exec` is unsafe code, which the workspace forbids; the signal survives
/// `exec`. `argv[1]` is our pid: if we died before `prctl`, nothing would
/// signal the orphan.
const LAUNCHER: &str = "import ctypes, os, signal, sys
if ctypes.CDLL(None).prctl(1, signal.SIGKILL) != 0: sys.exit('prctl(PR_SET_PDEATHSIG) failed')
if os.getppid() != int(sys.argv[1]): sys.exit('the test process exited')
os.execv(sys.executable, [sys.executable, '-m', 'milvus_lite', *sys.argv[2:]])
";

static URL: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The URL (`http://127.0.0.1:PORT`) of this test process's milvus-lite server, started on first use.
pub async fn url() -> String {
    URL.get_or_init(|| async {
        tokio::task::spawn_blocking(start)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    })
    .await
    .clone()
}

/// A collection name no other test uses (Milvus names: letters, digits, underscores; start with a letter; ≤ 255 chars).
pub fn collection(prefix: &str) -> String {
    assert!(
        prefix.starts_with(|c: char| c.is_ascii_alphabetic())
            && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "not a Milvus name: {prefix:?}"
    );
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    assert!(name.len() <= 255, "collection name too long: {name}");
    name
}

fn start() -> String {
    let (pip, data) = prepare();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = Arc::new(Mutex::new(Output::default()));
    let pid = spawn(&pip, &data, port, out.clone());
    wait_ready(port, pid, &out);
    format!("http://127.0.0.1:{port}")
}

/// Installs the packages when needed and makes a fresh data folder for this
/// process (removing those of dead processes) under a file lock, which
/// serialises threads and test processes. The version file, written last,
/// tells a finished install from a half-done one, which is redone.
fn prepare() -> (PathBuf, PathBuf) {
    let home = test_home().join("milvus-lite");
    std::fs::create_dir_all(&home).expect("milvus-lite home");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(home.join(".lock"))
        .expect("milvus-lite lock file");
    let mut lock = fd_lock::RwLock::new(file);
    let _guard = lock.write().expect("locking the milvus-lite home");
    let pip = home.join("pip");
    let version = home.join("installed");
    let wanted = PACKAGES.join(" ");
    let installed = std::fs::read_to_string(&version).is_ok_and(|v| v == wanted);
    if !(installed && pip.join("milvus_lite/__init__.py").is_file()) {
        let _ = std::fs::remove_file(&version);
        let _ = std::fs::remove_dir_all(&pip);
        eprintln!("Installing {wanted} into {} ...", pip.display());
        let output = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(["--no-warn-script-location", "--target"])
            .arg(&pip)
            .args(PACKAGES)
            .env("PIP_ROOT_USER_ACTION", "ignore")
            .output()
            .expect("python3 with pip is needed for milvus-lite");
        let (status, stderr) = (output.status, String::from_utf8_lossy(&output.stderr));
        assert!(status.success(), "pip install {wanted}: {status}\n{stderr}");
        std::fs::write(&version, &wanted).expect("milvus-lite version file");
    }
    let data = home.join("data");
    for entry in std::fs::read_dir(&data).into_iter().flatten().flatten() {
        let pid = entry.file_name().to_str().and_then(|p| p.parse::<i32>().ok());
        let dead = pid.is_none_or(|p| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None) == Err(nix::errno::Errno::ESRCH)
        });
        if dead {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let data = data.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("milvus-lite data folder");
    (pip, data)
}

/// What the server wrote (its last lines) and whether it listens or exited.
#[derive(Default)]
struct Output {
    lines: VecDeque<String>,
    listening: bool,
    exited: Option<String>,
}

type Shared = Arc<Mutex<Output>>;

/// Starts the server from a thread that lives as long as the server: the
/// parent-death signal fires when the spawning *thread* ends, and test
/// threads end early. Returns its pid.
fn spawn(pip: &Path, data: &Path, port: u16, out: Shared) -> u32 {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", LAUNCHER])
        .arg(std::process::id().to_string())
        .args(["server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(data)
        .env("PYTHONPATH", pip)
        .env("PYTHONNOUSERSITE", "1")
        // Its "listening" line is a plain print: unbuffered, it reaches us.
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("milvus-lite".into())
        .spawn(move || {
            let mut child = match cmd.spawn() {
                Ok(child) => child,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let readers = [drain(child.stdout.take(), &out), drain(child.stderr.take(), &out)];
            let _ = tx.send(Ok(child.id()));
            let status = child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
            // Every line is in before the exit is.
            for reader in readers.into_iter().flatten() {
                let _ = reader.join();
            }
            lock(&out).exited = Some(status);
        })
        .expect("milvus-lite thread");
    rx.recv()
        .expect("milvus-lite thread")
        .expect("starting python3 for milvus-lite")
}

/// Keeps reading `pipe` so the server never blocks on a full one.
fn drain(pipe: Option<impl Read + Send + 'static>, out: &Shared) -> Option<std::thread::JoinHandle<()>> {
    let (pipe, out) = (pipe?, out.clone());
    Some(std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut out = lock(&out);
            out.listening |= line.contains("gRPC server listening on");
            if out.lines.len() == KEEP_LINES {
                out.lines.pop_front();
            }
            out.lines.push_back(line);
        }
    }))
}

fn lock(out: &Shared) -> std::sync::MutexGuard<'_, Output> {
    out.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until the server says it listens and takes a connection; panics
/// with its last output when it exits or is too slow (killing it then).
fn wait_ready(port: u16, pid: u32, out: &Shared) {
    let started = Instant::now();
    loop {
        let (listening, exited) = {
            let out = lock(out);
            (out.listening, out.exited.clone())
        };
        if listening && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        let failure = match exited {
            Some(status) => format!("exited ({status})"),
            None if started.elapsed() > STARTUP => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
                format!("did not listen on 127.0.0.1:{port} within {STARTUP:?}")
            }
            None => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let lines = Vec::from(lock(out).lines.clone()).join("\n");
        panic!("milvus-lite {failure}; its last output:\n{lines}");
    }
}
