"""100 MB upload and download through Wheelhouse on S3 (streamed and redirected) against the
same moto server's own PUT and GET of the same bytes, the server's peak memory for a
200 MB upload, and the page and install figures on the local store and on S3 (they should not
depend on the store). Run with the s3 test venv's Python (moto[server], boto3, pip), after
`cargo build --release`, with wrk installed:  target/tmp/s3-venv/bin/python bench/s3_throughput.py"""

import base64
import hashlib
import http.client
import io
import os
import re
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/wheelhouse")
VENV = os.path.dirname(sys.executable)
BUCKET = "bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def wheel(name, size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(f"{name}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        z.writestr(f"{name}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{name}/blob.bin", os.urandom(size))
    return f"{name}-1.0-py3-none-any.whl", buf.getvalue()


def multipart(filename, data, name, claim=True):
    boundary = "benchboundary"
    fields = [(":action", "file_upload"), ("protocol_version", "1"), ("name", name), ("version", "1.0")]
    if claim:
        # The digest before the file, as twine and uv send it (large files then stream to S3).
        fields.append(("sha256_digest", hashlib.sha256(data).hexdigest()))
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields
    ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", head + data + f"\r\n--{boundary}--\r\n".encode()


def cli(data_dir, env, *args):
    out = subprocess.run([BIN, "--data-dir", data_dir, *args], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])


def timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


DEPS = 20


def small_wheel(name, requires=()):
    buf = io.BytesIO()
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}-1.0.dist-info/METADATA", meta)
        z.writestr(f"{name}-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{name}-1.0.dist-info/RECORD", "")
        z.writestr(f"{name}/__init__.py", os.urandom(2048).hex())
    return f"{name}-1.0-py3-none-any.whl", buf.getvalue()


def start_registry(env, *visibility):
    """A new data directory with group g, project g/p and a maintainer's token, served:
    (server, port, Authorization header, the project's API path)."""
    data_dir = tempfile.mkdtemp()
    cli(data_dir, env, "group", "add", "g", *visibility)
    cli(data_dir, env, "project", "add", "g/p", *visibility)
    cli(data_dir, env, "user", "add", "dev")
    token = cli(data_dir, env, "token", "add", "dev", "--name", "t", "--scopes", "api")
    cli(data_dir, env, "member", "add", "g", "dev", "--role", "maintainer")
    server, port = serve(data_dir, env)
    auth = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
    return server, port, auth, "/api/v4/projects/g%2Fp/packages/pypi"


