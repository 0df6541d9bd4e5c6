"""Drives Wheelhouse's REST API with the real python-gitlab library.

Usage: check_gitlab.py URL ADMIN_TOKEN ALICE_ID ALICE_TOKEN, on a server where alice is a
developer of the group acme (public) holding acme/ml (internal) with projects acme/models
(private) and acme/ml/training (internal), and a private group `secret` she is not in.
Prints "ok" when every step behaved as GitLab's API does for python-gitlab.
"""
import sys

import gitlab

url, admin_token, alice_id, alice_token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

admin = gitlab.Gitlab(url, private_token=admin_token)
admin.auth()
assert admin.user.username == "root", admin.user.username
version, revision = admin.version()
assert version == "17.0.0" and revision.startswith("wheelhouse-"), (version, revision)

# An admin creates a token for alice; alice signs in with it.
created = admin.users.get(alice_id, lazy=True).personal_access_tokens.create({"name": "from-api", "scopes": ["read_api"]})
assert created.token.startswith("whpat-") and created.scopes == ["read_api"], created.attributes
alice = gitlab.Gitlab(url, private_token=created.token)
alice.auth()
assert alice.user.username == "alice" and alice.user.state == "active"
me = alice.personal_access_tokens.get("self")
assert me.id == created.id and me.name == "from-api" and me.active, me.attributes

# A read_api token may read but not revoke, and sees only its owner's tokens.
try:
    me.delete()
    raise SystemExit("a read_api token revoked a token")
except gitlab.exceptions.GitlabDeleteError as err:
    assert err.response_code == 403, err.response_code
assert {t.user_id for t in alice.personal_access_tokens.list(get_all=True)} == {alice_id}
try:
    alice.personal_access_tokens.get(1)
    raise SystemExit("alice saw the admin's token")
except gitlab.exceptions.GitlabGetError as err:
    assert err.response_code == 404, err.response_code

# The admin lists alice's tokens, rotates one (the old secret stops at once), revokes the new.
listed = admin.personal_access_tokens.list(user_id=alice_id, get_all=True)
assert [t.name for t in listed if t.name == "from-api"], [t.name for t in listed]
token = admin.personal_access_tokens.get(created.id)
rotated = token.rotate()
assert rotated["token"] != created.token and rotated["name"] == "from-api", rotated
try:
    gitlab.Gitlab(url, private_token=created.token).auth()
    raise SystemExit("a rotated token still works")
except gitlab.exceptions.GitlabAuthenticationError:
    pass
admin.personal_access_tokens.delete(rotated["id"])
assert not admin.personal_access_tokens.get(rotated["id"]).active

# Groups and projects: each caller sees what the package routes would let it see.
member = gitlab.Gitlab(url, private_token=alice_token)
assert sorted(g.full_path for g in admin.groups.list(get_all=True)) == ["acme", "acme/ml", "secret"]
assert sorted(g.full_path for g in member.groups.list(get_all=True)) == ["acme", "acme/ml"]
try:
    member.groups.get("secret")
    raise SystemExit("a private group showed to a non-member")
except gitlab.exceptions.GitlabGetError as err:
    assert err.response_code == 404
acme = member.groups.get("acme")
assert acme.visibility == "public" and acme.full_path == "acme"
assert [g.full_path for g in acme.subgroups.list(get_all=True)] == ["acme/ml"]
assert [p.path_with_namespace for p in acme.projects.list(get_all=True)] == ["acme/models"]
assert sorted(p.path_with_namespace for p in acme.projects.list(include_subgroups=True, get_all=True)) == ["acme/ml/training", "acme/models"]
models = member.projects.get("acme/models")
assert models.visibility == "private" and models.namespace["full_path"] == "acme", models.attributes
assert [p.path_with_namespace for p in member.projects.list(search="train", get_all=True)] == ["acme/ml/training"]
assert sorted(p.path_with_namespace for p in member.projects.list(membership=True, get_all=True)) == ["acme/ml/training", "acme/models"]
assert "secret/vault" not in [p.path_with_namespace for p in member.projects.list(get_all=True)]
assert "secret/vault" in [p.path_with_namespace for p in admin.projects.list(get_all=True)]

