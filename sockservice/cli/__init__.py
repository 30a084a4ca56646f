"""
C{sockservice-client}: the subcommand table, one module per subcommand, and
the pump that feeds standard input to a client.
"""

__all__: list[str] = []
