"""
Tests for sockservice.
"""