# Packages of a project and of a group (with its subgroups unless excluded), ordered as asked.
versions = [p.version for p in models.packages.list(order_by="version", sort="desc", get_all=True)]
assert versions == ["1.10", "1.9", "1.0"], versions
in_group = acme.packages.list(get_all=True)
assert sorted((p.name, p.project_path) for p in in_group) == [("model-kit", "acme/models")] * 3 + [("trainer", "acme/ml/training")], [(p.name, p.project_path) for p in in_group]
assert {p.name for p in acme.packages.list(exclude_subgroups=True, get_all=True)} == {"model-kit"}
assert [p.name for p in acme.packages.list(package_name="train", get_all=True)] == ["trainer"]

# Members: direct and inherited; maintainers add, change and remove; developers may not.
models_admin = admin.projects.get("acme/models")
assert models_admin.members.list(get_all=True) == []
assert [(m.username, m.access_level) for m in models_admin.members_all.list(get_all=True)] == [("alice", 30)]
assert [(m.username, m.access_level) for m in admin.groups.get("acme").members.list(get_all=True)] == [("alice", 30)]
added = models_admin.members.create({"user_id": alice_id, "access_level": 40})
assert added.access_level == 40 and added.username == "alice"
try:
    models_admin.members.create({"user_id": alice_id, "access_level": 40})
    raise SystemExit("a member was added twice")
except gitlab.exceptions.GitlabCreateError as err:
    assert err.response_code == 409, err.response_code
added.access_level = 20
added.save()
assert [(m.username, m.access_level) for m in models_admin.members.list(get_all=True)] == [("alice", 20)]
# Inherited roles still count: the developer role from acme is the highest.
assert [(m.username, m.access_level) for m in models_admin.members_all.list(get_all=True)] == [("alice", 30)]
writer = admin.users.get(alice_id, lazy=True).personal_access_tokens.create({"name": "w", "scopes": ["api"]}).token
as_alice = gitlab.Gitlab(url, private_token=writer)
try:
    as_alice.groups.get("acme").members.create({"user_id": 1, "access_level": 10})
    raise SystemExit("a developer added a member")
except gitlab.exceptions.GitlabCreateError as err:
    assert err.response_code == 403, err.response_code
models_admin.members.delete(alice_id)
assert models_admin.members.list(get_all=True) == []

# Deploy tokens: maintainers create one, pip-style reads work with it, revoking stops it.
import requests
simple = f"{url}/api/v4/projects/acme%2Fmodels/packages/pypi/simple/"
deploy = models_admin.deploytokens.create({"name": "ci", "scopes": ["read_package_registry", "write_package_registry"]})
assert deploy.token.startswith("whdt-") and deploy.username.startswith("deploy-token-"), deploy.attributes
assert requests.get(simple, auth=(deploy.username, deploy.token)).status_code == 200
assert [t.name for t in models_admin.deploytokens.list(get_all=True)] == ["ci"]
try:
    as_alice.projects.get("acme/models").deploytokens.list(get_all=True)
    raise SystemExit("a developer listed deploy tokens")
except gitlab.exceptions.GitlabListError as err:
    assert err.response_code == 403, err.response_code
models_admin.deploytokens.delete(deploy.id)
assert requests.get(simple, auth=(deploy.username, deploy.token)).status_code == 401
group_token = admin.groups.get("acme").deploytokens.create({"name": "g", "scopes": ["read_package_registry"], "expires_at": "2999-01-01T00:00:00Z"})
assert group_token.expires_at == "2999-01-01T00:00:00.000Z" and not group_token.expired, group_token.attributes
assert requests.get(f"{url}/api/v4/groups/acme/-/packages/pypi/simple/", auth=(group_token.username, group_token.token)).status_code == 200

# Structure: any user creates top-level groups (and owns them); maintainers create inside.
team = as_alice.groups.create({"name": "team", "path": "team", "visibility": "internal"})
assert team.full_path == "team" and team.visibility == "internal"
libs = as_alice.groups.create({"name": "libs", "path": "libs", "parent_id": team.id, "visibility": "internal"})
assert libs.full_path == "team/libs"
tool = as_alice.projects.create({"name": "tool", "namespace_id": libs.id, "visibility": "private"})
assert tool.path_with_namespace == "team/libs/tool" and tool.namespace["id"] == libs.id
scratch = as_alice.projects.create({"name": "scratch"})
assert scratch.path_with_namespace == "alice/scratch" and scratch.visibility == "private"
try:
    as_alice.projects.create({"name": "loud", "namespace_id": libs.id, "visibility": "public"})
    raise SystemExit("a public project went into an internal group")
