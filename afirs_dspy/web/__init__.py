"""``afirs-dspy serve``: the recommender in a browser, each turn explained (``demo`` holds the conversations and
runs the turns, ``app`` serves the page and its API)."""
