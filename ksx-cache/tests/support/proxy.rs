//! A fault-injecting TCP proxy for HTTP/1.1 between an S3 client and a real server.
//!
//! Every connection is passed through unchanged unless a fault is armed and the connection's first request is a
//! `GET`: then the proxy reads the upstream response head, and instead of the body it sends what the fault says
//! (half the body then EOF, a `Content-Length` that lies, or a TCP reset). Clients should open one connection per
//! request (`S3Config::with_pool_max_idle_per_host(0)`) so each GET meets the proxy afresh.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to an armed GET response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Send the head and half the body, then close the connection (EOF before `Content-Length` bytes).
    CutBody,
    /// Announce `Content-Length` one byte shorter than the body and send that many bytes: a well-formed but
    /// short response.
    ShortLength,
    /// Announce more bytes than the body has, send the body, then close.
    LongLength,
    /// Send the head and a few body bytes, then reset the connection (RST).
    Reset,
}

#[derive(Debug, Default)]
struct State {
    fault: Option<Fault>,
    remaining: usize,
}

/// A running proxy; dropping it stops accepting connections.
#[derive(Debug)]
pub struct Proxy {
    /// The address clients connect to.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    applied: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let applied = Arc::new(AtomicUsize::new(0));
        let task = {
            let state = Arc::clone(&state);
            let applied = Arc::clone(&applied);
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let state = Arc::clone(&state);
                    let applied = Arc::clone(&applied);
                    tokio::spawn(async move {
                        let _ = serve(client, upstream, &state, &applied).await;
                    });
                }
            })
        };
        Ok(Self {
            addr,
            state,
            applied,
            task,
        })
    }

    /// The endpoint URL of the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Arms `fault` for the next `times` GET responses (`usize::MAX`: until disarmed).
    pub fn arm(&self, fault: Fault, times: usize) {
        let mut state = self.state.lock().expect("proxy state lock");
        state.fault = Some(fault);
        state.remaining = times;
    }

    /// Passes everything through from now on.
    pub fn disarm(&self) {
        let mut state = self.state.lock().expect("proxy state lock");
        state.fault = None;
        state.remaining = 0;
    }

    /// How many responses a fault was applied to so far.
    pub fn applied(&self) -> usize {
        self.applied.load(Ordering::SeqCst)
    }
}

/// Reads until the end of an HTTP head (`\r\n\r\n`); returns the head and any bytes read past it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof before the end of a head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::other("head over 1 MiB"));
        }
    }
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

fn with_content_length(head: &str, length: usize) -> String {
    head.split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _)) if name.trim().eq_ignore_ascii_case("content-length") => {
                format!("content-length: {length}")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn take_fault(state: &Mutex<State>) -> Option<Fault> {
    let mut state = state.lock().expect("proxy state lock");
    let fault = state.fault?;
    if state.remaining == 0 {
        return None;
    }
    if state.remaining != usize::MAX {
        state.remaining -= 1;
    }
    Some(fault)
}

async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    state: &Mutex<State>,
    applied: &AtomicUsize,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    let (request, rest) = read_head(&mut client).await?;
    server.write_all(&request).await?;
    server.write_all(&rest).await?;
    let fault = if request.starts_with(b"GET ") {
        take_fault(state)
    } else {
        None
    };
    let Some(fault) = fault else {
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    };
    applied.fetch_add(1, Ordering::SeqCst);
    let (head, mut body) = read_head(&mut server).await?;
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = content_length(&head).unwrap_or(0);
    while body.len() < length {
        let mut chunk = vec![0_u8; 64 * 1024];
        let n = server.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    drop(server);
    match fault {
        Fault::CutBody => {
            client.write_all(head.as_bytes()).await?;
            client.write_all(&body[..body.len() / 2]).await?;
        }
        Fault::ShortLength => {
            let short = body.len().saturating_sub(1);
            client
                .write_all(with_content_length(&head, short).as_bytes())
                .await?;
            client.write_all(&body[..short]).await?;
        }
        Fault::LongLength => {
            client
                .write_all(with_content_length(&head, body.len() + 1000).as_bytes())
                .await?;
            client.write_all(&body).await?;
        }
        Fault::Reset => {
            client.write_all(head.as_bytes()).await?;
            client.write_all(&body[..body.len().min(100)]).await?;
            client.set_zero_linger()?;
        }
    }
    client.flush().await?;
    // ShortLength keeps the connection open like a healthy keep-alive server would; the others end it.
    drop(client);
    Ok(())
}