except gitlab.exceptions.GitlabCreateError as err:
    assert err.response_code == 400, err.response_code
try:
    as_alice.groups.create({"name": "x", "path": "x", "parent_id": acme.id})
    raise SystemExit("a developer created a subgroup")
except gitlab.exceptions.GitlabCreateError as err:
    assert err.response_code == 403, err.response_code
tool.visibility = "internal"
tool.save()
assert as_alice.projects.get(tool.id).visibility == "internal"
try:
    as_alice.groups.delete(team.id)
    raise SystemExit("a group with subgroups was removed")
except gitlab.exceptions.GitlabDeleteError as err:
    assert err.response_code == 409, err.response_code
as_alice.projects.delete(tool.id)
as_alice.projects.delete(scratch.id)
as_alice.groups.delete(libs.id)
as_alice.groups.delete(team.id)
assert "team" not in [g.full_path for g in admin.groups.list(get_all=True)]

# Users: an admin adds, finds, blocks, unblocks and removes them; paging follows the links.
bob = admin.users.create({"username": "bob", "email": "bob@example.org", "password": "bob password 1"})
assert bob.username == "bob" and bob.state == "active" and bob.email == "bob@example.org", bob.attributes
for name in ("carol", "dave"):
    admin.users.create({"username": name, "email": f"{name}@example.org"})
found = admin.users.list(username="BOB")
assert [u.id for u in found] == [bob.id], found
everyone = admin.users.list(per_page=1, get_all=True)
assert {u.username for u in everyone} == {"admin", "root", "alice", "bob", "carol", "dave"}, [u.username for u in everyone]
assert admin.users.get(bob.id).username == "bob"
bob_token = admin.users.get(bob.id, lazy=True).personal_access_tokens.create({"name": "t", "scopes": ["api"]}).token
as_bob = gitlab.Gitlab(url, private_token=bob_token)
as_bob.auth()
assert as_bob.users.get(alice_id).email is None, "emails are for admins and their owners"
try:
    as_bob.users.create({"username": "eve", "email": "eve@example.org"})
    raise SystemExit("a non-admin created a user")
except gitlab.exceptions.GitlabCreateError as err:
    assert err.response_code == 403, err.response_code
try:
    as_bob.users.update(alice_id, {"email": "mine@example.org"})
    raise SystemExit("a non-admin changed a user")
except gitlab.exceptions.GitlabUpdateError as err:
    assert err.response_code == 403, err.response_code
# An admin edits a user through save(): email and admin flag change, a weak password is refused.
editable = admin.users.get(bob.id)
editable.email = "bob@new.example.org"
editable.admin = True
editable.save()
assert admin.users.get(bob.id).email == "bob@new.example.org"
dave = admin.users.list(username="dave")[0]
as_bob.auth()
assert as_bob.user.is_admin is True and as_bob.users.get(dave.id).email == "dave@example.org", "bob is an admin now"
try:
    admin.users.update(bob.id, {"password": "short"})
    raise SystemExit("a short password was taken")
except gitlab.exceptions.GitlabUpdateError as err:
    assert err.response_code == 400 and "8 characters" in err.error_message, err.error_message
admin.users.update(bob.id, {"admin": False, "password": "a better password"})
assert admin.users.get(bob.id).is_admin is False
try:
    admin.users.update(admin.user.id, {"admin": False})
    raise SystemExit("an admin dropped their own admin rights")
except gitlab.exceptions.GitlabUpdateError as err:
    assert err.response_code == 403, err.response_code
assert admin.users.get(bob.id, lazy=True).block() is True
try:
    as_bob.auth()
    raise SystemExit("a blocked user's token still works")
except gitlab.exceptions.GitlabAuthenticationError:
    pass
assert admin.users.get(bob.id, lazy=True).unblock() is True
as_bob.auth()
admin.users.delete(bob.id)
try:
    admin.users.get(bob.id)
    raise SystemExit("a removed user is still there")
except gitlab.exceptions.GitlabGetError as err:
    assert err.response_code == 404
print("ok")
