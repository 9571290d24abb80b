"""Alembic environment: vmr hands over an open connection (see vmr.catalogue.store.upgrade)."""

from alembic import context

from vmr.catalogue.store import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("vmr migrations run through vmr.catalogue.store.upgrade(), which passes a connection")

# render_as_batch: SQLite can only alter tables by copying them.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
