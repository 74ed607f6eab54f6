"""Alembic environment for framedb.

framedb runs migrations itself (framedb.store.schema), handing over an open connection in
`config.attributes["connection"]`. Run by hand, `alembic -x db=sqlite:///framedb.db upgrade head`
works too.
"""

from alembic import context
from sqlalchemy import create_engine

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("db") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database: alembic -x db=sqlite:///framedb.db upgrade head")
    with create_engine(url).connect() as conn:
        _run(conn)
