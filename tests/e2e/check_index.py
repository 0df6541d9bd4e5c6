"""Parses every page of a Wheelhouse index with pypi-simple, an independent client library.

Usage: check_index.py ENDPOINT USER PASSWORD
Warnings are errors; every advertised file and metadata file is downloaded and its sha256
verified. Prints "pages=N files=M metadata=K" on success.
"""
import sys
import tempfile
import warnings

from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

warnings.simplefilter("error")
endpoint, user, password = sys.argv[1:4]
pages = files = metadata = 0
with PyPISimple(endpoint, auth=(user, password)) as client, tempfile.TemporaryDirectory() as tmp:
    for accept in (ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY):
        index = client.get_index_page(accept=accept)
        assert index.repository_version == "1.1", index.repository_version
        assert index.projects, "empty index"
        for project in index.projects:
            page = client.get_project_page(project, accept=accept)
            pages += 1
            assert page.repository_version == "1.1", page.repository_version
            assert page.packages, project
            for pkg in page.packages:
                assert pkg.digests.get("sha256"), pkg
                client.download_package(pkg, f"{tmp}/{pkg.filename}", verify=True)
                files += 1
                # PEP 643: an sdist offers its PKG-INFO only when that is static (2.2+).
                assert pkg.has_metadata or pkg.package_type == "sdist", pkg
                if pkg.has_metadata:
                    client.get_package_metadata_bytes(pkg, verify=True)
                    metadata += 1
                if accept == ACCEPT_JSON_ONLY:
                    assert pkg.size and pkg.upload_time, pkg
print(f"pages={pages} files={files} metadata={metadata}")
