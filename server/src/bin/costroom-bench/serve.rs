//! The real `costroom serve` binary started beside the bench, and its HTTP client (reqwest
//! over keep-alive connections), so the figures include the whole server: parsing, lanes,
//! sessions, rendering.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        while tokio::net::TcpStream::connect(&server.addr).await.is_err() {
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

/// One client of the server with its own keep-alive connection (reqwest, at most one idle
/// connection, no redirects followed: a sign-in's 303 and its cookie are the answer).
pub struct Conn {
    client: reqwest::Client,
    base: String,
}

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

fn io_error(e: reqwest::Error) -> std::io::Error {
    let kind = if e.is_timeout() { std::io::ErrorKind::TimedOut } else { std::io::ErrorKind::Other };
    std::io::Error::new(kind, e)
}

impl Conn {
    pub async fn open(addr: &str) -> std::io::Result<Conn> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(io_error)?;
        Ok(Conn { client, base: format!("http://{addr}") })
    }

    /// Sends one request (`headers` as `Name: value\r\n` lines) and reads the whole answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> std::io::Result<Response> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut req = self.client.request(method, format!("{}{path}", self.base)).body(body.to_vec());
        for (name, value) in headers.split("\r\n").filter_map(|l| l.split_once(':')) {
            req = req.header(name.trim(), value.trim());
        }
        let res = req.send().await.map_err(io_error)?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = res.bytes().await.map_err(io_error)?.to_vec();
        Ok(Response { status, headers, body })
    }
}

/// Signs in through the form post and returns the session cookie's `name=value`.
pub async fn sign_in(addr: &str, email: &str, password: &str) -> String {
    let mut conn = Conn::open(addr).await.expect("connect");
    let body =
        format!("email={}&password={}&next=%2F", email.replace('@', "%40"), password.replace(' ', "+"));
    let res = conn
        .request(
            "POST",
            "/auth/signin",
            "Content-Type: application/x-www-form-urlencoded\r\n",
            body.as_bytes(),
        )
        .await
        .expect("sign in");
    let set = res
        .header("set-cookie")
        .unwrap_or_else(|| panic!("no session cookie: {} {}", res.status, res.text()));
    set.split(';').next().expect("cookie").to_string()
}
