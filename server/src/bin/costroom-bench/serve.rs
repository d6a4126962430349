//! The real `costroom serve` binary started beside the bench, and a minimal HTTP/1.1 client
//! over keep-alive connections (content-length and chunked bodies), so the figures include
//! the whole server: parsing, lanes, sessions, rendering.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Server {
    child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server on a free loopback port over `database_url`, with extra environment,
    /// and waits until it accepts connections.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let bin = std::env::current_exe().expect("exe").with_file_name("costroom");
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--site-root", "/nonexistent"])
            .env("DATABASE_URL", database_url)
            .env("COSTROOM_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let server = Server { child, addr: format!("127.0.0.1:{port}") };
        let ready = Instant::now();
        while TcpStream::connect(&server.addr).await.is_err() {
            assert!(ready.elapsed() < Duration::from_secs(30), "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self, field: &str) -> u64 {
        rss_kib(self.pid(), field)
    }
}

/// A field of /proc/PID/status in KiB (`VmRSS:` now, `VmHWM:` the peak); 0 off Linux.
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The "default" organisation (the one `costroom serve` answers for) with team "bench" and
/// an ingest key on it; returns the organisation and the key's token.
pub async fn ingest_key(db: &app::server::db::Db) -> (app::server::db::OrgId, String) {
    use app::server::db::Actor;
    use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
    let org = db.ensure_org("default", "Default organisation").await.expect("org");
    db.ensure_team(org, "bench", "Bench").await.expect("team");
    let hasher = KeyHasher::load(db).await.expect("hasher");
    let req = KeyRequest {
        name: "bench".into(),
        team: "bench".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    (org, create_key(db, &hasher, org, req).await.expect("key").token)
}

/// One keep-alive connection.
pub struct Conn(BufReader<TcpStream>);

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    pub async fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn(BufReader::new(stream)))
    }

    /// Sends one request (`head` without the final blank line's content-length, which is
    /// added) and reads the whole answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> std::io::Result<Response> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.0.get_mut().write_all(head.as_bytes()).await?;
        self.0.get_mut().write_all(body).await?;
        self.read().await
    }

    async fn read(&mut self) -> std::io::Result<Response> {
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let mut line = String::new();
        if self.0.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
        }
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status"))?;
        let mut headers = vec![];
        loop {
            line.clear();
            self.0.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut res = Response { status, headers, body: vec![] };
        if res.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                self.0.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("chunk size"))?;
                if size == 0 {
                    // trailers end with a blank line
                    loop {
                        line.clear();
                        self.0.read_line(&mut line).await?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let at = res.body.len();
                res.body.resize(at + size, 0);
                self.0.read_exact(&mut res.body[at..]).await?;
                let mut crlf = [0u8; 2];
                self.0.read_exact(&mut crlf).await?;
            }
        } else {
            let len: usize = res.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            res.body.resize(len, 0);
            self.0.read_exact(&mut res.body).await?;
        }
        Ok(res)
    }
}
