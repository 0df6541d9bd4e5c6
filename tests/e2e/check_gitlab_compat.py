"""GitLab behaviours that python-gitlab's own functional tests rely on, driven with python-gitlab.

Usage: check_gitlab_compat.py CHECK URL ADMIN_TOKEN, where CHECK is one of the functions
below, on a fresh server whose only user is the admin `root`. Prints "ok" when every step
behaved as GitLab does.
"""
import datetime
import sys

import gitlab


def scopes_as_one_string(gl, url):
    """Item 2: `scopes` as python-gitlab's documented comma-separated string."""
    user = gl.users.create({"username": "scoped", "email": "s@example.com", "password": "scoped password"})
    pat = user.personal_access_tokens.create({"name": "both", "scopes": "api,read_api"})
    assert pat.scopes == ["api", "read_api"], pat.attributes
    assert gitlab.Gitlab(url, private_token=pat.token).projects.list() == []
    project = gl.projects.create({"name": "scoped"})
    deploy = project.deploytokens.create(
        {"name": "ci", "scopes": "read_package_registry,write_package_registry"}
    )
    assert deploy.scopes == ["read_package_registry", "write_package_registry"], deploy.attributes
    try:
        project.deploytokens.create({"name": "bad", "scopes": "read_package_registry,nonsense"})
        raise SystemExit("an unknown scope was taken")
    except gitlab.exceptions.GitlabCreateError as err:
        assert err.response_code == 400 and "nonsense" in err.error_message, err.error_message


def names_and_descriptions(gl, url):
    """Item 3: names and descriptions kept; a project's path derived from its name."""
    group = gl.groups.create(
        {"name": "Acme Corp", "path": "acme", "description": "Tools of Acme", "visibility": "public"}
    )
    assert (group.name, group.path, group.description) == ("Acme Corp", "acme", "Tools of Acme"), group.attributes
    group = gl.groups.get(group.id)
    assert group.name == "Acme Corp" and group.full_name == "Acme Corp", group.attributes
    group.description = "Acme's own packages"
    group.name = "Acme"
    group.save()
    group = gl.groups.get("acme")
    assert (group.name, group.description) == ("Acme", "Acme's own packages"), group.attributes

    project = gl.projects.create(
        {"name": "My Project", "namespace_id": group.id, "description": "Models", "visibility": "public"}
    )
    assert (project.name, project.path) == ("My Project", "my-project"), project.attributes
    assert project.path_with_namespace == "acme/my-project", project.attributes
    assert project.name_with_namespace == "Acme / My Project", project.attributes
    project = gl.projects.get("acme/my-project")
    assert project.description == "Models", project.attributes
    project.description = "Trained models"
    project.save()
    assert gl.projects.get(project.id).description == "Trained models"
    plain = gl.projects.create({"path": "plain"})
    assert (plain.name, plain.description) == ("plain", ""), plain.attributes

    user = gl.users.create(
        {"username": "bob", "name": "Bob Builder", "email": "bob@example.com", "password": "bob's password"}
    )
    assert (user.username, user.name) == ("bob", "Bob Builder"), user.attributes
    user.name = "Robert Builder"
    user.save()
    assert gl.users.get(user.id).name == "Robert Builder"
    group.members.create({"user_id": user.id, "access_level": 30})
    names = [m.name for m in group.members.list(get_all=True)]
    assert names == ["Robert Builder", "root"], names

    for bad in ({"name": "x\x01y", "path": "ctl"}, {"name": "long", "path": "long", "description": "d" * 2001}):
        try:
            gl.groups.create(bad)
            raise SystemExit(f"{bad} was taken")
        except gitlab.exceptions.GitlabCreateError as err:
            assert err.response_code == 400, err.response_code


