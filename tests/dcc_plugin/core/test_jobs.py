import threading
import time

import pytest
from dcc_fakes import FakeHost

from motionbridge.dcc_plugin.core.jobs import JobManager


def test_work_runs_off_the_main_thread_and_results_come_back_on_it():
    host = FakeHost({})
    jobs = JobManager(host.run_on_main_thread)
    seen = {}
    gate = threading.Event()  # the work cannot finish until the test says so
    jobs.submit(lambda: (gate.wait(10), threading.get_ident())[1], lambda r: seen.update(worker=r, done_on=threading.get_ident()))
    jobs.submit(lambda: 1 / 0, None, lambda exc: seen.update(error=exc, error_on=threading.get_ident()))
    assert seen == {}  # submitting returned without waiting for the work
    gate.set()
    host.pump(lambda: "error" in seen)
    assert seen["worker"] != host.main_thread
    assert seen["done_on"] == seen["error_on"] == host.main_thread
    assert isinstance(seen["error"], ZeroDivisionError)
    jobs.shutdown()
    assert not jobs.alive
    with pytest.raises(RuntimeError, match="shut down"):
        jobs.submit(lambda: None)


def test_repeat_interleaves_with_other_jobs_in_order():
    host = FakeHost({})
    jobs = JobManager(host.run_on_main_thread)
    log = []

    def step():
        log.append("poll")
        return log.count("poll") >= 3

    jobs.repeat(step)
    jobs.submit(lambda: log.append("cancel"), lambda _: log.append("delivered"))
    host.pump(lambda: "delivered" in log and log.count("poll") >= 3)
    assert log.index("cancel") < 3  # the cancel did not wait for the polling to finish
    jobs.shutdown()


def test_shutdown_runs_what_is_queued_then_stops():
    host = FakeHost({})
    jobs = JobManager(host.run_on_main_thread)
    ran = []
    jobs.submit(lambda: time.sleep(0.1))
    jobs.submit(lambda: ran.append("close"))  # e.g. the client's close: must not be dropped
    jobs.shutdown(timeout_s=5.0)
    assert ran == ["close"] and not jobs.alive
