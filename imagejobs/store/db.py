"""Database engine and sessions, one engine per process and URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Sessions are short (claim, prepare, finish) and never span a Gemini call, so a worker with
    # 200 calls in flight needs far fewer connections than that: 20 per process at most, which
    # leaves room under Postgres' default max_connections (100) for several processes.
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=60)


def get_engine(url: str) -> Engine:
    """The engine for ``url``; connections are held briefly, never across a Gemini call."""
    with _lock:
        if url not in _engines:
            _engines[url] = _create(url)
            _factories[url] = sessionmaker(_engines[url], expire_on_commit=False)
        return _engines[url]


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    get_engine(url)
    session = _factories[url]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _as_sqlalchemy(error: Exception, driver_error: type[Exception], *, lost: bool) -> Exception:
    """A driver error as SQLAlchemy raises it from a session (the same classes)."""
    return exc.DBAPIError.instance(None, None, error, driver_error, connection_invalidated=lost)


class Database:
    """The one way the application reaches its database: short sessions from one engine."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def engine(self) -> Engine:
        return get_engine(self.url)

    def session(self) -> AbstractContextManager[Session]:
        """A session that commits on success and rolls back on error."""
        return session_scope(self.url)

    @contextmanager
    def driver_transaction(self) -> Iterator[Any]:
        """The driver's own connection from the engine's pool (checked by its pre-ping), in a
        transaction committed on success (on error the pool rolls it back as it takes the
        connection back): for the hot path's single statements, which an ORM session and
        Core's execution would cost more CPU than the statement itself. A driver error is
        raised as SQLAlchemy's (``OperationalError`` and friends, as callers expect), and a
        lost connection is dropped, not returned to the pool."""
        engine = self.engine
        driver_error = engine.dialect.loaded_dbapi.Error
        try:
            connection = engine.raw_connection()
        except driver_error as error:
            raise _as_sqlalchemy(error, driver_error, lost=True) from error
        try:
            yield connection
            connection.commit()
        except driver_error as error:
            lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
            if lost:
                connection.invalidate(error)
            raise _as_sqlalchemy(error, driver_error, lost=lost) from error
        finally:
            connection.close()

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.session() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close the pooled connections (after fork, at shutdown)."""
        with _lock:
            engine = _engines.pop(self.url, None)
            _factories.pop(self.url, None)
        if engine is not None:
            engine.dispose()


def dispose_all() -> None:
    """Drop every engine and its pooled connections (after fork, or between tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()
