"""Wheelhouse against pypiserver, devpi and nginx, on loopback, in one run.

Run through `bench/run`, which installs what this needs. Writes BENCHMARKS.md at the top of
the repository. Every load is bounded in time (wrk -d) and goes to 127.0.0.1 only.
"""
import argparse
import atexit
import base64
import http.client
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import corpus

ROOT = Path(__file__).resolve().parent.parent
# Every server this run starts, stopped at exit whatever happens.
STARTED = []


def spawn(cmd, **kwargs):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    STARTED.append(proc)
    return proc


@atexit.register
def stop_everything():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
BIN = ROOT / "target" / "release" / "wheelhouse"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=60, headers=None):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except Exception:
            pass
        time.sleep(0.001)
    raise SystemExit(f"{url} did not come up")


def median_startup(server_for, runs=5):
    """Median seconds × 1000 from spawn to the first answer over `runs` starts: one start can
    stall for hundreds of ms on a shared machine (seen: 437 ms once, 38 ms the other times)."""
    times = []
    for i in range(runs):
        server = server_for(i)
        server.data.parent.mkdir(parents=True, exist_ok=True)
        server.start()
        times.append(server.startup * 1000)
        server.stop()
    return statistics.median(times)


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # MiB
    return fields


class Uploader:
    """Twine's multipart upload over one keep-alive connection."""

    def __init__(self, port, path, user, password):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.path = path
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def upload(self, name, version, filename, data):
        boundary = "----wheelhouse-bench"
        parts = []
        for key, value in ((":action", "file_upload"), ("protocol_version", "1"), ("name", name), ("version", version), ("filetype", "bdist_wheel"), ("pyversion", "py3")):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        body = b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()
        self.conn.request("POST", self.path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": self.auth})
        response = self.conn.getresponse()
        response.read()
        if response.status >= 300 and response.status != 409:
            raise SystemExit(f"upload of {filename} to {self.path}: {response.status}")


def wrk(url, connections, seconds, headers=()):
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} failed responses under load")
    return {"rps": rps, "p50": latency(50), "p99": latency(99), "requests": requests}


