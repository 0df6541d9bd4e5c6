"""Endpoints python-gitlab scripts call that issue 11 found missing, driven with python-gitlab.

Usage: check_gitlab_endpoints.py CHECK URL ADMIN_TOKEN, where CHECK is one of the functions
below, on a fresh server whose only user is the admin `root`. Each check also asks as a
stranger (a user with no role anywhere), who must get 404 for what is private, never its
data. Prints "ok" when every step behaved as GitLab does.
"""
import sys

import gitlab


def user_with_token(gl, url, name):
    """A new user and a python-gitlab client signed in with their `api` token."""
    user = gl.users.create({"username": name, "email": f"{name}@example.com", "password": f"{name} password"})
    token = user.personal_access_tokens.create({"name": "t", "scopes": ["api"]}).token
    return user, gitlab.Gitlab(url, private_token=token)


def refused(call, code=404):
    """Runs `call`, which must fail with `code`; returns the error message."""
    try:
        got = call()
    except gitlab.exceptions.GitlabError as err:
        assert err.response_code == code, (err.response_code, err.error_message)
        return err.error_message
    raise SystemExit(f"answered instead of {code}: {got}")


def private_tree(gl):
    """A private group `acme` with the subgroup `acme/ml` and the project `acme/ml/models`."""
    group = gl.groups.create({"name": "acme", "path": "acme", "visibility": "private"})
    sub = gl.groups.create({"name": "ml", "path": "ml", "parent_id": group.id, "visibility": "private"})
    project = gl.projects.create({"name": "models", "namespace_id": sub.id, "visibility": "private"})
    return group, sub, project


def member_get(gl, url):
    """Item 6: `members.get()` and `members_all.get()` of projects and groups."""
    group, sub, project = private_tree(gl)
    alice, _ = user_with_token(gl, url, "alice")
    _, stranger = user_with_token(gl, url, "stranger")
    group.members.create({"user_id": alice.id, "access_level": 30})
    project.members.create({"user_id": alice.id, "access_level": 40})
    member = group.members.get(alice.id)
    assert (member.username, member.access_level) == ("alice", 30), member.attributes
    assert gl.groups.get(sub.id).members_all.get(alice.id).access_level == 30
    refused(lambda: gl.groups.get(sub.id).members.get(alice.id))
    assert project.members.get(alice.id).access_level == 40
    assert project.members_all.get(alice.id).access_level == 40
    refused(lambda: project.members.get(999999))
    # A stranger learns nothing about a private group's members, not even that it exists.
    refused(lambda: stranger.groups.get(group.id, lazy=True).members.get(alice.id))
    refused(lambda: stranger.projects.get(project.id, lazy=True).members_all.get(alice.id))


def deploy_token_get(gl, url):
    """Item 8: `deploytokens.get()` of projects and groups; another place's token is not here."""
    group, _, project = private_tree(gl)
    _, stranger = user_with_token(gl, url, "stranger")
    made = project.deploytokens.create({"name": "ci", "username": "ci", "scopes": ["read_package_registry"]})
    got = project.deploytokens.get(made.id)
    assert (got.name, got.username, got.scopes) == ("ci", "ci", ["read_package_registry"]), got.attributes
    assert "token" not in got.attributes, got.attributes
    other = group.deploytokens.create({"name": "ops", "scopes": ["read_package_registry"]})
    assert group.deploytokens.get(other.id).name == "ops"
    refused(lambda: group.deploytokens.get(made.id))
    refused(lambda: project.deploytokens.get(other.id))
    refused(lambda: stranger.projects.get(project.id, lazy=True).deploytokens.get(made.id))
    refused(lambda: stranger.groups.get(group.id, lazy=True).deploytokens.get(other.id))
    # Every token of the instance: the admins' list only.
    assert sorted(t.id for t in gl.deploytokens.list(get_all=True)) == sorted([made.id, other.id])
    project.deploytokens.delete(made.id)
    assert [t.id for t in gl.deploytokens.list(active=True)] == [other.id]
    refused(lambda: stranger.deploytokens.list(), 403)


