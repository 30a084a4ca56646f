"""
What every service shares: listeners, connection limits, idle timeouts, the
drain on stop, endpoint addresses, C{--workers} and systemd integration.
"""

__all__: list[str] = []
