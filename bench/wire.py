"""Bytes on the wire and requests/s for the 500-file page as pip and uv ask for it, with and
without compression, and over TLS. Run after `cargo build --release`; needs wrk (bench/run
installs it). Loopback only; every load is bounded by wrk -d.

    python3 bench/wire.py [--seconds 5]
"""
import argparse
import http.client
import os
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import corpus
import bench
from bench import Wheelhouse, free_port, spawn, wrk

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
    wh = Wheelhouse(work, 1)
    wh.start()
    wh.provision()
    up = wh.uploader()
    for name, version, filename, data in corpus.big_package():
        up.upload(name, version, filename, data)
    path = wh.page("bigpkg")[len(wh.base):]

    print("## Bytes on the wire, the 500-file page\n")
    print("| request | coding | bytes | × identity |\n|---|---|---|---|")
    for label, accept in (("pip (PEP 691 JSON)", PIP_ACCEPT), ("HTML", "text/html")):
        _, identity = fetch(wh.port, path, {"Accept": accept})
        for enc in ("", "gzip, deflate", "gzip, deflate, zstd"):
            headers = {"Accept": accept, **({"Accept-Encoding": enc} if enc else {})}
            coding, size = fetch(wh.port, path, headers)
            print(f"| {label}, Accept-Encoding: {enc or '(none)'} | {coding} | {size} | {size / identity:.2f} |")

    # The same data directory served over TLS by a second process.
    cert_dir = work / "tls"
    subprocess.run([BIN, "--data-dir", wh.data, "tls", "self-signed", "--host", "127.0.0.1", "--out-dir", cert_dir],
                   check=True, capture_output=True)
    tls_port = free_port()
    spawn([BIN, "--data-dir", wh.data, "serve", "--listen", f"127.0.0.1:{tls_port}", "--workers", "1",
           "--tls-cert", cert_dir / "cert.pem", "--tls-key", cert_dir / "key.pem"])
    context = ssl.create_default_context(cafile=str(cert_dir / "cert.pem"))
    tls_base = f"https://127.0.0.1:{tls_port}"
    for _ in range(600):
        try:
            fetch(tls_port, "/-/health", {}, context)
            break
        except OSError:
            time.sleep(0.05)

    print(f"\n## Requests/s, the 500-file page, 64 connections, {args.seconds} s each\n")
    print("| request | requests/s | p50 ms | p99 ms |\n|---|---|---|---|")
    rows = [
        ("HTML, no Accept-Encoding", wh.base, ["Accept: text/html"]),
        ("HTML, Accept-Encoding: gzip", wh.base, ["Accept: text/html", "Accept-Encoding: gzip, deflate"]),
        ("pip's request (JSON, gzip)", wh.base, [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate"]),
        ("uv's request (JSON, zstd)", wh.base, [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate, zstd"]),
        ("HTML over TLS, no Accept-Encoding", tls_base, ["Accept: text/html"]),
        ("pip's request over TLS (JSON, gzip)", tls_base, [f"Accept: {PIP_ACCEPT}", "Accept-Encoding: gzip, deflate"]),
    ]
    for label, base, headers in rows:
        r = wrk(base + path, 64, args.seconds, headers)
        print(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |", flush=True)
    wh.stop()


if __name__ == "__main__":
    main()
