"""SQLite storage (apsw, WAL): connection lifecycle, migrations, one repository per table group."""
