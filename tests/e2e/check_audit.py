"""Reads Wheelhouse's audit trail with the real python-gitlab library.

Usage: check_audit.py URL ADMIN_TOKEN OWNER_TOKEN STRANGER_TOKEN GROUP PROJECT ADDRESS, on a
server where the owner (of GROUP, which holds PROJECT) made changes from ADDRESS, and the
stranger owns nothing there. Prints "ok" when python-gitlab reads what GitLab's API would give.
"""
import sys
from datetime import datetime

import gitlab

url, admin_token, owner_token, stranger_token, group_path, project_path, address = sys.argv[1:8]

admin = gitlab.Gitlab(url, private_token=admin_token)
owner = gitlab.Gitlab(url, private_token=owner_token)
stranger = gitlab.Gitlab(url, private_token=stranger_token)

# The instance's events, newest first, every page walked (python-gitlab follows the Link).
events = admin.audit_events.list(get_all=True, per_page=3)
assert len(events) > 6, len(events)
ids = [e.id for e in events]
assert ids == sorted(ids, reverse=True), ids
uploads = [e for e in events if e.details["custom_message"] == "upload"]
assert uploads, [e.attributes for e in events]
upload = uploads[0]
assert upload.entity_type == "Project" and upload.details["ip_address"] == address, upload.attributes
assert upload.details["author_name"] == "owner" and upload.author_id is not None, upload.attributes
assert upload.details["entity_path"] == project_path, upload.attributes
datetime.fromisoformat(upload.created_at.replace("Z", "+00:00"))
assert admin.audit_events.get(upload.id).details["target_details"] == upload.details["target_details"]

# GitLab's filters.
project_events = admin.audit_events.list(get_all=True, entity_type="Project", entity_id=upload.entity_id)
assert project_events and all(e.entity_type == "Project" and e.entity_id == upload.entity_id for e in project_events)
assert admin.audit_events.list(get_all=True, created_before="2000-01-01T00:00:00Z") == []
assert len(admin.audit_events.list(get_all=True, created_after=upload.created_at)) >= 1

# The owner reads the group's events, its project's included, and the project's.
group = owner.groups.get(group_path)
group_events = group.audit_events.list(get_all=True)
names = {e.details["custom_message"] for e in group_events}
assert {"group.create", "project.create", "upload", "member.add"} <= names, names
assert all(e.details["entity_path"] is None or e.details["entity_path"].startswith(group_path) for e in group_events)
assert group.audit_events.get(upload.id).id == upload.id
project = owner.projects.get(project_path)
assert {e.details["custom_message"] for e in project.audit_events.list(get_all=True)} >= {"upload"}

# But not the instance's.
try:
    owner.audit_events.list()
    raise AssertionError("an owner listed the instance's events")
except gitlab.exceptions.GitlabListError as e:
    assert e.response_code == 403, e.response_code

# A stranger cannot find the group, nor read its events by id through their own group.
try:
    stranger.groups.get(group_path)
    raise AssertionError("a stranger saw the private group")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code
own = stranger.groups.list(owned=True)[0]
try:
    own.audit_events.get(upload.id)
    raise AssertionError("another group's event was read through the stranger's group")
except gitlab.exceptions.GitlabGetError as e:
    assert e.response_code == 404, e.response_code

print("ok")
