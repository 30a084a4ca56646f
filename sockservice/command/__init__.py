"""
The remote-command service: allow-listed commands run over a netstring
protocol, with a shared-secret token; its process runner and its client.
"""

__all__: list[str] = []
