"""Reporting: tables and figures built from run records only (nothing is re-run)."""
