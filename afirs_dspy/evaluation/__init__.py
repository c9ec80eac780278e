"""Simulated users, the session loop, metrics and reports (paper section 5)."""
