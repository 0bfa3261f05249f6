-- Runs once, when the data volume is first created. Migrations also create the extension; doing it here lets
-- the application role run migrations without superuser rights on a fresh volume.
CREATE EXTENSION IF NOT EXISTS vector;
