"""Wheelhouse's stand-in for python-gitlab's tests/functional/conftest.py (issue 11).

python-gitlab's functional tests run unchanged against a Wheelhouse server that the Rust test
(tests/e2e/gitlab_functional.rs) started; this file replaces only the fixture layer that
started a GitLab container. The server's URL and an admin's `api` token arrive as
WHEELHOUSE_URL and WHEELHOUSE_TOKEN. The expected failures are listed in the file named by
WHEELHOUSE_EXPECTED_FAILURES (one node id a line under a `## reason` heading) and are marked
strict xfail, so a listed test that starts passing fails the run and the list shrinks.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import uuid

import pytest

import gitlab
from tests.functional import helpers


def _expected_failures() -> dict[str, str]:
    """Node id (relative to tests/functional) -> the reason it is expected to fail."""
    reasons: dict[str, str] = {}
    reason = None
    path = pathlib.Path(os.environ["WHEELHOUSE_EXPECTED_FAILURES"])
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("## "):
            reason = line[3:]
        elif line and not line.startswith("#"):
            if reason is None:
                raise pytest.UsageError(f"{path}: {line!r} has no `## reason` above it")
            if line in reasons:
                raise pytest.UsageError(f"{path}: {line!r} is listed twice")
            reasons[line] = reason
    return reasons


def pytest_configure(config: pytest.Config) -> None:
    # Their pyproject.toml's settings, which are not unpacked with the tests.
    config.addinivalue_line("markers", "gitlab_premium: needs GitLab Premium")
    config.addinivalue_line("markers", "gitlab_ultimate: needs GitLab Ultimate")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expected = _expected_failures()
    seen = set()
    for item in items:
        node = item.nodeid.removeprefix("tests/functional/")
        reason = expected.get(node)
        if reason is not None:
            seen.add(node)
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    # A stale entry (renamed test, module no longer run) would hide nothing and mislead.
    stale = sorted(set(expected) - seen)
    if stale:
        raise pytest.UsageError(f"expected failures that were not collected: {stale}")


@dataclasses.dataclass
class GitlabVersion:
    major: int
    minor: int
    patch: str
    revision: str


@pytest.fixture(scope="session")
def gitlab_url() -> str:
    return os.environ["WHEELHOUSE_URL"]


@pytest.fixture(scope="session")
def gitlab_token() -> str:
    return os.environ["WHEELHOUSE_TOKEN"]


@pytest.fixture(scope="session")
def gl(gitlab_url: str, gitlab_token: str) -> gitlab.Gitlab:
    # A fresh server per run: nothing to reset, unlike a long-lived GitLab container.
    instance = gitlab.Gitlab(gitlab_url, private_token=gitlab_token)
    instance.auth()
    return instance


@pytest.fixture(scope="session")
def gitlab_version(gl: gitlab.Gitlab) -> GitlabVersion:
    version, revision = gl.version()
    major, minor, patch = version.split(".", 2)
    return GitlabVersion(int(major), int(minor), patch, revision)


@pytest.fixture(scope="session")
def gitlab_config(gitlab_url: str, gitlab_token: str, tmp_path_factory) -> pathlib.Path:
    """The configuration file the `gitlab` command line reads (the CLI tests' gitlab_cli)."""
    path = tmp_path_factory.mktemp("cli") / "python-gitlab.cfg"
    path.write_text(
        "[global]\ndefault = local\ntimeout = 60\n\n"
        f"[local]\nurl = {gitlab_url}\nprivate_token = {gitlab_token}\napi_version = 4\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def fixture_dir(test_dir: pathlib.Path) -> pathlib.Path:
    return test_dir / "functional" / "fixtures"


@pytest.fixture(autouse=True)
def gitlab_paid_plans(request) -> None:
    # Wheelhouse has no licence: tests for paid plans are skipped, as on GitLab Free.
    for marker in ("gitlab_premium", "gitlab_ultimate"):
        if request.node.get_closest_marker(marker):
            pytest.skip(f"needs {marker}")


def _unique() -> str:
    return uuid.uuid4().hex


def _empty_group(gl, group) -> None:
    """Removes what a group holds: Wheelhouse refuses (409) to delete a group that still holds
    subgroups or projects (a documented difference), where GitLab deletes them with it."""
    for sub in group.subgroups.list(get_all=True):
        _empty_group(gl, gl.groups.get(sub.id))
        gl.groups.delete(sub.id)
    for held in group.projects.list(get_all=True):
        gl.projects.delete(held.id)


@pytest.fixture(scope="module")
def group(gl):
    unique = _unique()
    created = gl.groups.create({"name": f"test-group-{unique}", "path": f"group-{unique}"})
    yield created
    try:
        # Some tests delete the group themselves.
        current = gl.groups.get(created.id)
    except gitlab.exceptions.GitlabGetError:
        return
    _empty_group(gl, current)
    helpers.safe_delete(current)


@pytest.fixture(scope="module")
def project(gl):
    created = gl.projects.create(
        name=f"test-project-{_unique()}", remove_source_branch_after_merge=False
    )
    yield created
    helpers.safe_delete(created)


@pytest.fixture(scope="module")
def user(gl):
    unique = _unique()
    created = gl.users.create(
        email=f"user{unique}@email.com",
        username=f"user{unique}",
        name=f"User {unique}",
        password="E4596f8be406Bc3a14a4ccdb1df80587",
    )
    yield created
    helpers.safe_delete(created)


def _deploy_token(parent, prefix: str):
    return parent.deploytokens.create(
        {
            "name": f"{prefix}-{_unique()}",
            "username": "root",
            "expires_at": datetime.date.today().isoformat(),
            "scopes": "read_registry",
        }
    )


@pytest.fixture(scope="module")
def deploy_token(project):
    return _deploy_token(project, "token")


@pytest.fixture(scope="module")
def group_deploy_token(group):
    return _deploy_token(group, "group-token")


# The fixtures below create GitLab features outside a package registry; the tests using them
# are expected failures, and fail here, at the first request for the missing feature.


@pytest.fixture(scope="module")
def issue(project):
    return project.issues.create({"title": f"Issue {_unique()}", "description": "issue"})


@pytest.fixture(scope="module")
def label(project):
    return project.labels.create({"name": f"label{_unique()}", "color": "#112233"})


@pytest.fixture(scope="module")
def group_label(group):
    return group.labels.create({"name": f"label{_unique()}", "color": "#112233"})


@pytest.fixture(scope="module")
def variable(project):
    return project.variables.create({"key": f"var{_unique()}", "value": "value"})


@pytest.fixture(scope="module")
def project_file(project):
    return project.files.create(
        {
            "file_path": "README",
            "branch": "main",
            "content": "Initial content",
            "commit_message": "Initial commit",
        }
    )


@pytest.fixture(scope="session")
def SSH_KEY() -> str:
    # Wheelhouse keeps no SSH or GPG keys; the tests that upload one are expected failures.
    return "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHs5b2Nl0lFsIDmR1tqIhxBOiJ7F5X+hwPXcxjrczRw8 foo@bar"


@pytest.fixture(scope="session")
def GPG_KEY() -> str:
    return "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----"
