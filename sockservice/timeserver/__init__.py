"""
The time service of the tutorials (UDP and TCP) and its client.
"""

__all__: list[str] = []
