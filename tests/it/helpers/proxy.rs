//! A TCP proxy in front of the database, to cut and restore the server's
//! connection without touching the cluster other tests share, or to hold
//! back what the server sends.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinHandle,
};

/// Forwards a local port to `target` while open.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    delay: Option<Delay>,
    acceptor: Arc<Mutex<Option<JoinHandle<()>>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Each read of the server's messages that holds `needle` waits `by`
/// before it is forwarded.
#[derive(Clone)]
struct Delay {
    needle: &'static [u8],
    by: Duration,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        Self::starting(target, None).await
    }

    /// Forwards, but holds each read of the server's messages that contains
    /// `needle` (a statement's text: `b"COMMIT"`) for `by` first.
    pub async fn delaying(target: SocketAddr, needle: &'static [u8], by: Duration) -> Self {
        Self::starting(target, Some(Delay { needle, by })).await
    }

    async fn starting(target: SocketAddr, delay: Option<Delay>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let proxy = Self {
            addr,
            target,
            delay,
            acceptor: Arc::new(Mutex::new(None)),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.accept_on(listener).await;
        proxy
    }

    async fn accept_on(&self, listener: TcpListener) {
        let target = self.target;
        let conns = self.conns.clone();
        let delay = self.delay.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let delay = delay.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        match delay {
                            None => {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                            Some(delay) => forward_delaying(inbound, outbound, delay).await,
                        }
                    }
                });
                conns.lock().await.push(task);
            }
        });
        *self.acceptor.lock().await = Some(acceptor);
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn cut(&self) {
        if let Some(acceptor) = self.acceptor.lock().await.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        for conn in self.conns.lock().await.drain(..) {
            conn.abort();
        }
    }

    /// Accepts connections again on the same port.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        self.accept_on(listener).await;
    }
}

/// Copies both ways, holding back the server's reads that hold the needle.
async fn forward_delaying(inbound: TcpStream, outbound: TcpStream, delay: Delay) {
    let (mut from_server, mut to_server) = inbound.into_split();
    let (mut from_db, mut to_db) = outbound.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_db, &mut to_server).await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_server.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if buf[..n].windows(delay.needle.len()).any(|w| w == delay.needle) {
            tokio::time::sleep(delay.by).await;
        }
        if to_db.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    answers.abort();
}
