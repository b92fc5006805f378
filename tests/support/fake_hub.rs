//! A Hugging Face hub on 127.0.0.1, speaking the part of its HTTP API that `hf-hub`'s blocking
//! client uses: a repository's listing (`GET /api/{models|datasets}/ID/revision/main`) and its
//! files (`GET [/datasets]/ID/resolve/main/FILE` with a `Range` header, answered 206 with the
//! `etag`, `x-repo-commit` and `Content-Range` headers the client reads). Point distill at it
//! with `HF_ENDPOINT` to test the online path where the real hub cannot be reached.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One repository's files: path in the repository -> bytes.
pub type RepoFiles = BTreeMap<String, Vec<u8>>;

pub const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";

pub struct FakeHub {
    pub endpoint: String,
    /// Every request's path, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeHub {
    /// Serves `repos` (`datasets/ID` or a model `ID` -> files) until the process ends.
    pub fn start(repos: BTreeMap<String, RepoFiles>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a local port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let repos = Arc::new(repos);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (repos, log) = (repos.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &repos, &log);
                });
            }
        });
        Self { endpoint, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, repos: &BTreeMap<String, RepoFiles>, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range: Option<(usize, Option<usize>)> = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            // `bytes=A-B` (the metadata probe asks for `0-0`) or `bytes=A-` (a download).
            range = value.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).map(|(a, b)| (a.parse::<usize>().unwrap_or(0), b.parse::<usize>().ok()));
        }
    }
    log.lock().unwrap().push(path.clone());
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        out.write_all(head.as_bytes())?;
        out.write_all(b"\r\n")?;
        out.write_all(body)
    };
    if let Some(rest) = path.strip_prefix("/api/") {
        // `models/ID/revision/main` or `datasets/ID/revision/main`.
        let id = rest.strip_suffix("/revision/main").unwrap_or(rest);
        let key = id.strip_prefix("models/").map_or(id.to_string(), str::to_string);
        return match repos.get(&key) {
            Some(files) => {
                let siblings: Vec<serde_json::Value> = files.keys().map(|f| serde_json::json!({ "rfilename": f })).collect();
                let body = serde_json::json!({ "siblings": siblings, "sha": COMMIT }).to_string();
                respond(&mut out, "200 OK", &[("Content-Type", "application/json".into())], body.as_bytes())
            }
            None => respond(&mut out, "404 Not Found", &[], b"{\"error\":\"Repository not found\"}"),
        };
    }
    let found = path.split_once("/resolve/main/").and_then(|(repo, file)| repos.get(repo.trim_start_matches('/'))?.get(file));
    match found {
        Some(bytes) if !bytes.is_empty() => {
            let (start, end) = range.unwrap_or((0, None));
            let end = end.unwrap_or(usize::MAX).min(bytes.len() - 1);
            let start = start.min(end);
            let mut content = distill_core::hashing::KeyHasher::default();
            std::hash::Hasher::write(&mut content, bytes);
            let etag = format!("\"{:016x}\"", std::hash::Hasher::finish(&content));
            let headers = [("etag", etag), ("x-repo-commit", COMMIT.to_string()), ("Content-Range", format!("bytes {start}-{end}/{}", bytes.len()))];
            respond(&mut out, "206 Partial Content", &headers, &bytes[start..=end])
        }
        _ => respond(&mut out, "404 Not Found", &[], b"Entry not found"),
    }
}
