//! A TCP proxy in front of the database, to cut and restore the server's
//! connection without touching the cluster other tests share.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinHandle,
};

/// Forwards a local port to `target` while open.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    acceptor: Arc<Mutex<Option<JoinHandle<()>>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let proxy = Self {
            addr,
            target,
            acceptor: Arc::new(Mutex::new(None)),
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.accept_on(listener).await;
        proxy
    }

    async fn accept_on(&self, listener: TcpListener) {
        let target = self.target;
        let conns = self.conns.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
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
