"""Storage: SQLAlchemy 2 models, the engine and session scope, Alembic migrations."""
