# -*- test-case-name: tests.test_commandauth -*-
"""
Tests for L{sockservice.command.backoff}.
"""

from twisted.trial.unittest import SynchronousTestCase

from sockservice.command.backoff import FIRST_DELAY, FORGET_AFTER, MAX_DELAY, AuthBackoff


class AuthBackoffTests(SynchronousTestCase):
    def test_doubles(self) -> None:
        """Each failure from one host doubles the wait, up to the maximum."""
        backoff = AuthBackoff()
        waits = [backoff.failed("192.0.2.1", float(n)) for n in range(10)]
        self.assertEqual(waits[:3], [FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY])
        self.assertEqual(waits[-1], MAX_DELAY)

    def test_forgets(self) -> None:
        """A host quiet for long enough starts again."""
        backoff = AuthBackoff()
        backoff.failed("192.0.2.1", 0)
        backoff.failed("192.0.2.1", 1)
        self.assertEqual(backoff.failed("192.0.2.1", 2 + FORGET_AFTER), FIRST_DELAY)

    def test_bounded(self) -> None:
        """The table keeps at most C{maxHosts} hosts, forgetting the oldest."""
        backoff = AuthBackoff(maxHosts=2)
        backoff.failed("a", 0)
        backoff.failed("a", 0)
        backoff.failed("b", 1)
        backoff.failed("c", 2)
        self.assertEqual(backoff.failed("a", 3), FIRST_DELAY)
        self.assertEqual(len(backoff._failures), 2)