class Wheelhouse:
    name = "Wheelhouse"

    def __init__(self, work, workers):
        self.data = work / "wheelhouse"
        self.port = free_port()
        self.workers = workers
        self.base = f"http://127.0.0.1:{self.port}"

    def cli(self, *args):
        lines = subprocess.run([BIN, "--data-dir", self.data, *args], check=True, capture_output=True, text=True).stdout.strip().splitlines()
        return lines[-1] if lines else ""

    def start(self):
        self.proc = spawn([BIN, "--data-dir", self.data, "serve", "--listen", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--max-upload-size", "2GiB", "--max-auth-failures", "0"],
                          env={**os.environ, "RUST_LOG": "error"})
        self.startup = wait_ready(f"{self.base}/-/health")
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def provision(self):
        self.cli("group", "add", "bench", "--visibility", "public")
        self.cli("project", "add", "bench/pub", "--visibility", "public")
        self.cli("project", "add", "bench/priv", "--visibility", "private")
        self.cli("user", "add", "benchuser")
        self.cli("member", "add", "bench", "benchuser", "--role", "developer")
        self.token = self.cli("token", "add", "benchuser", "--name", "bench", "--scopes", "api")

    def project(self, path="bench%2Fpub"):
        return f"/api/v4/projects/{path}/packages/pypi"

    def uploader(self, project="bench%2Fpub"):
        return Uploader(self.port, self.project(project), "__token__", self.token)

    def page(self, name):
        return f"{self.base}{self.project()}/simple/{name}/"

    def index(self):
        return f"{self.base}{self.project()}/simple/"

    def group_index(self):
        return f"{self.base}/api/v4/groups/bench/-/packages/pypi/simple/"

    def simple_url(self):
        return self.index()

    def file_url(self, filename, data):
        import hashlib
        return f"{self.base}{self.project()}/files/{hashlib.sha256(data).hexdigest()}/{filename}"


class PyPIServer:
    name = "pypiserver"

    def __init__(self, work):
        self.dir = work / "pypiserver"
        self.dir.mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        exe = Path(sys.executable).parent / "pypi-server"
        self.proc = spawn([exe, "run", "-i", "127.0.0.1", "-p", str(self.port), "-a", ".", "-P", ".", "--server", "auto", "--hash-algo", "sha256", self.dir])
        self.startup = wait_ready(f"{self.base}/simple/")
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def uploader(self):
        return Uploader(self.port, "/", "bench", "bench")

    def page(self, name):
        return f"{self.base}/simple/{name}/"

    def index(self):
        return f"{self.base}/simple/"

    def simple_url(self):
        return self.index()


class Devpi:
    name = "devpi"

    def __init__(self, work):
        self.dir = work / "devpi"
        self.client_dir = work / "devpi-client"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        bin_dir = Path(sys.executable).parent
        if not self.dir.exists():
            subprocess.run([bin_dir / "devpi-init", "--serverdir", self.dir, "--root-passwd", "root"], check=True, capture_output=True)
        self.proc = spawn([bin_dir / "devpi-server", "--serverdir", self.dir, "--host", "127.0.0.1", "--port", str(self.port)])
        self.startup = wait_ready(f"{self.base}/+api")
        self.pid = self.proc.pid

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def provision(self):
        devpi = [Path(sys.executable).parent / "devpi", "--clientdir", self.client_dir]
        subprocess.run([*devpi, "use", self.base], check=True, capture_output=True)
        subprocess.run([*devpi, "login", "root", "--password", "root"], check=True, capture_output=True)
        subprocess.run([*devpi, "index", "-c", "bench", "bases=", "volatile=True"], check=True, capture_output=True)

    def uploader(self):
        return Uploader(self.port, "/root/bench/", "root", "root")

    def page(self, name):
        return f"{self.base}/root/bench/+simple/{name}/"

    def index(self):
        return f"{self.base}/root/bench/+simple/"

    def simple_url(self):
        return self.index()


class Nginx:
    name = "nginx (static)"

    def __init__(self, work):
        self.root = work / "nginx-root"
        self.root.mkdir()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.conf = work / "nginx.conf"
        self.conf.write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        default_type text/html;
    }}
}}
""")

    def start(self):
        (self.root / "ready.html").write_text("ready")
        self.proc = spawn(["nginx", "-c", self.conf, "-p", self.root])
        wait_ready(f"{self.base}/ready.html")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def copy(self, url, name, headers=None):
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req) as r:
            (self.root / name).write_bytes(r.read())
        return f"{self.base}/{name}"


def timed(cmd, env=None):
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.monotonic() - start


def speed(url, headers=(), curl_args=()):
    """Median MB/s of three full downloads with curl."""
    runs = []
    for _ in range(3):
        cmd = ["curl", "-sf", *curl_args, "-o", "/dev/null", "-w", "%{speed_download}", url]
        for h in headers:
            cmd += ["-H", h]
        runs.append(float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout) / 1e6)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    ap.add_argument("--workers", type=int, default=1, help="Wheelhouse HTTP workers (nginx runs one)")
    ap.add_argument("--skip-growth", action="store_true")
    ap.add_argument("--soak", type=int, default=0, metavar="SECONDS",
                    help="also run reads at 64 connections and uploads together this long, then fsck")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wheelhouse-bench-"))
    # nginx's workers run as an unprivileged user when started by root: let them read.
    work.chmod(0o755)
    results = {}
    print(f"work directory: {work}", flush=True)

    big, idx, tree = corpus.big_package(), corpus.index_packages(), corpus.tree()
    huge = corpus.huge()
    print(f"corpus: {len(big) + len(idx) + len(tree) + 1} files", flush=True)

    wh, pps, dv, nx = Wheelhouse(work, args.workers), PyPIServer(work), Devpi(work), Nginx(work)
    mem = {"startup_empty_ms": median_startup(lambda i: Wheelhouse(work / f"empty-{i}", args.workers))}
    wh.start()
    mem["fresh"] = proc_status(wh.pid)["VmRSS"]
    wh.provision()
    pps.start()
    dv.start()
    dv.provision()
    nx.start()

    # Load the same corpus into each through its own upload API.
    load_times = {}
    for server in (wh, pps, dv):
        up = server.uploader()
        start = time.monotonic()
        for name, version, filename, data in big + idx + tree + [huge]:
            up.upload(name, version, filename, data)
        load_times[server.name] = time.monotonic() - start
        print(f"loaded {server.name} in {load_times[server.name]:.1f} s", flush=True)
        if server is wh:
            print(f"  wheelhouse peak after loading: {proc_status(wh.pid)['VmHWM']:.1f} MiB", flush=True)
    priv = wh.uploader("bench%2Fpriv")
    for name, version, filename, data in big:
        priv.upload(name, version, filename, data)
    mem["idle_after_seeding"] = proc_status(wh.pid)["VmRSS"]

    html = ["Accept: text/html"]
    static_page = nx.copy(wh.page("bigpkg"), "bigpkg.html", {"Accept": "text/html"})
    static_index = nx.copy(wh.index(), "index.html", {"Accept": "text/html"})
    (nx.root / huge[2]).write_bytes(huge[3])

    # (a) a package page with 500 files
    a = {}
    for conns in (1, 16, 64):
        for server, url in ((wh, wh.page("bigpkg")), (pps, pps.page("bigpkg")), (dv, dv.page("bigpkg")), (nx, static_page)):
            a[(server.name, conns)] = wrk(url, conns, args.seconds, html)
            print(f"(a) {server.name} c={conns}: {a[(server.name, conns)]}", flush=True)
    print(f"  wheelhouse peak after (a): {proc_status(wh.pid)['VmHWM']:.1f} MiB", flush=True)
    a[("Wheelhouse JSON", 64)] = wrk(wh.page("bigpkg"), 64, args.seconds, ["Accept: application/vnd.pypi.simple.v1+json"])
    results["a"] = a

    # (b) the index of 2,000+ packages
    b = {}
    for label, url in (("Wheelhouse project", wh.index()), ("Wheelhouse group", wh.group_index()), ("pypiserver", pps.index()), ("devpi", dv.index()), ("nginx (static)", static_index)):
        b[label] = wrk(url, 64, args.seconds, html)
        print(f"(b) {label}: {b[label]}", flush=True)
    results["b"] = b
    print(f"  wheelhouse peak after (b): {proc_status(wh.pid)['VmHWM']:.1f} MiB", flush=True)

    # (c) a private page with token authentication
    auth = "Authorization: Basic " + base64.b64encode(f"__token__:{wh.token}".encode()).decode()
    c = {}
    for conns in (1, 16, 64):
        c[conns] = wrk(f"{wh.base}{wh.project('bench%2Fpriv')}/simple/bigpkg/", conns, args.seconds, html + [auth])
        print(f"(c) c={conns}: {c[conns]}", flush=True)
    results["c"] = c

    # (d) downloading the 100 MB file
    d = {
        "Wheelhouse": speed(wh.file_url(huge[2], huge[3])),
        "pypiserver": speed(f"{pps.base}/packages/{huge[2]}"),
        "nginx (static)": speed(f"{nx.base}/{huge[2]}"),
    }
    print(f"(d) {d}", flush=True)
    results["d"] = d
    print(f"  wheelhouse peak after (d): {proc_status(wh.pid)['VmHWM']:.1f} MiB", flush=True)

    mem["peak_under_load"] = proc_status(wh.pid)["VmHWM"]

    # (e) uploading a 100 MB file with twine and with curl: time and the server's peak memory
    e = {}
    bin_dir = Path(sys.executable).parent
    for tool, name in (("twine", "huge-twine"), ("curl", "huge-curl")):
        n, v, filename, data = corpus.huge(name, seed=7 if tool == "twine" else 8)
        path = work / filename
        path.write_bytes(data)
        # Reset the peak (VmHWM) to the current size, so the peak after is this upload's own.
        Path(f"/proc/{wh.pid}/clear_refs").write_text("5")
        before = proc_status(wh.pid)["VmRSS"]
        url = f"{wh.base}{wh.project()}"
        if tool == "twine":
            cmd = [bin_dir / "twine", "upload", "--non-interactive", "--disable-progress-bar", "--repository-url", url, "-u", "__token__", "-p", wh.token, path]
        else:
            cmd = ["curl", "-sf", "-u", f"__token__:{wh.token}", "-F", f"name={n}", "-F", f"version={v}", "-F", f"content=@{path}", url]
        seconds = timed(cmd)
        after = proc_status(wh.pid)["VmHWM"]
        e[tool] = {"seconds": seconds, "peak_growth": max(0.0, after - before)}
        print(f"(e) {tool}: {e[tool]}", flush=True)
    results["e"] = e

    # (f) installing a 30-package dependency tree into fresh environments, caches off
    f = {}
    for server in (wh, pps, dv):
        uv_runs, pip_runs = [], []
        for _ in range(3):
            venv = work / f"venv-{server.name}"
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([bin_dir / "uv", "venv", "--quiet", venv], check=True)
            uv_runs.append(timed([bin_dir / "uv", "pip", "install", "--no-cache", "--python", venv / "bin" / "python", "--index-url", server.simple_url(), "tree-00"]))
            target = work / f"pip-{server.name}"
            shutil.rmtree(target, ignore_errors=True)
            pip_runs.append(timed([bin_dir / "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--target", target, "--index-url", server.simple_url(), "tree-00"]))
        f[server.name] = {"uv": statistics.median(uv_runs), "pip": statistics.median(pip_runs)}
        print(f"(f) {server.name}: {f[server.name]}", flush=True)
    results["f"] = f

    if args.soak:
        results["soak"] = soak(wh, args.soak)

    # (g) memory and start-up
    mem["peak_under_load"] = max(mem["peak_under_load"], proc_status(wh.pid)["VmHWM"])
    wh.stop()
    mem["startup_seeded_ms"] = median_startup(lambda _: wh)
    wh.start()
    results["g"] = mem
    results["peers_rss"] = {s.name: proc_status(s.pid)["VmRSS"] for s in (pps, dv)}
    wh.stop()
    pps.stop()
    dv.stop()
    nx.stop()

    # (h) growth: the same pages with 1,000 and with 100,000 files stored in total
    if not args.skip_growth:
        results["h"] = growth(work, args, big, idx)

    (ROOT / "target" / "bench-results.json").write_text(json.dumps(
        {"results": {k: ({f"{kk[0]}|{kk[1]}" if isinstance(kk, tuple) else str(kk): vv for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in results.items()},
         "load_times": load_times}, indent=1))
    write_report(results, args, load_times)
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", flush=True)


def soak(wh, seconds):
    """Reads at 64 connections and a stream of uploads at once, for `seconds`: no failed
    response, no lost upload, and fsck clean afterwards."""
    import threading
    stop = threading.Event()
    uploaded = []

    def upload_loop():
        up = wh.uploader()
        n = 0
        while not stop.is_set():
            name, version, filename, data = ("soak", f"1.{n}", *corpus.wheel("soak", f"1.{n}"))
            up.upload(name, version, filename, data)
            uploaded.append(filename)
            n += 1

    thread = threading.Thread(target=upload_loop)
    thread.start()
    try:
        reads = wrk(wh.page("bigpkg"), 64, seconds, ["Accept: text/html"])
    finally:
        stop.set()
        thread.join()
    with urllib.request.urlopen(urllib.request.Request(wh.page("soak"), headers={"Accept": "application/vnd.pypi.simple.v1+json"})) as r:
        listed = len(__import__("json").load(r)["files"])
    if listed != len(uploaded):
        raise SystemExit(f"soak: {len(uploaded)} uploads answered, {listed} listed")
    fsck = subprocess.run([BIN, "--data-dir", wh.data, "fsck"], capture_output=True, text=True)
    if fsck.returncode != 0:
        raise SystemExit(f"soak: fsck failed: {fsck.stdout}")
    result = {"seconds": seconds, "uploads": len(uploaded), "reads_per_s": reads["rps"], "p99": reads["p99"]}
    print(f"soak: {result}", flush=True)
    return result


def growth(work, args, big, idx):
    g = Wheelhouse(work / "growth", args.workers)
    g.data = work / "growth-data"
    g.start()
    g.provision()
    up = g.uploader()
    for name, version, filename, data in big + idx[:500]:
        up.upload(name, version, filename, data)
    out = {}

    def measure(label):
        page = wrk(g.page("bigpkg"), 64, args.seconds, ["Accept: text/html"])
        index = wrk(g.index(), 64, args.seconds, ["Accept: text/html"])
        # Uncached: a commit from another process empties the page cache before each request.
        cold = []
        db = sqlite3.connect(g.data / "wheelhouse.db", timeout=30)
        for i in range(20):
            db.execute("INSERT INTO audit_events (actor, action, target, created_at) VALUES ('bench', 'touch', ?, 0)", (str(i),))
            db.commit()
            start = time.monotonic()
            with urllib.request.urlopen(urllib.request.Request(g.page("bigpkg"), headers={"Accept": "text/html"})) as r:
                r.read()
            cold.append((time.monotonic() - start) * 1000)
        db.close()
        out[label] = {"page": page, "index": index, "cold_page_ms": statistics.median(cold)}
        print(f"(h) {label}: {out[label]}", flush=True)

    measure("1,000 files")
    g.stop()
    seed_files(g.data / "wheelhouse.db", 100_000)
    g.start()
    measure("100,000 files")
    g.stop()
    return out


def seed_files(db_path, total):
    """Grows the registry to `total` file rows in other projects, straight in SQL (loading
    100,000 files through HTTP would dominate the run). They share one existing blob."""
    db = sqlite3.connect(db_path)
    existing = db.execute("SELECT COUNT(*) FROM package_files").fetchone()[0]
    sha, meta, size = db.execute("SELECT sha256, metadata_sha256, size FROM package_files LIMIT 1").fetchone()
    ns = db.execute("SELECT id FROM namespaces WHERE full_path = 'bench'").fetchone()[0]
    per_project = 1000
    missing = total - existing
    now = int(time.time() * 1000)
    for p in range((missing + per_project - 1) // per_project):
        cur = db.execute("INSERT INTO projects (namespace_id, path, full_path, visibility, created_at) VALUES (?, ?, ?, 'public', ?)", (ns, f"filler{p}", f"bench/filler{p}", now))
        project = cur.lastrowid
        for i in range(min(per_project, missing - p * per_project)):
            name = f"filler-{p}-{i}"
            pkg = db.execute("INSERT INTO packages (project_id, name, display_name, version, created_at) VALUES (?, ?, ?, '1.0', ?)", (project, name, name, now)).lastrowid
            db.execute("INSERT INTO package_files (package_id, project_id, filename, size, sha256, md5, blake2b_256, filetype, metadata_sha256, created_at) VALUES (?, ?, ?, ?, ?, '', '', 'bdist_wheel', ?, ?)",
                       (pkg, project, f"{name.replace('-', '_')}-1.0-py3-none-any.whl", size, sha, meta, now))
    db.commit()
    print(f"seeded {db.execute('SELECT COUNT(*) FROM package_files').fetchone()[0]} files", flush=True)
    db.close()


def ratio(x, y):
    return f"{x / y:.2f}×" if y else "n/a"


def version_of(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:
        return "unknown"


def write_report(r, args, load_times):
    bin_dir = Path(sys.executable).parent
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    lines = [
        "# Benchmarks",
        "",
        "Wheelhouse side by side with pypiserver (waitress, watchdog cache), devpi-server and nginx",
        "serving the same bytes as static files, in one run on one machine, on loopback. Every ratio",
        "compares figures from that same run. Reproduce with `bench/run` (it installs wrk, nginx and",
        "the peers, builds Wheelhouse in release mode and rewrites this file).",
        "",
        "## Machine and versions",
        "",
        f"- CPU: {cpu}, {os.cpu_count()} cores; {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB memory; {platform.platform()}",
        f"- {version_of([BIN, '--version'])} ({args.workers} HTTP worker); nginx: {version_of(['nginx', '-v'])} (1 worker, sendfile)",
        f"- pypiserver {version_of([bin_dir / 'pypi-server', '--version'])}; devpi-server {version_of([bin_dir / 'devpi-server', '--version'])}; wrk {version_of(['wrk', '--version']).split()[1] if version_of(['wrk', '--version']) != 'unknown' else '?'}",
        f"- load: `wrk --latency`, {args.seconds} s per figure, 2 threads (1 at one connection), `Accept: text/html` (every server answers HTML); the load generator shares the cores with the servers",
        f"- corpus: a package with 500 wheels, 2,000 one-wheel packages, a 30-package dependency tree, one 100 MB wheel; loaded through each server's upload API ({', '.join(f'{k} {v:.0f} s' for k, v in load_times.items())})",
        "",
        "## (a) A package page with 500 files",
        "",
        "| connections | server | requests/s | p50 ms | p99 ms | Wheelhouse × this |",
        "|---|---|---|---|---|---|",
    ]
    a = r["a"]
    for conns in (1, 16, 64):
        w = a[("Wheelhouse", conns)]["rps"]
        for name in ("Wheelhouse", "pypiserver", "devpi", "nginx (static)"):
            m = a[(name, conns)]
            lines.append(f"| {conns} | {name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {ratio(w, m['rps']) if name != 'Wheelhouse' else ''} |")
    j = a[("Wheelhouse JSON", 64)]
    lines += [f"| 64 | Wheelhouse, PEP 691 JSON | {j['rps']:.0f} | {j['p50']:.2f} | {j['p99']:.2f} | |", ""]
    lines += ["## (b) The index of 2,000+ packages (64 connections)", "", "| server | requests/s | p50 ms | p99 ms | Wheelhouse project × this |", "|---|---|---|---|---|"]
    b = r["b"]
    for name, m in b.items():
        lines.append(f"| {name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {ratio(b['Wheelhouse project']['rps'], m['rps']) if not name.startswith('Wheelhouse') else ''} |")
    lines += ["", "## (c) A private package page, token authentication (Wheelhouse)", "", "| connections | requests/s | p50 ms | p99 ms | × the public page (a) |", "|---|---|---|---|---|"]
    for conns, m in r["c"].items():
        lines.append(f"| {conns} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {ratio(m['rps'], a[('Wheelhouse', conns)]['rps'])} |")
    d = r["d"]
    lines += ["", "## (d) Downloading the 100 MB wheel (median of 3, curl)", "", "| server | MB/s | Wheelhouse × this |", "|---|---|---|"]
    for name, v in d.items():
        lines.append(f"| {name} | {v:.0f} | {ratio(d['Wheelhouse'], v) if name != 'Wheelhouse' else ''} |")
    lines += ["", "## (e) Uploading a 100 MB wheel to Wheelhouse", "", "| client | seconds | server peak memory growth (MiB) |", "|---|---|---|"]
    for tool, m in r["e"].items():
        lines.append(f"| {tool} | {m['seconds']:.2f} | {m['peak_growth']:.1f} |")
    f = r["f"]
    lines += ["", "## (f) Installing a 30-package dependency tree, caches off (median of 3, seconds)", "", "| server | uv pip install | pip install | Wheelhouse × faster (uv) | Wheelhouse × faster (pip) |", "|---|---|---|---|---|"]
    for name, m in f.items():
        extra = "" if name == "Wheelhouse" else f"{m['uv'] / f['Wheelhouse']['uv']:.2f}× | {m['pip'] / f['Wheelhouse']['pip']:.2f}×"
        lines.append(f"| {name} | {m['uv']:.2f} | {m['pip']:.2f} | {extra or ' | '} |")
    g = r["g"]
    lines += [
        "", "## (g) Memory and start-up (Wheelhouse)", "",
        "| figure | value |", "|---|---|",
        f"| resident memory, fresh | {g['fresh']:.1f} MiB |",
        f"| resident memory, idle after loading the corpus | {g['idle_after_seeding']:.1f} MiB |",
        f"| peak resident memory over the whole run (VmHWM) | {g['peak_under_load']:.1f} MiB |",
        f"| start-up to the first answered request, empty data directory (median of 5) | {g['startup_empty_ms']:.0f} ms |",
        f"| start-up to the first answered request, corpus loaded (median of 5) | {g['startup_seeded_ms']:.0f} ms |",
        f"| for scale: pypiserver, devpi resident memory at the end | {r['peers_rss']['pypiserver']:.0f} MiB, {r['peers_rss']['devpi']:.0f} MiB |",
    ]
    if "h" in r:
        h = r["h"]
        small, large = h["1,000 files"], h["100,000 files"]
        lines += ["", "## (h) Growth: the same pages with 1,000 and with 100,000 files stored", "",
                  "The 100,000-file registry adds 99,000 file rows in 99 more projects directly in SQL (sharing one blob): loading them over HTTP would dominate the run, and page cost depends on rows, not bytes.", "",
                  "| figure | 1,000 files | 100,000 files | ratio |", "|---|---|---|---|",
                  f"| (a) page, 64 connections, requests/s | {small['page']['rps']:.0f} | {large['page']['rps']:.0f} | {ratio(large['page']['rps'], small['page']['rps'])} |",
                  f"| (b) index, 64 connections, requests/s | {small['index']['rps']:.0f} | {large['index']['rps']:.0f} | {ratio(large['index']['rps'], small['index']['rps'])} |",
                  f"| uncached page (after a commit elsewhere), median ms | {small['cold_page_ms']:.2f} | {large['cold_page_ms']:.2f} | {ratio(large['cold_page_ms'], small['cold_page_ms'])} |"]
    if "soak" in r:
        k = r["soak"]
        lines += ["", "## Soak", "", f"{k['seconds']} s of reads at 64 connections ({k['reads_per_s']:.0f}/s, p99 {k['p99']:.1f} ms) while {k['uploads']} uploads went in: no failed response, every upload listed, `fsck` clean."]
    lines += ["", *targets(r)]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")


def targets(r):
    """The targets of the benchmark issue, judged on this run's figures."""
    a, b, d, e, f, g = r["a"], r["b"], r["d"], r["e"], r["f"], r["g"]
    w64 = a[("Wheelhouse", 64)]
    rows = [
        ("(a) page, 64 connections, × pypiserver", ">= 100", w64["rps"] / a[("pypiserver", 64)]["rps"], lambda v: v >= 100),
        ("(a) page, 64 connections, × devpi", ">= 50", w64["rps"] / a[("devpi", 64)]["rps"], lambda v: v >= 50),
        ("(a) page, 64 connections, × nginx static", ">= 0.7", w64["rps"] / a[("nginx (static)", 64)]["rps"], lambda v: v >= 0.7),
        ("(a) page, 64 connections, p99 ms", "<= 10", w64["p99"], lambda v: v <= 10),
        ("(b) index, × pypiserver", ">= 20", b["Wheelhouse project"]["rps"] / b["pypiserver"]["rps"], lambda v: v >= 20),
        ("(d) 100 MB download, × nginx", ">= 0.9", d["Wheelhouse"] / d["nginx (static)"], lambda v: v >= 0.9),
        ("(e) 100 MB upload, peak memory growth MiB (worst client)", "<= 16", max(m["peak_growth"] for m in e.values()), lambda v: v <= 16),
        ("(f) uv install, seconds slower than the fastest peer", "< 0", f["Wheelhouse"]["uv"] - min(f["pypiserver"]["uv"], f["devpi"]["uv"]), lambda v: v < 0),
        ("(f) pip install, seconds slower than the fastest peer", "< 0", f["Wheelhouse"]["pip"] - min(f["pypiserver"]["pip"], f["devpi"]["pip"]), lambda v: v < 0),
        ("(g) idle memory MiB", "<= 20", g["idle_after_seeding"], lambda v: v <= 20),
        ("(g) peak memory MiB", "<= 64", g["peak_under_load"], lambda v: v <= 64),
        ("(g) first answer after start, ms", "<= 100", max(g["startup_empty_ms"], g["startup_seeded_ms"]), lambda v: v <= 100),
    ]
    if "h" in r:
        h = r["h"]
        rows.append(("(h) page at 100,000 files ÷ at 1,000 (requests/s)", ">= 0.67", h["100,000 files"]["page"]["rps"] / h["1,000 files"]["page"]["rps"], lambda v: v >= 1 / 1.5))
    out = ["## Targets", "", "| figure | target | this run | met |", "|---|---|---|---|"]
    for label, target, value, ok in rows:
        out.append(f"| {label} | {target} | {value:.2f} | {'yes' if ok(value) else '**no**'} |")
    return out


if __name__ == "__main__":
    main()
