import threading
import time

import pytest

from agent.worker import SerialWorker


@pytest.fixture
def worker():
    w = SerialWorker("test")
    yield w
    w.shutdown()


def test_jobs_run_one_at_a_time_in_order_on_one_thread(worker):
    seen, threads, active, overlap = [], set(), [0], []

    def job(n):
        def run(_job):
            active[0] += 1
            overlap.append(active[0])
            threads.add(threading.current_thread().name)
            time.sleep(0.01)
            seen.append(n)
            active[0] -= 1
        return run

    jobs = [worker.submit(job(n)) for n in range(5)]
    assert all(j.wait(5) for j in jobs)
    assert seen == [0, 1, 2, 3, 4]
    assert max(overlap) == 1 and threads == {"hearth-test"}


def test_results_and_errors_come_back(worker):
    assert worker.call(lambda _job: 42) == 42
    with pytest.raises(ZeroDivisionError):
        worker.call(lambda _job: 1 / 0)
    assert worker.call(lambda _job: "still alive") == "still alive"


def test_cancel_stops_a_running_job_and_skips_a_queued_one(worker):
    started = threading.Event()

    def long_job(job):
        started.set()
        while not job.cancelled.is_set():
            time.sleep(0.005)
        return "stopped"

    running = worker.submit(long_job)
    queued = worker.submit(lambda _job: "should not run")
    assert started.wait(5)
    queued.cancel()
    running.cancel()
    assert running.wait(5) and running.result == "stopped"
    assert queued.wait(5) and queued.result is None


def test_shutdown_cancels_pending_work():
    w = SerialWorker("bye")
    gate = threading.Event()
    first = w.submit(lambda job: job.cancelled.wait(5))
    second = w.submit(lambda _job: gate.set())
    assert w.shutdown(timeout=5)
    assert first.done and second.done and not gate.is_set()
