"""Market data: simulated feeds now; venue normalisation, bars and books come with issue 3."""
