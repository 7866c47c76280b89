"""recorder: ranked full-text search (segmented columns, SQLite FTS5 / PostgreSQL tsvector) and a review score

Revision ID: 0014_progress_search
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_progress_search"
down_revision = "0003"
branch_labels = None
depends_on = None

FTS_COLUMNS = "search_title, search_topic, search_body"


def upgrade() -> None:
    with op.batch_alter_table("lib_resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_title", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("search_topic", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("search_body", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("review_score", sa.Float(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE lib_resources ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', coalesce(search_title, '')), 'A') || "
            "setweight(to_tsvector('simple', coalesce(search_topic, '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(search_body, '')), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_lib_resources_search_vector ON lib_resources USING gin (search_vector)")
        return
    # SQLite: an external-content FTS5 table kept in step by triggers, whatever path writes the row.
    op.execute(
        f"CREATE VIRTUAL TABLE lib_resources_fts USING fts5({FTS_COLUMNS}, "
        "content='lib_resources', content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
    )
    new = "new.search_title, new.search_topic, new.search_body"
    old = "old.search_title, old.search_topic, old.search_body"
    op.execute(
        "CREATE TRIGGER lib_resources_fts_ai AFTER INSERT ON lib_resources BEGIN "
        f"INSERT INTO lib_resources_fts(rowid, {FTS_COLUMNS}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER lib_resources_fts_ad AFTER DELETE ON lib_resources BEGIN "
        f"INSERT INTO lib_resources_fts(lib_resources_fts, rowid, {FTS_COLUMNS}) "
        f"VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        "CREATE TRIGGER lib_resources_fts_au AFTER UPDATE OF search_title, search_topic, search_body "
        "ON lib_resources BEGIN "
        f"INSERT INTO lib_resources_fts(lib_resources_fts, rowid, {FTS_COLUMNS}) "
        f"VALUES ('delete', old.id, {old}); "
        f"INSERT INTO lib_resources_fts(rowid, {FTS_COLUMNS}) VALUES (new.id, {new}); END"
    )
    op.execute("INSERT INTO lib_resources_fts(lib_resources_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_lib_resources_search_vector")
        op.execute("ALTER TABLE lib_resources DROP COLUMN IF EXISTS search_vector")
    else:
        for name in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS lib_resources_fts_{name}")
        op.execute("DROP TABLE IF EXISTS lib_resources_fts")
    with op.batch_alter_table("lib_resources", schema=None) as batch_op:
        for col in ("review_score", "search_body", "search_topic", "search_title"):
            batch_op.drop_column(col)
