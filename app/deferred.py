"""Deferred subscribers: work an event causes, done just after the publisher commits.

A vote pays the idea's author and makes the voter follow the idea; a comment pays its author,
follows the idea and notifies the people it answers or mentions. None of that changes what the
person who acted sees in the answer, so it need not hold up their request. A subscriber
registered with :func:`subscribe` does not run inside the publisher's transaction: the event
goes into the ``deferred_events`` table instead (one row per event, however many subscribers
it has), in that same transaction (a transactional outbox), so it exists if and only if the
vote or comment does. Once the transaction commits, a background thread of the same process
runs the subscribers, in order, a batch of events per transaction: it waits a moment
(``DEFERRED_GATHER_SECONDS``) after being woken, so the events of a busy moment share one.

Guarantees:

- Every subscriber of a committed event runs, once: an event is deleted in the transaction that
  did its work. A worker that dies mid-batch leaves its events for the next drain (any process
  polls every ``DEFERRED_POLL_SECONDS``); ``flask deferred drain`` drains from the shell.
- A failing subscriber is rolled back alone (the batch runs again, each subscriber in a
  SAVEPOINT of its own) and retried later with a growing delay; the event's other subscribers
  are recorded as done and do not run again. After ``MAX_ATTEMPTS`` the event stays in the
  table for people to look at (``flask deferred status``).
- Events are drained in the order they were committed, so a withdrawal's reversal comes after
  the vote's payment. Subscribers see the database as it is when they run: a comment removed in
  the meantime, or an idea removed as spam, is theirs to check.

Who drains (``DEFERRED_EVENTS``): by default (``"background"``) a request drains the events it
committed itself, right after its answer is sent, and a thread of each process drains what
commits outside requests make and polls for what is left; ``"inline"`` (the test suite)
drains in the committing thread right after the commit, through the same table and code.
The drain runs in an app context of its own (its own session and ``g``), so the statements it
runs are never counted as a request's (``X-Query-Count``, ``app.querycount``).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import click
from blinker import NamedSignal
from flask import Flask, Response, current_app, g, has_request_context
from sqlalchemy import JSON, Index, String, delete, func, inspect, select
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime, on_commit, utcnow, write_transaction
from app.extensions import db

log = logging.getLogger(__name__)

BATCH = 50  # events per transaction at most
MAX_ATTEMPTS = 8
_PENDING = "cocreate_deferred_pending"
_DRAIN_AFTER_RESPONSE = "cc_deferred_drain_after_response"
_ANSWERED = "cc_deferred_answered"

_draining: ContextVar[bool] = ContextVar("cocreate_deferred_draining", default=False)
_sent_while_draining: ContextVar[bool] = ContextVar("cocreate_deferred_sent", default=False)
_subscribers: dict[str, list[Callable]] = defaultdict(list)
_recorders: dict[str, Callable] = {}
_drainers: dict[int, _Drainer] = {}
_drainers_lock = threading.Lock()


class DeferredEvent(db.Model):
    """An event whose deferred subscribers have not all run yet."""

    __tablename__ = "deferred_events"
    __table_args__ = (Index("ix_deferred_events_available_at", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signal: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    done: Mapped[list] = mapped_column(JSON, default=list)  # subscribers that already ran
    last_error: Mapped[str | None] = mapped_column(String(2000))


# --- subscribing and publishing ---------------------------------------------------------------


def subscribe(signal: NamedSignal, subscriber: Callable) -> None:
    """Run ``subscriber(sender, **kwargs)`` for each ``signal`` sent, after the commit.

    The sender and keyword arguments must be database rows (passed as their ids and loaded
    again when the subscriber runs), lists of rows, or plain JSON values. The subscriber runs
    in the drain's transaction (which it must not commit), inside a SAVEPOINT of its own.
    """
    handlers = _subscribers[signal.name]
    if not handlers:
        recorder = _recorders[signal.name] = _recorder(signal.name)
        signal.connect(recorder, weak=False)
    if _name(subscriber) not in {_name(h) for h in handlers}:
        handlers.append(subscriber)


def draining() -> bool:
    """True while deferred subscribers run (their statements are not the request's)."""
    return _draining.get()


def _name(subscriber: Callable) -> str:
    return f"{subscriber.__module__}.{subscriber.__qualname__}"


def _recorder(signal_name: str) -> Callable:
    """The publisher's side of ``signal_name``: one row, in the publisher's transaction."""

    def record(sender, **kwargs) -> None:
        payload = {"sender": _pack(sender), "kwargs": {k: _pack(v) for k, v in kwargs.items()}}
        session = db.session()
        session.add(DeferredEvent(signal=signal_name, payload=payload))
        transaction = session.get_transaction()
        if session.info.get(_PENDING) is not transaction:  # once per transaction
            session.info[_PENDING] = transaction
            on_commit(session, partial(_after_commit, current_app._get_current_object()))

    return record


# --- what an event carries ------------------------------------------------------------------

_ROW = "$row"


def _pack(value: Any) -> Any:
    """A row as its class and id; lists of rows; plain values as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_pack(item) for item in value]
    state = inspect(value, raiseerr=False)
    if state is not None and getattr(state, "mapper", None) is not None and state.identity:
        return {_ROW: state.mapper.class_.__name__, "id": state.identity[0]}
    raise TypeError(f"a deferred event cannot carry {type(value).__name__}")


def _models() -> dict[str, type]:
    return {mapper.class_.__name__: mapper.class_ for mapper in db.Model.registry.mappers}


def _refs(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and _ROW in value:
        yield value[_ROW], value["id"]
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _load(events: list[DeferredEvent]) -> dict[tuple[str, Any], Any]:
    """Every row a batch of events names: one query per class, not one per event."""
    wanted: dict[str, set] = defaultdict(set)
    for event in events:
        for value in [event.payload["sender"], *event.payload["kwargs"].values()]:
            for model, ident in _refs(value):
                wanted[model].add(ident)
    models = _models()
    loaded: dict[tuple[str, Any], Any] = {}
    for model_name, ids in wanted.items():
        model = models[model_name]
        key = inspect(model).primary_key[0]
        for row in db.session.scalars(select(model).where(key.in_(sorted(ids)))):
            loaded[model_name, getattr(row, key.key)] = row
    return loaded


def _unpack(value: Any, loaded: dict) -> Any:
    if isinstance(value, dict) and _ROW in value:
        return loaded.get((value[_ROW], value["id"]))  # None: deleted since
    if isinstance(value, list):
        return [row for row in (_unpack(item, loaded) for item in value) if row is not None]
    return value


# --- draining -------------------------------------------------------------------------------


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 3600))


def drain_batch(limit: int = BATCH) -> int:
    """Run the subscribers of up to ``limit`` due events, in one transaction; how many ran.

    Call it inside an app context whose session is the drain's own. The subscribers run one
    after another; should one fail, the batch is rolled back and run again with each
    subscriber in a SAVEPOINT of its own, so the failure is kept to itself.
    """
    token = _draining.set(True)
    try:
        try:
            return _drain_batch(limit, careful=False)
        except Exception:
            db.session.rollback()
            return _drain_batch(limit, careful=True)
    finally:
        _draining.reset(token)


def _drain_batch(limit: int, *, careful: bool) -> int:
    with write_transaction():  # SQLite: hold the write lock from the first read
        now = utcnow()
        events = db.session.scalars(
            select(DeferredEvent)
            .where(DeferredEvent.available_at <= now, DeferredEvent.attempts < MAX_ATTEMPTS)
            .order_by(DeferredEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL: drainers share the work
        ).all()
        if not events:
            db.session.rollback()
            return 0
        loaded = _load(events)
        finished = [event.id for event in events if _run(event, loaded, now, careful=careful)]
        if finished:
            db.session.execute(
                delete(DeferredEvent)
                .where(DeferredEvent.id.in_(finished))
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        return len(events)


def _run(event: DeferredEvent, loaded: dict, now: datetime, *, careful: bool) -> bool:
    """Run the event's subscribers that have not run; True when none is left to run.

    Not ``careful``: a failure propagates (the caller runs the batch again, carefully).
    """
    sender = _unpack(event.payload["sender"], loaded)
    if sender is None:  # the vote's idea, the comment: deleted since; nothing to do
        return True
    kwargs = {key: _unpack(value, loaded) for key, value in event.payload["kwargs"].items()}
    done = list(event.done or [])
    error = None
    for subscriber in _subscribers.get(event.signal, []):
        name = _name(subscriber)
        if name in done:
            continue
        if not careful:
            subscriber(sender, **kwargs)
            continue
        try:
            with db.session.begin_nested():
                subscriber(sender, **kwargs)
        except Exception as exc:
            log.exception("Deferred subscriber %s failed on event %s", name, event.id)
            error = f"{name}: {exc!r}"
        else:
            done.append(name)
    if error is None:
        return True
    event.done = done
    event.attempts += 1
    event.available_at = now + _retry_delay(event.attempts)
    event.last_error = error[:2000]
    return False


def drain(app: Flask, *, limit: int | None = None) -> int:
    """Drain due events in batches, each in a fresh app context; how many events ran."""
    ran = 0
    while limit is None or ran < limit:
        token = _sent_while_draining.set(False)
        try:
            with app.app_context():
                count = drain_batch(BATCH if limit is None else min(BATCH, limit - ran))
            more = _sent_while_draining.get()  # a subscriber sent events of its own
        finally:
            _sent_while_draining.reset(token)
        ran += count
        if count < BATCH and not more:
            return ran
    return ran


def _after_commit(app: Flask) -> None:
    if app.config["DEFERRED_EVENTS"] == "inline":
        if _draining.get():  # a subscriber sent an event: the drain loop takes it next
            _sent_while_draining.set(True)
        else:
            drain(app)
        return
    if has_request_context() and not g.get(_ANSWERED):
        g.setdefault(_DRAIN_AFTER_RESPONSE, True)  # see _schedule_drain
        return
    _drainer(app).wake.set()


def _schedule_drain(response: Response) -> Response:
    """A request that committed events drains them itself, once its answer has been sent.

    The server calls ``close`` on the answer after writing it to the client: the person who
    voted has their answer, and no other thread of the process competes with the next
    request for the interpreter. What the request commits later (in a teardown) wakes the
    process's drain thread instead.
    """
    g.setdefault(_ANSWERED, True)
    if g.pop(_DRAIN_AFTER_RESPONSE, False):
        response.call_on_close(partial(_drain_quietly, current_app._get_current_object()))
    return response


def _drain_quietly(app: Flask) -> None:
    try:
        drain(app)
    except Exception:  # the events stay; the drain thread polls for them
        log.exception("Draining deferred events after a response failed")


class _Drainer:
    """One thread per process: drains when woken after a commit, and polls for the rest."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pid = os.getpid()
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="cocreate-deferred", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        poll = self.app.config["DEFERRED_POLL_SECONDS"]
        gather = self.app.config["DEFERRED_GATHER_SECONDS"]
        while not self.stopping:
            if self.wake.wait(timeout=poll):
                # Let the events of a busy moment gather: one transaction for many of them.
                time.sleep(gather)
            self.wake.clear()
            if self.stopping:
                return
            try:
                drain(self.app)
            except Exception:  # the database is away, say; events wait for the next round
                log.exception("Draining deferred events failed")

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=10)


