"""Test harnesses that also run on their own against a real model (the recorded runs in docs/RELIABILITY.md).

- :mod:`.kill_resume`: kill a run at random points (SIGKILL, SIGINT), resume it, compare with the reference;
  ``tests/test_interrupt.py`` runs a short chain of it with the fake encoder.
- :mod:`.concurrent_runs`: identical runs started at the same moment; ``tests/test_concurrency.py`` runs one round.

Run them as scripts (``python tests/harness/kill_resume.py --help``) or as modules from the repository
(``python -m tests.harness.kill_resume --help``).
"""
