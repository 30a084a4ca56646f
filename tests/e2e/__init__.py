"""End-to-end tests: twistd and sockservice-client as subprocesses."""
