"""Record: the typed record (model), its file (io), the store of runs, and freshness."""