def start_drainer(app: Flask) -> None:
    """Make sure this process's drain thread for ``app`` runs."""
    _drainer(app)


def _drainer(app: Flask) -> _Drainer:
    """This process's drainer for ``app`` (a forked worker starts its own)."""
    drainer = _drainers.get(id(app))
    if drainer is None or drainer.pid != os.getpid():
        with _drainers_lock:
            drainer = _drainers.get(id(app))
            if drainer is None or drainer.pid != os.getpid():
                if drainer is None:
                    atexit.register(_drain_at_exit, app)
                drainer = _drainers[id(app)] = _Drainer(app)
    return drainer


def stop_drainer(app: Flask) -> None:
    """Stop this process's drainer for ``app``, if it runs (waiting for its batch to end)."""
    with _drainers_lock:
        drainer = _drainers.pop(id(app), None)
    if drainer is not None and drainer.pid == os.getpid():
        drainer.stop()


def _drain_at_exit(app: Flask) -> None:
    """A command that leaves the process (``flask seed-demo``) does not leave work behind."""
    if id(app) not in _drainers:  # stopped on purpose
        return
    try:
        drain(app)
    except Exception:
        log.exception("Draining deferred events at exit failed")


# --- the shell ------------------------------------------------------------------------------


@click.group("deferred", help="Events whose subscribers run after the commit.")
def cli() -> None:
    pass