def list_filters(gl, url):
    """Item 4: skip_groups[], user_ids[], blocked and active."""
    one = gl.groups.create({"name": "one", "path": "one"})
    two = gl.groups.create({"name": "two", "path": "two"})
    three = gl.groups.create({"name": "three", "path": "three"})
    left = gl.groups.list(skip_groups=[one.id, three.id], get_all=True)
    assert [g.path for g in left] == ["two"], [g.path for g in left]
    ann = gl.users.create({"username": "ann", "email": "ann@example.com", "password": "ann's password"})
    ben = gl.users.create({"username": "ben", "email": "ben@example.com", "password": "ben's password"})
    for user in (ann, ben):
        two.members.create({"user_id": user.id, "access_level": 20})
    only = two.members.list(user_ids=[ben.id], get_all=True)
    assert [m.username for m in only] == ["ben"], [m.username for m in only]
    project = gl.projects.create({"name": "inside", "namespace_id": two.id})
    inherited = project.members_all.list(user_ids=[ann.id], get_all=True)
    assert [m.username for m in inherited] == ["ann"], [m.username for m in inherited]
    ben.block()
    blocked = gl.users.list(blocked=True, get_all=True)
    assert [u.username for u in blocked] == ["ben"], [u.username for u in blocked]
    active = gl.users.list(active=True, get_all=True)
    # `admin` is the user every new server starts with.
    assert sorted(u.username for u in active) == ["admin", "ann", "root"], [u.username for u in active]


def block_twice(gl, url):
    """Item 5: GitLab's answers to blocking a blocked user and unblocking an active one."""
    user = gl.users.create({"username": "carl", "email": "carl@example.com", "password": "carl's password"})
    assert user.block() is True
    assert gl.users.get(user.id).state == "blocked"
    assert user.block() is None
    assert user.unblock() is True
    assert gl.users.get(user.id).state == "active"
    assert user.unblock() is False


def deploy_token_fields(gl, url):
    """Item 8: a requested username kept, today's or an empty expiry taken, GitLab's timestamps."""
    today = datetime.date.today().isoformat()
    group = gl.groups.create({"name": "ops", "path": "ops"})
    project = gl.projects.create({"name": "tools", "namespace_id": group.id})
    made = project.deploytokens.create(
        {"name": "foo", "username": "bar", "expires_at": today, "scopes": ["read_package_registry"]}
    )
    assert made.username == "bar" and made.expires_at == f"{today}T00:00:00.000Z", made.attributes
    later = group.deploytokens.create(
        {"name": "foo", "username": "bar", "expires_at": "2030-01-01", "scopes": ["read_package_registry"]}
    )
    assert later.username == "bar" and later.expires_at == "2030-01-01T00:00:00.000Z", later.attributes
    plain = project.deploytokens.create(
        {"name": "plain", "username": "", "expires_at": "", "scopes": ["read_package_registry"]}
    )
    assert plain.username == f"deploy-token-{plain.id}" and plain.expires_at is None, plain.attributes
    listed = {t.id: t for t in project.deploytokens.list(get_all=True)}
    assert listed[made.id].username == "bar" and listed[made.id].expired, listed[made.id].attributes
    print("GROUP-TOKEN", later.token)
    for bad in ("bar baz", "a/b"):
        try:
            project.deploytokens.create({"name": "x", "username": bad, "scopes": ["read_package_registry"]})
            raise SystemExit(f"the username {bad!r} was taken")
        except gitlab.exceptions.GitlabCreateError as err:
            assert err.response_code == 400 and "username" in err.error_message, err.error_message
    try:
        project.deploytokens.create({"name": "x", "expires_at": "2001-01-01", "scopes": ["read_package_registry"]})
        raise SystemExit("a past expiry was taken")
    except gitlab.exceptions.GitlabCreateError as err:
        assert err.response_code == 400, err.response_code


def query_and_body(gl, url):
    """Item 10: a POST's or PUT's query parameters merged with its body."""
    made = gl.http_post("/projects", query_data={"name": "from-query"})
    assert made["path"] == "from-query", made
    group = gl.http_post("/groups", query_data={"path": "q", "visibility": "public"}, post_data={"name": "Q Group"})
    assert (group["path"], group["name"], group["visibility"]) == ("q", "Q Group", "public"), group
    # The body wins over the query, as in GitLab.
    both = gl.http_post("/projects", query_data={"name": "loser"}, post_data={"name": "winner"})
    assert both["path"] == "winner", both
    changed = gl.http_put(f"/projects/{made['id']}", query_data={"description": "via the query"})
    assert changed["description"] == "via the query", changed
    # python-gitlab's own use: the members of a group given in the query.
    user = gl.users.create({"username": "dora", "email": "dora@example.com", "password": "dora's password"})
    member = gl.http_post(f"/groups/{group['id']}/members", query_data={"user_id": user.id, "access_level": 30})
    assert member["access_level"] == 30, member


check, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
admin = gitlab.Gitlab(url, private_token=token)
globals()[check](admin, url)
print("ok")
