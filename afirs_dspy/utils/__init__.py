"""Floor 0: helpers every layer may use — result tables, kill-safe JSONL files, where caches and artifacts live, resources shared across threads."""
