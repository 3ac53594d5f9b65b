"""Segunda Opinião Formativa (art. 448 §4): de-identified, evidence-based answers for reuse."""
