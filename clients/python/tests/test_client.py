"""The REST client against a real server: login, refresh, errors, tasks, jobs and orders."""

from __future__ import annotations

import pytest
from conftest import ADMIN, WORKER, Server, mint_token

import taskwire
from taskwire import AlreadyRunning, AuthError, Forbidden, InvalidState, NotFound, Taskwire, ValidationFailed


def admin(server: Server) -> Taskwire:
    return Taskwire(server.url, username=ADMIN[0], password=ADMIN[1])


def test_logs_in_on_first_call_and_reads_me(server: Server) -> None:
    with admin(server) as tw:
        me = tw.me()
    assert me["username"] == "admin"
    assert me["role"] == "ADMIN"


def test_wrong_password_raises_auth_error_with_the_apis_code_and_message(server: Server) -> None:
    tw = Taskwire(server.url, username="nobody-here", password="wrong-password")
    with pytest.raises(AuthError) as raised:
        tw.me()
    assert raised.value.status == 401
    assert raised.value.code == "unauthenticated"
    assert raised.value.message == "invalid username or password"


def test_errors_map_to_classes_carrying_code_and_message(server: Server) -> None:
    tw = admin(server)
    with pytest.raises(NotFound) as missing:
        tw.get_task(999_999)
    assert missing.value.code == "not_found"
    assert missing.value.request_id
    with pytest.raises(ValidationFailed) as invalid:
        tw.create_task("A task", "no_such_workflow")
    assert invalid.value.code == "validation_failed"
    assert "workflow" in invalid.value.message
    worker = Taskwire(server.url, username=WORKER[0], password=WORKER[1])
    with pytest.raises(Forbidden) as forbidden:
        worker.list_jobs()
    assert forbidden.value.code == "forbidden"
    assert isinstance(forbidden.value, taskwire.TaskwireError)


def test_an_expired_access_token_is_refreshed_and_the_call_retried(server: Server) -> None:
    login = admin(server)
    login.login()
    refresh = login._creds.refresh_token
    expired = mint_token(login._creds.user["id"], "admin", "ADMIN", expires_in=-60)  # type: ignore[index]
    tw = Taskwire(server.url, token=expired, refresh_token=refresh)
    with pytest.raises(AuthError) as refused:
        Taskwire(server.url, token=expired).me()
    assert refused.value.code == "token_expired"
    assert tw.me()["username"] == "admin"
    assert tw._creds.access_token != expired
    assert tw._creds.refresh_token != refresh  # rotated


def test_a_refused_token_is_replaced_by_signing_in_again(server: Server) -> None:
    tw = admin(server)
    tw.me()
    tw._creds.access_token = mint_token(1, "admin", "ADMIN", expires_in=-60)
    tw._creds.refresh_token = "0" * 64  # unknown: the refresh fails, the password still works
    assert tw.me()["username"] == "admin"


def test_a_token_only_client_without_refresh_raises(server: Server) -> None:
    tw = Taskwire(server.url, token="not-a-jwt")
    with pytest.raises(AuthError):
        tw.me()


def test_task_lifecycle_over_the_client(server: Server) -> None:
    boss = admin(server)
    worker = Taskwire(server.url, username=WORKER[0], password=WORKER[1])
    task = worker.create_task("Register the blue van", "vehicle_registration", description="client test")
    assert task["status"] == "pending_approval"
    approved = boss.approve_task(task["id"])
    assert [s["status"] for s in approved["subtasks"]] == ["open"] * len(approved["subtasks"])
    for subtask in approved["subtasks"]:
        latest = worker.complete_subtask(task["id"], subtask["id"])
    assert latest["status"] == "completed"
    assert worker.get_task(task["id"])["status"] == "completed"
    page = worker.list_tasks(status="completed", limit=200)
    assert task["id"] in [t["id"] for t in page["items"]]
    rejected = boss.reject_task(worker.create_task("Another", "vehicle_registration")["id"], "Documents missing")
    assert rejected["reject_reason"] == "Documents missing"
    assert "vehicle_registration" in [w["key"] for w in worker.list_workflows()]


def test_tasks_are_listed_by_search_workflow_and_assignee(server: Server) -> None:
    tw = admin(server)
    me = tw.me()
    needle = tw.create_task("Client NEEDLE in a haystack", "vehicle_registration")
    tw.create_task("Client hay only", "vehicle_registration")
    found = tw.list_tasks(q="client needle", workflow="vehicle_registration", assignee=me["id"], limit=200)
    assert [t["id"] for t in found["items"]] == [needle["id"]]
    assert tw.list_tasks(q="client needle", workflow="no_such_flow")["items"] == []
    assert tw.list_tasks(q="client needle", assignee=999_999)["items"] == []


def test_orders_over_the_client(server: Server) -> None:
    worker = Taskwire(server.url, username=WORKER[0], password=WORKER[1])
    order = worker.create_order("Game credits", "1000 gems", "player-7", extra_field="EU server")
    assert order["status"] == "sent"
    assert worker.get_order(order["id"])["package"] == "1000 gems"
    assert order["id"] in [o["id"] for o in worker.list_orders()["items"]]
    refused = worker.create_order("Game credits", "1000 gems", "reject-me")
    assert refused["status"] == "failed"
    with pytest.raises(Forbidden):
        worker.check_order(order["id"])


def test_raw_job_calls(server: Server) -> None:
    tw = admin(server)
    job = tw.create_job("client_raw", "Raw job", total=4, scope="raw:1")
    assert job["status"] == "running"
    with pytest.raises(AlreadyRunning) as busy:
        tw.create_job("client_raw", "Raw job again", scope="raw:1", exclusive=True)
    assert busy.value.code == "already_running"
    assert f"job {job['id']}" in busy.value.message
    progressed = tw.report_progress(job["id"], processed=3, failed=1, message="three")
    assert progressed["items_processed"] == 3
    with pytest.raises(ValidationFailed):
        tw.report_progress(job["id"], processed=9)  # more than the total
    finished = tw.finish_job(job["id"], "completed", message="done")
    assert finished["status"] == "completed"
    assert tw.get_job(job["id"])["items_failed"] == 1
    assert tw.job_stats()["total_jobs"] >= 1
    tw.delete_job(job["id"])
    with pytest.raises(NotFound):
        tw.get_job(job["id"])


def test_jobs_are_listed_by_creation_time_and_a_worker_job_is_not_retried(server: Server) -> None:
    tw = admin(server)
    job = tw.create_job("client_retry", "Retry me")
    tw.finish_job(job["id"], "failed", error_message="boom")
    recent = tw.list_jobs(kind="client_retry", created_after="2000-01-01T00:00:00Z")
    assert [j["id"] for j in recent["items"]] == [job["id"]]
    assert tw.list_jobs(kind="client_retry", created_before="2000-01-01T00:00:00Z")["items"] == []
    with pytest.raises(InvalidState) as refused:
        tw.retry_job(job["id"])
    assert refused.value.code == "invalid_state"
    with pytest.raises(NotFound):
        tw.retry_job(999_999)


def test_a_forked_child_signs_in_on_its_own_instead_of_reusing_the_refresh_token(server: Server) -> None:
    import os

    tw = admin(server)
    tw.me()
    parent_refresh = tw._creds.refresh_token
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: renew the token and report what it used
        try:
            tw.token(renew=True)
            ok = tw.me()["username"] == "admin" and tw._creds.refresh_token != parent_refresh
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    # The child did not spend the parent's refresh token (a second use would be taken for a replay).
    assert Taskwire(server.url, refresh_token=parent_refresh).me()["username"] == "admin"
