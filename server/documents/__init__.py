"""Signed documents (atestado, receita) and the patient's copy of the record as PDF."""
