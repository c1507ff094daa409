"""Everything Hearth keeps on disk: paths, the SQLite database, conversations and settings."""
