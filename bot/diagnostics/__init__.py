"""Diagnostics: named, read-only BigQuery queries from runbooks/queries, run on command."""
