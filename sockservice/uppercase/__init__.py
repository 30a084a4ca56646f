"""
The textbook service: every byte sent over TCP, and every UDP datagram, comes
back upper-cased.
"""

__all__: list[str] = []
