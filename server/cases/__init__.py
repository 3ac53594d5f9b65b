"""Asynchronous teleconsultoria: cases, SLA queues, transitions, notifications, case chat."""
