"""Drives Wheelhouse's REST API with the real python-gitlab library.

Usage: check_gitlab.py URL ADMIN_TOKEN ALICE_ID. Prints "ok" when every step behaved as
GitLab's API does for python-gitlab.
"""
import sys

import gitlab

url, admin_token, alice_id = sys.argv[1], sys.argv[2], int(sys.argv[3])

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
print("ok")
