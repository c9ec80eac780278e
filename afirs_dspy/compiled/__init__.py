"""Floor 6: compiled programs saved and loaded with their manifests (``load_program``)."""
