"""Many sessions: planned from the sampled users, run in threads, each appended to the transcript as it
ends, resumable, with a progress bar showing the running SR@5 and AT of each method.

Resume: a (method, user) session with an "ok" record in the transcript is never run again; errored
sessions are (their new record supersedes the old line). Results are always read back from the
transcript in the planned order, so an interrupted and resumed run reports what an uninterrupted one
would (given a deterministic program LM, e.g. greedy decoding or DSPy's cache).

Errors: an exception escaping one session (typically an LM that still fails after DSPy's retries) is
recorded as that session's error and the run goes on; after ``max_errors`` errored sessions the run
stops with TooManyErrors. On an interrupt (or any error in the caller's loop) running sessions stop at
their next turn and are dropped; finished ones are already saved.

Time limit: with ``time_limit`` seconds, no new user is started after that much time, while the users
already started (in this run or a resumed one) get every method, so a run can be sized by the hour without
wasting sessions on users it cannot compare; ``complete_users`` keeps the users every method finished.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import dspy
from dspy.utils.exceptions import LMError

from afirs_dspy.evaluation.metrics import average_turns, success_rate
from afirs_dspy.evaluation.provenance import program_hash
from afirs_dspy.evaluation.progress import SessionTurnsBar
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.session import MAX_TURNS, SessionStopped, errored_record, run_session
from afirs_dspy.evaluation.simulator_base import SessionCase, UserSimulator
from afirs_dspy.evaluation.transcript import Transcript
from afirs_dspy.lm.failures import explain_lm_failure


@dataclass(frozen=True)
class Job:
    method: str
    case: SessionCase

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.case.user


def plan_jobs(methods: Sequence[str], cases: Sequence[SessionCase]) -> list[Job]:
    """User by user, every method: an interrupted run has compared the methods on the same users."""
    return [Job(method, case) for case in cases for method in methods]


def complete_users(by_method: Mapping[str, Sequence[SessionRecord]]) -> dict[str, list[SessionRecord]]:
    """Each method's records of the users that every method has a record for, so that rows compare alike."""
    users = set.intersection(*({r.user for r in records} for records in by_method.values())) if by_method else set()
    return {method: [r for r in records if r.user in users] for method, records in by_method.items()}


class TooManyErrors(Exception):
    pass


class Runner:
    def __init__(self, programs: Mapping[str, dspy.Module], simulators: Callable[[SessionCase], UserSimulator],
                 transcript: Transcript, program_lm: dspy.LM | None = None, titles: Sequence[str] | None = None,
                 max_turns: int = MAX_TURNS, num_threads: int = 2, max_errors: int = 10, progress: bool = True,
                 on_record: Callable[[SessionRecord], None] | None = None, time_limit: float | None = None):
        self.programs = programs
        self.program_hashes = {method: program_hash(program) for method, program in programs.items()}
        self.simulators = simulators
        self.transcript = transcript
        self.program_lm = program_lm
        self.titles = titles
        self.max_turns = max_turns
        self.num_threads = num_threads
        self.max_errors = max_errors
        self.progress = progress
        self.on_record = on_record
        self.time_limit = time_limit
        self.deadline: float | None = None
        self.started_users: set[str] = set()
        self.lms = [lm for lm in (program_lm, getattr(simulators, "lm", None)) if lm is not None]

    def pending(self, jobs: Sequence[Job]) -> list[Job]:
        finished = {key for key, record in self.transcript.latest().items() if record.status == "ok"}
        return [job for job in jobs if job.key not in finished]

    def run(self, jobs: Sequence[Job]) -> dict[str, list[SessionRecord]]:
        """Run what the transcript lacks; return every method's records in the planned order."""
        todo = self.pending(jobs)
        waiting = set(todo)
        by_method = {method: [] for method in dict.fromkeys(job.method for job in jobs)}
        for method, records in self.collect([job for job in jobs if job not in waiting]).items():
            by_method[method] += records
        bar = SessionTurnsBar("eval", len(jobs), self.max_turns, len(jobs) - len(todo), disable=not self.progress)
        self._postfix(bar, by_method)
        stop = threading.Event()
        self.deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        self.started_users = {job.case.user for job in jobs if job not in waiting}
        errors = 0
        executor = ThreadPoolExecutor(max_workers=self.num_threads, thread_name_prefix="session")
        try:
            futures = [executor.submit(self._session, job, stop, bar) for job in todo]
            for future in as_completed(futures):
                record = future.result()
                if record is None:
                    continue
                by_method[record.method].append(record)
                self._postfix(bar, by_method)
                if record.status == "error":
                    errors += 1
                    if errors >= self.max_errors:
                        raise TooManyErrors(f"{errors} sessions failed; the last with: {record.error.splitlines()[0][:300]}")
                if self.on_record is not None:
                    self.on_record(record)
        finally:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return self.collect(jobs)

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def collect(self, jobs: Sequence[Job]) -> dict[str, list[SessionRecord]]:
        """The transcript's latest record of each job, per method, in the planned order."""
        latest = self.transcript.latest()
        out: dict[str, list[SessionRecord]] = defaultdict(list)
        for job in jobs:
            if job.key in latest:
                out[job.method].append(latest[job.key])
        return out

    def _session(self, job: Job, stop: threading.Event, bar: SessionTurnsBar) -> SessionRecord | None:
        if stop.is_set() or (job.case.user not in self.started_users and self.out_of_time()):
            return None
        self.started_users.add(job.case.user)
        title = self.titles[job.case.target] if self.titles is not None else ""
        started = time.perf_counter()
        try:
            simulator = self.simulators(job.case)
            record = bar.track(lambda on_turn: run_session(self.programs[job.method], simulator, job.case, job.method,
                                                           self.program_lm, title, self.max_turns, stop.is_set,
                                                           on_turn))
        except SessionStopped:
            return None
        except Exception as exc:  # one session's failure must not end the run: it is recorded instead
            record = errored_record(job.case, job.method, getattr(self.simulators, "name", ""), title,
                                    self._explain(exc), time.perf_counter() - started)
        record.program_hash = self.program_hashes[job.method]
        self.transcript.append(record)
        return record

    def _explain(self, exc: Exception) -> str:
        explained = explain_lm_failure(exc, self.lms) if isinstance(exc, LMError) and self.lms else None
        return str(explained) if explained is not None else f"{type(exc).__name__}: {exc}"

    def _postfix(self, bar: SessionTurnsBar, by_method: Mapping[str, list[SessionRecord]]) -> None:
        shown = {}
        for method, records in by_method.items():
            sr, at = success_rate(records, 5), average_turns(records, self.max_turns)
            if sr is not None:
                shown[method] = f"SR@5 {sr:.2f} AT {at:.2f}"
        bar.set_postfix(shown, refresh=False)