def descendant_groups(gl, url):
    """Item 9: every subgroup at any depth, each only for those who may see it."""
    group, sub, _ = private_tree(gl)
    deep = gl.groups.create({"name": "vision", "path": "vision", "parent_id": sub.id, "visibility": "private"})
    gl.groups.create({"name": "other", "path": "other", "visibility": "public"})
    found = sorted(g.full_path for g in group.descendant_groups.list(get_all=True))
    assert found == ["acme/ml", "acme/ml/vision"], found
    assert [g.full_path for g in group.descendant_groups.list(search="vis")] == ["acme/ml/vision"]
    assert sub.descendant_groups.list() and gl.groups.get(deep.id).descendant_groups.list() == []
    alice, as_alice = user_with_token(gl, url, "alice")
    deep.members.create({"user_id": alice.id, "access_level": 20})
    # A member of the deepest group only sees the path down to it.
    found = [g.full_path for g in as_alice.groups.get(group.id, lazy=True).descendant_groups.list()]
    assert sorted(found) == ["acme/ml", "acme/ml/vision"], found
    _, stranger = user_with_token(gl, url, "stranger")
    refused(lambda: stranger.groups.get(group.id, lazy=True).descendant_groups.list())


def head_requests(gl, url):
    """Item 7: HEAD of the API's GET routes, 200 with the GET's headers (404 where hidden)."""
    _, _, project = private_tree(gl)
    listed = gl.http_head("/projects")
    assert listed["X-Total"] == "1", listed
    one = gl.http_head(f"/projects/{project.id}")
    assert one["Content-Type"].startswith("application/json"), one
    _, stranger = user_with_token(gl, url, "stranger")
    assert stranger.http_head("/projects")["X-Total"] == "0"
    refused(lambda: stranger.http_head(f"/projects/{project.id}"))



def namespaces(gl, url):
    """`/namespaces`: list with `search`, get by id or path, `exists`; GitLab's fields."""
    group, sub, _ = private_tree(gl)
    public = gl.groups.create({"name": "open", "path": "open", "visibility": "public"})
    alice, as_alice = user_with_token(gl, url, "alice")
    _, stranger = user_with_token(gl, url, "stranger")
    group.members.create({"user_id": alice.id, "access_level": 40})
    mine = {n.full_path: n for n in as_alice.namespaces.list(get_all=True)}
    assert sorted(mine) == ["acme", "acme/ml", "alice", "open"], sorted(mine)
    assert (mine["alice"].kind, mine["acme"].kind, mine["acme/ml"].parent_id) == ("user", "group", group.id)
    assert [n.full_path for n in as_alice.namespaces.list(search="ML")] == ["acme/ml"]
    found = as_alice.namespaces.get(sub.id)
    assert (found.path, found.full_path, found.kind) == ("ml", "acme/ml", "group"), found.attributes
    assert as_alice.namespaces.get("acme/ml").id == sub.id
    assert as_alice.namespaces.get("alice").kind == "user"
    # The project a script creates goes where the namespace lookup said.
    made = as_alice.projects.create({"name": "tools", "namespace_id": as_alice.namespaces.get("acme").id})
    assert made.path_with_namespace == "acme/tools", made.attributes
    # An admin sees every namespace, users' own included.
    every = {n.full_path for n in gl.namespaces.list(get_all=True)}
    assert {"root", "alice", "stranger", "acme", "acme/ml", "open"} <= every, every
    assert gl.namespaces.exists("acme").exists is True
    taken = gl.namespaces.exists("ml", parent_id=group.id)
    assert (taken.exists, taken.suggests) == (True, ["ml1"]), taken.attributes
    assert gl.namespaces.exists("free").exists is False
    # A stranger sees their own namespace and public groups, never a private group's.
    assert sorted(n.full_path for n in stranger.namespaces.list()) == ["open", "stranger"]
    for hidden in (group.id, "acme/ml", "alice"):
        refused(lambda: stranger.namespaces.get(hidden))
    refused(lambda: stranger.namespaces.exists("ml", parent_id=group.id))
    assert stranger.namespaces.exists("x", parent_id=public.id).exists is False



