"""Conversations that last: the SQLite history store, its search and its exports."""
