"""Test-only code shared by the tests and bench/: the scripted OpenAI-protocol
upstream (upstream.py) and the pytest fixtures around it (fixtures.py).

It lives outside apps/ so nothing the product ships can import it.
"""
