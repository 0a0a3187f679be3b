"""Opening the history database: connection settings, refusals and versioned migrations.

The schema version lives in ``PRAGMA user_version``; ``MIGRATIONS[n]`` turns version
``n`` into version ``n + 1``. A store is only ever changed by a migration after it
has been read and recognised: a file that is not a database, belongs to another
program or comes from a newer Reflexia is refused and left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from reflexia.core.errors import HistoryStoreError

#: ``PRAGMA application_id`` of a Reflexia history ("RFLX"), so another program's database is refused.
APPLICATION_ID = 0x52464C58
BUSY_TIMEOUT_S = 5.0


def _create_tables(db: sqlite3.Connection) -> None:
    """Version 1: conversations and their messages."""
    # seq is the conversation's integer key, so the search index can address a title row by rowid.
    db.execute(
        """
        CREATE TABLE conversations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            expert_role TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            deleted_at REAL
        )
        """
    )
    db.execute("CREATE INDEX conversations_by_update ON conversations (updated_at)")
    # AUTOINCREMENT: a dropped message's id is never given to a new one, so a stale id cannot
    # silently point at a different message.
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            expert_role TEXT NOT NULL DEFAULT '',
            model_ref TEXT NOT NULL DEFAULT '',
            rung TEXT NOT NULL DEFAULT '',
            stats_json TEXT,
            status TEXT NOT NULL CHECK (status IN ('complete', 'stopped', 'cut', 'pending', 'failed')),
            sources_json TEXT,
            created_at REAL NOT NULL,
            UNIQUE (conversation_id, position)
        )
        """
    )
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


_SEARCH_TRIGGERS = (
    """CREATE TRIGGER conversation_titles_indexed AFTER INSERT ON conversations BEGIN
        INSERT INTO search_index (rowid, title, content, conversation_id, message_id)
        VALUES (-new.seq, new.title, '', new.id, NULL);
    END""",
    """CREATE TRIGGER conversation_titles_reindexed AFTER UPDATE OF title ON conversations BEGIN
        UPDATE search_index SET title = new.title WHERE rowid = -new.seq;
    END""",
    """CREATE TRIGGER conversation_titles_unindexed AFTER DELETE ON conversations BEGIN
        DELETE FROM search_index WHERE rowid = -old.seq;
    END""",
    """CREATE TRIGGER messages_indexed AFTER INSERT ON messages WHEN new.role != 'system' BEGIN
        INSERT INTO search_index (rowid, title, content, conversation_id, message_id)
        VALUES (new.id, '', new.content, new.conversation_id, new.id);
    END""",
    """CREATE TRIGGER messages_reindexed AFTER UPDATE OF content ON messages WHEN new.role != 'system' BEGIN
        UPDATE search_index SET content = new.content WHERE rowid = new.id;
    END""",
    """CREATE TRIGGER messages_unindexed AFTER DELETE ON messages BEGIN
        DELETE FROM search_index WHERE rowid = old.id;
    END""",
)


def _add_search_index(db: sqlite3.Connection) -> None:
    """Version 2: a full-text index over titles and message content, kept in sync by triggers.

    One FTS5 row per conversation title (rowid ``-seq``) and one per user or assistant
    message (rowid = message id). System prompts are left out: the same role prompt in
    every conversation would drown the hits the user is looking for.
    """
    db.execute(
        """
        CREATE VIRTUAL TABLE search_index USING fts5(
            title, content, conversation_id UNINDEXED, message_id UNINDEXED,
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """
    )
    # One statement at a time: executescript() would commit the migration's transaction halfway.
    for trigger in _SEARCH_TRIGGERS:
        db.execute(trigger)
    # A store written by version 1 already holds conversations: index them too.
    db.execute(
        "INSERT INTO search_index (rowid, title, content, conversation_id, message_id) "
        "SELECT -seq, title, '', id, NULL FROM conversations"
    )
    db.execute(
        "INSERT INTO search_index (rowid, title, content, conversation_id, message_id) "
        "SELECT id, '', content, conversation_id, id FROM messages WHERE role != 'system'"
    )


def _add_conversation_documents(db: sqlite3.Connection) -> None:
    """Version 3: whether a conversation answers from the documents, stored with it.

    NULL (every conversation written before) means not recorded: the conversation's role decides,
    as it did then. The switch used to be one for the whole window.
    """
    db.execute("ALTER TABLE conversations ADD COLUMN use_documents INTEGER")


Migration = Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[n]`` upgrades a store from version ``n`` to ``n + 1``. Append only: never edit
#: one that has shipped, since users' files were made by it.
MIGRATIONS: tuple[Migration, ...] = (_create_tables, _add_search_index, _add_conversation_documents)
SCHEMA_VERSION = len(MIGRATIONS)


def _refuse(path: Path, reason: str) -> HistoryStoreError:
    return HistoryStoreError(
        f"{path}: cannot open the conversation history: {reason}; the file was left as it is"
    )


def _check_recognised(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version, after checking that it is a Reflexia history we understand."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    application_id = int(db.execute("PRAGMA application_id").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise _refuse(
            path,
            f"it is schema version {version}, newer than this Reflexia understands ({SCHEMA_VERSION}); "
            "update Reflexia",
        )
    foreign = application_id not in (0, APPLICATION_ID) or (
        version == 0 and db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
    )
    if foreign:
        raise _refuse(path, "it is another program's database, not a Reflexia history")
    return version


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store to ``SCHEMA_VERSION`` in one transaction: all steps, or none."""
    db.execute("BEGIN IMMEDIATE")  # another process opening the same old store waits, then sees it done
    try:
        version = _check_recognised(db, path)
        for migration in MIGRATIONS[version:]:
            migration(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def open_database(path: Path) -> sqlite3.Connection:
    """Open (or create) the history database at ``path``, migrated to the current schema.

    The connection is in autocommit mode (``isolation_level=None``): the store opens its own
    transactions. It belongs to the calling thread.

    Raises:
        HistoryStoreError: the folder or file cannot be opened, the file is not a SQLite
            database or is damaged, belongs to another program, or was written by a newer
            Reflexia. The message names the path and the reason; the file is left untouched.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(path, f"its folder cannot be created ({exc.strerror or exc})") from exc
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _refuse(path, str(exc)) from exc
    try:
        # Read before anything writes: WAL mode and migrations change the file.
        version = _check_recognised(db, path)
        db.execute("PRAGMA foreign_keys = ON")
        if str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
            raise _refuse(path, "its journal cannot be switched to write-ahead logging")
        # In WAL mode NORMAL loses no committed transaction when the app is killed, only on power loss.
        db.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            _migrate(db, path)
    except HistoryStoreError:
        db.close()
        raise
    except sqlite3.Error as exc:
        db.close()
        raise _refuse(path, str(exc)) from exc
    return db
