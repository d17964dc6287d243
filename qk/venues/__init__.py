"""Venue adapters: each venue's wire formats normalised into the project's records."""
