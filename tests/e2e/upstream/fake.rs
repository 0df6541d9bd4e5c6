//! A scripted upstream index on 127.0.0.1:0: canned answers per path, a request counter, and
//! answers that lie, redirect, stall or overflow, for what a real index would never do.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer. `pace` spreads the body over that many pieces, one every `pause`: a slow
/// link, so that concurrent requests pile up behind the first fetch.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub pace: Option<(usize, Duration)>,
}

impl Reply {
    pub fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            pace: None,
        }
    }

    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
            pace: None,
        }
    }

    pub fn slow(mut self, pieces: usize, pause: Duration) -> Reply {
        self.pace = Some((pieces, pause));
        self
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Reply>,
    hits: HashMap<String, usize>,
    /// The request heads seen per path, as sent, for what was sent rather than how often.
    heads: HashMap<String, Vec<String>>,
}

pub struct FakeUpstream {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeUpstream {
    pub fn start() -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || answer(stream, &shared));
            }
        });
        FakeUpstream { base, state, stop }
    }

    /// The index URL to configure: `http://127.0.0.1:PORT/simple/`.
    pub fn index(&self) -> String {
        format!("{}/simple/", self.base)
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), reply);
    }

    /// Gives the answer at `path` an ETag; a request that sends it back in If-None-Match then
    /// gets 304, as from a real index.
    pub fn tag(&self, path: &str, etag: &str) {
        let mut state = self.state.lock().unwrap();
        let reply = state.routes.get_mut(path).expect("no such route");
        reply
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("etag"));
        reply.headers.push(("ETag".into(), etag.into()));
    }

    /// The last request's head for this path, lower-cased.
    pub fn last_head(&self, path: &str) -> String {
        self.state
            .lock()
            .unwrap()
            .heads
            .get(path)
            .and_then(|heads| heads.last().map(|head| head.to_lowercase()))
            .unwrap_or_default()
    }

    /// Requests seen for this path so far.
    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    /// The request heads seen for this path so far, as sent.
    pub fn heads(&self, path: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state.heads.get(path).cloned().unwrap_or_default()
    }

    /// A PEP 691 page at `/simple/NAME/` listing `files` (filename, bytes advertised), each
    /// served at `/files/FILENAME` with the bytes given by `serve` (the same unless lying).
    pub fn project(&self, name: &str, files: &[(&str, &[u8])]) {
        let entries: Vec<_> = files
            .iter()
            .map(|(filename, bytes)| {
                serde_json::json!({
                    "filename": filename,
                    "url": format!("{}/files/{filename}", self.base),
                    "hashes": {"sha256": crate::support::sha256_hex(bytes)},
                    "size": bytes.len(),
                })
            })
            .collect();
        let page = serde_json::json!({
            "meta": {"api-version": "1.1"},
            "name": name,
            "versions": [],
            "files": entries,
        });
        self.route(
            &format!("/simple/{name}/"),
            Reply::ok(
                "application/vnd.pypi.simple.v1+json",
                serde_json::to_vec(&page).unwrap(),
            ),
        );
        for (filename, bytes) in files {
            self.route(
                &format!("/files/{filename}"),
                Reply::ok("application/octet-stream", bytes.to_vec()),
            );
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

fn answer(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // The request head only (every request Wheelhouse makes upstream is a bodiless GET), 64 KiB
    // at most.
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let original = String::from_utf8_lossy(&head);
    let path = original.split_whitespace().nth(1).unwrap_or("").to_string();
    let text = original.to_lowercase();
    let reply = {
        let mut state = state.lock().unwrap();
        *state.hits.entry(path.clone()).or_default() += 1;
        let heads = state.heads.entry(path.clone()).or_default();
        heads.push(original.to_string());
        state.routes.get(&path).cloned()
    };
    let etag = reply.as_ref().and_then(|r| {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
            .map(|(_, v)| v.to_lowercase())
    });
    let revalidated = etag.is_some_and(|etag| {
        text.lines()
            .filter_map(|line| line.strip_prefix("if-none-match:"))
            .any(|value| value.split(',').any(|tag| tag.trim() == etag))
    });
    let reply = match reply {
        Some(reply) if revalidated => Some(Reply {
            status: 304,
            body: Vec::new(),
            pace: None,
            ..reply
        }),
        other => other,
    };
    let reply = reply.unwrap_or(Reply {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"not found".to_vec(),
        pace: None,
    });
    // A Content-Length of the reply's own stands in for the true one: a lie, if a test wants.
    let says_length = reply
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    if !says_length {
        out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    if stream.write_all(out.as_bytes()).is_err() {
        return;
    }
    match reply.pace {
        None => {
            let _ = stream.write_all(&reply.body);
        }
        Some((pieces, pause)) => {
            let size = reply.body.len().div_ceil(pieces.max(1)).max(1);
            for chunk in reply.body.chunks(size) {
                if stream
                    .write_all(chunk)
                    .and_then(|_| stream.flush())
                    .is_err()
                {
                    return;
                }
                // The slow link being simulated, not a wait for a condition.
                std::thread::sleep(pause);
            }
        }
    }
    let _ = stream.flush();
}
