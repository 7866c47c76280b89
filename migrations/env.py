"""Alembic environment: runs on the connection `core.db.Database.migrate` hands over."""

import importlib

from alembic import context

from core.db import Base
from migrations.models import MODEL_MODULES

for module in MODEL_MODULES:
    importlib.import_module(module)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core.db.Database.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
