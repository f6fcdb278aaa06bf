"""Releases: approval, promotion and rollback as stack-file edits, and what each stage runs."""
