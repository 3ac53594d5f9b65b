"""Gestor reports: production (art. 457) and the Núcleo's annual activity report (art. 454-A)."""
