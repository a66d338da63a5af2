"""The one contract suite: every adapter, against its goldens, fixtures and emulator.

Each platform supplies a ``SPEC`` (``tests/channels/<platform>/contract.py``), golden
requests and recorded webhooks (see ``tests/channels/contract.py``); every test here is
parametrised over the platforms so that a new one is covered by adding those files only.

- ``test_requests``: ``build_request`` of every sample makes the golden call, or refuses it;
- ``test_sends``, against the platform's emulator: every supported sample succeeds, every
  fault kind fails with the platform's code and the right retry class (the timeout against
  a real server, since an in-process transport ignores client timeouts), or is accepted and
  then reported failed by a signed status webhook;
- ``test_inbound``, webhooks: signatures accepted and refused, the subscription check, one
  test per recorded fixture, status names mapped as the spec says, unknown events kept.

``suite`` holds what they share; ``conftest`` the emulator fixtures of ``test_sends``.
"""
