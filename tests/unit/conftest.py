import pytest

from app.auth.db import Database


@pytest.fixture
def db():
    """A fresh in-memory database with the app's schema."""
    database = Database(":memory:")
    yield database
    database.close()