def sudo(gl, url):
    """`sudo` (header or query): an admin acts as the named user; anyone else is refused."""
    group, _, _ = private_tree(gl)
    alice, as_alice = user_with_token(gl, url, "alice")
    stranger, _ = user_with_token(gl, url, "stranger")
    group.members.create({"user_id": alice.id, "access_level": 40})
    assert gl.http_get("/user", sudo="alice")["username"] == "alice"
    assert gl.http_get("/user", query_data={"sudo": alice.id})["username"] == "alice"
    made = gl.projects.create({"name": "mine"}, sudo="alice")
    assert made.path_with_namespace == "alice/mine", made.attributes
    # Acting as someone is acting with their rights only.
    refused(lambda: gl.groups.get(group.id, sudo="stranger"))
    refused(lambda: gl.http_get("/user", sudo="nobody"))
    message = refused(lambda: as_alice.http_get("/user", sudo="root"), 403)
    assert "admin" in message, message
    refused(lambda: as_alice.http_get("/user", query_data={"sudo": "root"}), 403)
    refused(lambda: as_alice.groups.get(group.id, sudo=stranger.id), 403)
    refused(lambda: gitlab.Gitlab(url).http_get("/projects", query_data={"sudo": "root"}), 401)



def relations(gl, url):
    """`/users/:id/projects`, `/users/:id/memberships`, `/projects/:id/groups`."""
    group, sub, project = private_tree(gl)
    alice, as_alice = user_with_token(gl, url, "alice")
    stranger, as_stranger = user_with_token(gl, url, "stranger")
    group.members.create({"user_id": alice.id, "access_level": 30})
    project.members.create({"user_id": alice.id, "access_level": 40})
    as_alice.projects.create({"name": "open", "visibility": "public"})
    as_alice.projects.create({"name": "own", "visibility": "private"})
    listed = sorted(p.path_with_namespace for p in gl.users.get(alice.id).projects.list())
    assert listed == ["alice/open", "alice/own"], listed
    seen = [p.path_with_namespace for p in as_stranger.users.get(alice.id, lazy=True).projects.list()]
    assert seen == ["alice/open"], seen
    mine = {(m.source_type, m.source_name): m for m in gl.users.get(alice.id).memberships.list()}
    assert sorted(mine) == [("Namespace", "acme"), ("Project", "acme/ml/models")], sorted(mine)
    assert mine[("Namespace", "acme")].source_id == group.id
    assert mine[("Project", "acme/ml/models")].access_level == 40
    only = gl.users.get(alice.id).memberships.list(type="Project")
    assert [m.source_id for m in only] == [project.id], only
    # Memberships are the admins' business, even one's own (as in GitLab).
    refused(lambda: as_stranger.users.get(alice.id, lazy=True).memberships.list(), 403)
    refused(lambda: as_alice.users.get(alice.id, lazy=True).memberships.list(), 403)
    message = refused(lambda: gl.users.get(alice.id).memberships.list(type="Invalid"), 400)
    assert "type does not have a valid value" in message, message
    groups = [g.full_path for g in gl.projects.get(project.id).groups.list()]
    assert groups == ["acme", "acme/ml"], groups
    assert [g.full_path for g in as_alice.projects.get(project.id).groups.list()] == ["acme", "acme/ml"]
    refused(lambda: as_stranger.projects.get(project.id, lazy=True).groups.list())


check, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
admin = gitlab.Gitlab(url, private_token=token)
globals()[check](admin, url)
print("ok")
