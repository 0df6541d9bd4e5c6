"""The synthetic corpus every index in the benchmark is loaded with: valid wheels with real
METADATA, a 500-file package, a 2,000-package index, a 30-package dependency tree and one
100 MB wheel. Deterministic, so every run measures the same bytes."""
import base64
import hashlib
import io
import random
import zipfile


def wheel(name, version, requires=(), payload=b"", compress=True):
    """Returns (filename, bytes) of an installable pure-Python wheel."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: benchmark package {name}\nRequires-Python: >=3.8\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: wheelhouse-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if payload:
        files[f"{module}/payload.bin"] = payload
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as z:
        for path, content in files.items():
            z.writestr(path, content)
    return f"{module}-{version}-py3-none-any.whl", out.getvalue()


def big_package(files=500):
    return [("bigpkg", f"1.0.{i}", *wheel("bigpkg", f"1.0.{i}")) for i in range(files)]


def index_packages(count=2000):
    return [(f"pkg-{i:04d}", "1.0", *wheel(f"pkg-{i:04d}", "1.0")) for i in range(count)]


def tree(count=30):
    """tree-00 needs tree-01 and tree-02, tree-01 needs tree-03 and tree-04, and so on."""
    dists = []
    for i in range(count):
        children = [f"tree-{c:02d}>=1.0" for c in (2 * i + 1, 2 * i + 2) if c < count]
        dists.append((f"tree-{i:02d}", "1.0", *wheel(f"tree-{i:02d}", "1.0", children)))
    return dists


def huge(name="huge", size=100 * 1000 * 1000, seed=1):
    payload = random.Random(seed).randbytes(size)
    return (name, "1.0", *wheel(name, "1.0", payload=payload, compress=False))