@cli.command("status")
def status_command() -> None:
    """How many events wait, and the ones that keep failing."""
    waiting = db.session.scalar(select(func.count()).select_from(DeferredEvent))
    click.echo(f"{waiting} event(s) waiting")
    failing = db.session.scalars(
        select(DeferredEvent).where(DeferredEvent.attempts > 0).order_by(DeferredEvent.id)
    )
    for event in failing:
        state = "gave up" if event.attempts >= MAX_ATTEMPTS else f"next try {event.available_at}"
        click.echo(f"#{event.id} {event.signal}: {event.attempts} attempt(s), {state}")
        click.echo(f"    {event.last_error}")


@cli.command("drain")
@click.option("--retry-failed", is_flag=True, help="Try events that gave up once more, now.")
def drain_command(retry_failed: bool) -> None:
    """Run every due event's subscribers now."""
    if retry_failed:
        with write_transaction():
            for event in db.session.scalars(select(DeferredEvent)):
                event.attempts = min(event.attempts, MAX_ATTEMPTS - 1)
                event.available_at = utcnow()
            db.session.commit()
    ran = drain(current_app._get_current_object())
    click.echo(f"{ran} event(s) handled")


def init_app(app: Flask) -> None:
    mode = app.config["DEFERRED_EVENTS"]
    if mode not in ("background", "inline"):
        raise RuntimeError(f'DEFERRED_EVENTS is "background" or "inline", not {mode!r}')
    app.cli.add_command(cli)
    app.after_request(_schedule_drain)
    if mode == "background":
        # Start polling with the first request: events a crashed worker or a command left.
        app.before_request(partial(start_drainer, app))
