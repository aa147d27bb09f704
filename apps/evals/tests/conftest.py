from apps.studio.tests.conftest import connect, receive_until  # noqa: F401 (fixtures)
