"""The journal tables of parent orders (:mod:`toolkit.live._parent_journal` reads and writes
them): ``parents``, one row per parent with its schedule's algo, parameters, window and status,
and ``parent_children``, the schedule itself (each child's time, quantity, type, limit and the
orderRef its order is journaled under once sent). A journal migration, imported by
:mod:`toolkit.live.journal`; it imports nothing."""

MIGRATION = """
    CREATE TABLE parents (
        parent_ref TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(session_id),
        decision_id INTEGER REFERENCES decisions(decision_id),
        ts TEXT NOT NULL,
        strategy TEXT NOT NULL,
        symbol TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('BUY', 'SELL')),
        quantity REAL NOT NULL CHECK (quantity > 0),
        algo TEXT NOT NULL,
        params_json TEXT NOT NULL DEFAULT '{}',
        decision_bar TEXT NOT NULL,
        arrival_price REAL,
        target REAL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'working'
            CHECK (status IN ('working', 'paused', 'cancelled', 'done'))
    );
    CREATE TABLE parent_children (
        parent_ref TEXT NOT NULL REFERENCES parents(parent_ref),
        k INTEGER NOT NULL CHECK (k >= 0),
        order_ref TEXT NOT NULL UNIQUE,
        ts TEXT NOT NULL,
        quantity REAL NOT NULL CHECK (quantity > 0),
        order_type TEXT NOT NULL,
        limit_price REAL,
        PRIMARY KEY (parent_ref, k)
    );
    CREATE INDEX parents_by_session ON parents(session_id, status)
    """
TABLES = ("parents", "parent_children")
