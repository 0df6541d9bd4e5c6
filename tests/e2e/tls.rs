//! HTTPS end to end: a certificate from `wheelhouse tls self-signed`, twine, pip and uv trusting
//! it exactly as the printed lines say, a client that does not trust it refused, SIGHUP swapping
//! the certificate while the server and its open connections stay up, the redirect listener,
//! Secure cookies and https links.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, cli_output, client, dist_dir, run_ok, wheel};

/// Runs `tls self-signed` for 127.0.0.1 and localhost into `dir`; returns what it printed.
fn self_signed(dir: &Path, force: bool) -> String {
    let data = tempfile::tempdir().unwrap();
    let out_dir = dir.to_str().unwrap();
    let mut args = vec![
        "tls",
        "self-signed",
        "--host",
        "127.0.0.1",
        "--host",
        "localhost",
    ];
    args.extend(["--out-dir", out_dir]);
    if force {
        args.push("--force");
    }
    let out = cli_output(data.path(), &args, None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn printed_fingerprint(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("SHA-256 fingerprint: "))
        .unwrap()
        .to_string()
}

/// The fingerprint of the certificate a new connection to `port` is shown (not verified).
fn served_fingerprint(port: u16) -> String {
    let script = "import ssl,hashlib,sys\n\
        pem = ssl.get_server_certificate(('127.0.0.1', int(sys.argv[1])))\n\
        d = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest()\n\
        print(':'.join('%02X' % b for b in d))";
    let out = run_ok(Command::new("python3").args(["-c", script, &port.to_string()]));
    out.trim().to_string()
}

/// A client environment that trusts nothing but what the test says (this machine's
/// environment points pip, requests and OpenSSL at its own bundle).
fn untrusting(mut cmd: Command) -> Command {
    for var in [
        "PIP_CERT",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn port_of(server: &Server) -> u16 {
    server.addr().rsplit(':').next().unwrap().parse().unwrap()
}

struct Tls {
    dir: tempfile::TempDir,
    printed: String,
}

impl Tls {
    fn new() -> Tls {
        let dir = tempfile::tempdir().unwrap();
        let printed = self_signed(dir.path(), false);
        Tls { dir, printed }
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
    fn serve(&self, extra: &[&str]) -> Server {
        let (cert, key) = (self.cert(), self.key());
        let mut args = vec!["--tls-cert", cert.to_str().unwrap()];
        args.extend(["--tls-key", key.to_str().unwrap()]);
        args.extend(extra);
        Server::start_logged_with(&args)
    }
}

#[test]
fn twine_pip_and_uv_work_over_https_as_the_printed_lines_say() {
    let tls = Tls::new();
    let cert = tls.cert().display().to_string();
    let printed = &tls.printed;
    for line in [
        format!("    cert = {cert}"),
        format!("    export PIP_CERT={cert}"),
        format!("    export SSL_CERT_FILE={cert}"),
        format!("    poetry config certificates.wheelhouse.cert {cert}"),
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} in:\n{printed}");
    }
    assert!(
        printed.contains(&format!("twine upload --cert {cert} ")),
        "{printed}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(tls.key()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the key is the owner's alone");

    let server = tls.serve(&["--http-redirect-listen", "127.0.0.1:0"]);
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    assert_eq!(
        served_fingerprint(port_of(&server)),
        printed_fingerprint(printed)
    );
    server.cli(&["group", "add", "acme", "--visibility", "public"]);
    server.cli(&["project", "add", "acme/pub", "--visibility", "public"]);
    let token = server.user_with_token("dev", "api");
    server.cli(&["member", "add", "acme", "dev", "--role", "maintainer"]);
    let api = server.project_api("acme/pub");

    // twine with --cert.
    let (filename, bytes) = wheel("secure-pkg", "1.0", &[]);
    let dist = dist_dir(&[(filename.clone(), bytes)]);
    let mut twine = untrusting(client("twine"));
    twine
        .args([
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--cert",
            &cert,
        ])
        .args(["--repository-url", &api, "-u", "__token__", "-p", &token])
        .arg(dist.path().join(&filename));
    run_ok(&mut twine);

    // pip with `cert =` in its config file, as printed.
    let index = format!("{api}/simple/");
    let pip_conf = tls.dir.path().join("pip.conf");
    std::fs::write(&pip_conf, format!("[global]\ncert = {cert}\n")).unwrap();
    let target = tempfile::tempdir().unwrap();
    let mut pip = untrusting(client("pip"));
    pip.env("PIP_CONFIG_FILE", &pip_conf)
        .args(["install", "--no-cache-dir", "--target"])
        .arg(target.path())
        .args(["--index-url", &index, "secure-pkg"]);
    run_ok(&mut pip);
    assert!(target.path().join("secure_pkg/__init__.py").exists());

    // uv with SSL_CERT_FILE.
    let venv = tempfile::tempdir().unwrap();
    run_ok(
        client("uv")
            .args(["venv", "--quiet"])
            .arg(venv.path().join("v")),
    );
    let mut uv = untrusting(client("uv"));
    uv.env("SSL_CERT_FILE", &cert)
        .args(["pip", "install", "--python"])
        .arg(venv.path().join("v/bin/python"))
        .args(["--index-url", &index, "secure-pkg"]);
    let out = run_ok(&mut uv);
    assert!(out.contains("secure-pkg==1.0"), "{out}");

    // A pip that does not trust the certificate is refused.
    let mut refused = untrusting(client("pip"));
    refused
        .args([
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--retries",
            "0",
            "-d",
        ])
        .arg(target.path().join("refused"))
        .args(["--index-url", &index, "secure-pkg"]);
    let out = refused.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("SSLError"),
        "{text}"
    );

    // Over TLS: Secure cookies, and the Warehouse JSON's absolute links say https.
    let script = "import http.client, json, ssl, sys\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        c = http.client.HTTPSConnection('localhost', int(sys.argv[1]), context=ctx)\n\
        c.request('GET', '/users/sign_in'); r = c.getresponse(); r.read()\n\
        print('cookie', r.getheader('Set-Cookie'))\n\
        c.request('GET', sys.argv[3]); r = c.getresponse()\n\
        print('url', json.loads(r.read())['urls'][0]['url'])";
    let json_path = format!(
        "{}/pypi/secure-pkg/json",
        api.trim_start_matches(&server.base)
    );
    let port = port_of(&server).to_string();
    let out =
        run_ok(untrusting(Command::new("python3")).args(["-c", script, &port, &cert, &json_path]));
    let cookie = out.lines().find_map(|l| l.strip_prefix("cookie ")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let url = out.lines().find_map(|l| l.strip_prefix("url ")).unwrap();
    assert!(
        url.starts_with(&format!("https://localhost:{port}/api/v4/")),
        "{url}"
    );

    // The plain listener only redirects, keeping path and query.
    let redirect = server
        .startup
        .iter()
        .find_map(|l| {
            l.strip_prefix("Redirecting http://")?
                .split_whitespace()
                .next()
        })
        .expect("the redirect listener's address")
        .to_string();
    let mut stream = std::net::TcpStream::connect(&redirect).unwrap();
    let request = "GET /api/v4/projects/1/packages/pypi/simple/?x=1 HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    let location = format!(
        "location: https://localhost:{port}/api/v4/projects/1/packages/pypi/simple/?x=1\r\n"
    );
    assert!(answer.to_ascii_lowercase().contains(&location), "{answer}");
}

#[test]
fn sighup_swaps_the_certificate_for_new_connections_and_keeps_open_ones() {
    let tls = Tls::new();
    let first = printed_fingerprint(&tls.printed);
    let server = tls.serve(&[]);
    let port = port_of(&server);
    assert_eq!(served_fingerprint(port), first);

    // A keep-alive connection made with the first certificate.
    let script = "import http.client, ssl, sys\n\
        ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
        c = http.client.HTTPSConnection('127.0.0.1', int(sys.argv[1]), context=ctx)\n\
        c.request('GET', '/-/health'); r = c.getresponse(); r.read(); sock = c.sock\n\
        print('first', r.status, flush=True)\n\
        sys.stdin.readline()\n\
        c.request('GET', '/-/health'); r = c.getresponse(); r.read()\n\
        print('second', r.status, c.sock is sock, flush=True)";
    let mut open = untrusting(Command::new("python3"))
        .args([
            "-c",
            script,
            &port.to_string(),
            tls.cert().to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(open.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "first 200");

    let second = printed_fingerprint(&self_signed(tls.dir.path(), true));
    assert_ne!(first, second);
    hang_up(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_fingerprint(port) != second {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
    }
    open.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "second 200 True",
        "the open connection carried on"
    );
    assert!(open.wait().unwrap().success());

    // A broken certificate: logged, and the one in use stays.
    std::fs::write(
        tls.cert(),
        "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    hang_up(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server
        .access_log()
        .contains("kept the TLS certificate in use")
    {
        assert!(Instant::now() < deadline, "{}", server.access_log());
    }
    assert_eq!(served_fingerprint(port), second);
    let health = run_ok(untrusting(Command::new("python3")).args([
        "-c",
        "import ssl,urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], context=ssl._create_unverified_context()).status)",
        &format!("{}/-/health", server.base),
    ]));
    assert_eq!(health.trim(), "200");
}

fn hang_up(server: &Server) {
    run_ok(Command::new("kill").args(["-HUP", &server.pid().to_string()]));
}

#[test]
fn tls_settings_are_checked_at_start_up() {
    let data = tempfile::tempdir().unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        let out = cli_output(data.path(), &args, None);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = serve(&[
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    assert!(
        missing.contains("cannot read the TLS certificate /nonexistent/cert.pem"),
        "{missing}"
    );
    assert!(serve(&["--tls-cert", "/x.pem"]).contains("needs both a certificate and a key"));
    let redirect = serve(&["--http-redirect-listen", "127.0.0.1:0"]);
    assert!(
        redirect.contains("needs tls_cert and tls_key"),
        "{redirect}"
    );
    let tls = Tls::new();
    let again = cli_output(
        data.path(),
        &[
            "tls",
            "self-signed",
            "--host",
            "x.lan",
            "--out-dir",
            tls.dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(
        !again.status.success(),
        "an existing pair is not overwritten without --force"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

/// The plain listener's answer to a GET of `path` sent with `Host: host` (raw, on loopback).
fn redirected(server: &Server, host: &str, path: &str) -> String {
    let redirect = server
        .startup
        .iter()
        .find_map(|l| {
            l.strip_prefix("Redirecting http://")?
                .split_whitespace()
                .next()
        })
        .expect("the redirect listener's address")
        .to_string();
    let mut stream = std::net::TcpStream::connect(&redirect).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_string())
        })
        .expect("a Location header")
}

#[test]
fn the_redirect_listener_never_sends_clients_to_a_host_they_named() {
    let tls = Tls::new();
    let server = tls.serve(&["--http-redirect-listen", "127.0.0.1:0"]);
    let port = port_of(&server);
    let path = "/api/v4/projects/1/packages/pypi/simple/?x=1";
    // A host the certificate does not hold: its own first name instead, path and query kept.
    for hostile in [
        "evil.example",
        "evil.example:80",
        "sub.localhost",
        "[::2]:80",
    ] {
        assert_eq!(
            redirected(&server, hostile, path),
            format!("https://localhost:{port}{path}"),
            "{hostile}"
        );
    }
    // A name or an address the certificate holds is where the client meant to go.
    assert_eq!(
        redirected(&server, "127.0.0.1:80", "/"),
        format!("https://127.0.0.1:{port}/")
    );
    assert_eq!(
        redirected(&server, "LOCALHOST", "/"),
        format!("https://localhost:{port}/")
    );
    drop(server);

    // With an external URL, that is the only place it sends anyone.
    let server = tls.serve(&[
        "--http-redirect-listen",
        "127.0.0.1:0",
        "--external-url",
        "https://pypi.example.lan/",
    ]);
    for host in ["evil.example", "localhost", "127.0.0.1"] {
        assert_eq!(
            redirected(&server, host, path),
            format!("https://pypi.example.lan{path}"),
            "{host}"
        );
    }
}
