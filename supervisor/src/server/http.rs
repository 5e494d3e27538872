//! The HTTP accept loop: runs the API filter on each connection with
//! hyper-util, a header read timeout, a connection limit and graceful
//! shutdown.
//!
//! warp's own `serve` sets no timer on hyper, so a client that opens
//! connections and never finishes its request headers would hold them
//! forever. This loop sets one, and caps the connections served at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use warp::reply::Response;
use warp::Filter;

/// Time a client gets to send a request's headers, from the start of the
/// request. Requests slower than this are dropped.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; further clients wait in the listen backlog.
/// Each connection costs a file descriptor and a task, and the limit keeps
/// the descriptors well under a default `RLIMIT_NOFILE` of 1024.
pub const MAX_CONNECTIONS: usize = 512;

/// Pause after a failed `accept`, such as when file descriptors run out, so
/// the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The peer address of a connection, stored in each request's extensions;
/// read it with `warp::ext::optional::<PeerAddr>()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Limits of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Serves `filter` on `listener` until `shutdown` turns true, then stops
/// accepting and waits for the open connections to finish their requests.
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.ok(),
            _ = stopped(&mut shutdown) => None,
        };
        let Some(permit) = permit else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => Some(accepted),
            _ = stopped(&mut shutdown) => None,
        };
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(pair)) => pair,
            Some(Err(error)) => {
                tracing::warn!(%error, "failed to accept a connection");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };

        let service = warp::service(filter.clone());
        let service = hyper::service::service_fn(move |mut request| {
            request.extensions_mut().insert(PeerAddr(peer));
            let mut service = service.clone();
            async move { tower_service::Service::call(&mut service, request).await }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            builder.http2().timer(TokioTimer::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    graceful.shutdown().await;
}

/// Waits until `shutdown` turns true, or its sender is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// Starts `serve` with a filter that returns the peer address.
    async fn start(
        limits: HttpLimits,
    ) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        use warp::Reply;

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let filter = warp::ext::optional::<PeerAddr>().map(|peer: Option<PeerAddr>| {
            let text = peer
                .map(|PeerAddr(peer)| peer.to_string())
                .unwrap_or_default();
            text.into_response()
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, filter, limits, stopped));
        (address, stop, task)
    }

    /// Sends `request` on a blocking socket and reads until the server
    /// closes the connection.
    fn exchange(address: SocketAddr, request: &[u8]) -> String {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn request_sees_peer_address() {
        let (address, stop, task) = start(HttpLimits::default()).await;
        let response = tokio::task::spawn_blocking(move || {
            exchange(
                address,
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
        })
        .await
        .unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("127.0.0.1:"), "{response}");

        stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn slow_headers_dropped() {
        let limits = HttpLimits {
            header_read_timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        };
        let (address, stop, _task) = start(limits).await;
        let started = std::time::Instant::now();
        let response = tokio::task::spawn_blocking(move || {
            exchange(address, b"GET / HTTP/1.1\r\nHost: x\r\n")
        })
        .await
        .unwrap();
        let elapsed = started.elapsed();
        assert!(!response.contains(" 200 "), "{response}");
        assert!(
            elapsed < Duration::from_secs(5),
            "connection held for {elapsed:?}"
        );
        stop.send_replace(true);
    }
}
