"""Floor 1: reading text — the sentence embedder, the forms of a title, and what the code reads in users' words."""
