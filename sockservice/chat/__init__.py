"""
The UDP chat relay of the tutorials, its client and its console.
"""

__all__: list[str] = []
