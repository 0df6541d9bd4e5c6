"""Bytes on the wire and requests/s for the 500-file page as pip and uv ask for it, with and
without compression; the page and the 100 MB download over TLS beside nginx over TLS with the
same certificate; and what metrics and the access log cost, against a build from before they
existed (WHEELHOUSE_BASELINE_BIN, e.g. a release build of 040a4e9^1). Run after
`cargo build --release`; needs wrk and nginx (bench/run installs them). Loopback only; every
load is bounded by wrk -d.

    python3 bench/wire.py [--seconds 5]
"""
import argparse
import http.client
import os
import ssl
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import corpus
import bench
from bench import Nginx, Wheelhouse, free_port, spawn, speed, wait_ready, wrk

# WHEELHOUSE_BIN measures another build (bytes on the wire do not depend on it).
BIN = bench.BIN = Path(os.environ.get("WHEELHOUSE_BIN", bench.BIN))

PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def fetch(port, path, headers, context=None):
    if context:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    return resp.getheader("Content-Encoding") or "identity", len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wheelhouse-wire-"))
    work.chmod(0o755)  # nginx's workers run as www-data
    wh = seeded_server(work)
    path = wh.page("bigpkg")[len(wh.base):]

    print("## Bytes on the wire, the 500-file page\n")
    print("| request | coding | bytes | × identity |\n|---|---|---|---|")
    for label, accept in (("pip (PEP 691 JSON)", PIP_ACCEPT), ("HTML", "text/html")):
        _, identity = fetch(wh.port, path, {"Accept": accept})
        for enc in ("", "gzip, deflate", "gzip, deflate, zstd"):
            headers = {"Accept": accept, **({"Accept-Encoding": enc} if enc else {})}
            coding, size = fetch(wh.port, path, headers)
            print(f"| {label}, Accept-Encoding: {enc or '(none)'} | {coding} | {size} | {size / identity:.2f} |")

    rows = [
        ("HTML, no Accept-Encoding", ["Accept: text/html"]),
        ("HTML, Accept-Encoding: gzip", ["Accept: text/html", "Accept-Encoding: gzip, deflate"]),
        ("pip's request (JSON, gzip)", [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate"]),
        ("uv's request (JSON, zstd)", [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate, zstd"]),
    ]
    print(f"\n## Requests/s, the 500-file page, 64 connections, {args.seconds} s each\n")
    print("| request | requests/s | p50 ms | p99 ms |\n|---|---|---|---|")
    for label, headers in rows:
        r = wrk(wh.base + path, 64, args.seconds, headers)
        print(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |", flush=True)

    name, version, filename, data = corpus.huge()
    wh.uploader().upload(name, version, filename, data)  # the first connection timed out idle
    file_path = wh.file_url(filename, data)[len(wh.base):]
    tls_versus_nginx(wh, work, path, file_path, filename, data, args.seconds)
    wh.stop()
    observability_cost(wh, path, args.seconds)


def tls_versus_nginx(wh, work, page_path, file_path, filename, data, seconds):
    """The page and the 100 MB wheel, plain and over TLS, from Wheelhouse and from nginx
    serving the same bytes as static files with the same certificate."""
    cert_dir = work / "tls"
    subprocess.run([BIN, "--data-dir", wh.data, "tls", "self-signed", "--host", "localhost", "--host", "127.0.0.1", "--out-dir", cert_dir],
                   check=True, capture_output=True)
    cert, key = cert_dir / "cert.pem", cert_dir / "key.pem"
    tls_port = free_port()
    spawn([BIN, "--data-dir", wh.data, "serve", "--listen", f"127.0.0.1:{tls_port}", "--workers", "1",
           "--tls-cert", cert, "--tls-key", key], env={**os.environ, "RUST_LOG": "error"})
    context = ssl.create_default_context(cafile=str(cert))
    for _ in range(600):
        try:
            fetch(tls_port, "/-/health", {}, context)
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise SystemExit("Wheelhouse over TLS did not come up")

    nx = Nginx(work)
    nx.tls_port = free_port()
    nx.conf.write_text(nx.conf.read_text().replace(
        f"listen 127.0.0.1:{nx.port};",
        f"listen 127.0.0.1:{nx.port};\n        listen 127.0.0.1:{nx.tls_port} ssl;\n"
        f"        ssl_certificate {cert};\n        ssl_certificate_key {key};"))
    nx.start()
    nx.copy(wh.base + page_path, "page.html", {"Accept": "text/html"})
    (nx.root / filename).write_bytes(data)

    page_rows = [("plain HTTP", wh.base, nx.base),
                 ("TLS", f"https://localhost:{tls_port}", f"https://localhost:{nx.tls_port}")]
    print(f"\n## TLS: the 500-file page (HTML, identity), 64 connections, {seconds} s each, and the 100 MB wheel (curl, median of 3)\n")
    print("| transport | Wheelhouse page req/s | nginx page req/s | × nginx | Wheelhouse p99 ms | "
          "Wheelhouse MB/s | nginx MB/s | × nginx |\n|---|---|---|---|---|---|---|---|")
    for label, wh_base, nx_base in page_rows:
        w = wrk(wh_base + page_path, 64, seconds, ["Accept: text/html"])
        n = wrk(f"{nx_base}/page.html", 64, seconds)
        tls = ["--cacert", str(cert)] if wh_base.startswith("https") else []
        w_speed = speed(wh_base + file_path, curl_args=tls)
        n_speed = speed(f"{nx_base}/{filename}", curl_args=tls)
        print(f"| {label} | {w['rps']:.0f} | {n['rps']:.0f} | {w['rps'] / n['rps']:.2f} | {w['p99']:.2f} | "
              f"{w_speed:.0f} | {n_speed:.0f} | {w_speed / n_speed:.2f} |", flush=True)
    nx.stop()


def observability_cost(wh, page_path, seconds, rounds=3):
    """Requests/s for pip's page request from the build before metrics and the access log
    existed and from this one (metrics always count; the access log on and off), taking turns
    on the same data directory so machine drift hits all alike. Medians of `rounds`."""
    baseline = os.environ.get("WHEELHOUSE_BASELINE_BIN")
    if not baseline:
        print("\n(WHEELHOUSE_BASELINE_BIN not set: the cost of metrics is not measured)")
        return
    # The baseline cannot open this build's database (its schema is newer): it gets a data
    # directory of its own, made by itself and holding the same package.
    baseline_data = seeded_by(baseline, Path(wh.data).parent / "baseline")
    builds = [("before metrics (baseline build)", baseline, "error", baseline_data),
              ("metrics counted, access log off", BIN, "error", wh.data),
              ("metrics counted, access log on (default)", BIN, "info", wh.data)]
    headers = [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate"]
    results = {label: [] for label, _, _, _ in builds}
    for _ in range(rounds):
        for label, binary, level, data in builds:
            port = free_port()
            proc = spawn([binary, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}", "--workers", "1",
                          "--max-auth-failures", "0"], env={**os.environ, "RUST_LOG": level})
            wait_ready(f"http://127.0.0.1:{port}/-/health")
            wrk(f"http://127.0.0.1:{port}{page_path}", 64, 1, headers)  # warm the page cache
            cpu_before = cpu_seconds(proc.pid)
            r = wrk(f"http://127.0.0.1:{port}{page_path}", 64, seconds, headers)
            results[label].append((r["rps"], (cpu_seconds(proc.pid) - cpu_before) / r["requests"] * 1e6))
            proc.terminate()
            proc.wait()
    def medians(label):
        return (statistics.median(r for r, _ in results[label]), statistics.median(c for _, c in results[label]))

    base_rps, base_cpu = medians(builds[0][0])
    print(f"\n## What metrics and the access log cost: pip's page request, 64 connections, median of {rounds} × {seconds} s, taking turns\n")
    print("Server CPU per request (user + system, from /proc) is the steadier figure on a shared machine.\n")
    print("| build | requests/s | × baseline | server CPU µs per request | × baseline |\n|---|---|---|---|---|")
    for label, _, _, _ in builds:
        rps, cpu = medians(label)
        print(f"| {label} | {rps:.0f} | {rps / base_rps:.2f} | {cpu:.1f} | {cpu / base_cpu:.2f} |", flush=True)


def seeded_by(binary, work):
    """A data directory made by `binary`, holding the 500-file package under the same path."""
    work.mkdir()
    ours, bench.BIN = bench.BIN, Path(binary)
    try:
        wh = seeded_server(work)
        wh.stop()
    finally:
        bench.BIN = ours
    return wh.data


def seeded_server(work):
    """A running Wheelhouse (of `bench.BIN`) in `work` with the 500-file package uploaded."""
    wh = Wheelhouse(work, 1)
    wh.start()
    wh.provision()
    up = wh.uploader()
    for name, version, filename, data in corpus.big_package():
        up.upload(name, version, filename, data)
    return wh


def cpu_seconds(pid):
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
