"""Project and group access tokens driven with python-gitlab (tests/e2e/access_tokens.rs).

Usage: check_access_tokens.py URL OWNER_TOKEN MAINTAINER_TOKEN DEVELOPER_TOKEN, on a server
where the owner owns the private group `acme` (projects `acme/app` and `acme/other`), the
maintainer maintains `acme/app` and the developer develops it. Prints `publish SECRET` (an
`api` token of `acme/app`'s bot for twine and pip), then "ok" when every step behaved.
"""
import datetime
import sys

import gitlab

url, owner_token, maintainer_token, developer_token = sys.argv[1:5]
gl = gitlab.Gitlab(url, private_token=owner_token)
gl.auth()
soon = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()


def refused(call, code):
    try:
        got = call()
    except gitlab.exceptions.GitlabError as err:
        assert err.response_code == code, (err.response_code, err.error_message)
        return err.error_message
    raise SystemExit(f"answered instead of {code}: {got}")


project = gl.projects.get("acme/app")
token = project.access_tokens.create({"name": "ci", "scopes": ["api"], "expires_at": soon})
assert token.access_level == 40, token.access_level  # maintainer unless asked
assert token.expires_at == soon, token.expires_at
assert [t.name for t in project.access_tokens.list()] == ["ci"]
assert project.access_tokens.get(token.id).user_id == token.user_id

# The bot: a member of the project, hidden from other users' lists, reaching nothing else.
bot = gitlab.Gitlab(url, private_token=token.token)
bot.auth()
assert bot.user.username.startswith(f"project_{project.id}_bot_"), bot.user.username
assert bot.user.id in [m.id for m in project.members.list()]
assert bot.user.username not in [u.username for u in gl.users.list(get_all=True)]
assert bot.projects.get("acme/app").id == project.id
refused(lambda: bot.projects.get("acme/other"), 404)
refused(lambda: bot.http_post("/user/personal_access_tokens", post_data={"name": "x", "scopes": ["api"]}), 403)

# Maintainers make tokens up to their own role; developers make none.
maintainer = gitlab.Gitlab(url, private_token=maintainer_token)
as_maintainer = maintainer.projects.get("acme/app", lazy=True)
made = as_maintainer.access_tokens.create({"name": "m", "scopes": ["read_api"], "access_level": 30})
assert made.access_level == 30
refused(lambda: as_maintainer.access_tokens.create({"name": "o", "scopes": ["api"], "access_level": 50}), 403)
developer = gitlab.Gitlab(url, private_token=developer_token)
as_developer = developer.projects.get("acme/app", lazy=True)
refused(lambda: as_developer.access_tokens.create({"name": "d", "scopes": ["api"], "access_level": 40}), 403)
refused(lambda: as_developer.access_tokens.list(), 403)

# Rotation: the old secret stops, the new one works; revocation stops the bot.
rotated = project.access_tokens.rotate(token.id)
refused(bot.auth, 401)
renewed = gitlab.Gitlab(url, private_token=rotated["token"])
renewed.auth()
project.access_tokens.delete(rotated["id"])
refused(renewed.auth, 401)
assert not project.access_tokens.get(rotated["id"]).active

# Group tokens: the bot is a member of the group, so it reaches the group's projects.
group = gl.groups.get("acme")
group_token = group.access_tokens.create({"name": "g", "scopes": ["read_api"], "access_level": 20})
assert [t.name for t in group.access_tokens.list()] == ["g"]
group_bot = gitlab.Gitlab(url, private_token=group_token.token)
assert group_bot.projects.get("acme/other").path == "other"
refused(lambda: group_bot.projects.update("acme/other", {"description": "x"}), 403)
group.access_tokens.delete(group_token.id)

publish = project.access_tokens.create({"name": "publish", "scopes": ["api"], "access_level": 30})
print("publish", publish.token)
print("ok")
