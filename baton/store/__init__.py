"""Baton's database access (temporary package marker; the store package replaces it)."""

from __future__ import annotations