def upload(port, api, auth, filename, data, name, claim=True, pace_mb_s=None):
    """POSTs the file as twine would; `pace_mb_s` sends the body no faster than a network of
    that speed (a LAN client, whose transfer the server can overlap with the bucket's PUT)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    content_type, body = multipart(filename, data, name, claim)
    if pace_mb_s is None:
        c.request("POST", api, body=body, headers={"Content-Type": content_type, "Authorization": auth})
    else:
        c.putrequest("POST", api)
        for k, v in (("Content-Type", content_type), ("Authorization", auth), ("Content-Length", str(len(body)))):
            c.putheader(k, v)
        c.endheaders()
        start, step = time.monotonic(), 1 << 20
        for at in range(0, len(body), step):
            c.send(body[at:at + step])
            ahead = (at + step) / (pace_mb_s * 1e6) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    r = c.getresponse()
    r.read()
    assert r.status == 201, r.status


def page_and_install(label, env):
    """Requests/s for a project page (wrk, 64 connections, 3 s) and the seconds `pip install`
    takes for a package with DEPS dependencies, caches off (median of 3), on one store."""
    server, port, auth, api = start_registry(env, "--visibility", "public")
    try:
        wheels = [small_wheel(f"dep{i}") for i in range(DEPS)]
        wheels.append(small_wheel("app", [f"dep{i}" for i in range(DEPS)]))
        for filename, data in wheels:
            upload(port, api, auth, filename, data, filename.split("-")[0])
        index = f"http://127.0.0.1:{port}{api}/simple/"
        out = subprocess.run(["wrk", "-t2", "-c64", "-d3s", index + "app/"], capture_output=True, text=True,
                             check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        runs = []
        for _ in range(3):
            target = tempfile.mkdtemp()
            runs.append(timed(lambda: subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--no-cache-dir", "--disable-pip-version-check",
                 "--target", target, "--index-url", index, "app"], check=True)))
            shutil.rmtree(target)
        return {"store": label, "page_rps": rps, "install_s": statistics.median(runs)}
    finally:
        server.kill()
        server.wait()


def serve(data_dir, env):
    server = subprocess.Popen([BIN, "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0"], env=env,
                              stdout=subprocess.PIPE, text=True)
    line = ""
    while not line.startswith("Wheelhouse listening on "):
        line = server.stdout.readline()
    return server, int(line.split()[3].rsplit(":", 1)[1])


def s3_env(endpoint, prefix, redirect):
    return dict(os.environ, WHEELHOUSE_STORAGE_KIND="s3", WHEELHOUSE_STORAGE_BUCKET=BUCKET,
                WHEELHOUSE_STORAGE_PREFIX=prefix, WHEELHOUSE_STORAGE_ENDPOINT=endpoint,
                WHEELHOUSE_STORAGE_PATH_STYLE="true", WHEELHOUSE_STORAGE_REGION="us-east-1",
                WHEELHOUSE_STORAGE_ACCESS_KEY_ID="k", WHEELHOUSE_STORAGE_SECRET_ACCESS_KEY="s",
                WHEELHOUSE_STORAGE_REDIRECT_DOWNLOADS=redirect, RUST_LOG="warn")


def main():
    moto_port = free_port()
    moto = subprocess.Popen([os.path.join(VENV, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(moto_port)
        endpoint = f"http://127.0.0.1:{moto_port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                          region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        size = 100 * 1000 * 1000
        filename, data = wheel("big", size)
        mb = len(data) / 1e6
        results = {}
        results["moto PUT (boto3, multipart 8 MiB)"] = timed(lambda: s3.upload_fileobj(
            io.BytesIO(data), BUCKET, "raw/big",
            Config=boto3.s3.transfer.TransferConfig(multipart_chunksize=8 << 20)))
        results["moto GET (one request)"] = timed(lambda: s3.get_object(Bucket=BUCKET, Key="raw/big")["Body"].read())

        for redirect in ["false", "true"]:
            server, port, auth, api = start_registry(s3_env(endpoint, f"redirect-{redirect}", redirect))
            try:
                before = peak_rss_kib(server.pid)
                t = timed(lambda: upload(port, api, auth, filename, data, "big"))
                label = "redirect" if redirect == "true" else "streamed"
                if redirect == "false":
                    results["Wheelhouse upload (spooled and checked while streaming to the bucket)"] = t
                    results["_rss_growth_mib_100MB"] = (peak_rss_kib(server.pid) - before) / 1024
                    # A client on a 1 Gbit/s LAN (~110 MB/s): the streamed upload overlaps its
                    # transfer with the PUT; without a claimed digest the PUT follows the transfer.
                    runs = ((False, None, "Wheelhouse upload, no digest claimed (spool, check, then PUT)"),
                            (True, 110, "Wheelhouse upload, client paced at 110 MB/s, digest claimed (streamed)"),
                            (False, 110, "Wheelhouse upload, client paced at 110 MB/s, no digest (then PUT)"))
                    for i, (claim, pace, row) in enumerate(runs):
                        name_p, data_p = wheel(f"other{i}", size)
                        results[row] = timed(lambda: upload(port, api, auth, name_p, data_p, f"other{i}", claim, pace))
                        del data_p
                sha = hashlib.sha256(data).hexdigest()
                url = f"http://127.0.0.1:{port}{api}/files/{sha}/{filename}"

                def down():
                    req = urllib.request.Request(url, headers={"Authorization": auth})
                    got = urllib.request.urlopen(req, timeout=600).read()
                    assert len(got) == len(data)

                results[f"Wheelhouse download ({label})"] = timed(down)
                if redirect == "false":
                    # Memory for a 200 MB upload.
                    name2, data2 = wheel("bigger", 2 * size)
                    base_rss = peak_rss_kib(server.pid)
                    upload(port, api, auth, name2, data2, "bigger")
                    results["_rss_peak_mib_after_200MB"] = peak_rss_kib(server.pid) / 1024
                    results["_rss_growth_mib_200MB"] = (peak_rss_kib(server.pid) - base_rss) / 1024
                    del data2
            finally:
                server.kill()
                server.wait()
        stores = [page_and_install("local directory", dict(os.environ, RUST_LOG="warn")),
                  page_and_install("S3, streamed", s3_env(endpoint, "pages-streamed", "false")),
                  page_and_install("S3, redirect", s3_env(endpoint, "pages-redirect", "true"))]
        # The floor an S3 store adds to an install: one GET per file, one after another.
        for i in range(DEPS + 1):
            s3.put_object(Bucket=BUCKET, Key=f"small/{i}", Body=small_wheel(f"dep{i}")[1])
        small_gets = statistics.median(timed(lambda: [s3.get_object(Bucket=BUCKET, Key=f"small/{i}")["Body"].read()
                                                      for i in range(DEPS + 1)]) for _ in range(3))
        print(f"## S3 (moto on loopback): a {mb:.1f} MB wheel\n")
        print("| what | seconds | MB/s | × moto's own |\n|---|---|---|---|")
        for k, v in results.items():
            if not k.startswith("_"):
                limit = results["moto PUT (boto3, multipart 8 MiB)" if "PUT" in k or "upload" in k else "moto GET (one request)"]
                print(f"| {k} | {v:.2f} | {mb / v:.0f} | {limit / v:.2f} |")
        print(f"\nServer memory: peak growth {results['_rss_growth_mib_100MB']:.1f} MiB for the 100 MB upload, "
              f"{results['_rss_growth_mib_200MB']:.1f} MiB for a 200 MB one (peak {results['_rss_peak_mib_after_200MB']:.0f} MiB).\n")
        print(f"## The page and install figures by store (a package with {DEPS} dependencies)\n")
        print("| store | page requests/s (64 connections) | × local | pip install, s (median of 3) | × local |\n|---|---|---|---|---|")
        for row in stores:
            print(f"| {row['store']} | {row['page_rps']:.0f} | {row['page_rps'] / stores[0]['page_rps']:.2f} | "
                  f"{row['install_s']:.2f} | {row['install_s'] / stores[0]['install_s']:.2f} |")
        print(f"\nmoto's own GET of the {DEPS + 1} files, one after another (boto3): {small_gets:.2f} s "
              "— the least an install can add on this bucket, as pip fetches them in turn.")
    finally:
        moto.kill()


if __name__ == "__main__":
    main()
