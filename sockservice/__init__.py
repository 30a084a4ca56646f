"""
sockservice: the textbook upper-casing TCP and UDP servers, done properly on Twisted.

Run it with C{twistd -n sockservice}; see README.md for the options.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
